"""Customer satisfaction: a 1–5 score per conversation, recorded by a channel or the bot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import emit, refuse_erased
from core.db import in_transaction
from core.errors import Invalid, NotFound
from core.events import Event
from core.inbox_tables import CsatRating
from core.models import Conversation, utcnow
from core.runtime import Runtime

CSAT_RECORDED = "csat.recorded"


def csat_dict(r: CsatRating) -> dict[str, Any]:
    """A rating as supervisors see it."""
    return {
        "id": r.id,
        "conversation_id": r.conversation_id,
        "customer_id": r.customer_id,
        "score": r.score,
        "comment": r.comment,
        "channel": r.channel,
        "created_at": r.created_at.isoformat() if r.created_at else None,
    }


async def do_record_csat(
    rt: Runtime,
    conversation_id: int,
    score: int,
    *,
    comment: str | None = None,
    channel: str | None = None,
) -> CsatRating:
    """Store the customer's rating of a conversation; a second rating replaces the first.

    Args:
        rt: the runtime.
        conversation_id: the conversation rated.
        score: 1 (very unhappy) to 5 (very happy).
        comment: the customer's words, if any.
        channel: where the rating came from.

    Returns:
        The stored rating.
    """
    if not 1 <= score <= 5:
        raise Invalid("a CSAT score is 1 to 5", code="bad_score")

    async def work(session: AsyncSession) -> CsatRating:
        conv = await session.get(Conversation, conversation_id)
        if conv is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        await refuse_erased(session, conv.customer_id)
        rating = (
            await session.execute(
                select(CsatRating).where(CsatRating.conversation_id == conversation_id)
            )
        ).scalar_one_or_none() or CsatRating(conversation_id=conversation_id)
        rating.customer_id = conv.customer_id
        rating.score = score
        rating.comment = comment
        rating.channel = channel or conv.last_channel
        rating.created_at = utcnow()
        session.add(rating)
        await session.flush()
        return rating

    rating = await in_transaction(rt.sessions, work)
    await emit(rt, [Event(CSAT_RECORDED, csat_dict(rating))])
    return rating
