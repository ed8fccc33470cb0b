"""Customers: search, one customer with every identity, the cross-channel timeline, merge, erase."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import and_, func, or_, select

from core.actions import do_merge_customers, do_update_customer, surviving_customer
from core.erasure import do_erase_customer
from core.errors import Invalid, NotFound
from core.models import Conversation, Customer, Identity, Message, Order
from core.serialize import (
    conversation_dict,
    customer_dict,
    identity_dict,
    message_dict,
    order_dict,
)
from core.types import Role
from inbox.api import api, current_agent
from inbox.endpoints.conversations import decode_cursor, encode_cursor
from inbox.keys import RUNTIME
from inbox.schemas import CustomerPatch, CustomerQuery, EraseBody, MergeBody, TimelineQuery


def customer_id(request: web.Request) -> int:
    """The customer id in the path."""
    try:
        return int(request.match_info["customer_id"])
    except ValueError as exc:
        raise NotFound("no such customer") from exc


@api.route("GET", "/customers", tag="customers")
async def search_customers(request: web.Request, query: CustomerQuery) -> web.Response:
    """Find customers by identity (channel + external id) or by name, email or phone."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))
    if query.external_id:
        sub = select(Identity.customer_id).where(Identity.external_id == query.external_id)
        if query.channel:
            sub = sub.where(Identity.channel == query.channel)
        stmt = stmt.where(Customer.id.in_(sub))
    if query.q:
        # autoescape: a % or _ the agent typed is a character to find, not a wildcard.
        needle = query.q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Customer.display_name).contains(needle, autoescape=True),
                func.lower(Customer.email).contains(needle, autoescape=True),
                Customer.phone.contains(needle, autoescape=True),
                Customer.id.in_(
                    select(Identity.customer_id).where(
                        func.lower(Identity.external_id).contains(needle, autoescape=True)
                    )
                ),
            )
        )
    stmt = stmt.order_by(Customer.last_seen_at.desc()).limit(query.limit)
    async with request.app[RUNTIME].sessions() as session:
        customers = (await session.execute(stmt)).scalars().all()
    return web.json_response([customer_dict(c) for c in customers])


@api.route("GET", "/customers/{customer_id}", tag="customers")
async def get_customer(request: web.Request) -> web.Response:
    """A customer (following merges) with identities, conversations and orders."""
    async with request.app[RUNTIME].sessions() as session:
        customer = await surviving_customer(session, customer_id(request))
        identities = (
            (
                await session.execute(
                    select(Identity)
                    .where(Identity.customer_id == customer.id)
                    .order_by(Identity.id)
                )
            )
            .scalars()
            .all()
        )
        conversations = (
            (
                await session.execute(
                    select(Conversation)
                    .where(Conversation.customer_id == customer.id)
                    .order_by(Conversation.id.desc())
                )
            )
            .scalars()
            .all()
        )
        orders = (
            (
                await session.execute(
                    select(Order).where(Order.customer_id == customer.id).order_by(Order.id.desc())
                )
            )
            .scalars()
            .all()
        )
    return web.json_response(
        {
            **customer_dict(customer),
            "identities": [identity_dict(i) for i in identities],
            "conversations": [conversation_dict(c) for c in conversations],
            "orders": [order_dict(o) for o in orders],
        }
    )


@api.route("GET", "/customers/{customer_id}/timeline", tag="customers")
async def timeline(request: web.Request, query: TimelineQuery) -> web.Response:
    """Every entry of every conversation on every channel, oldest first, keyset-paged."""
    async with request.app[RUNTIME].sessions() as session:
        customer = await surviving_customer(session, customer_id(request))
        stmt = select(Message).where(Message.customer_id == customer.id)
        if query.cursor:
            when, last_id = decode_cursor(query.cursor)
            stmt = stmt.where(
                or_(
                    Message.created_at > when,
                    and_(Message.created_at == when, Message.id > last_id),
                )
            )
        rows = (
            (
                await session.execute(
                    stmt.order_by(Message.created_at, Message.id).limit(query.limit + 1)
                )
            )
            .scalars()
            .all()
        )
    items = rows[: query.limit]
    next_cursor = (
        encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > query.limit else None
    )
    return web.json_response(
        {
            "customer": customer_dict(customer),
            "items": [message_dict(m) for m in items],
            "next_cursor": next_cursor,
        }
    )


@api.route("PATCH", "/customers/{customer_id}", tag="customers")
async def update_customer(request: web.Request, body: CustomerPatch) -> web.Response:
    """Edit name, language, email, phone or attributes; pushes ``customer.updated``."""
    agent = current_agent(request)
    customer = await do_update_customer(
        request.app[RUNTIME], customer_id(request), body.changes(), agent_id=agent.id
    )
    return web.json_response(customer_dict(customer))


@api.route("POST", "/customers/{customer_id}/merge", role=Role.SUPERVISOR, tag="customers")
async def merge(request: web.Request, body: MergeBody) -> web.Response:
    """Fold another customer into this one (supervisors and admins)."""
    agent = current_agent(request)
    target = await do_merge_customers(
        request.app[RUNTIME], body.source_id, customer_id(request), agent_id=agent.id
    )
    return web.json_response(customer_dict(target))


@api.route("POST", "/customers/{customer_id}/erase", role=Role.ADMIN, tag="customers")
async def erase(request: web.Request, body: EraseBody) -> web.Response:
    """Erase a customer's personal data for good (GDPR, Saudi PDPL); admins only.

    ``confirm`` must repeat the id in the path (422 ``confirm_mismatch`` otherwise). A merged-away
    id erases the customer it was merged into, with everyone merged into them. Their messages
    (in, out, private notes) keep only an erased marker; files only they used are deleted;
    profile, identities' names, channel ids (replaced by keyed pseudonyms: a new message from
    the same sender starts a new customer), previews, alert excerpts and CSAT comments go;
    orders stay without the link; undelivered webhook events about them are dropped and
    delivered ones redacted; an active conversation is resolved. Counts, timings, statuses,
    sentiment labels and CSAT scores stay. One activity line records who and why, and
    ``customer.erased`` is emitted (webhooks may subscribe). Erasing again changes nothing
    (``erased`` false). ``other_customers`` lists customers sharing an email or phone with the
    erased one, for the admin to check. See docs/privacy.md.
    """
    agent = current_agent(request)
    wanted = customer_id(request)
    if body.confirm != wanted:
        raise Invalid(
            "confirm must repeat the customer's id: erasure cannot be undone",
            code="confirm_mismatch",
        )
    rt = request.app[RUNTIME]
    result = await do_erase_customer(rt, wanted, agent_id=agent.id, reason=body.reason)
    async with rt.sessions() as session:
        customer = await surviving_customer(session, result.customer_id)
    return web.json_response({**result.to_dict(), "customer": customer_dict(customer)})
