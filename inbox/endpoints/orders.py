"""Orders the bot looks up and cancels on a customer's behalf."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ConflictError, NotFound
from core.models import Conversation, Order
from core.orders import do_cancel_order
from core.serialize import order_dict
from inbox.api import BOT, api
from inbox.keys import RUNTIME
from inbox.schemas import CancelOrderBody, OrderQuery


def normalize_number(raw: str) -> str:
    """Accept ``#10234``, ``a-10234`` and Arabic-Indic digits for ``A-10234``."""
    digits = raw.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")).strip().lstrip("#")
    digits = digits.upper()
    return digits if digits.startswith("A-") else f"A-{digits}"


async def _order_for(session: AsyncSession, number: str, conversation_id: int | None) -> Order:
    order = (
        await session.execute(select(Order).where(Order.number == normalize_number(number)))
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"no order {number}")
    if conversation_id is not None:
        conv = await session.get(Conversation, conversation_id)
        # Someone else's order reads as "not found" so order numbers cannot be probed.
        if conv is None or conv.customer_id != order.customer_id:
            raise NotFound(f"no order {number}")
    return order


@api.route("GET", "/orders/{number}", role=BOT, tag="orders")
async def get_order(request: web.Request, query: OrderQuery) -> web.Response:
    """An order, checked against the asking conversation's customer."""
    async with request.app[RUNTIME].sessions() as session:
        order = await _order_for(session, request.match_info["number"], query.conversation_id)
    return web.json_response(order_dict(order))


@api.route("POST", "/orders/{number}/cancel", role=BOT, tag="orders")
async def cancel_order(request: web.Request, body: CancelOrderBody) -> web.Response:
    """Cancel an order that has not shipped."""
    async with request.app[RUNTIME].sessions() as session:
        order = await _order_for(session, request.match_info["number"], body.conversation_id)
    if order.status not in ("processing", "pending"):
        raise ConflictError(f"order {order.number} is {order.status}", code="not_cancellable")
    updated = await do_cancel_order(request.app[RUNTIME], order.id)
    return web.json_response(order_dict(updated))
