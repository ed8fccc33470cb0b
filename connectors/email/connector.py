"""The email connector: IMAP mailboxes and an SMTP listener in, SMTP out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from connectors.base import Connector, SendRefused
from connectors.email.compose import compose_reply, message_id, reply_subject
from connectors.email.imap import Mailbox, MailboxWatcher
from connectors.email.parse import CHANNEL, TRUST_FROM, MailRejected, ParsedMail, parse_mail
from connectors.email.store import MailStore
from core.channel_reads import ChannelReads
from core.db import storage_unavailable
from core.files import FileMissing
from core.runtime import PermanentDeliveryError
from core.types import OutboundMessage, Receipt

log = logging.getLogger(__name__)

_NEVER_ANSWER = ("mailer-daemon@", "postmaster@", "noreply", "no-reply")
# A mail the database refuses this often is kept aside: retrying it forever would hold its
# mailbox in the 5-second retry loop instead of IDLE.
STORE_ATTEMPTS = 3


def _flag(value: str | None, default: bool) -> bool:
    """A yes/no setting."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _message_id_of(replied: dict[str, Any], channel_id: str | None) -> str | None:
    """The Message-ID a reply answers: the stored mail's own (its channel id is scoped)."""
    for candidate in (replied.get("message_id"), channel_id):
        # Mail stored before ids were scoped has the bare Message-ID as its channel id.
        if isinstance(candidate, str) and candidate.startswith("<"):
            return candidate
    return None


