"""Real-world mail to an `InboundMessage`: bodies, charsets, files, threading, auto-replies."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any, Protocol

from connectors.email.clean import html_to_text, normalise, strip_reply
from core.types import Attachment, InboundMessage

CHANNEL = "email"
ORIGINAL_TEXT_LIMIT = 100_000

# Charsets that mislabelled Arabic mail tends to really be, tried in order after the declared one.
_FALLBACK_CHARSETS = ("utf-8", "windows-1256", "iso-8859-6", "latin-1")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bq]\?[^?\s]*\?=", re.I)


class MailRejected(Exception):
    """The mail cannot become a timeline message; the reason says why."""


class BlobStore(Protocol):
    """Where attachment bytes go; returns a stable key for them."""

    def put(self, data: bytes) -> str:
        """Store bytes and return their key."""
        ...


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What we understood of one mail."""

    inbound: InboundMessage
    automated: str | None
    defects: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _decode(part: Message, payload: bytes) -> str:
    """Bytes of a text part as text: the declared charset, then Arabic-friendly fallbacks."""
    declared = part.get_content_charset()
    for charset in (declared, *_FALLBACK_CHARSETS):
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _text_of(part: Message) -> str:
    """A text part's content, never raising on bad encodings."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return _decode(part, payload)
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _header(msg: Message, name: str) -> str:
    """A header as text, or empty when missing or undecodable."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return str(value).strip() if value is not None else ""


def _ids(value: str) -> list[str]:
    """The ``<…>`` message ids in a threading header, in order."""
    return _MSG_ID.findall(value or "")


def _is_attachment(part: Message) -> bool:
    """Whether a leaf part is a file rather than the body."""
    if part.is_multipart():
        return False
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _kind(mime: str) -> str:
    """The attachment kind our timeline shows for a MIME type."""
    major = mime.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"


