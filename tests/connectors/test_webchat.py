"""The web chat connector over HTTP and WebSocket: identity, security, history, live replies."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from connectors.webchat import WebchatConnector
from connectors.webchat.security import Tokens, identity_hash
from core.actions import do_ingest, do_reply
from core.models import Message
from core.types import InboundMessage, Role
from inbox.app import create_app
from inbox.keys import CONNECTORS, FILES, RUNTIME
from tests.conftest import make_settings
from tests.connectors.bot_api import BOT_USER, BotApi
from tests.connectors.conftest import (
    Instances,
    SmtpSink,
    env_for_email,
    post_update,
    tg_fixture,
)
from tests.inbox.conftest import eventually, login_as

Client = TestClient  # type: ignore[type-arg]
AppFactory = Callable[..., Awaitable[Client]]
SITE_SECRET = "shop-backend-secret"


@pytest.fixture
def sites(monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo site for our own pages and a shop that embeds the widget from elsewhere."""
    monkeypatch.setenv(
        "WEBCHAT_SITES",
        json.dumps(
            {
                "demo": {"origins": ["self"]},
                "shop": {"origins": ["https://shop.example"], "secret": SITE_SECRET},
                "closed": {"origins": ["self"], "hours": "00:00-00:00", "days": []},
            }
        ),
    )
    monkeypatch.setenv("WEBCHAT_RATE_PER_MINUTE", "60")
    monkeypatch.setenv("WEBCHAT_RATE_BURST", "5")
    monkeypatch.setenv("WEBCHAT_MAX_CHARS", "500")


async def webchat_app(aiohttp_client: AppFactory, sqlite_url: str, channels: str) -> Client:
    """The service with the web chat channel."""
    app = create_app(make_settings(sqlite_url, channels=channels), migrate=False)
    return await aiohttp_client(app)


@pytest.fixture
async def client(aiohttp_client: AppFactory, sqlite_url: str, sites: None) -> Client:
    """The service with memory and web chat channels."""
    return await webchat_app(aiohttp_client, sqlite_url, "memory,webchat")


