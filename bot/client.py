"""Async client the router uses to talk to the Rasa server over HTTP (loopback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp

HANDOFF_REASONS = ("customer_request", "low_confidence", "action_failed")


class BotError(Exception):
    """The bot could not give a usable answer."""


class BotUnavailable(BotError):
    """Rasa timed out, refused the connection or answered 5xx; the router escalates."""


class BotProtocolError(BotError):
    """Rasa answered, but not in the shape we expect (4xx, malformed JSON)."""


@dataclass(frozen=True, slots=True)
class BotReply:
    """What the bot said to one customer message.

    Args:
        texts: the text replies, in order.
        handoff: whether the bot asked to hand the conversation to a person.
        reason: why (``customer_request``, ``low_confidence``, ``action_failed``), if handoff.
        custom: every ``custom`` payload the bot sent, handoff markers included.
    """

    texts: list[str]
    handoff: bool = False
    reason: str | None = None
    custom: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_rest(cls, items: Any) -> BotReply:
        """Parse the REST channel's answer: a list of {"text": …} / {"custom": …} items."""
        if not isinstance(items, list):
            raise BotProtocolError(f"expected a JSON list, got {type(items).__name__}")
        texts: list[str] = []
        custom: list[dict[str, Any]] = []
        handoff, reason = False, None
        for item in items:
            if not isinstance(item, dict):
                raise BotProtocolError(f"expected JSON objects, got {item!r}")
            if isinstance(item.get("text"), str):
                texts.append(item["text"])
            payload = item.get("custom")
            if isinstance(payload, dict):
                custom.append(payload)
                if payload.get("handoff") is True:
                    handoff = True
                    reason = reason or str(payload.get("reason") or "unspecified")
        if not items:
            # Every turn of this bot says something; Rasa answers [] only when a custom action
            # could not be run at all (action server down), so that is an action failure too.
            return cls(texts=[], handoff=True, reason="action_failed")
        return cls(texts=texts, handoff=handoff, reason=reason, custom=custom)


class RasaClient:
    """Talks to one Rasa server: the REST webhook for replies, /model/parse for intents."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:5005",
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Use the given session (preferred, the app owns it) or open one on first use."""
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        """Use as an async context manager."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the session if we opened it."""
        await self.close()

    async def close(self) -> None:
        """Close the session if we opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def reply(self, conversation_id: str, text: str, language: str | None = None) -> BotReply:
        """Send one customer message; the conversation id is Rasa's sender id."""
        payload: dict[str, Any] = {"sender": conversation_id, "message": text}
        if language:
            payload["metadata"] = {"language": language}
        return BotReply.from_rest(await self._request("POST", "/webhooks/rest/webhook", payload))

    async def parse(self, text: str) -> dict[str, Any]:
        """Intent, confidence and entities for a text, without touching any conversation."""
        data = await self._request("POST", "/model/parse", {"text": text})
        if not isinstance(data, dict):
            raise BotProtocolError(f"expected a JSON object, got {type(data).__name__}")
        return data

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (model file, fingerprint)."""
        data = await self._request("GET", "/status", None)
        if not isinstance(data, dict):
            raise BotProtocolError(f"expected a JSON object, got {type(data).__name__}")
        return data

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """One HTTP call with the timeout; map transport failures onto BotUnavailable."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.base_url + path
        try:
            async with self._session.request(
                method, url, json=payload, timeout=self.timeout
            ) as resp:
                if resp.status >= 500:
                    raise BotUnavailable(f"{method} {path}: HTTP {resp.status}")
                if resp.status >= 400:
                    raise BotProtocolError(f"{method} {path}: HTTP {resp.status}")
                try:
                    return await resp.json(content_type=None)
                except ValueError as exc:
                    raise BotProtocolError(f"{method} {path}: invalid JSON") from exc
        except TimeoutError as exc:
            raise BotUnavailable(
                f"{method} {path}: timed out after {self.timeout.total} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise BotUnavailable(f"{method} {path}: {exc}") from exc
