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
    do_reply,
    do_set_priority,
    raise_priority,
)
from core.errors import DomainError
from core.models import Message
from core.notices import handoff_notice
from core.pipeline import StepContext
from core.types import Author, ConversationStatus, MessageKind, Priority, Sentiment

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
        # The scorer's verdict, made with the one configured threshold, so the stored label,
        # the `angry` flag and the escalation can never disagree.
        if (message.meta or {}).get("angry"):
            detail = f"angry message (anger {anger:.2f})"
            if conv.status == ConversationStatus.BOT:
                conv = await do_escalate(
                    rt,
                    conv.id,
                    "anger",
                    priority=Priority.HIGH,
                    detail=detail,
                    only_from=(ConversationStatus.BOT,),
                    facts={"anger": round(anger, 3)},
                )
                escalated = (
                    conv.status == ConversationStatus.PENDING and conv.escalation_reason == "anger"
                )
                if settings.bot_enabled and escalated:
                    await self._tell_customer(ctx, conv.language)
            if conv.status != ConversationStatus.RESOLVED:
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
        if is_sliding(history, settings.slide_window, settings.slide_threshold) and (
            await self._slide_armed(ctx, settings.slide_threshold)
        ):
            await do_raise_alert(
                rt,
                conv.id,
                "slide",
                "the customer's mood keeps getting worse",
                message_id=message.id,
                negativity=[round(h, 3) for h in history],
            )

    async def _tell_customer(self, ctx: StepContext, language: str | None) -> None:
        """The bot stops answering here: say a person is coming, never leave silence."""
        try:
            await do_reply(
                ctx.rt,
                ctx.conversation.id,
                handoff_notice(language),
                author=Author.SYSTEM,
                meta={"in_reply_to": ctx.message.id, "notice": "handoff"},
            )
        except DomainError as exc:  # e.g. the customer blocked us on this channel
            log.warning("handoff notice not sent in conversation %s: %s", ctx.conversation.id, exc)

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

    async def _alert_message_ids(self, ctx: StepContext, kind: str) -> list[int]:
        """The customer messages this conversation's alerts of one kind were raised for."""
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
        return [
            int(m.get("message_id") or 0)
            for m in metas
            if m.get("action") == "alert" and m.get("alert") == kind
        ]

    async def _alerted(self, ctx: StepContext, kind: str, message_id: int) -> bool:
        """Whether this alert was already raised (a retried step must not alert twice)."""
        return message_id in await self._alert_message_ids(ctx, kind)

    async def _slide_armed(self, ctx: StepContext, threshold: float) -> bool:
        """No slide alert yet, or the mood recovered (fell under the threshold) since the last."""
        raised = await self._alert_message_ids(ctx, "slide")
        if not raised:
            return True
        last = max(raised)
        if last >= ctx.message.id:
            return False
        async with ctx.rt.sessions() as session:
            since = (
                (
                    await session.execute(
                        select(Message).where(
                            Message.conversation_id == ctx.conversation.id,
                            Message.kind == MessageKind.INCOMING,
                            Message.sentiment_label.is_not(None),
                            Message.id > last,
                            Message.id < ctx.message.id,
                        )
                    )
                )
                .scalars()
                .all()
            )
        return any(negativity(m) < threshold for m in since)