def _automated(msg: Message, sender: str) -> str | None:
    """Why this mail is machine-written (auto-reply, bounce, list), or None for a person."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(msg, name):
            return name.lower()
    if msg.get_content_type() == "multipart/report":
        return "delivery-report"
    if _header(msg, "X-Failed-Recipients"):
        return "bounce"
    local = sender.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or local.startswith(("noreply", "no-reply")):
        return f"sender {local}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence: {precedence}"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list"
    return None


def channel_id(message_id: str, sender: str) -> str:
    """Our dedupe key for a mail: its Message-ID scoped by the sender's address.

    Anyone can write any Message-ID: scoped, a stranger reusing a customer's id is a message
    of their own instead of a "duplicate" dropped unseen, while a copy of the same mail (same
    sender, same id) stays one message. Hashed only when too long for the column.
    """
    scoped = f"{sender} {message_id}"
    if len(scoped) <= 255:
        return scoped
    return "sha256:" + hashlib.sha256(scoped.encode("utf-8", "surrogatepass")).hexdigest()


TRUST_FROM = ("auth-results", "always", "never")
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z][a-z0-9_.-]*)\s*=\s*([a-z]+)", re.I)
_PROPERTY = re.compile(r"\b([a-z]+)\.([a-z0-9_-]+)\s*=\s*([^\s;]+)", re.I)


def _aligned(authenticated: str, from_domain: str) -> bool:
    """Whether a domain that passed a check vouches for the From domain: the same, or a parent.

    A parent (``customer.test`` for ``mail.customer.test``) controls its subdomains; a
    subdomain never vouches for its parent or siblings (on shared hosts they are strangers).
    """
    authenticated = authenticated.strip().strip(".").lower().rpartition("@")[2]
    return bool(authenticated) and (
        from_domain == authenticated or from_domain.endswith("." + authenticated)
    )


def from_check(msg: Message, address: str, authserv_id: str | None) -> tuple[bool, str]:
    """Whether the receiving server authenticated the From domain, and what it said.

    Reads the topmost ``Authentication-Results`` (the one our receiving server added last), or
    with ``authserv_id`` the topmost one that server signed, so a header the sender wrote
    is never believed. dmarc=pass, or dkim/spf=pass for a domain aligned with From's, verify.
    """
    from_domain = address.rpartition("@")[2].lower()
    try:
        headers = [str(h) for h in msg.get_all("Authentication-Results") or []]
    except Exception:
        headers = []
    if authserv_id:
        wanted = authserv_id.strip().lower()
        headers = [h for h in headers if h.split(";", 1)[0].lower().split()[:1] == [wanted]]
    if not headers:
        return False, "no Authentication-Results" + (f" from {authserv_id}" if authserv_id else "")
    results = []
    unfolded = " ".join(headers[0].split())
    for resinfo in _COMMENT.sub(" ", unfolded).split(";")[1:]:
        found = _RESULT.match(resinfo)
        if not found:
            continue
        method, result = found.group(1).lower(), found.group(2).lower()
        props = {f"{p.lower()}.{n.lower()}": v for p, n, v in _PROPERTY.findall(resinfo)}
        results.append(f"{method}={result}")
        if result != "pass":
            continue
        if method == "dmarc" and _aligned(props.get("header.from", from_domain), from_domain):
            return True, "dmarc=pass"
        domain = {
            "dkim": props.get("header.d") or props.get("header.i"),
            "spf": props.get("smtp.mailfrom"),
        }.get(method)
        if domain and _aligned(domain, from_domain):
            return True, f"{method}=pass ({domain})"
    return False, ", ".join(results) or "no usable Authentication-Results"


def is_ours(message_id: str, domain: str) -> bool:
    """Whether a message id was minted by us (see `compose.message_id`)."""
    inner = message_id.strip("<>")
    local, _, host = inner.rpartition("@")
    return local.startswith("tawasul.") and host.lower() == domain.lower()


def parse_mail(
    raw: bytes,
    *,
    domain: str,
    store: BlobStore | None = None,
    trust_from: str = "auth-results",
    authserv_id: str | None = None,
) -> ParsedMail:
    """Understand one raw mail, or raise `MailRejected` with the reason.

    ``domain`` is the one our own Message-IDs use, so threading can pick our ids out of
    ``In-Reply-To``/``References``. Attachments go to ``store`` when one is given.
    ``trust_from`` says when the From address may link the sender to a customer known by that
    email elsewhere (`TRUST_FROM`; see `from_check` for ``auth-results`` and ``authserv_id``).
    """
    if not raw or not raw.strip():
        raise MailRejected("empty message")
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:
        raise MailRejected(f"unparseable: {type(exc).__name__}: {exc}") from exc
    modern = _modern(raw)
    try:
        return _understand(msg, modern, raw, domain, store, (trust_from, authserv_id))
    except MailRejected:
        raise
    except Exception as exc:
        raise MailRejected(f"could not read: {type(exc).__name__}: {exc}") from exc


def _modern(raw: bytes) -> EmailMessage | None:
    """The same mail under the modern policy, for decoded headers; None if that fails."""
    try:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:
        return None
    return parsed if isinstance(parsed, EmailMessage) else None


def _body_charsets(msg: Message) -> list[str]:
    """The charsets the mail's text parts declare, in order, once each."""
    found: list[str] = []
    for part in msg.walk():
        with contextlib.suppress(Exception):
            charset = part.get_content_charset()
            if charset and part.get_content_maintype() == "text" and charset not in found:
                found.append(charset)
    return found


def _decode_word(match: re.Match[str]) -> str:
    """One RFC 2047 encoded word found beside raw 8-bit text, decoded (or left as it was)."""
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(match.group())))
    except Exception:
        return match.group()


