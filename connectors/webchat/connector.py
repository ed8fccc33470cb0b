"""The web chat connector: the widget's HTTP and WebSocket endpoints, and live replies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web

from connectors.base import Connector
from connectors.webchat.security import Tokens, Visitor, identity_ok
from connectors.webchat.sites import TELEGRAM_BOT, Site, load_sites
from core.channel_reads import ChannelReads
from core.types import InboundMessage, OutboundMessage, Receipt

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CHANNEL = "webchat"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[^@\s<>\"']{2,63}$")
TOPIC = "webchat"
PRESENCE_REFRESH_SECONDS = 20.0
TITLE = {"ar": "تواصل معنا", "en": "Chat with us"}
GREETING = {"ar": "أهلاً! كيف نقدر نساعدك؟", "en": "Hi! How can we help?"}


H = TypeVar("H")

# Hooks the app binds to core actions (connectors never write to the database themselves).
IdentifyHook = Callable[..., Awaitable[object]]
ContactHook = Callable[[str, str, str], Awaitable[object]]
LinkTokenHook = Callable[[str, str], Awaitable[str]]


def telegram_bot_name(raw: str | None) -> str:
    """A Telegram bot username without its ``@``; empty when unset, ValueError when malformed."""
    name = (raw or "").strip().removeprefix("@")
    if name and not TELEGRAM_BOT.match(name):
        raise ValueError(f"not a Telegram bot username: {raw!r}")
    return name


class Refused(Exception):
    """A visitor request we turn down, with an error code and an HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra


def _pick(texts: dict[str, str], defaults: dict[str, str], lang: str) -> str:
    """A site text in the visitor's language, else English, else ours."""
    return texts.get(lang) or defaults.get(lang) or texts.get("en") or defaults["en"]


