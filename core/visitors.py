"""Visitors who say who they are: verified profiles, emails left to continue by, link tokens.

A web-chat visitor may be known before they write a word (the site identifies a signed-in user
on page load, or an offline visitor leaves an email), so these actions create the visitor's
identity and customer when needed and keep what was learnt in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.actions import active_conversation, do_merge_customers, emit, surviving_customer
from core.db import in_transaction
from core.errors import Invalid
from core.events import Event
from core.identity_links import link_token
from core.models import Customer, Identity, Message
from core.runtime import Runtime
from core.serialize import message_dict
from core.types import Author, MessageKind

EMAIL_CHANNEL = "email"
MAX_ATTRIBUTES = 30


@dataclass(frozen=True, slots=True)
class VisitorResult:
    """The customer a visitor belongs to after an action."""

    customer_id: int
    identity_id: int


async def _identity(
    session: AsyncSession, channel: str, external_id: str, name: str | None = None
) -> Identity:
    """The visitor's identity, created with a new customer when this is their first sign."""
    identity = (
        await session.execute(
            select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
        )
    ).scalar_one_or_none()
    if identity is not None:
        return identity
    customer = Customer(display_name=name, attributes={})
    session.add(customer)
    await session.flush()
    identity = Identity(
        customer_id=customer.id, channel=channel, external_id=external_id, display_name=name
    )
    session.add(identity)
    await session.flush()
    return identity


