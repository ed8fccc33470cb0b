"""The routing step with the bot: Rasa answers bot-owned conversations, or hands them over."""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.client import BotError, BotReply, RasaClient
from bot.language import detect_language
from bot.routing import decide
from bot.sender import sender_id
from core.actions import (
    BOT_SESSION,
    do_escalate,
    do_raise_alert,
    do_reply,
    do_start_bot_session,
)
from core.errors import DomainError
from core.models import Message
from core.notices import handoff_notice
from core.pipeline import StepContext
from core.types import Author, ConversationStatus, MessageKind

log = logging.getLogger(__name__)


class BotRouting:
    """Sends a bot-owned conversation's message to Rasa; stores and sends its replies."""

    name = "routing"

    def __init__(self, client: RasaClient) -> None:
        self.client = client

    async def __call__(self, ctx: StepContext) -> None:
        """Ask the bot, send what it says, escalate when it hands off or cannot answer."""
        conv, message = ctx.conversation, ctx.message
        if conv.status != ConversationStatus.BOT:
            return  # humans own it: the bot stays silent
        if (message.meta or {}).get("raw", {}).get("automated"):
            return  # an auto-reply or bounce: recorded, never answered (no mail loops)
        if await self._already_answered(ctx):
            return  # a retry after the replies were stored: never ask Rasa twice
        language = detect_language(message.text, conv.language) or conv.language or "en"
        session = (conv.bot_state or {}).get(BOT_SESSION)
        if not isinstance(session, str) or not session:
            session = await do_start_bot_session(ctx.rt, conv.id)
        reply: BotReply | None
        try:
            reply = await self.client.reply(sender_id(conv.id, session), message.text, language)
        except BotError as exc:
            log.warning("bot unavailable for conversation %s: %s", conv.id, exc)
            reply = None
        decision = decide(
            ConversationStatus(conv.status),
            reply.texts if reply is not None else None,
            reply.handoff if reply is not None else False,
            reply.reason if reply is not None else None,
        )
        texts = list(decision.send)
        if decision.escalate and not texts:
            # Said by us, not Rasa, when Rasa itself cannot answer: never silence.
            texts = [handoff_notice(language)]
        for text in texts:
            try:
                await do_reply(
                    ctx.rt, conv.id, text, author=Author.BOT, meta={"in_reply_to": message.id}
                )
            except DomainError as exc:
                if exc.code == "not_bot_owned":
                    return  # a person took the conversation while Rasa was answering
                # e.g. the customer blocked us on this channel
                log.warning("bot reply not stored for conversation %s: %s", conv.id, exc)
        if decision.escalate:
            reason = decision.reason or "bot_handoff"
            after = await do_escalate(
                ctx.rt,
                conv.id,
                reason,
                detail="the bot handed over",
                only_from=(ConversationStatus.BOT,),
            )
            if after.status != ConversationStatus.PENDING or after.escalation_reason != reason:
                return  # a person took the conversation while Rasa was answering
            await do_raise_alert(
                ctx.rt,
                conv.id,
                "handoff",
                f"bot handed over: {reason}",
                reason=reason,
                message_id=message.id,
            )

    async def _already_answered(self, ctx: StepContext) -> bool:
        """Whether bot replies to this message are already stored."""
        async with ctx.rt.sessions() as session:
            metas = (
                (
                    await session.execute(
                        select(Message.meta).where(
                            Message.conversation_id == ctx.conversation.id,
                            Message.kind == MessageKind.OUTGOING,
                            Message.author == Author.BOT,
                            Message.id > ctx.message.id,
                        )
                    )
                )
                .scalars()
                .all()
            )
        return any(m.get("in_reply_to") == ctx.message.id for m in metas)
