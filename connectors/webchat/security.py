"""Web chat security: signed visitor tokens and identity HMACs (rate limits: `core.shared`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _sign(key: bytes, text: str) -> str:
    """A short URL-safe HMAC-SHA256 of ``text``."""
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


@dataclass(frozen=True, slots=True)
class Visitor:
    """An anonymous browser, known by a random id the service signed."""

    site: str
    visitor_id: str

    @property
    def external_id(self) -> str:
        """The identity's id on the ``webchat`` channel."""
        return f"{self.site}:{self.visitor_id}"


class Tokens:
    """Issues and checks visitor tokens ``v1.<site>.<visitor id>.<signature>``."""

    def __init__(self, secret: str) -> None:
        self.key = hashlib.sha256(b"tawasul-webchat-visitor|" + secret.encode()).digest()

    def issue(self, site: str) -> tuple[Visitor, str]:
        """A new visitor and its token."""
        visitor = Visitor(site, secrets.token_urlsafe(15))
        return visitor, self.token_for(visitor)

    def token_for(self, visitor: Visitor) -> str:
        """The signed token of a visitor."""
        body = f"v1.{visitor.site}.{visitor.visitor_id}"
        return f"{body}.{_sign(self.key, body)}"

    def check(self, token: str | None) -> Visitor | None:
        """The visitor a token stands for, or None when it is malformed or forged."""
        if not token or len(token) > 200:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "v1":
            return None
        _, site, visitor_id, signature = parts
        if not _SITE.match(site) or not _VISITOR_ID.match(visitor_id):
            return None
        expected = _sign(self.key, f"v1.{site}.{visitor_id}")
        if not hmac.compare_digest(expected, signature):
            return None
        return Visitor(site, visitor_id)


def identity_hash(site_secret: str, email: str) -> str:
    """The HMAC a site's backend computes to vouch for a signed-in user's email (hex)."""
    return hmac.new(
        site_secret.encode(), email.strip().lower().encode(), hashlib.sha256
    ).hexdigest()


def identity_ok(site_secret: str | None, email: str, given: str | None) -> bool:
    """Whether the site's backend vouched for this email."""
    if not site_secret or not given:
        return False
    return hmac.compare_digest(identity_hash(site_secret, email), given.strip().lower())


def valid_site_name(name: str) -> bool:
    """Site keys are short lowercase slugs (they end up inside tokens)."""
    return bool(_SITE.match(name))
