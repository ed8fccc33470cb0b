"""Web chat security: signed visitor tokens, identity HMACs, origin checks and rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

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


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` at once, refilled at ``per_minute``."""

    per_minute: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when allowed (and counted), else seconds until the next one is."""
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_minute / 60.0)
        if tokens >= 1.0:
            self.buckets[key] = (tokens - 1.0, now)
            if len(self.buckets) > 50_000:
                self._forget_idle(now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1.0 - tokens) * 60.0 / self.per_minute

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that are full again, so memory stays bounded."""
        refill = 60.0 * self.burst / self.per_minute
        self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < refill}