def own(client: Client) -> dict[str, str]:
    """The Origin header our own pages send."""
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def session(client: Client, site: str = "demo", **body: Any) -> Any:
    """Start a visitor session as the widget does."""
    headers = own(client) if site != "shop" else {"Origin": "https://shop.example"}
    resp = await client.post(
        "/channels/webchat/session", json={"site": site, **body}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


def webchat(client: Client) -> WebchatConnector:
    """The app's web chat connector."""
    found = client.app[CONNECTORS]["webchat"]
    assert isinstance(found, WebchatConnector)
    return found


async def post(client: Client, token: str, text: str, cid: str, origin: dict[str, str]) -> Any:
    """Send a visitor message over the HTTP fallback."""
    return await client.post(
        "/channels/webchat/messages",
        json={"id": cid, "text": text},
        headers={**origin, "X-Visitor-Token": token},
    )


async def test_session_issues_a_signed_visitor_and_resumes_it(client: Client) -> None:
    """A new visitor gets a signed token; presenting it again resumes the same visitor."""
    first = await session(client, lang="ar")
    assert first["title"] == "تواصل معنا" and first["online"] is True
    again = await session(client, token=first["token"])
    assert again["visitor_id"] == first["visitor_id"]
    forged = first["token"].rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    fresh = await session(client, token=forged)
    assert fresh["visitor_id"] != first["visitor_id"]


async def test_origin_allow_list_is_enforced(client: Client) -> None:
    """Pages not on a site's allow-list are refused; listed ones get CORS headers."""
    resp = await client.post(
        "/channels/webchat/session", json={"site": "shop"}, headers={"Origin": "https://evil.test"}
    )
    assert resp.status == 403
    resp = await client.post(
        "/channels/webchat/session",
        json={"site": "shop"},
        headers={"Origin": "https://shop.example"},
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    resp = await client.options(
        "/channels/webchat/messages", headers={"Origin": "https://evil.test"}
    )
    assert resp.status == 403
    resp = await client.post("/channels/webchat/session", json={"site": "demo"})
    assert resp.status == 403


async def test_messages_are_stored_once_and_history_comes_back(client: Client) -> None:
    """A resent message (same client id) is stored once; the history shows it with our reply."""
    s = await session(client)
    for _ in range(2):
        resp = await post(client, s["token"], "مرحبا، أين طلبي؟", "c1", own(client))
        assert resp.status == 200
    ack = await resp.json()
    assert ack["duplicate"] is True
    headers = await login_as(client, "sara", Role.AGENT)
    conv = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    assert len(conv) == 1
    resp = await client.post(
        f"/api/v1/conversations/{conv[0]['id']}/reply", json={"text": "طلبك في الطريق"},
        headers=headers,
    )  # fmt: skip
    assert resp.status == 201
    await client.post(
        f"/api/v1/conversations/{conv[0]['id']}/notes", json={"text": "private"}, headers=headers
    )

    async def history() -> Any:
        resp = await client.get(
            "/channels/webchat/messages", headers={**own(client), "X-Visitor-Token": s["token"]}
        )
        messages = (await resp.json())["messages"]
        return messages if len(messages) == 2 else None

    messages = await eventually(history)
    assert [(m["author"], m["text"]) for m in messages] == [
        ("visitor", "مرحبا، أين طلبي؟"),
        ("agent", "طلبك في الطريق"),
    ]
    assert messages[0]["client_id"] == "c1"


async def test_forged_token_size_cap_and_rate_limit(client: Client) -> None:
    """Forged tokens get 401, oversize text 413 and a burst beyond the limit 429; none stored."""
    s = await session(client)
    forged = s["token"][:-3] + "xyz"
    assert (await post(client, forged, "hi", "a1", own(client))).status == 401
    assert (await post(client, s["token"], "x" * 501, "a2", own(client))).status == 413
    statuses = [
        (await post(client, s["token"], f"m{i}", f"r{i}", own(client))).status for i in range(7)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    headers = await login_as(client, "sara", Role.AGENT)
    items = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    detail = await (
        await client.get(f"/api/v1/conversations/{items[0]['id']}", headers=headers)
    ).json()
    texts = [m["text"] for m in detail["messages"] if m["kind"] == "incoming"]
    assert texts == ["m0", "m1", "m2", "m3", "m4"]


async def test_websocket_acks_echoes_and_pushes_agent_replies_live(client: Client) -> None:
    """Over the WebSocket a message is acked, and an agent's reply arrives without asking."""
    s = await session(client)
    ws = await client.ws_connect(f"/channels/webchat/ws?token={s['token']}", headers=own(client))
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "message", "id": "w1", "text": "<script>alert(1)</script>"})
    frames = [await ws.receive_json(), await ws.receive_json()]
    assert {f["type"] for f in frames} == {"message", "ack"}
    headers = await login_as(client, "sara", Role.AGENT)
    items = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    detail = await (
        await client.get(f"/api/v1/conversations/{items[0]['id']}", headers=headers)
    ).json()
    assert detail["messages"][0]["text"] == "<script>alert(1)</script>"
    await client.post(
        f"/api/v1/conversations/{items[0]['id']}/reply", json={"text": "hello"}, headers=headers
    )
    frame = await ws.receive_json(timeout=5)
    assert frame["type"] == "message" and frame["message"]["text"] == "hello"
    assert await webchat(client).typing(f"demo:{s['visitor_id']}") == 1
    assert (await ws.receive_json(timeout=5))["type"] == "typing"
    await ws.close()


@pytest.mark.redis
async def test_reply_delivered_by_one_instance_reaches_a_tab_on_another(
    instances: Instances, sqlite_url: str, sites: None
) -> None:
    """Two processes on one Redis: the visitor's socket is on B, A (the only one running
    workers) delivers the agent's reply; the reply, the echo and typing reach the tab."""
    settings = make_settings(sqlite_url, channels="memory,webchat")
    a, b = await instances(settings, workers=[True, False])
    s = await session(b)
    ws = await b.ws_connect(f"/channels/webchat/ws?token={s['token']}", headers=own(b))
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "message", "id": "w1", "text": "مرحبا"})
    assert {(await ws.receive_json())["type"] for _ in range(2)} == {"message", "ack"}
    await post(a, s["token"], "from another tab", "h1", own(a))
    echo = await ws.receive_json(timeout=5)
    assert echo["type"] == "message" and echo["message"]["text"] == "from another tab"

    async with a.app[RUNTIME].sessions() as db:
        conv = (
            (await db.execute(select(Message.conversation_id).where(Message.kind == "incoming")))
            .scalars()
            .first()
        )
    assert conv is not None
    reply = await do_reply(a.app[RUNTIME], conv, "أهلاً من الخادم الآخر")
    frame = await ws.receive_json(timeout=5)
    assert frame["type"] == "message" and frame["message"]["id"] == reply.id
    assert webchat(b).sockets and not webchat(a).sockets
    assert await webchat(a).typing(f"demo:{s['visitor_id']}") == 1
    assert (await ws.receive_json(timeout=5)) == {"type": "typing"}
    await ws.close()

    async def settled() -> bool:
        # Stopped mid-job, a Redis worker leaves its database connection behind.
        async with a.app[RUNTIME].sessions() as db:
            rows = (await db.execute(select(Message))).scalars().all()
        return all(m.pipeline_state != "pending" and m.delivery_status != "queued" for m in rows)

    await eventually(settled)