class WebchatConnector(Connector):
    """Web chat: anonymous signed visitors, WebSocket with HTTP fallback, replies pushed live."""

    name = CHANNEL
    typing_is_live = True
    carries_files = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.sites: dict[str, Site] = load_sites(cfg.get("sites"))
        self.max_chars = int(cfg.get("max_chars") or 2000)
        # (per minute, burst) token buckets, counted in `shared` so every process agrees.
        self.rate = (float(cfg.get("rate_per_minute") or 20), int(cfg.get("rate_burst") or 8))
        self.new_visitor_rate = (float(cfg.get("new_visitors_per_minute") or 30), 10)
        self.public_url = cfg.get("public_url") or ""
        self._secret = cfg.get("secret") or ""
        self.telegram_bot = telegram_bot_name(cfg.get("telegram_bot"))
        self.reads: ChannelReads | None = None
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.on_identify: IdentifyHook | None = None
        self.on_contact: ContactHook | None = None
        self.on_link_request: LinkTokenHook | None = None
        self._demo_html = (STATIC / "demo.html").read_text(encoding="utf-8")
        self._tasks: list[asyncio.Task[None]] = []

    def bind_reads(self, reads: ChannelReads) -> None:
        """Receive history look-ups, presence and the service's secret and public URL."""
        self.reads = reads
        if reads.settings is not None:
            self._secret = self._secret or reads.settings.secret_key.get_secret_value()
            self.public_url = self.public_url or reads.settings.public_url

    @property
    def tokens(self) -> Tokens:
        """Visitor token signer (WEBCHAT_SECRET, else the service's SECRET_KEY)."""
        if not self._secret:
            raise RuntimeError("web chat has no signing secret (WEBCHAT_SECRET or SECRET_KEY)")
        return Tokens(self._secret)

    # --- the seam ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """Widget files, session, messages (HTTP fallback), identify, contact and WebSocket."""
        return [
            web.get("/widget.js", self._static("widget.js", "application/javascript")),
            web.get("/widget.css", self._static("widget.css", "text/css")),
            web.post("/session", self._session),
            web.post("/messages", self._post_message),
            web.get("/messages", self._get_messages),
            web.post("/identify", self._identify),
            web.post("/contact", self._contact),
            web.get("/telegram", self._telegram_link),
            web.get("/ws", self._websocket),
            web.get("/files/{key}", self.serve_signed_file),
            web.options("/{tail:.*}", self._preflight),
        ]

    async def _send(self, message: OutboundMessage) -> Receipt:
        """Push a reply to the visitor's open tabs; continue by email when they left one."""
        frame = {
            "type": "message",
            "message": {
                "id": message.message_id,
                "author": "agent",
                "text": message.text,
                "attachments": self._file_links(
                    message.recipient_id, [a.to_dict() for a in message.attachments]
                ),
                "at": datetime.now(UTC).isoformat(),
            },
        }
        live = await self._push(message.recipient_id, frame)
        receipt_id = f"webchat-{message.message_id}"
        reads = self.reads
        if (
            not live
            and reads is not None
            and reads.send_via is not None
            and (email := await reads.contact_email(message.recipient_id))
        ):
            forwarded = await reads.send_via(
                replace(message, channel="email", recipient_id=email, reply_to_external_id=None)
            )
            return Receipt(receipt_id, {"live": 0, "forwarded": "email", "email": email,
                                        "email_id": forwarded.external_message_id})  # fmt: skip
        return Receipt(receipt_id, {"live": live})

    def _file_links(self, external_id: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The widget's view of files: name, size, type and a link signed for this visitor."""
        # ``path`` is relative to the widget's base URL; the link expires (FILE_LINK_TTL_SECONDS).
        shown = []
        for file in files:
            name = str(file.get("name") or file.get("kind") or "file")
            entry: dict[str, Any] = {
                "name": name,
                "size": file.get("size"),
                "content_type": file.get("mime_type"),
            }
            key = file.get("key")
            if key and self.links is not None:
                query = self.links.query(CHANNEL, key, external_id, name)
                entry["path"] = f"/files/{key}?{urlencode(query)}"
            shown.append(entry)
        return shown

    async def typing(self, external_id: str) -> int:
        """Show the typing indicator in a visitor's open tabs; returns how many got it."""
        return await self._push(external_id, {"type": "typing"})

    async def _push(self, external_id: str, frame: dict[str, Any]) -> int:
        """Send a frame to the visitor's open tabs, in this process and (with Redis) others."""
        live = await self._send_local(external_id, frame)
        if self.shared.distributed:
            # Other processes send it to the tabs they hold; their count comes from presence.
            await self.shared.publish(TOPIC, {"to": external_id, "frame": frame})
            live += await self.shared.elsewhere(f"{TOPIC}:{external_id}")
        return live

    async def _send_local(self, external_id: str, frame: dict[str, Any]) -> int:
        """Send a frame to the visitor's tabs connected to this process; how many got it."""
        sent = 0
        for ws in list(self.sockets.get(external_id, ())):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(frame)
                sent += 1
        return sent

    async def _connected(self, external_id: str) -> None:
        """Tell the other processes how many tabs of this visitor this process holds now."""
        await self.shared.here(f"{TOPIC}:{external_id}", len(self.sockets.get(external_id, ())))

    async def start(self) -> None:
        """With other processes: relay their frames to our sockets and keep presence fresh."""
        if self.shared.distributed:
            self._tasks = [
                asyncio.create_task(self._relay_forever(), name="webchat-relay"),
                asyncio.create_task(self._refresh_forever(), name="webchat-presence"),
            ]

    async def stop(self) -> None:
        """Stop relaying (bounded: shutdown never waits on a stuck Redis read)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []

    async def _relay_forever(self) -> None:
        """Frames other processes published for visitors whose tabs this process holds."""
        while True:
            try:
                async for data in self.shared.listen(TOPIC):
                    to, frame = data.get("to"), data.get("frame")
                    if isinstance(to, str) and isinstance(frame, dict) and to in self.sockets:
                        await self._send_local(to, frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("web chat relay lost Redis; listening again")
            await asyncio.sleep(1)

    async def _refresh_forever(self) -> None:
        """Re-announce our visitors' tabs before their presence expires."""
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_SECONDS)
            for external_id in list(self.sockets):
                await self._connected(external_id)

    async def on_shutdown(self, app: web.Application) -> None:
        """Close visitors' sockets first, so shutdown does not wait on them (they reconnect)."""
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1012, message=b"service restarting")

    # --- helpers ----------------------------------------------------------------------------

    def _own_origin(self, request: web.Request) -> str:
        """Our own origin, as the browser sees it (``PUBLIC_URL`` behind a proxy)."""
        if self.public_url:
            parts = urlsplit(self.public_url)
            return f"{parts.scheme}://{parts.netloc}"
        return f"{request.scheme}://{request.host}"

    def _cors(self, request: web.Request, site: Site) -> dict[str, str]:
        """CORS headers for an allowed origin (none for our own pages)."""
        origin = request.headers.get("Origin", "")
        if origin and origin.rstrip("/") != self._own_origin(request):
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def _check_origin(self, request: web.Request, site: Site) -> None:
        """Refuse pages not on the site's allow-list."""
        origin = request.headers.get("Origin")
        if (
            not origin
            and request.method == "GET"
            and request.headers.get("Sec-Fetch-Site")
            in (
                "same-origin",
                None,
            )
        ):
            # Browsers omit Origin on same-origin GETs; cross-origin fetches always carry it.
            origin = self._own_origin(request)
        if not site.allows(origin, self._own_origin(request)):
            raise Refused(403, "origin_not_allowed", "this page may not use the chat")

    def _visitor(self, request: web.Request, token: str | None = None) -> tuple[Visitor, Site]:
        """The signed visitor of a request, on an allowed origin."""
        token = token or request.headers.get("X-Visitor-Token") or request.query.get("token")
        visitor = self.tokens.check(token)
        if visitor is None or visitor.site not in self.sites:
            raise Refused(401, "bad_token", "unknown or forged visitor token")
        site = self.sites[visitor.site]
        self._check_origin(request, site)
        return visitor, site

    def online(self, site: Site) -> bool:
        """Whether someone answers now: within opening hours (and an agent present if asked)."""
        if not site.open_at(datetime.now(UTC)):
            return False
        if site.require_agent:
            return self.reads is not None and self.reads.agents_online()
        return True

    async def _history(self, visitor: Visitor, after: int = 0) -> list[dict[str, Any]]:
        """What the visitor has said and been told, oldest first."""
        if self.reads is None:
            return []
        rows = await self.reads.history(visitor.external_id, after_id=after)
        for row in rows:
            row["attachments"] = self._file_links(visitor.external_id, row.get("attachments") or [])
            if row["author"] != "visitor":
                row["author"] = "agent"
            elif row["client_id"]:
                row["client_id"] = str(row["client_id"]).split(":", 1)[-1]
        return rows

    async def receive(
        self, visitor: Visitor, client_id: Any, text: Any, page: str | None = None
    ) -> dict[str, Any]:
        """Take one visitor message to the timeline; the frame to answer with (ack or error).

        ``client_id`` is made by the browser, so a message resent after a lost connection is
        stored once.
        """
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            return _error(None, "bad_id", "each message needs an id of letters and digits")
        if not isinstance(text, str) or not text.strip():
            return _error(client_id, "empty", "the message is empty")
        text = text.strip()
        if len(text) > self.max_chars:
            limit = self.max_chars
            return _error(client_id, "too_long", f"at most {limit} characters", limit=limit)
        wait = await self._slow_down(visitor)
        if wait:
            return _error(
                client_id, "rate_limited", "slow down a little", retry_after=round(wait, 1)
            )
        ext = visitor.external_id
        raw: dict[str, Any] = {"site": visitor.site}
        if page:
            raw["page"] = page[:500]
        # Names, verified emails and contact emails are already on the identity (identify).
        result = await self.sink(
            InboundMessage(
                channel=CHANNEL,
                external_sender_id=ext,
                external_message_id=f"{visitor.visitor_id}:{client_id}",
                text=text,
                raw=raw,
            )
        )
        if result.created:
            echo = {
                "type": "message",
                "message": {"id": result.message_id, "author": "visitor", "text": text,
                            "client_id": client_id, "at": datetime.now(UTC).isoformat()},
            }  # fmt: skip
            await self._push(ext, echo)
        return {
            "type": "ack",
            "id": client_id,
            "message_id": result.message_id,
            "duplicate": not result.created,
        }

    # --- HTTP handlers ----------------------------------------------------------------------

    def _static(self, name: str, content_type: str) -> Any:
        """A handler serving one widget file (read once: the files are part of the release)."""
        body = (STATIC / name).read_bytes()

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=body,
                content_type=content_type,
                charset="utf-8",
                headers={"Cache-Control": "public, max-age=300"},
            )

        return handler

    async def _preflight(self, request: web.Request) -> web.Response:
        """CORS preflight: allowed only for an origin some site lists."""
        origin = request.headers.get("Origin")
        if not any(s.allows(origin, self._own_origin(request)) for s in self.sites.values()):
            return web.Response(status=403)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type, X-Visitor-Token",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        """A small JSON object body."""
        if request.content_length and request.content_length > 16 * 1024 + self.max_chars * 4:
            raise Refused(413, "too_large", "request body too large")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Refused(400, "bad_json", "the body must be JSON") from exc
        if not isinstance(body, dict):
            raise Refused(400, "bad_json", "the body must be a JSON object")
        return body

    async def _guard(self, request: web.Request, work: Any) -> web.Response:
        """Run a handler body, turning refusals into JSON errors with CORS headers."""
        try:
            data, headers = await work()
        except Refused as exc:
            origin = request.headers.get("Origin")
            headers = (
                {"Access-Control-Allow-Origin": origin} if origin and exc.status != 403 else {}
            )
            return web.json_response(
                {"error": {"code": exc.code, "message": str(exc), **exc.extra}},
                status=exc.status,
                headers=headers,
            )
        return web.json_response(data, headers=headers)

    async def _session(self, request: web.Request) -> web.Response:
        """Start or resume a visitor: token, history, whether anyone is online, site texts."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            body = await self._body(request)
            site = self.sites.get(str(body.get("site", "")))
            if site is None:
                raise Refused(404, "unknown_site", "no such site")
            self._check_origin(request, site)
            visitor = self.tokens.check(body.get("token"))
            if visitor is None or visitor.site != site.name:
                key = f"{TOPIC}:new:{request.remote or '?'}"
                wait = await self.shared.take(key, *self.new_visitor_rate)
                if wait:
                    raise Refused(429, "rate_limited", "too many new visitors", retry_after=wait)
                visitor, token = self.tokens.issue(site.name)
            else:
                token = self.tokens.token_for(visitor)
            lang = str(body.get("lang") or "en")[:2].lower()
            return {
                "token": token,
                "visitor_id": visitor.visitor_id,
                "history": await self._history(visitor),
                "online": self.online(site),
                "contact": (
                    await self.reads.contact_email(visitor.external_id) if self.reads else None
                ),
                "telegram": bool(self._bot_for(site)),
                "title": _pick(site.title, TITLE, lang),
                "greeting": _pick(site.greeting, GREETING, lang),
                "max_chars": self.max_chars,
            }, self._cors(request, site)

        return await self._guard(request, work)

    async def _post_message(self, request: web.Request) -> web.Response:
        """HTTP fallback for sending a message (same ack as the WebSocket)."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            visitor, site = self._visitor(request)
            body = await self._body(request)
            frame = await self.receive(visitor, body.get("id"), body.get("text"), body.get("page"))
            if frame["type"] == "error":
                status = {"rate_limited": 429, "too_long": 413}.get(frame["code"], 400)
                extra = {k: v for k, v in frame.items() if k not in ("type", "code", "message")}
                raise Refused(status, frame["code"], frame["message"], **extra)
            return frame, self._cors(request, site)

        return await self._guard(request, work)

    async def _get_messages(self, request: web.Request) -> web.Response:
        """HTTP fallback for receiving: messages after ``?after=<id>``."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            visitor, site = self._visitor(request)
            try:
                after = int(request.query.get("after", "0"))
            except ValueError as exc:
                raise Refused(400, "bad_after", "after must be a message id") from exc
            return {"messages": await self._history(visitor, after)}, self._cors(request, site)

        return await self._guard(request, work)

    async def _identify(self, request: web.Request) -> web.Response:
        """Name and email from the site; linked to a known customer only with the site's HMAC."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            visitor, site = self._visitor(request)
            body = await self._body(request)
            name = str(body.get("name") or "").strip()[:100]
            email = str(body.get("email") or "").strip().lower()
            if email and not _EMAIL.match(email):
                raise Refused(400, "bad_email", "not an email address")
            attributes = body.get("attributes") or {}
            if not isinstance(attributes, dict):
                raise Refused(400, "bad_attributes", "attributes must be an object")
            verified = bool(email) and identity_ok(site.secret, email, body.get("user_hash"))
            if verified or name:
                if wait := await self._slow_down(visitor):
                    raise Refused(
                        429, "rate_limited", "slow down a little", retry_after=round(wait, 1)
                    )
                hook = self._hook(self.on_identify)
                # Unverified, only the name is kept: the email and attributes are the site's word.
                await hook(
                    CHANNEL,
                    visitor.external_id,
                    name=name or None,
                    email=email if verified else None,
                    attributes=attributes if verified else None,
                    verified=verified,
                )
            return {"verified": verified}, self._cors(request, site)

        return await self._guard(request, work)

    async def _contact(self, request: web.Request) -> web.Response:
        """Offline: the visitor leaves an email, and replies continue there."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            visitor, site = self._visitor(request)
            body = await self._body(request)
            email = str(body.get("email") or "").strip().lower()
            if not _EMAIL.match(email):
                raise Refused(400, "bad_email", "not an email address")
            wait = await self._slow_down(visitor)
            if wait:
                raise Refused(429, "rate_limited", "slow down a little", retry_after=round(wait, 1))
            await self._hook(self.on_contact)(CHANNEL, visitor.external_id, email)
            return {"ok": True, "email": email}, self._cors(request, site)

        return await self._guard(request, work)

    def _bot_for(self, site: Site) -> str:
        """The Telegram bot visitors of this site may continue on (empty: none)."""
        return site.telegram_bot or self.telegram_bot

    async def _telegram_link(self, request: web.Request) -> web.Response:
        """A ``t.me`` deep link that makes the visitor's Telegram chat join their customer."""

        async def work() -> tuple[dict[str, Any], dict[str, str]]:
            visitor, site = self._visitor(request)
            bot = self._bot_for(site)
            if not bot:
                raise Refused(404, "telegram_not_configured", "no Telegram bot for this site")
            token = await self._hook(self.on_link_request)(CHANNEL, visitor.external_id)
            return {"url": f"https://t.me/{bot}?start={token}", "bot": bot}, self._cors(
                request, site
            )

        return await self._guard(request, work)

    async def _slow_down(self, visitor: Visitor) -> float:
        """0 when the visitor may send now, else seconds to wait (one bucket for all processes)."""
        return await self.shared.take(f"{TOPIC}:visitor:{visitor.external_id}", *self.rate)

    @staticmethod
    def _hook(hook: H | None) -> H:
        """A bound hook, or a 503 when the connector runs without the service behind it."""
        if hook is None:
            raise Refused(503, "unavailable", "the chat service is not ready")
        return hook

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        """The live line: messages both ways, acks, typing, catch-up after a reconnect."""
        try:
            visitor, site = self._visitor(request)
        except Refused as exc:
            return web.json_response(
                {"error": {"code": exc.code, "message": str(exc)}}, status=exc.status
            )
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=16 * 1024 + self.max_chars * 4)
        await ws.prepare(request)
        ext = visitor.external_id
        self.sockets[ext].add(ws)
        await self._connected(ext)
        try:
            await ws.send_json({"type": "hello", "online": self.online(site)})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except json.JSONDecodeError:
                    await ws.send_json(_error(None, "bad_json", "frames are JSON"))
                    continue
                if not isinstance(frame, dict):
                    continue
                kind = frame.get("type")
                if kind == "message":
                    answer = await self.receive(visitor, frame.get("id"), frame.get("text"),
                                                frame.get("page"))  # fmt: skip
                    await ws.send_json(answer)
                elif kind == "sync":
                    after = frame.get("after")
                    history = await self._history(visitor, after if isinstance(after, int) else 0)
                    await ws.send_json({"type": "history", "messages": history})
        finally:
            self.sockets[ext].discard(ws)
            if not self.sockets[ext]:
                self.sockets.pop(ext, None)
            await self._connected(ext)
        return ws

    # --- demo -------------------------------------------------------------------------------

    async def demo_page(self, request: web.Request) -> web.Response:
        """``/demo``: a shop page that embeds the widget with one script tag."""
        lang = "en" if request.query.get("lang") == "en" else "ar"
        page = self._demo_html
        page = page.replace("{{lang}}", lang).replace("{{dir}}", "rtl" if lang == "ar" else "ltr")
        return web.Response(
            text=page,
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
                "img-src 'self' data:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _error(client_id: str | None, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error frame for the widget."""
    return {"type": "error", "id": client_id, "code": code, "message": message, **extra}
