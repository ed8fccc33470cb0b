"""Order changes the bot may make."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import in_transaction
from core.errors import ConflictError, NotFound
from core.models import Order
from core.runtime import Runtime


async def do_cancel_order(rt: Runtime, order_id: int) -> Order:
    """Cancel an order that has not shipped yet."""

    async def work(session: AsyncSession) -> Order:
        order = await session.get(Order, order_id, with_for_update=True)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        if order.status not in ("processing", "pending"):
            raise ConflictError(f"order {order.number} is {order.status}", code="not_cancellable")
        order.status = "cancelled"
        return order

    return await in_transaction(rt.sessions, work)