@pytest.mark.redis
async def test_rate_limit_counts_requests_on_every_instance(
    instances: Instances, sqlite_url: str, sites: None
) -> None:
    """A visitor spreading a burst over two processes is limited as if there were one."""
    settings = make_settings(sqlite_url, channels="memory,webchat")
    a, b = await instances(settings, workers=[False, False])
    s = await session(a)
    statuses = [
        (await post(c, s["token"], f"m{i}", f"r{i}", own(c))).status
        for i, c in enumerate([a, b] * 3)
    ]
    assert statuses == [200] * 5 + [429]


async def test_websocket_refuses_forged_tokens_and_foreign_origins(client: Client) -> None:
    """No socket without a signed token from an allowed page."""
    s = await session(client)
    resp = await client.get(
        "/channels/webchat/ws?token=v1.demo.abcdefghij.forged", headers=own(client)
    )
    assert resp.status == 401
    resp = await client.get(
        f"/channels/webchat/ws?token={s['token']}", headers={"Origin": "https://evil.test"}
    )
    assert resp.status == 403


async def test_identify_with_the_sites_hmac_links_to_the_known_customer(client: Client) -> None:
    """A signed-in shop user (HMAC from the shop's backend) lands on their existing customer."""
    rt = client.app[RUNTIME]
    known = await do_ingest(
        rt, InboundMessage("memory", "m-1", "m-1-a", "hi", sender_profile={"email": "layla@x.test"})
    )
    s = await session(client, site="shop")
    shop = {"Origin": "https://shop.example", "X-Visitor-Token": s["token"]}
    resp = await client.post(
        "/channels/webchat/identify",
        json={"name": "Layla", "email": "layla@x.test", "user_hash": "0" * 64},
        headers=shop,
    )
    assert (await resp.json())["verified"] is False
    resp = await client.post(
        "/channels/webchat/identify",
        json={"name": "Layla", "email": "layla@x.test",
              "user_hash": identity_hash(SITE_SECRET, "layla@x.test")},
        headers=shop,
    )  # fmt: skip
    assert (await resp.json())["verified"] is True
    ack = await (await post(client, s["token"], "it's me again", "i1", shop)).json()
    headers = await login_as(client, "sara", Role.AGENT)
    detail = await (
        await client.get(f"/api/v1/conversations/{known.conversation_id}", headers=headers)
    ).json()
    assert ack["message_id"] in [m["id"] for m in detail["messages"]]


async def test_unverified_email_never_links(client: Client) -> None:
    """Typing someone's email without the site's HMAC does not reach their history."""
    rt = client.app[RUNTIME]
    await do_ingest(
        rt,
        InboundMessage(
            "memory", "m-2", "m-2-a", "secret order", sender_profile={"email": "ceo@x.test"}
        ),
    )
    s = await session(client, site="shop")
    shop = {"Origin": "https://shop.example", "X-Visitor-Token": s["token"]}
    await client.post("/channels/webchat/identify", json={"email": "ceo@x.test"}, headers=shop)
    await post(client, s["token"], "show me", "u1", shop)
    resp = await client.get("/channels/webchat/messages", headers=shop)
    assert [m["text"] for m in (await resp.json())["messages"]] == ["show me"]


