"""One IMAP mailbox watched for new mail: IDLE where the server has it, polling otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aioimaplib  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[bool]]
# RFC 2177 allows 29 minutes; 5 keeps NAT boxes from dropping the line and notices a dead
# connection sooner.
IDLE_SECONDS = 5 * 60
RETRY_SECONDS = 5.0  # how soon mail that could not be stored is tried again
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")


class Cursors(Protocol):
    """Where each mailbox's read marker survives restarts (`MailStore` on disk)."""

    def imap_cursor(self, mailbox: str) -> tuple[int, int] | None:
        """``(UIDVALIDITY, highest UID done)``, if recorded."""
        ...

    def save_imap_cursor(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Record the marker."""
        ...


class MemoryCursors:
    """Markers kept for the life of the process only (tests, ``make email-check``)."""

    def __init__(self) -> None:
        self.markers: dict[str, tuple[int, int]] = {}

    def imap_cursor(self, mailbox: str) -> tuple[int, int] | None:
        """The marker, if recorded."""
        return self.markers.get(mailbox)

    def save_imap_cursor(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Record the marker."""
        self.markers[mailbox] = (uidvalidity, uid)


def _select_code(lines: list[object], pattern: re.Pattern[bytes]) -> int | None:
    """A number from the SELECT answer's response codes (``[UIDVALIDITY n]``, ``[UIDNEXT n]``)."""
    for line in lines:
        found = pattern.search(line if isinstance(line, bytes | bytearray) else str(line).encode())
        if found:
            return int(found.group(1))
    return None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """Where and how to log in; ``security`` is ``ssl``, ``starttls`` or ``plain``."""

    host: str
    port: int
    user: str
    password: str
    security: str = "ssl"
    folder: str = "INBOX"
    poll_seconds: float = 60.0
    verify_tls: bool = True
    idle: bool = True  # False: poll even when the server offers IDLE (it drops idle lines)

    @classmethod
    def from_url(
        cls, url: str, poll_seconds: float = 60.0, verify_tls: bool = True, idle: bool = True
    ) -> Mailbox:
        """``imaps://user:pass@host:993/INBOX``, ``imap+starttls://…:143/…`` or ``imap://…``."""
        parts = urlsplit(url.strip())
        security = {"imaps": "ssl", "imap+starttls": "starttls", "imap": "plain"}.get(parts.scheme)
        if security is None:
            raise ValueError(f"unsupported IMAP url scheme {parts.scheme!r}")
        if not parts.hostname or parts.username is None:
            raise ValueError("an IMAP url needs a user and a host")
        default_port = 993 if security == "ssl" else 143
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            security=security,
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            poll_seconds=poll_seconds,
            verify_tls=verify_tls,
            idle=idle,
        )

    def label(self) -> str:
        """How logs name this mailbox (never with the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def _tls_context(verify: bool) -> ssl.SSLContext:
    """A client TLS context; verification can be turned off for self-signed test servers."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _starttls(client: aioimaplib.IMAP4, mailbox: Mailbox) -> None:
    """Upgrade a plain connection with STARTTLS (aioimaplib has no helper for it)."""
    protocol = client.protocol
    response = await protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag()))
    if response.result != "OK":
        raise ConnectionError(f"STARTTLS refused: {response.lines}")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(
        protocol.transport,
        protocol,
        _tls_context(mailbox.verify_tls),
        server_hostname=mailbox.host,
    )
    protocol.transport = transport
    # Capabilities may change after TLS (RFC 3501 6.2.1): ask again.
    await protocol.capability()


