"""RasaClient against a stub Rasa: replies, handoff markers, and every way Rasa can fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.client import BotProtocolError, BotReply, BotUnavailable, RasaClient

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def stub_rasa(aiohttp_server: ServerFactory, handler: Any) -> tuple[str, list[Any]]:
    """Serve one handler for both Rasa endpoints; return the base URL and the requests seen."""
    seen: list[Any] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(await request.json())
        result: web.StreamResponse = await handler(request)
        return result

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", record)
    app.router.add_post("/model/parse", record)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), seen


def reply_with(items: Any, status: int = 200) -> Any:
    """A handler answering a fixed JSON body."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(items, status=status)

    return handler


async def test_reply_collects_texts_and_sends_sender_and_language(
    aiohttp_server: ServerFactory,
) -> None:
    """Texts come back in order; the conversation id is the sender, the language is metadata."""
    url, seen = await stub_rasa(
        aiohttp_server,
        reply_with([{"recipient_id": "c1", "text": "أهلًا"}, {"recipient_id": "c1", "text": "٢"}]),
    )
    async with RasaClient(url, timeout=2) as client:
        reply = await client.reply("c1", "مرحبا", "ar")
    assert reply == BotReply(texts=["أهلًا", "٢"])
    assert seen == [{"sender": "c1", "message": "مرحبا", "metadata": {"language": "ar"}}]


async def test_reply_without_language_sends_no_metadata(aiohttp_server: ServerFactory) -> None:
    """No language, no metadata key."""
    url, seen = await stub_rasa(aiohttp_server, reply_with([{"text": "hi"}]))
    async with RasaClient(url, timeout=2) as client:
        await client.reply("c2", "hello", None)
    assert seen == [{"sender": "c2", "message": "hello"}]


async def test_handoff_marker_is_parsed(aiohttp_server: ServerFactory) -> None:
    """A custom {"handoff": true, "reason": …} item turns into handoff + reason."""
    items = [
        {"recipient_id": "c3", "text": "connecting you to a person"},
        {"recipient_id": "c3", "custom": {"handoff": True, "reason": "customer_request"}},
    ]
    url, _ = await stub_rasa(aiohttp_server, reply_with(items))
    async with RasaClient(url, timeout=2) as client:
        reply = await client.reply("c3", "human please", "en")
    assert reply.texts == ["connecting you to a person"]
    assert reply.handoff is True
    assert reply.reason == "customer_request"
    assert reply.custom == [{"handoff": True, "reason": "customer_request"}]


def test_other_custom_payloads_are_not_handoffs() -> None:
    """Only handoff: true counts; other custom payloads are passed through."""
    reply = BotReply.from_rest([{"text": "x"}, {"custom": {"buttons": [1]}}])
    assert (reply.handoff, reply.reason, reply.custom) == (False, None, [{"buttons": [1]}])


def test_empty_reply_means_a_failed_action() -> None:
    """Rasa answers [] when the action server is down: that is a handoff, not silence."""
    assert BotReply.from_rest([]) == BotReply(texts=[], handoff=True, reason="action_failed")


async def test_timeout_raises_bot_unavailable(aiohttp_server: ServerFactory) -> None:
    """A slow Rasa is an unavailable Rasa."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response([])

    url, _ = await stub_rasa(aiohttp_server, slow)
    async with RasaClient(url, timeout=0.2) as client:
        with pytest.raises(BotUnavailable, match="timed out"):
            await client.reply("c4", "hi", None)


async def test_server_error_raises_bot_unavailable(aiohttp_server: ServerFactory) -> None:
    """5xx → BotUnavailable."""
    url, _ = await stub_rasa(aiohttp_server, reply_with({"error": "boom"}, status=503))
    async with RasaClient(url, timeout=2) as client:
        with pytest.raises(BotUnavailable, match="503"):
            await client.reply("c5", "hi", None)


async def test_connection_refused_raises_bot_unavailable(unused_tcp_port: int) -> None:
    """Nothing listening → BotUnavailable."""
    async with RasaClient(f"http://127.0.0.1:{unused_tcp_port}", timeout=2) as client:
        with pytest.raises(BotUnavailable):
            await client.parse("hi")


async def test_client_error_raises_protocol_error(aiohttp_server: ServerFactory) -> None:
    """4xx is our mistake, not an outage."""
    url, _ = await stub_rasa(aiohttp_server, reply_with({"error": "bad"}, status=400))
    async with RasaClient(url, timeout=2) as client:
        with pytest.raises(BotProtocolError):
            await client.reply("c6", "hi", None)


async def test_malformed_body_raises_protocol_error(aiohttp_server: ServerFactory) -> None:
    """A non-list webhook answer is rejected."""
    url, _ = await stub_rasa(aiohttp_server, reply_with({"not": "a list"}))
    async with RasaClient(url, timeout=2) as client:
        with pytest.raises(BotProtocolError):
            await client.reply("c7", "hi", None)


async def test_parse_returns_rasa_answer(aiohttp_server: ServerFactory) -> None:
    """parse() posts the text to /model/parse and returns the JSON object."""
    body = {"text": "hi", "intent": {"name": "greet", "confidence": 0.99}, "entities": []}
    url, seen = await stub_rasa(aiohttp_server, reply_with(body))
    async with RasaClient(url, timeout=2) as client:
        assert await client.parse("hi") == body
    assert seen == [{"text": "hi"}]


async def test_injected_session_is_left_open(aiohttp_server: ServerFactory) -> None:
    """The app owns a session it passes in; the client must not close it."""
    url, _ = await stub_rasa(aiohttp_server, reply_with([{"text": "ok"}]))
    async with aiohttp.ClientSession() as session:
        async with RasaClient(url, timeout=2, session=session) as client:
            await client.reply("c8", "hi", None)
        assert not session.closed