async def test_offline_visitor_leaves_email_and_replies_continue_there(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    sites: None,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """Outside hours the widget says so; the email left gets the agent's reply."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    client = await webchat_app(aiohttp_client, sqlite_url, "memory,webchat,email")
    s = await session(client, site="closed")
    assert s["online"] is False
    bad = await client.post(
        "/channels/webchat/contact", json={"email": "not-an-email"},
        headers={**own(client), "X-Visitor-Token": s["token"]},
    )  # fmt: skip
    assert bad.status == 400
    resp = await client.post(
        "/channels/webchat/contact", json={"email": "visitor@customer.test"},
        headers={**own(client), "X-Visitor-Token": s["token"]},
    )  # fmt: skip
    assert resp.status == 200
    await post(client, s["token"], "هل تشحنون إلى جدة؟", "o1", own(client))
    headers = await login_as(client, "sara", Role.AGENT)
    items = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    await client.post(
        f"/api/v1/conversations/{items[0]['id']}/reply", json={"text": "نعم نشحن"}, headers=headers
    )

    async def mailed() -> bool:
        return len(smtp_sink.received) == 1

    await eventually(mailed)
    envelope, mail = smtp_sink.received[0]
    assert envelope.rcpt_tos == ["visitor@customer.test"]
    assert mail.get_body(("plain",)).get_content().strip() == "نعم نشحن"  # type: ignore[union-attr]


async def test_demo_page_embeds_the_widget_with_a_strict_policy(client: Client) -> None:
    """/demo serves an Arabic page with the one script tag, under a content security policy."""
    resp = await client.get("/demo")
    assert resp.status == 200
    page = await resp.text()
    assert '<html lang="ar" dir="rtl">' in page
    assert '<script src="/channels/webchat/widget.js" data-site="demo" async></script>' in page
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    js = await client.get("/channels/webchat/widget.js")
    assert js.status == 200 and "innerHTML" not in await js.text()
    assert len(await js.read()) < 20_000


def test_tokens_reject_tampering() -> None:
    """A token signed with another secret, or with a changed visitor id, is refused."""
    visitor, token = Tokens("one").issue("demo")
    assert Tokens("one").check(token) == visitor
    assert Tokens("two").check(token) is None
    site, vid, sig = token.split(".")[1:]
    other = vid[:-1] + ("B" if vid.endswith("A") else "A")
    assert Tokens("one").check(f"v1.{site}.{other}.{sig}") is None
    assert Tokens("one").check(f"v1.shop.{vid}.{sig}") is None


async def next_frame_type(ws: Any) -> str:
    """Ask the service for a catch-up and return the first frame type that comes back.

    The typing relay finishes before the typing request is answered, so a relayed indicator
    would arrive before this ``history`` answer.
    """
    await ws.send_json({"type": "sync", "after": 10**9})
    return str((await ws.receive_json(timeout=5))["type"])


async def test_agent_typing_reaches_the_widget_but_note_typing_does_not(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reply-mode typing shows "typing…" in the visitor's tab (throttled); note mode never does."""
    monkeypatch.setattr("connectors.registry.TYPING_INTERVAL_SECONDS", 600.0)
    s = await session(client, lang="ar")
    ws = await client.ws_connect(f"/channels/webchat/ws?token={s['token']}", headers=own(client))
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "message", "id": "t1", "text": "ممكن أعرف حالة طلبي؟"})
    assert {(await ws.receive_json())["type"] for _ in range(2)} == {"message", "ack"}
    headers = await login_as(client, "sara", Role.AGENT)
    items = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    typing_url = f"/api/v1/conversations/{items[0]['id']}/typing"

    resp = await client.post(typing_url, json={"mode": "note"}, headers=headers)
    assert resp.status == 200
    assert await next_frame_type(ws) == "history"
    resp = await client.post(typing_url, json={"mode": "reply"}, headers=headers)
    assert resp.status == 200
    assert (await ws.receive_json(timeout=5)) == {"type": "typing"}
    await client.post(typing_url, json={"mode": "reply"}, headers=headers)
    assert await next_frame_type(ws) == "history"  # a keystroke burst relays once
    await ws.close()


