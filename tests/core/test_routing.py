"""The default routing step: bot-owned conversations go to humans, owned ones stay owned."""

from __future__ import annotations

from core import actions
from core.accounts import do_create_agent
from core.models import Conversation, Message
from core.pipeline import StepContext
from core.routing import HumanRouting
from core.runtime import Runtime
from core.types import ConversationStatus, InboundMessage


async def test_a_conversation_taken_while_the_step_ran_stays_with_the_agent(rt: Runtime) -> None:
    """The step saw `bot`, an agent took over meanwhile: no escalation, the owner is kept."""
    r = await actions.do_ingest(rt, InboundMessage("memory", "u", "u-1", "hello", "U"))
    async with rt.sessions() as session:
        stale = await session.get(Conversation, r.conversation_id)
        message = await session.get(Message, r.message_id)
    assert stale is not None and message is not None and stale.status == ConversationStatus.BOT
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await actions.do_reply(rt, r.conversation_id, "I'm on it", agent_id=sara.id)

    await HumanRouting()(StepContext(rt, message, stale))

    async with rt.sessions() as session:
        conv = await session.get(Conversation, r.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.OPEN
    assert conv.assignee_id == sara.id and conv.escalation_reason is None


async def test_a_bot_conversation_goes_to_the_human_queue(rt: Runtime) -> None:
    """With no bot configured the step escalates with reason ``no_bot``."""
    r = await actions.do_ingest(rt, InboundMessage("memory", "u", "u-1", "hello", "U"))
    async with rt.sessions() as session:
        conv = await session.get(Conversation, r.conversation_id)
        message = await session.get(Message, r.message_id)
    assert conv is not None and message is not None
    await HumanRouting()(StepContext(rt, message, conv))
    async with rt.sessions() as session:
        after = await session.get(Conversation, r.conversation_id)
    assert after is not None and after.status == ConversationStatus.PENDING
    assert after.escalation_reason == "no_bot"