def _raw_8bit_header(msg: Message, name: str) -> bytes | None:
    """The header's bytes when they carry raw 8-bit text (no encoded words), else None."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            if value.isascii():
                return None
            # The parser kept each byte over 127 as a surrogate escape: get the bytes back.
            data = value.encode("ascii", "surrogateescape")
            return re.sub(rb"\r?\n(?=[ \t])", b"", data)  # unfold
    return None


def _decoded_header(msg: Message, modern: EmailMessage | None, name: str) -> str:
    """A header as text: RFC 2047 encoded words decoded, raw 8-bit bytes by their charset.

    Raw 8-bit headers (old Arabic mail clients) are tried as UTF-8, then in the body's
    charsets, then the Arabic fallbacks, instead of turning into U+FFFD.
    """
    try:
        raw8 = _raw_8bit_header(msg, name)
    except UnicodeError:
        raw8 = None
    if raw8 is not None:
        for charset in ("utf-8", *_body_charsets(msg), *_FALLBACK_CHARSETS):
            try:
                text = raw8.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
            return _ENCODED_WORD.sub(_decode_word, text).strip()
    if modern is not None:
        try:
            value = modern.get(name)
            if value is not None:
                return str(value).strip()
        except Exception:
            pass
    from email.header import decode_header, make_header

    raw = _header(msg, name)
    try:
        return str(make_header(decode_header(raw))).strip()
    except Exception:
        return raw


def _understand(
    msg: Message,
    modern: EmailMessage | None,
    raw: bytes,
    domain: str,
    store: BlobStore | None,
    trust: tuple[str, str | None],
) -> ParsedMail:
    """The body of `parse_mail` once the bytes parsed."""
    defects = [type(d).__name__ for d in msg.defects]
    from_value = _decoded_header(msg, modern, "From")
    name, address = parseaddr(from_value)
    if "@" not in address:
        for fallback in ("Sender", "Reply-To", "Return-Path"):
            name2, address = parseaddr(_decoded_header(msg, modern, fallback))
            name = name or name2
            if "@" in address:
                break
    address = address.strip().lower()
    if "@" not in address:
        raise MailRejected("no sender address (From, Sender, Reply-To and Return-Path unusable)")

    subject = normalise(_decoded_header(msg, modern, "Subject"))
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    stored: list[dict[str, Any]] = []
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
        if part.is_multipart():
            continue
        if _is_attachment(part):
            attachments.append(_attachment(part, store, stored))
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _text_of(part)
        elif ctype == "text/html" and html is None:
            html = _text_of(part)
        elif ctype.startswith("text/") and plain is None and html is None:
            plain = _text_of(part)
    original = normalise(plain) if plain and plain.strip() else html_to_text(html or "")
    text = strip_reply(original) if original else ""
    if not text:
        text = subject or "(no text)"

    message_id = (_ids(_header(msg, "Message-ID")) or [""])[0]
    in_reply_to = _ids(_header(msg, "In-Reply-To"))
    references = _ids(_header(msg, "References"))
    ours = [i for i in [*in_reply_to, *reversed(references)] if is_ours(i, domain)]
    if not message_id:
        basis = "\0".join([address, _header(msg, "Date"), subject, original]).encode()
        message_id = "sha256:" + hashlib.sha256(basis).hexdigest()
    sent_at = None
    try:
        date = _header(msg, "Date")
        sent_at = parsedate_to_datetime(date) if date else None
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = None
    except (TypeError, ValueError, IndexError):
        defects.append("BadDate")

    automated = _automated(msg, address)
    trust_from, authserv_id = trust
    if trust_from == "always":
        verified, why = True, "EMAIL_TRUST_FROM=always"
    elif trust_from == "never":
        verified, why = False, "EMAIL_TRUST_FROM=never"
    else:
        verified, why = from_check(msg, address, authserv_id)
    recipients = [a for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if a]
    raw_meta: dict[str, Any] = {
        "subject": subject,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "references": references,
        "from": from_value,
        "to": recipients,
        "date": _header(msg, "Date"),
        "original_text": original[:ORIGINAL_TEXT_LIMIT],
        # Whether quoted mail, a reply header or a signature was cut: what agents can unfold.
        "stripped": text != original,
        "html": html is not None and not (plain and plain.strip()),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        "from_verified": verified,
        "from_check": why,
        "size": len(raw),
    }
    if automated:
        raw_meta["automated"] = automated
    if defects:
        raw_meta["defects"] = sorted(set(defects))
        raw_meta["flagged"] = True
    if stored:
        raw_meta["attachments_stored"] = stored
    inbound = InboundMessage(
        channel=CHANNEL,
        external_sender_id=address,
        external_message_id=channel_id(message_id, address),
        text=text,
        sender_name=name.strip() or None,
        attachments=tuple(attachments),
        sent_at=sent_at,
        reply_to_external_id=next(iter(ours or in_reply_to), None),
        raw=raw_meta,
        # Only a verified address may link this sender to a customer known by that email on
        # another channel; anyone can write any From.
        sender_profile={"email": address} if verified else {},
    )
    return ParsedMail(inbound, automated, tuple(sorted(set(defects))))


def _attachment(part: Message, store: BlobStore | None, stored: list[dict[str, Any]]) -> Attachment:
    """Metadata of one attached file, its bytes put in the store."""
    mime = part.get_content_type()
    filename = part.get_filename()
    if filename:
        from email.header import decode_header, make_header

        with contextlib.suppress(Exception):
            filename = str(make_header(decode_header(filename)))
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    key = store.put(data) if store is not None and data else None
    if key:
        stored.append({"key": key, "name": filename, "size": len(data)})
    return Attachment(
        kind=_kind(mime), name=filename, mime_type=mime, size=len(data), external_id=key
    )
