"""The sentiment step: score each inbound message, escalate anger, alert on a silent slide."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from core.actions import (
    do_escalate,
    do_raise_alert,
    do_record_sentiment,
    do_set_priority,
    raise_priority,
)
from core.models import Message
from core.pipeline import StepContext
from core.types import ConversationStatus, MessageKind, Priority, Sentiment

log = logging.getLogger(__name__)

AsyncScorer = Callable[[str], Awaitable[Sentiment]]


def negativity(message: Message) -> float:
    """How unhappy a scored message is: P(angry) + P(negative)."""
    scores = message.sentiment_scores or {}
    return float(scores.get("angry", 0.0) + scores.get("negative", 0.0))


def is_sliding(history: list[float], window: int, threshold: float) -> bool:
    """The last ``window`` scores never fall and end above ``threshold``: a quiet slide."""
    if len(history) < window:
        return False
    recent = history[-window:]
    rising = all(b >= a for a, b in itertools.pairwise(recent))
    return rising and recent[-1] >= threshold and recent[-1] > recent[0]


class SentimentStep:
    """Scores the message (once), stores the score, and applies the anger rules."""

    name = "sentiment"

    def __init__(
        self, score: AsyncScorer, close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.score = score
        self._close = close

    async def aclose(self) -> None:
        """Release the scorer (the batcher's worker)."""
        if self._close is not None:
            await self._close()

    async def __call__(self, ctx: StepContext) -> None:
        """Score, store, then escalate or alert as the settings' thresholds say."""
        rt, message, conv = ctx.rt, ctx.message, ctx.conversation
        if message.kind != MessageKind.INCOMING or not message.text.strip():
            return
        if message.sentiment_label is None:
            sentiment = await self.score(message.text)
            message = await do_record_sentiment(rt, message.id, sentiment)
        anger = message.sentiment_anger or 0.0
        settings = rt.settings
        # The scorer's own verdict (its tuned threshold) unless the settings override it.
        if settings.anger_threshold is not None:
            angry = anger >= settings.anger_threshold
        else:
            angry = bool((message.meta or {}).get("angry"))
        if angry:
            detail = f"angry message (anger {anger:.2f})"
            if conv.status == ConversationStatus.BOT:
                await do_escalate(rt, conv.id, "anger", priority=Priority.HIGH, detail=detail)
            elif conv.status != ConversationStatus.RESOLVED:
                wanted = raise_priority(conv.priority, Priority.HIGH)
                if wanted != conv.priority:
                    await do_set_priority(rt, conv.id, wanted, detail=detail)
            if not await self._alerted(ctx, "anger", message.id):
                await do_raise_alert(
                    rt,
                    conv.id,
                    "anger",
                    detail,
                    message_id=message.id,
                    anger=round(anger, 3),
                    excerpt=message.text[:280],
                )
            return
        history = await self._recent_negativity(ctx, settings.slide_window)
        if is_sliding(history, settings.slide_window, settings.slide_threshold) and not (
            await self._alerted(ctx, "slide", None)
        ):
            await do_raise_alert(
                rt,
                conv.id,
                "slide",
                "the customer's mood keeps getting worse",
                message_id=message.id,
                negativity=[round(h, 3) for h in history],
            )

    async def _recent_negativity(self, ctx: StepContext, window: int) -> list[float]:
        """Negativity of the conversation's last scored customer messages, oldest first."""
        async with ctx.rt.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(Message)
                        .where(
                            Message.conversation_id == ctx.conversation.id,
                            Message.kind == MessageKind.INCOMING,
                            Message.sentiment_label.is_not(None),
                            Message.id <= ctx.message.id,
                        )
                        .order_by(Message.id.desc())
                        .limit(window)
                    )
                )
                .scalars()
                .all()
            )
        return [negativity(m) for m in reversed(rows)]

    async def _alerted(self, ctx: StepContext, kind: str, message_id: int | None) -> bool:
        """Whether this alert was already raised (a retried step must not alert twice)."""
        async with ctx.rt.sessions() as session:
            metas = (
                (
                    await session.execute(
                        select(Message.meta).where(
                            Message.conversation_id == ctx.conversation.id,
                            Message.kind == MessageKind.ACTIVITY,
                        )
                    )
                )
                .scalars()
                .all()
            )
        return any(
            m.get("action") == "alert"
            and m.get("alert") == kind
            and (message_id is None or m.get("message_id") == message_id)
            for m in metas
        )
