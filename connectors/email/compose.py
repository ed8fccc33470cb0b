"""Our replies as mail: threaded headers, text + HTML alternatives, right-to-left for Arabic."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


def message_id(message_id: int, sender: str, domain: str) -> str:
    """Our Message-ID for a stored reply: stable across retries, recognisable as ours."""
    tag = hashlib.sha256(f"{sender}|{message_id}".encode()).hexdigest()[:10]
    return f"<tawasul.m{message_id}.{tag}@{domain}>"


def is_rtl(text: str, language: str | None) -> bool:
    """Whether the reply reads right to left."""
    if language and language.split("-")[0].lower() in ("ar", "fa", "ur", "he"):
        return True
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(_ARABIC.match(c)) for c in letters) > len(letters) / 2


def reply_subject(subject: str | None, fallback: str) -> str:
    """``Re: <subject>`` without stacking prefixes."""
    subject = (subject or "").strip()
    if not subject:
        return fallback
    if re.match(r"^(re|رد|aw|sv)\s*:", subject, re.I):
        return subject
    return f"Re: {subject}"


def html_body(text: str, rtl: bool) -> str:
    """The HTML alternative: escaped text, paragraphs kept, direction set for Arabic."""
    direction = "rtl" if rtl else "ltr"
    align = "right" if rtl else "left"
    paragraphs = "".join(
        f'<p style="margin:0 0 1em 0">{html.escape(p).replace(chr(10), "<br>")}</p>'
        for p in text.split("\n\n")
        if p.strip()
    )
    lang = ' lang="ar"' if rtl else ""
    return (
        f'<!doctype html><html dir="{direction}"{lang}><body dir="{direction}">'
        f'<div dir="{direction}" style="direction:{direction};text-align:{align};'
        f'font-family:Tahoma,Arial,sans-serif;font-size:14px">{paragraphs}</div></body></html>'
    )


def compose_reply(
    *,
    sender: str,
    sender_name: str | None,
    recipient: str,
    text: str,
    msg_id: str,
    subject: str,
    in_reply_to: str | None,
    references: list[str],
    language: str | None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A reply the customer's mail client threads under their own mail.

    ``attachments`` are ``(file name, content type, bytes)``, added as MIME parts.
    """
    mail = EmailMessage()
    local, _, domain = sender.partition("@")
    mail["From"] = Address(display_name=sender_name or "", username=local, domain=domain)
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = msg_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    refs = [r for r in references if r] + ([in_reply_to] if in_reply_to else [])
    if refs:
        # Keep the thread root and the most recent ids; very long chains get cut like RFC 5322 asks.
        unique = list(dict.fromkeys(refs))
        mail["References"] = " ".join(unique[:1] + unique[1:][-19:])
    rtl = is_rtl(text, language)
    if rtl:
        mail["Content-Language"] = "ar"
    mail.set_content(text)
    mail.add_alternative(html_body(text, rtl), subtype="html")
    for name, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=name)  # fmt: skip
    return mail
