"""Deep-link tokens that let a customer on one channel prove they are a known customer.

A web-chat visitor gets ``https://t.me/<bot>?start=<token>``; Telegram hands the token back in
``/start <token>`` and the Telegram identity joins that customer (the foundation's merge rules).
Tokens fit Telegram's ``start`` parameter: at most 64 characters of ``A-Za-z0-9_-``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import select

from core.actions import do_merge_customers
from core.errors import Invalid
from core.models import Customer, Identity
from core.runtime import Runtime

TOKEN_TTL_SECONDS = 24 * 3600


def _mac(secret: str, customer_id: int, expires: int) -> str:
    raw = f"link.{customer_id}.{expires}".encode()
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()[:24]


def link_token(secret: str, customer_id: int, now: float | None = None) -> str:
    """A signed, expiring token naming the customer to link to."""
    expires = int((time.time() if now is None else now) + TOKEN_TTL_SECONDS)
    return f"c{customer_id}_{expires:x}_{_mac(secret, customer_id, expires)}"


def read_link_token(secret: str, token: str, now: float | None = None) -> int:
    """The customer id a valid token names; `Invalid` when forged, malformed or expired."""
    try:
        head, exp_hex, mac = token.split("_")
        customer_id, expires = int(head.removeprefix("c")), int(exp_hex, 16)
    except ValueError as exc:
        raise Invalid("not a link token", code="bad_link_token") from exc
    if not hmac.compare_digest(mac, _mac(secret, customer_id, expires)):
        raise Invalid("the link token is not ours", code="bad_link_token")
    if (time.time() if now is None else now) > expires:
        raise Invalid("the link token has expired", code="expired_link_token")
    return customer_id


async def do_link_identity(rt: Runtime, channel: str, external_id: str, token: str) -> int | None:
    """Join the identity's customer to the customer a token names; return the survivor's id."""
    target_id = read_link_token(rt.settings.secret_key.get_secret_value(), token)
    async with rt.sessions() as session:
        identity = (
            await session.execute(
                select(Identity).where(
                    Identity.channel == channel, Identity.external_id == external_id
                )
            )
        ).scalar_one_or_none()
        target = await session.get(Customer, target_id)
        while target is not None and target.merged_into_id is not None:
            target = await session.get(Customer, target.merged_into_id)
    if identity is None or target is None or target.erased_at is not None:
        return None  # an erased customer is never linked to again
    source_id = identity.customer_id
    if source_id == target.id:
        return target.id
    merged = await do_merge_customers(rt, source_id, target.id, agent_id=None)
    return merged.id