class _ListenerHandler:
    """aiosmtpd handler: accept mail for our domain and ingest it before saying 250."""

    def __init__(self, connector: EmailConnector) -> None:
        self.connector = connector

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """Refuse recipients outside our domains so we are never mistaken for a relay."""
        domain = address.rpartition("@")[2].lower()
        if domain not in self.connector.accept_domains:
            return "550 5.1.1 not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        """Store the mail; a temporary failure asks the sender to retry instead of losing it."""
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode()
        if await self.connector.accept(raw):
            return "250 2.0.0 queued"
        return "451 4.3.0 temporary failure, try again later"


class EmailConnector(Connector):
    """Email: IMAP mailboxes (or mail piped to our SMTP listener) in, replies over SMTP."""

    name = "email"
    carries_files = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.address = cfg.get("address", "support@localhost").strip()
        self.from_name = cfg.get("from_name") or None
        self.domain = (cfg.get("domain") or self.address.rpartition("@")[2]).lower()
        self.accept_domains = {
            d.strip().lower() for d in (cfg.get("accept_domains") or self.domain).split(",") if d
        }
        self.store = MailStore(Path(cfg.get("store_dir") or "var/email"))
        poll = float(cfg.get("imap_poll_seconds") or 60)
        verify = _flag(cfg.get("imap_verify_tls"), True)
        idle = _flag(cfg.get("imap_idle"), True)
        self.mailboxes = [
            Mailbox.from_url(u, poll, verify, idle)
            for u in (cfg.get("imap_urls") or "").split(",")
            if u
        ]
        self.smtp_url = cfg.get("smtp_url") or ""
        # None: not set; certificates are then checked except on smtp:// without a password.
        verify_setting = cfg.get("smtp_verify_tls")
        self.smtp_verify_tls = _flag(verify_setting, True) if verify_setting else None
        self.smtp_timeout = float(cfg.get("smtp_timeout") or 30)
        self.listen = cfg.get("listen") or ""
        self.max_bytes = int(cfg.get("max_bytes") or 35_000_000)
        self.trust_from = (cfg.get("trust_from") or "auth-results").strip().lower()
        if self.trust_from not in TRUST_FROM:
            raise ValueError(f"EMAIL_TRUST_FROM must be one of {', '.join(TRUST_FROM)}")
        self.authserv_id = (cfg.get("authserv_id") or "").strip() or None
        self.reads: ChannelReads | None = None
        self._store_failures: dict[str, int] = {}  # raw mail's SHA-256 → refused writes
        self.watchers = [MailboxWatcher(mb, self.accept, self.store) for mb in self.mailboxes]
        self._tasks: list[asyncio.Task[None]] = []
        self._server: asyncio.Server | None = None

    async def open_file(self, key: str) -> bytes:
        """An inbound attachment's bytes, by the key the parser stored it under."""
        try:
            return await asyncio.to_thread(self.store.get, key)
        except (OSError, ValueError) as exc:
            raise FileMissing("no such file") from exc

    async def erase_file(self, digest: str) -> int:
        """Remove an inbound attachment's bytes (customer erasure); how many files went."""
        return await asyncio.to_thread(self.store.delete, f"sha256:{digest}")

    def bind_reads(self, reads: ChannelReads) -> None:
        """Receive the read-only look-ups (threading headers of stored mail)."""
        self.reads = reads

    # --- inbound ----------------------------------------------------------------------------

    def understand(self, raw: bytes) -> ParsedMail:
        """Parse one raw mail, storing its attachments (blocking: run in a thread)."""
        if len(raw) > self.max_bytes:
            raise MailRejected(f"larger than {self.max_bytes} bytes")
        return parse_mail(raw, domain=self.domain, store=self.store, trust_from=self.trust_from,
                          authserv_id=self.authserv_id)  # fmt: skip

    async def accept(self, raw: bytes) -> bool:
        """Take one raw mail to the timeline; True when finished with (stored or rejected).

        False means a temporary failure (the database is away): leave it for the next round.
        """
        try:
            parsed = await asyncio.to_thread(self.understand, raw)
        except MailRejected as exc:
            path = await asyncio.to_thread(self.store.reject, raw, str(exc))
            log.warning("email rejected (%s), kept at %s", exc, path)
            return True
        try:
            result = await self.sink(parsed.inbound)
        except Exception as exc:
            if storage_unavailable(exc):
                log.warning("email %s could not be stored (%s); will retry",
                            parsed.inbound.external_message_id, exc)  # fmt: skip
                return False
            return await self._refused(raw, parsed, exc)
        self._store_failures.pop(str(parsed.inbound.raw.get("raw_sha256")), None)
        if result.erased:
            await self._forget_files(parsed)
        if parsed.automated:
            log.info("email %s is automated (%s): recorded, will not be answered",
                     result.message_id, parsed.automated)  # fmt: skip
        return True

    async def _forget_files(self, parsed: ParsedMail) -> None:
        """A mail of an erased customer fetched again: its files, just stored, go again."""
        for stored in parsed.inbound.raw.get("attachments_stored") or []:
            key = str(stored.get("key") or "")
            digest = key.removeprefix("sha256:")
            if self.reads is not None and await self.reads.file_in_use(digest):
                continue  # another customer's mail carries the same file
            with contextlib.suppress(OSError, ValueError):
                await asyncio.to_thread(self.store.delete, key)

    async def _refused(self, raw: bytes, parsed: ParsedMail, exc: Exception) -> bool:
        """Count a write refused for this mail's values; the last allowed one keeps it aside."""
        key = str(parsed.inbound.raw.get("raw_sha256"))
        tries = self._store_failures[key] = self._store_failures.get(key, 0) + 1
        log.error("email %s could not be stored (attempt %d of %d): %s",
                  parsed.inbound.external_message_id, tries, STORE_ATTEMPTS, exc,
                  exc_info=exc)  # fmt: skip
        if tries < STORE_ATTEMPTS:
            return False
        del self._store_failures[key]
        reason = f"could not be stored ({tries} attempts): {type(exc).__name__}: {exc}"
        path = await asyncio.to_thread(self.store.reject, raw, reason)
        log.warning("email %s kept at %s instead", parsed.inbound.external_message_id, path)
        return True

    async def start(self) -> None:
        """Watch every mailbox and open the SMTP listener when configured."""
        for watcher in self.watchers:
            self._tasks.append(
                asyncio.create_task(watcher.run(), name=f"imap {watcher.mailbox.label()}")
            )
        if self.listen:
            host, _, port = self.listen.rpartition(":")
            handler = _ListenerHandler(self)
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(
                lambda: SMTPServer(handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True),
                host or "127.0.0.1",
                int(port),
            )

    async def stop(self) -> None:
        """Stop watching and listening."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # --- outbound ---------------------------------------------------------------------------

    def _smtp_options(self) -> dict[str, Any]:
        """Where and how to reach the SMTP server, from ``EMAIL_SMTP_URL``.

        ``smtps://`` is TLS from the start, ``smtp+starttls://`` must upgrade, ``smtp://``
        upgrades when the server offers STARTTLS and stays plain otherwise (then without a
        password: `_open_smtp` refuses). On ``smtp://`` without a password the certificate is
        not checked unless EMAIL_SMTP_VERIFY_TLS says so: encryption that stops passive
        listening beats the plain text it replaces, and checking would turn a local relay's
        self-signed certificate into undeliverable mail.
        """
        parts = urlsplit(self.smtp_url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise PermanentDeliveryError("EMAIL_SMTP_URL is not set to smtp(s)://host:port")
        username = unquote(parts.username) if parts.username else None
        verify = self.smtp_verify_tls
        if verify is None:
            verify = parts.scheme != "smtp" or username is not None
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        default_port = {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25)
        return {
            "hostname": parts.hostname,
            "port": parts.port or default_port,
            "username": username,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtps",
            "start_tls": {"smtp+starttls": True, "smtp": None}.get(parts.scheme, False),
            "tls_context": context,
            "timeout": self.smtp_timeout,
        }

    async def _open_smtp(self) -> aiosmtplib.SMTP:
        """A connected SMTP session, encrypted where possible and logged in when configured.

        Raises `PermanentDeliveryError` rather than send a password unencrypted or skip a
        STARTTLS the URL asks for: a setting to fix, not a failure that retrying would cure.
        """
        options = self._smtp_options()
        start_tls, username = options["start_tls"], options["username"]
        smtp = aiosmtplib.SMTP(
            hostname=options["hostname"],
            port=options["port"],
            use_tls=options["use_tls"],
            start_tls=False,  # decided below, where a missing STARTTLS can be told apart
            tls_context=options["tls_context"],
            timeout=options["timeout"],
        )
        await smtp.connect()
        try:
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()  # a very old server: no extensions, so no STARTTLS either
            if start_tls is not False and not options["use_tls"]:
                if smtp.supports_extension("starttls"):
                    await smtp.starttls()
                elif start_tls:
                    raise PermanentDeliveryError(
                        "the SMTP server does not offer STARTTLS (EMAIL_SMTP_URL smtp+starttls://)"
                    )
            if username is not None:
                if smtp.get_transport_info("sslcontext") is None:
                    raise PermanentDeliveryError(
                        "not sending the SMTP password unencrypted: the server offers no "
                        "STARTTLS; use smtps:// or a server with STARTTLS"
                    )
                await smtp.login(username, options["password"] or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    async def _send(self, message: OutboundMessage) -> Receipt:
        """Send one reply over SMTP, threaded under the customer's mail."""
        recipient = message.recipient_id
        if "@" not in recipient:
            raise PermanentDeliveryError(f"not an email address: {recipient!r}")
        if recipient.lower().startswith(_NEVER_ANSWER) or "noreply" in recipient.lower():
            raise SendRefused(f"{recipient} is an automatic sender; answering could loop")
        replied: dict[str, Any] = {}
        if message.reply_to_external_id and self.reads is not None:
            meta = await self.reads.message_meta(message.reply_to_external_id)
            replied = dict((meta or {}).get("raw") or {})
        if replied.get("automated"):
            raise SendRefused(
                f"not answering an automatic mail ({replied['automated']}): mail-loop guard"
            )
        our_id = message_id(message.message_id, self.address, self.domain)
        subject = message.meta.get("subject") or reply_subject(
            replied.get("subject"), "Your message to our support team"
        )
        files = [
            (a.name or "file", a.mime_type or "application/octet-stream", await self.file_bytes(a))
            for a in message.attachments
            if a.key
        ]
        mail = compose_reply(
            sender=self.address,
            sender_name=self.from_name,
            recipient=recipient,
            text=message.text,
            msg_id=our_id,
            subject=subject,
            in_reply_to=_message_id_of(replied, message.reply_to_external_id),
            references=list(replied.get("references") or []),
            language=message.language,
            attachments=files,
        )
        try:
            smtp = await self._open_smtp()
            try:
                await smtp.send_message(mail, sender=self.address, recipients=[recipient])
            finally:
                with contextlib.suppress(aiosmtplib.SMTPException):
                    await smtp.quit()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
            raise
        return Receipt(our_id, {"subject": subject})

    def describe(self) -> dict[str, Any]:
        """What the admin UI shows: mailboxes (no passwords) and where replies go out."""
        return {
            "name": self.name,
            "address": self.address,
            "mailboxes": [w.mailbox.label() for w in self.watchers],
            "connected": [w.connected.is_set() for w in self.watchers],
            "smtp": urlsplit(self.smtp_url).hostname if self.smtp_url else None,
            "listening": self.listen or None,
            "rejected": len(self.store.rejected()),
        }


__all__ = ["CHANNEL", "EmailConnector"]
