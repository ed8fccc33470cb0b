"""Routing steps: who answers a customer message. The default hands everything to humans."""

from __future__ import annotations

from core.actions import do_escalate
from core.pipeline import StepContext
from core.types import ConversationStatus


class HumanRouting:
    """With no bot configured, a bot-owned conversation goes straight to the human queue."""

    name = "routing"

    async def __call__(self, ctx: StepContext) -> None:
        """Escalate with reason ``no_bot``; conversations humans own are left alone."""
        if ctx.conversation.status == ConversationStatus.BOT:
            await do_escalate(
                ctx.rt, ctx.conversation.id, "no_bot", only_from=(ConversationStatus.BOT,)
            )
