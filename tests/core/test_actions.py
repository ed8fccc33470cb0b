"""Storage behaviour of the `do_*` actions, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core import actions
from core.accounts import do_create_agent
from core.errors import ConflictError, Invalid
from core.events import Event
from core.models import Conversation, Customer, Identity, Message
from core.runtime import Runtime
from core.types import Author, ConversationStatus, InboundMessage, MessageKind, Priority


def inbound(
    channel: str, sender: str, mid: str, text: str = "hello", **kw: object
) -> InboundMessage:
    """A minimal inbound message."""
    return InboundMessage(channel, sender, mid, text, **kw)  # type: ignore[arg-type]


async def count(rt: Runtime, model: type) -> int:
    """Rows in a table."""
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_ingest_creates_customer_identity_conversation_and_message(rt: Runtime) -> None:
    """A first message creates the person, their identity, a bot-owned conversation and the row."""
    result = await actions.do_ingest(
        rt, inbound("telegram", "42", "tg-1", "مرحبا", sender_name="ليلى")
    )
    assert result.created
    async with rt.sessions() as session:
        customer = await session.get(Customer, result.customer_id)
        conv = await session.get(Conversation, result.conversation_id)
        message = await session.get(Message, result.message_id)
    assert customer is not None and customer.display_name == "ليلى" and customer.language == "ar"
    assert conv is not None and conv.status == ConversationStatus.BOT
    assert message is not None and message.text == "مرحبا" and message.pipeline_state == "pending"


async def test_same_inbound_message_is_stored_once(rt: Runtime) -> None:
    """A redelivered message returns the stored one and adds nothing."""
    first = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    again = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    assert not again.created and again.message_id == first.message_id
    assert await count(rt, Message) == 1


async def test_three_concurrent_deliveries_store_one_row(rt: Runtime) -> None:
    """The same inbound message delivered 3 times at once: exactly one row, one customer."""
    results = await asyncio.gather(
        *(actions.do_ingest(rt, inbound("webhook", "c-1", "m-1", "hi")) for _ in range(3))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.message_id for r in results}) == 1
    assert await count(rt, Message) == 1
    assert await count(rt, Customer) == 1
    assert await count(rt, Conversation) == 1


async def test_concurrent_first_messages_share_one_conversation(rt: Runtime) -> None:
    """Different messages from a new customer arriving together land on one conversation."""
    results = await asyncio.gather(
        *(actions.do_ingest(rt, inbound("webhook", "c-9", f"m-{i}")) for i in range(4))
    )
    assert len({r.conversation_id for r in results}) == 1
    assert await count(rt, Message) == 4


async def test_one_active_conversation_collects_every_channel(rt: Runtime) -> None:
    """After a merge, messages from both channels land in the customer's one conversation."""
    tg = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1", "order late"))
    mail = await actions.do_ingest(rt, inbound("email", "a@example.com", "<e1>", "any news?"))
    assert tg.customer_id != mail.customer_id
    await actions.do_merge_customers(rt, mail.customer_id, tg.customer_id, agent_id=None)
    later = await actions.do_ingest(rt, inbound("email", "a@example.com", "<e2>", "hello?"))
    assert later.customer_id == tg.customer_id
    assert later.conversation_id == tg.conversation_id


async def test_verified_email_links_to_existing_customer(rt: Runtime) -> None:
    """A new identity with a verified email that one customer has joins that customer."""
    first = await actions.do_ingest(
        rt, inbound("webhook", "crm-1", "w-1", sender_profile={"email": "Nour@Example.com"})
    )
    second = await actions.do_ingest(
        rt, inbound("webchat", "v-1", "c-1", sender_profile={"email": "nour@example.com"})
    )
    assert second.customer_id == first.customer_id