async def test_identify_and_contact_survive_a_restart(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    sites: None,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """A new service on the same database still knows the verified user and the contact email."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    first = await webchat_app(aiohttp_client, sqlite_url, "memory,webchat,email")
    shop_visitor = await session(first, site="shop")
    shop = {"Origin": "https://shop.example", "X-Visitor-Token": shop_visitor["token"]}
    email = "noura@x.test"
    resp = await first.post(
        "/channels/webchat/identify",
        json={"name": "نورة", "email": email, "user_hash": identity_hash(SITE_SECRET, email),
              "attributes": {"plan": "gold"}},
        headers=shop,
    )  # fmt: skip
    assert (await resp.json())["verified"] is True
    offline = await session(first, site="closed")
    resp = await first.post(
        "/channels/webchat/contact", json={"email": "visitor@customer.test"},
        headers={**own(first), "X-Visitor-Token": offline["token"]},
    )  # fmt: skip
    assert resp.status == 200
    await first.close()

    second = await webchat_app(aiohttp_client, sqlite_url, "memory,webchat,email")
    ack = await (await post(second, shop_visitor["token"], "وصل طلبي ناقص", "p1", shop)).json()
    headers = await login_as(second, "sara", Role.AGENT)
    found = await (
        await second.get("/api/v1/customers", params={"q": email}, headers=headers)
    ).json()
    assert len(found) == 1 and found[0]["display_name"] == "نورة"
    customer = await (
        await second.get(f"/api/v1/customers/{found[0]['id']}", headers=headers)
    ).json()
    assert {(i["channel"], i["external_id"]) for i in customer["identities"]} == {
        ("webchat", f"shop:{shop_visitor['visitor_id']}"),
        ("email", email),
    }
    assert customer["attributes"] == {"plan": "gold"}
    detail = await (
        await second.get(
            f"/api/v1/conversations/{customer['conversations'][0]['id']}", headers=headers
        )
    ).json()
    assert ack["message_id"] in [m["id"] for m in detail["messages"]]

    resumed = await session(second, site="closed", token=offline["token"])
    assert resumed["contact"] == "visitor@customer.test"
    await post(second, offline["token"], "هل تشحنون إلى جدة؟", "o1", own(second))
    items = (await (await second.get("/api/v1/conversations", headers=headers)).json())["items"]
    conv = next(c for c in items if c["preview"] == "هل تشحنون إلى جدة؟")
    await second.post(
        f"/api/v1/conversations/{conv['id']}/reply", json={"text": "نعم نشحن"}, headers=headers
    )

    async def mailed() -> bool:
        return len(smtp_sink.received) == 1

    await eventually(mailed)
    assert smtp_sink.received[0][0].rcpt_tos == ["visitor@customer.test"]


async def test_telegram_link_is_offered_only_when_a_bot_is_configured(client: Client) -> None:
    """Without a bot username the widget hides the link and the endpoint says why."""
    s = await session(client)
    assert s["telegram"] is False
    resp = await client.get(
        "/channels/webchat/telegram", headers={**own(client), "X-Visitor-Token": s["token"]}
    )
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "telegram_not_configured"
    resp = await client.get(
        "/channels/webchat/telegram", headers={**own(client), "X-Visitor-Token": "v1.demo.x.y"}
    )
    assert resp.status == 401


async def test_visitor_continues_on_telegram_as_the_same_customer(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    sites: None,
    channel_env: Callable[..., Any],
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deep link → ``/start <token>`` → one customer, one timeline; typing reaches both."""
    monkeypatch.setenv("WEBCHAT_TELEGRAM_BOT", "@" + BOT_USER["username"])
    client = await aiohttp_client(
        create_app(channel_env(sqlite_url, channels="memory,webchat,telegram"), migrate=False)
    )
    s = await session(client, lang="ar")
    assert s["telegram"] is True
    visitor = {**own(client), "X-Visitor-Token": s["token"]}
    ws = await client.ws_connect(f"/channels/webchat/ws?token={s['token']}", headers=own(client))
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "message", "id": "g1", "text": "أبغى أكمل على تيليجرام"})
    assert {(await ws.receive_json())["type"] for _ in range(2)} == {"message", "ack"}

    resp = await client.get("/channels/webchat/telegram", headers=visitor)
    assert resp.status == 200
    link = await resp.json()
    prefix = f"https://t.me/{BOT_USER['username']}?start="
    assert link["url"].startswith(prefix)
    token = link["url"].removeprefix(prefix)
    assert len(token) <= 64 and all(c.isalnum() or c in "_-" for c in token)

    update = tg_fixture("start_deep_link")
    update["message"]["text"] = f"/start {token}"
    assert (await post_update(client, update)).status == 200
    follow_up = tg_fixture("start_deep_link")
    follow_up["update_id"] += 1
    follow_up["message"].update(message_id=2, text="وصلت، وين طلبي؟", entities=[])
    assert (await post_update(client, follow_up)).status == 200

    headers = await login_as(client, "sara", Role.AGENT)
    found = await (
        await client.get(
            "/api/v1/customers", params={"external_id": "777000222", "channel": "telegram"},
            headers=headers,
        )
    ).json()  # fmt: skip
    assert len(found) == 1
    customer = await (
        await client.get(f"/api/v1/customers/{found[0]['id']}", headers=headers)
    ).json()
    assert {i["channel"] for i in customer["identities"]} == {"webchat", "telegram"}
    active = [c for c in customer["conversations"] if c["status"] != "resolved"]
    assert len(active) == 1 and active[0]["last_channel"] == "telegram"
    timeline = await (
        await client.get(f"/api/v1/customers/{found[0]['id']}/timeline", headers=headers)
    ).json()
    said = [(m["channel"], m["text"]) for m in timeline["items"] if m["kind"] == "incoming"]
    assert said == [
        ("webchat", "أبغى أكمل على تيليجرام"),
        ("telegram", "/start"),
        ("telegram", "وصلت، وين طلبي؟"),
    ]

    resp = await client.post(
        f"/api/v1/conversations/{active[0]['id']}/typing", json={"mode": "reply"}, headers=headers
    )
    assert resp.status == 200
    assert (await ws.receive_json(timeout=5)) == {"type": "typing"}
    (action,) = bot_api.sent("sendChatAction")
    assert action.params == {"chat_id": "777000222", "action": "typing"}
    await ws.close()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