class MailboxWatcher:
    """Fetches new mail, hands each raw message to ``handle`` and marks it seen when done.

    "New" is every UID above the highest one finished (kept in ``cursors`` with the mailbox's
    UIDVALIDITY), read or not: mail opened in another client while we were down still comes
    in. With no marker yet (first start) or after the server renumbered the mailbox
    (UIDVALIDITY changed), the unseen mail is what is new, and the marker starts from there.
    """

    def __init__(self, mailbox: Mailbox, handle: Handler, cursors: Cursors | None = None) -> None:
        self.mailbox = mailbox
        self.handle = handle
        self.cursors: Cursors = cursors or MemoryCursors()
        self.client: aioimaplib.IMAP4 | None = None
        self.connected = asyncio.Event()
        self.fetches = 0
        self.uidvalidity: int | None = None
        self.uidnext: int | None = None
        self.mode = ""  # "idle" or "polling" once connected

    async def run(self) -> None:
        """Watch forever, reconnecting with backoff on any failure."""
        backoff = 1.0
        while True:
            try:
                await self._session()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("IMAP %s: %s; retrying in %.0fs", self.mailbox.label(), exc, backoff)
            finally:
                self.connected.clear()
                await self._logout()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)

    async def _connect(self) -> aioimaplib.IMAP4:
        """Open, secure and log in."""
        mb = self.mailbox
        client: aioimaplib.IMAP4
        if mb.security == "ssl":
            client = aioimaplib.IMAP4_SSL(
                host=mb.host, port=mb.port, ssl_context=_tls_context(mb.verify_tls), timeout=30
            )
        else:
            client = aioimaplib.IMAP4(host=mb.host, port=mb.port, timeout=30)
        self.client = client
        await client.wait_hello_from_server()
        if mb.security == "starttls":
            await _starttls(client, mb)
        response = await client.login(mb.user, mb.password)
        if response.result != "OK":
            raise PermissionError(f"IMAP login refused for {mb.user}")
        response = await client.select(mb.folder)
        if response.result != "OK":
            raise LookupError(f"no folder {mb.folder!r}")
        self.uidvalidity = _select_code(response.lines, _UIDVALIDITY)
        self.uidnext = _select_code(response.lines, _UIDNEXT)
        return client

    async def _session(self) -> None:
        """One connection: fetch, then wait with IDLE or sleep, until something breaks."""
        client = await self._connect()
        self.connected.set()
        idle = self.mailbox.idle and client.has_capability("IDLE")
        self.mode = "idle" if idle else "polling"
        log.info("IMAP %s connected (%s)", self.mailbox.label(), self.mode)
        while True:
            if await self.fetch_new(client) < 0:
                # Some mail could not be stored (database away): retry soon, not at next mail.
                await asyncio.sleep(min(self.mailbox.poll_seconds, RETRY_SECONDS))
                continue
            if idle:
                await self._idle(client)
            else:
                await asyncio.sleep(self.mailbox.poll_seconds)
                await client.noop()

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Wait for the server to announce new mail (or for the IDLE period to end)."""
        waiter = await client.idle_start(timeout=IDLE_SECONDS)
        try:
            while True:
                pushed = await client.wait_server_push(timeout=IDLE_SECONDS)
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH or any(
                    b"EXISTS" in line if isinstance(line, bytes) else "EXISTS" in str(line)
                    for line in (pushed if isinstance(pushed, list) else [pushed])
                ):
                    break
        except TimeoutError:
            pass
        finally:
            client.idle_done()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, 10)

    async def fetch_new(self, client: aioimaplib.IMAP4) -> int:
        """Hand every new message to the handler; how many finished, -1 if some must wait."""
        label = self.mailbox.label()
        cursor = await asyncio.to_thread(self.cursors.imap_cursor, label)
        known = cursor is not None and cursor[0] == self.uidvalidity
        done_up_to = cursor[1] if known and cursor is not None else 0
        # No CHARSET argument: some servers (older Exchange) reject it, and neither needs one.
        criteria = f"UID {done_up_to + 1}:*" if known else "UNSEEN"
        response = await client.uid_search(criteria, charset=None)
        if response.result != "OK":
            raise ConnectionError(f"UID SEARCH failed: {response.lines}")
        found = [u for line in response.lines[:1] for u in line.decode().split() if u.isdigit()]
        # "n:*" always matches the highest UID, even below n (RFC 3501 6.4.8): drop those.
        uids = sorted(u for u in map(int, found) if u > done_up_to)
        done, first_waiting = 0, None
        for uid in uids:
            fetched = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
            raw = next((bytes(x) for x in fetched.lines if isinstance(x, bytearray)), None)
            if fetched.result != "OK" or raw is None:
                log.warning("IMAP %s: UID %s could not be fetched", label, uid)
                continue  # expunged meanwhile: nothing left to wait for
            if await self.handle(raw):
                await client.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)")
                done += 1
            elif first_waiting is None:
                first_waiting = uid
        self.fetches += 1
        await self._advance(known, done_up_to, uids, first_waiting)
        return -1 if first_waiting is not None else done

    async def _advance(
        self, known: bool, done_up_to: int, uids: list[int], first_waiting: int | None
    ) -> None:
        """Move the marker past what is finished, never past mail still waiting to be stored."""
        if self.uidvalidity is None:
            return  # a server without UIDVALIDITY: stay with unseen mail
        if not known:
            if first_waiting is not None:
                # Waiting mail stays unseen, so the next round's UNSEEN finds it; a marker
                # below it would also bring back mail read before we ever started.
                return
            marker = max([self.uidnext - 1 if self.uidnext else 0, *uids])
        else:
            marker = first_waiting - 1 if first_waiting is not None else max([done_up_to, *uids])
        if not known or marker != done_up_to:
            label = self.mailbox.label()
            await asyncio.to_thread(self.cursors.save_imap_cursor, label, self.uidvalidity, marker)

    async def _logout(self) -> None:
        """Say goodbye politely when possible."""
        client, self.client = self.client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 3)