async def test_resolved_conversation_starts_new_one_with_the_bot(rt: Runtime) -> None:
    """After resolve, the next message opens a new conversation owned by the bot."""
    first = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    await actions.do_escalate(rt, first.conversation_id, "customer_request")
    await actions.do_resolve(rt, first.conversation_id, agent_id=None)
    nxt = await actions.do_ingest(rt, inbound("telegram", "42", "tg-2"))
    assert nxt.conversation_id != first.conversation_id
    async with rt.sessions() as session:
        conv = await session.get(Conversation, nxt.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.BOT


async def test_bot_session_is_kept_until_the_conversation_is_handed_back(rt: Runtime) -> None:
    """do_start_bot_session makes one token and keeps it; a hand-back clears it for a new one."""
    r = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    first = await actions.do_start_bot_session(rt, r.conversation_id)
    assert await actions.do_start_bot_session(rt, r.conversation_id) == first
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    await actions.do_hand_to_bot(rt, r.conversation_id, agent_id=None)
    async with rt.sessions() as session:
        conv = await session.get(Conversation, r.conversation_id)
    assert conv is not None and conv.bot_state == {}
    assert await actions.do_start_bot_session(rt, r.conversation_id) not in ("", first)


async def test_ownership_moves_and_timeline_records_them(rt: Runtime) -> None:
    """Escalate → assign → hand to bot → resolve; every move is an activity line."""
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    r = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    conv = await actions.do_escalate(rt, r.conversation_id, "anger", priority=Priority.HIGH)
    assert conv.status == ConversationStatus.PENDING and conv.priority == Priority.HIGH
    assert conv.waiting_since is not None
    again = await actions.do_escalate(rt, r.conversation_id, "anger")
    assert again.priority == Priority.HIGH
    conv = await actions.do_assign(rt, r.conversation_id, agent.id, agent_id=agent.id)
    assert conv.status == ConversationStatus.OPEN and conv.assignee_id == agent.id
    conv = await actions.do_hand_to_bot(rt, r.conversation_id, agent_id=agent.id)
    assert conv.status == ConversationStatus.BOT and conv.assignee_id is None
    conv = await actions.do_resolve(rt, r.conversation_id, agent_id=agent.id)
    assert conv.status == ConversationStatus.RESOLVED and conv.resolved_at is not None
    async with rt.sessions() as session:
        lines = (
            (
                await session.execute(
                    select(Message.meta)
                    .where(Message.kind == MessageKind.ACTIVITY)
                    .order_by(Message.id)
                )
            )
            .scalars()
            .all()
        )
    assert [m["action"] for m in lines] == ["escalated", "assigned", "handed_to_bot", "resolved"]


async def test_agent_reply_takes_over_and_queues_delivery(rt: Runtime) -> None:
    """An agent's reply goes on the latest channel, opens the conversation, sets first response."""
    agent = await do_create_agent(rt.sessions, "omar", "Omar", "password123")
    await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    r = await actions.do_ingest(rt, inbound("telegram", "42", "tg-2"))
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    message = await actions.do_reply(rt, r.conversation_id, "أهلاً، كيف أساعدك؟", agent_id=agent.id)
    assert message.channel == "telegram" and message.delivery_status == "queued"
    assert message.reply_to_channel_id == "tg-2"
    assert message.meta["recipient"] == "42"
    async with rt.sessions() as session:
        conv = await session.get(Conversation, r.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.OPEN
    assert conv.assignee_id == agent.id and conv.first_response_at is not None
    assert conv.waiting_since is None


async def test_agent_reply_threads_under_the_last_real_message_not_an_auto_reply(
    rt: Runtime,
) -> None:
    """An agent threads under the customer's last real mail; machines keep the newest one."""
    agent = await do_create_agent(rt.sessions, "omar", "Omar", "password123")
    ooo = {"automated": "auto-submitted: auto-replied"}
    only_auto = await actions.do_ingest(rt, inbound("email", "b@x.test", "<b-ooo>", raw=ooo))
    alone = await actions.do_reply(rt, only_auto.conversation_id, "hi", agent_id=agent.id)
    assert alone.reply_to_channel_id == "<b-ooo>"  # nothing real to answer: the guard decides

    await actions.do_ingest(rt, inbound("email", "a@x.test", "<a-1>", raw={"subject": "s"}))
    r = await actions.do_ingest(rt, inbound("email", "a@x.test", "<a-ooo>", raw=ooo))
    bot = await actions.do_reply(rt, r.conversation_id, "auto", author=Author.BOT)
    assert bot.reply_to_channel_id == "<a-ooo>"
    mine = await actions.do_reply(rt, r.conversation_id, "answer", agent_id=agent.id)
    assert mine.reply_to_channel_id == "<a-1>"


async def test_reply_on_a_channel_the_customer_lacks_is_refused(rt: Runtime) -> None:
    """Choosing a channel the customer has no identity on is a clear error."""
    r = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    with pytest.raises(Invalid, match="no identity on email"):
        await actions.do_reply(rt, r.conversation_id, "hi", channel="email")


async def test_blocked_identity_refuses_replies(rt: Runtime) -> None:
    """Once a customer blocked us on a channel, replies there are refused, not lost silently."""
    r = await actions.do_ingest(rt, inbound("telegram", "42", "tg-1"))
    await actions.do_mark_identity_blocked(rt, "telegram", "42")
    with pytest.raises(ConflictError, match="blocked"):
        await actions.do_reply(rt, r.conversation_id, "hi", author=Author.BOT)


async def test_merge_either_direction_moves_everything(rt: Runtime) -> None:
    """Merging moves identities, conversations and messages and records the merge."""
    a = await actions.do_ingest(rt, inbound("telegram", "1", "t1", "first"))
    await actions.do_resolve(rt, a.conversation_id, agent_id=None)
    b = await actions.do_ingest(rt, inbound("email", "x@example.com", "<e1>", "second"))
    target = await actions.do_merge_customers(rt, a.customer_id, b.customer_id, agent_id=None)
    assert target.id == b.customer_id
    async with rt.sessions() as session:
        owners = set((await session.execute(select(Identity.customer_id))).scalars().all())
        msg_owners = set((await session.execute(select(Message.customer_id))).scalars().all())
        source = await session.get(Customer, a.customer_id)
    assert owners == {b.customer_id} and msg_owners == {b.customer_id}
    assert source is not None and source.merged_into_id == b.customer_id
    with pytest.raises(ConflictError):
        await actions.do_merge_customers(rt, b.customer_id, a.customer_id, agent_id=None)


async def test_merge_folds_two_active_conversations_into_one(rt: Runtime) -> None:
    """Two active conversations become one; the other is closed and its messages move."""
    a = await actions.do_ingest(rt, inbound("telegram", "1", "t1", "first"))
    b = await actions.do_ingest(rt, inbound("email", "x@example.com", "<e1>", "second"))
    await actions.do_escalate(rt, a.conversation_id, "anger", priority=Priority.URGENT)
    await actions.do_merge_customers(rt, a.customer_id, b.customer_id, agent_id=None)
    async with rt.sessions() as session:
        active = (
            (
                await session.execute(
                    select(Conversation).where(
                        Conversation.customer_id == b.customer_id,
                        Conversation.status != ConversationStatus.RESOLVED,
                    )
                )
            )
            .scalars()
            .all()
        )
        texts = (
            (
                await session.execute(
                    select(Message.text).where(
                        Message.conversation_id == b.conversation_id,
                        Message.kind == MessageKind.INCOMING,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [c.id for c in active] == [b.conversation_id]
    assert active[0].priority == Priority.URGENT
    assert sorted(texts) == ["first", "second"]


async def test_a_folded_conversation_says_where_it_went(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folded conversation keeps a `merged_into` line and its change is pushed live."""
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    monkeypatch.setattr(rt.bus, "publish", publish)
    a = await actions.do_ingest(rt, inbound("telegram", "1", "t1", "first"))
    b = await actions.do_ingest(rt, inbound("email", "x@example.com", "<e1>", "second"))
    published.clear()
    await actions.do_merge_customers(rt, a.customer_id, b.customer_id, agent_id=None)
    async with rt.sessions() as session:
        folded = await session.get(Conversation, a.conversation_id)
        lines = (
            (await session.execute(select(Message).where(Message.conversation_id == folded.id)))
            .scalars()
            .all()
            if folded
            else []
        )
    assert folded is not None and folded.status == ConversationStatus.RESOLVED
    assert [(m.kind, m.meta["action"]) for m in lines] == [(MessageKind.ACTIVITY, "merged_into")]
    assert lines[0].meta["target_conversation_id"] == b.conversation_id
    assert lines[0].customer_id == b.customer_id
    updated = [e.payload for e in published if e.name == "conversation.updated"]
    assert [(c["id"], c["status"]) for c in updated] == [(a.conversation_id, "resolved")]
    created = [e.payload["id"] for e in published if e.name == "message.created"]
    assert lines[0].id in created


async def test_oversize_text_is_capped_not_lost(rt: Runtime) -> None:
    """Text beyond the cap is truncated and flagged, and the message is kept."""
    r = await actions.do_ingest(rt, inbound("webhook", "c", "m", "x" * 20_000))
    async with rt.sessions() as session:
        message = await session.get(Message, r.message_id)
    assert message is not None and len(message.text) == rt.settings.max_text_chars
    assert message.meta["truncated"] is True


async def test_nul_characters_and_overlong_names_are_made_storable(rt: Runtime) -> None:
    """NULs (refused by PostgreSQL) are dropped and a 300-character name is cut to fit."""
    name = "ن" * 300
    r = await actions.do_ingest(
        rt,
        inbound(
            "email", "a\x00@example.com", "<nul\x00-1>", "before\x00after",
            sender_name=name + "\x00",
            raw={"original_text": "quoted\x00text", "lone\x00key": ["x\udcff"]},
            sender_profile={"email": "a@example.com\x00"},
        ),
    )  # fmt: skip
    async with rt.sessions() as session:
        message = await session.get(Message, r.message_id)
        customer = await session.get(Customer, r.customer_id)
        identity = (await session.execute(select(Identity))).scalar_one()
    assert message is not None and customer is not None
    assert message.text == "before" + "after"
    assert message.channel_message_id == "<nul-1>"
    assert message.meta["raw"] == {"original_text": "quotedtext", "lonekey": ["x\ufffd"]}
    assert identity.external_id == "a@example.com"
    assert identity.display_name == customer.display_name == name[:200]
    assert customer.email == "a@example.com"
    again = await actions.do_ingest(rt, inbound("email", "a@example.com", "<nul\x00-1>", "x"))
    assert not again.created and again.message_id == r.message_id


async def test_reopen_refused_while_a_newer_conversation_is_active(rt: Runtime) -> None:
    """Reopening an old conversation cannot fork a customer's active one."""
    a = await actions.do_ingest(rt, inbound("telegram", "1", "t1"))
    await actions.do_resolve(rt, a.conversation_id, agent_id=None)
    await actions.do_ingest(rt, inbound("telegram", "1", "t2"))
    with pytest.raises(ConflictError, match="active conversation"):
        await actions.do_reopen(rt, a.conversation_id, agent_id=None)


async def test_edited_message_updates_text_and_keeps_history(rt: Runtime) -> None:
    """An edit replaces the shown text, keeps the old wording, and stores no second row."""
    first = await actions.do_ingest(rt, inbound("telegram", "42", "tg-7", "order 123"))
    again = await actions.do_ingest(rt, inbound("telegram", "42", "tg-7", "order 124", edited=True))
    assert again.message_id == first.message_id and not again.created
    async with rt.sessions() as session:
        message = await session.get(Message, first.message_id)
    assert message is not None and message.text == "order 124"
    assert [e["text"] for e in message.meta["edits"]] == ["order 123"]
    assert await count(rt, Message) == 1


async def test_the_bot_cannot_reply_once_a_person_owns_the_conversation(rt: Runtime) -> None:
    """A bot reply that lands after an agent took over is refused, and nothing is stored."""
    r = await actions.do_ingest(rt, inbound("memory", "u", "u-1"))
    await actions.do_reply(rt, r.conversation_id, "bot says hi", author=Author.BOT)
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await actions.do_assign(rt, r.conversation_id, sara.id, agent_id=sara.id)
    with pytest.raises(ConflictError) as caught:
        await actions.do_reply(rt, r.conversation_id, "late bot answer", author=Author.BOT)
    assert caught.value.code == "not_bot_owned"
    async with rt.sessions() as session:
        texts = (
            (
                await session.execute(
                    select(Message.text).where(Message.kind == MessageKind.OUTGOING)
                )
            )
            .scalars()
            .all()
        )
    assert texts == ["bot says hi"]


async def test_automatic_escalation_only_from_listed_states(rt: Runtime) -> None:
    """``only_from`` leaves a conversation in another state untouched, with no timeline line."""
    r = await actions.do_ingest(rt, inbound("memory", "u", "u-1"))
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await actions.do_assign(rt, r.conversation_id, sara.id, agent_id=sara.id)
    before = await count(rt, Message)
    conv = await actions.do_escalate(
        rt, r.conversation_id, "no_bot", only_from=(ConversationStatus.BOT,)
    )
    assert conv.status == ConversationStatus.OPEN and conv.assignee_id == sara.id
    assert await count(rt, Message) == before