async def test_visitor_gets_a_signed_link_to_the_agents_file(client: Client) -> None:
    """A file reaches the visitor live and in history as a link signed for that visitor; the
    link downloads the bytes, while an altered, another visitor's or expired link gets 403."""
    s = await session(client)
    other = await session(client)
    ws = await client.ws_connect(f"/channels/webchat/ws?token={s['token']}", headers=own(client))
    assert (await ws.receive_json())["type"] == "hello"
    assert (await post(client, s["token"], "أرسل صورة الشحنة", "f1", own(client))).status == 200
    headers = await login_as(client, "sara", Role.AGENT)
    conv = (await (await client.get("/api/v1/conversations", headers=headers)).json())["items"]
    stored = await client.app[FILES].put(PNG, "الشحنة.png", "image/png")
    resp = await client.post(
        f"/api/v1/conversations/{conv[0]['id']}/reply",
        json={"text": "تفضل", "attachments": [stored.id]},
        headers=headers,
    )
    assert resp.status == 201

    async def live() -> Any:
        frame = await ws.receive_json(timeout=5)
        return frame if frame["type"] == "message" and frame["message"]["text"] == "تفضل" else None

    frame = await eventually(live)
    await ws.close()
    (file,) = frame["message"]["attachments"]
    assert (file["name"], file["content_type"], file["size"]) == (
        "الشحنة.png",
        "image/png",
        len(PNG),
    )
    assert file["path"].startswith(f"/files/{stored.key}?")
    client.session.cookie_jar.clear()  # the visitor has no inbox session
    resp = await client.get(f"/channels/webchat{file['path']}")
    assert resp.status == 200
    assert await resp.read() == PNG
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment;")

    history = await client.get(
        "/channels/webchat/messages", headers={**own(client), "X-Visitor-Token": s["token"]}
    )
    (reply,) = [m for m in (await history.json())["messages"] if m["author"] == "agent"]
    assert (await client.get(f"/channels/webchat{reply['attachments'][0]['path']}")).status == 200

    links = webchat(client).links
    assert links is not None
    query = dict(urllib.parse.parse_qsl(file["path"].split("?", 1)[1]))
    for_other = {**query, "for": f"demo:{other['visitor_id']}"}
    expired = links.query("webchat", stored.key, f"demo:{s['visitor_id']}", "الشحنة.png",
                          now=time.time() - 2 * links.ttl_seconds)  # fmt: skip
    for bad, code in ((for_other, "bad_link"), (expired, "link_expired")):
        resp = await client.get(f"/channels/webchat/files/{stored.key}", params=bad)
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == code
    resp = await client.get(f"/channels/webchat/files/{'0' * 64}", params=query)
    assert resp.status == 403