async def _email_owner(session: AsyncSession, email: str) -> Customer | None:
    """The customer already known by this email: its email identity, else a unique profile."""
    owner_id = (
        await session.execute(
            select(Identity.customer_id).where(
                Identity.channel == EMAIL_CHANNEL, Identity.external_id == email
            )
        )
    ).scalar_one_or_none()
    if owner_id is not None:
        return await surviving_customer(session, owner_id)
    found = (
        (
            await session.execute(
                select(Customer)
                .where(func.lower(Customer.email) == email, Customer.merged_into_id.is_(None))
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    return found[0] if len(found) == 1 else None


async def _activity(
    session: AsyncSession, customer_id: int, action: str, text: str, **data: Any
) -> Message:
    """A system line on the customer's timeline, in the active conversation when there is one."""
    conv = await active_conversation(session, customer_id)
    line = Message(
        customer_id=customer_id,
        conversation_id=conv.id if conv else None,
        kind=MessageKind.ACTIVITY,
        author=Author.SYSTEM,
        text=text,
        meta={"action": action, **data},
    )
    session.add(line)
    await session.flush()
    return line


def _clean_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Scalar attributes only, short keys and values, a bounded number of them."""
    clean: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if len(clean) >= MAX_ATTRIBUTES:
            break
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            continue
        if isinstance(value, bool | int | float) or value is None:
            clean[key.strip()] = value
        elif isinstance(value, str):
            clean[key.strip()] = value[:500]
    return clean


async def do_identify_visitor(
    rt: Runtime,
    channel: str,
    external_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
    verified: bool = False,
) -> VisitorResult:
    """Remember who a visitor says they are; only a site-verified email links or sets profile.

    Args:
        rt: the runtime.
        channel: the visitor's channel (``webchat``).
        external_id: the visitor's id on it.
        name: the name the site gave.
        email: the signed-in user's email, lower-cased.
        attributes: facts about the user from the site (plan, user id…), kept when verified.
        verified: whether the site's backend vouched for ``email`` (its HMAC checked out).

    Returns:
        The customer the visitor now belongs to.
    """
    name = (name or "").strip()[:200] or None
    email = (email or "").strip().lower() or None
    if verified and not email:
        raise Invalid("a verified identify needs the email", code="bad_email")

    async def first(session: AsyncSession) -> tuple[Identity, int | None]:
        identity = await _identity(session, channel, external_id, name)
        if name:
            identity.display_name = name
        if not verified or email is None:
            customer = await surviving_customer(session, identity.customer_id)
            customer.display_name = customer.display_name or name
            return identity, None
        owner = await _email_owner(session, email)
        return identity, owner.id if owner is not None else None

    identity, owner_id = await in_transaction(rt.sessions, first)
    if not verified or email is None:
        return VisitorResult(identity.customer_id, identity.id)

    async def current_customer() -> int:
        async with rt.sessions() as session:
            return (await surviving_customer(session, identity.customer_id)).id

    visitor_customer = await current_customer()
    if owner_id is not None and owner_id != visitor_customer:
        # The site vouches this visitor is the known customer: the visitor's customer joins it.
        await do_merge_customers(rt, visitor_customer, owner_id, agent_id=None)
    out: list[Event] = []

    async def second(session: AsyncSession) -> int:
        out.clear()
        visitor = await session.get(Identity, identity.id)
        assert visitor is not None
        customer = await surviving_customer(session, visitor.customer_id)
        if name:
            customer.display_name = name
        customer.email = email
        extra = _clean_attributes(attributes)
        if extra:
            customer.attributes = {**(customer.attributes or {}), **extra}
        linked = (
            await session.execute(
                select(Identity).where(
                    Identity.channel == EMAIL_CHANNEL, Identity.external_id == email
                )
            )
        ).scalar_one_or_none()
        if linked is None:
            session.add(
                Identity(
                    customer_id=customer.id,
                    channel=EMAIL_CHANNEL,
                    external_id=email,
                    display_name=name,
                    profile={"email": email, "verified": True, "via": channel},
                )
            )
        profile = dict(visitor.profile or {})
        if profile.get("email") != email or not profile.get("verified"):
            visitor.profile = {**profile, "email": email, "verified": True}
            line = await _activity(
                session,
                customer.id,
                "identified",
                f"Signed in on the site as {email} (verified by the site)",
                channel=channel,
                email=email,
            )
            out.append(Event(ev.MESSAGE_CREATED, message_dict(line)))
        return customer.id

    customer_id = await in_transaction(rt.sessions, second, events=out)
    await emit(rt, out)
    return VisitorResult(customer_id, identity.id)


async def do_record_contact(
    rt: Runtime, channel: str, external_id: str, email: str
) -> VisitorResult:
    """Keep the email an offline visitor left, so replies continue there; note it on the timeline.

    The email is not verified: it gets an ``email`` identity on this visitor's customer only when
    no one else is known by it (a typed address never joins another customer's history).

    Args:
        rt: the runtime.
        channel: the visitor's channel (``webchat``).
        external_id: the visitor's id on it.
        email: the address, lower-cased.

    Returns:
        The visitor's customer.
    """
    email = email.strip().lower()
    if not email:
        raise Invalid("an email is required", code="bad_email")
    out: list[Event] = []

    async def work(session: AsyncSession) -> VisitorResult:
        out.clear()
        identity = await _identity(session, channel, external_id)
        customer = await surviving_customer(session, identity.customer_id)
        profile = dict(identity.profile or {})
        if profile.get("contact_email") == email:
            return VisitorResult(customer.id, identity.id)
        identity.profile = {**profile, "contact_email": email}
        existing = (
            await session.execute(
                select(Identity).where(
                    Identity.channel == EMAIL_CHANNEL, Identity.external_id == email
                )
            )
        ).scalar_one_or_none()
        data: dict[str, Any] = {"channel": channel, "email": email}
        if existing is None:
            session.add(
                Identity(
                    customer_id=customer.id,
                    channel=EMAIL_CHANNEL,
                    external_id=email,
                    profile={"email": email, "verified": False, "via": channel},
                )
            )
        elif (await surviving_customer(session, existing.customer_id)).id != customer.id:
            # Agents can merge after checking; the visitor's word alone never does.
            data["known_customer_id"] = existing.customer_id
        line = await _activity(
            session,
            customer.id,
            "contact_email",
            f"Left an email to continue by email: {email}",
            **data,
        )
        out.append(Event(ev.MESSAGE_CREATED, message_dict(line)))
        return VisitorResult(customer.id, identity.id)

    result = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return result


async def do_issue_link_token(rt: Runtime, channel: str, external_id: str) -> str:
    """A deep-link token naming the visitor's customer (created if they have not written yet)."""

    async def work(session: AsyncSession) -> int:
        identity = await _identity(session, channel, external_id)
        return (await surviving_customer(session, identity.customer_id)).id

    customer_id = await in_transaction(rt.sessions, work)
    return link_token(rt.settings.secret_key.get_secret_value(), customer_id)
