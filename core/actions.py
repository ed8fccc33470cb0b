"""The only functions that change state: each commits first, then emits its events.

Each action collects its events while it works and hands the list to `in_transaction`, which
writes those subscribers may receive to the outbox in the same transaction (`core.outbox`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.bus import delivery_queue, pipeline_queue
from core.db import in_transaction
from core.errors import ConflictError, Forbidden, Invalid, NotFound
from core.events import Event
from core.models import Agent, Conversation, Customer, Identity, Message, Order, Team, utcnow
from core.privacy import MESSAGE, pseudonym
from core.runtime import Runtime
from core.serialize import conversation_dict, customer_dict, message_dict
from core.text import detect_language, storable, storable_json
from core.types import (
    Attachment,
    Author,
    ConversationStatus,
    DeliveryStatus,
    InboundMessage,
    MessageKind,
    Priority,
    Role,
    Sentiment,
)

log = logging.getLogger(__name__)

ACTIVE = (ConversationStatus.BOT, ConversationStatus.PENDING, ConversationStatus.OPEN)
# The bot_state key of the current bot session's token (see do_start_bot_session).
BOT_SESSION = "session"
PRIORITY_ORDER = list(Priority)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Where an inbound message landed, and whether it was new."""

    message_id: int
    conversation_id: int
    customer_id: int
    created: bool
    # A redelivery of a message whose customer's data was erased (nothing was stored again).
    erased: bool = False


async def emit(rt: Runtime, events: Sequence[Event]) -> None:
    """Publish events live after a commit; a bus hiccup never undoes stored state.

    Subscribers do not depend on this: their copy went to the outbox with the commit.
    """
    for event in events:
        try:
            await rt.bus.publish(event)
        except Exception:
            log.exception("could not publish %s", event.name)


def activity_line(
    conv: Conversation, action: str, text: str, *, agent_id: int | None = None, **data: Any
) -> Message:
    """An activity line for a conversation's timeline."""
    return Message(
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        kind=MessageKind.ACTIVITY,
        author=Author.AGENT if agent_id else Author.SYSTEM,
        agent_id=agent_id,
        text=text,
        meta={"action": action, **data},
    )


async def _conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conv = await session.get(Conversation, conversation_id, with_for_update=True)
    if conv is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conv


async def _agent(session: AsyncSession, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise NotFound(f"agent {agent_id} does not exist")
    return agent


async def active_conversation(session: AsyncSession, customer_id: int) -> Conversation | None:
    """The customer's one unresolved conversation, if any."""
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.status.in_(ACTIVE))
            .with_for_update()
        )
    ).scalar_one_or_none()


async def refuse_erased(session: AsyncSession, customer_id: int) -> None:
    """`ConflictError` (``erased``) when the customer's data was erased: nothing new is kept."""
    customer = await session.get(Customer, customer_id)
    if customer is not None and customer.erased_at is not None:
        raise ConflictError("this customer's data was erased", code="erased")


async def surviving_customer(session: AsyncSession, customer_id: int) -> Customer:
    """Follow merges to the surviving customer."""
    for _ in range(20):
        customer = await session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if customer.merged_into_id is None:
            return customer
        customer_id = customer.merged_into_id
    raise ConflictError("merge chain too long")


async def _link_by_profile(session: AsyncSession, profile: dict[str, str]) -> Customer | None:
    """A single existing customer with the same verified email or phone, if exactly one."""
    clauses = []
    if email := profile.get("email"):
        clauses.append(func.lower(Customer.email) == email.lower())
    if phone := profile.get("phone"):
        clauses.append(Customer.phone == phone)
    if not clauses:
        return None
    found = (
        (
            await session.execute(
                select(Customer).where(or_(*clauses), Customer.merged_into_id.is_(None)).limit(2)
            )
        )
        .scalars()
        .all()
    )
    return found[0] if len(found) == 1 else None


# --- inbound -------------------------------------------------------------------------------


def _limit(column: Any) -> int:
    """The declared length of a ``String`` column of our models."""
    return int(column.property.columns[0].type.length)


def _cut(text: str | None, column: Any) -> str | None:
    """A storable text cut to what the column holds (PostgreSQL refuses longer values)."""
    if text is None:
        return None
    return storable(text)[: _limit(column)]


def _storable_attachment(file: Attachment) -> Attachment:
    """An attachment's texts (name, type, ids) as the database can hold them."""
    texts: dict[str, Any] = {
        k: storable(v) for k, v in file.to_dict().items() if isinstance(v, str)
    }
    return replace(file, **texts)


def _storable_inbound(inbound: InboundMessage) -> InboundMessage:
    """The message as the database can hold it, whichever channel it came from.

    A connector passes on what the sender wrote; one NUL or a 300-character display name must
    not make the message unstorable (and block every later message of its channel).
    """
    profile: dict[str, str] = storable_json(dict(inbound.sender_profile))
    for key, column in (("email", Customer.email), ("phone", Customer.phone)):
        if key in profile:
            profile[key] = profile[key][: _limit(column)]
    name = _cut(inbound.sender_name, Identity.display_name)
    return replace(
        inbound,
        external_sender_id=_cut(inbound.external_sender_id, Identity.external_id) or "",
        external_message_id=_cut(inbound.external_message_id, Message.channel_message_id) or "",
        reply_to_external_id=_cut(inbound.reply_to_external_id, Message.reply_to_channel_id),
        text=storable(inbound.text),
        sender_name=(name or "").strip() or None,
        language=_cut(inbound.language, Message.language),
        attachments=tuple(_storable_attachment(a) for a in inbound.attachments),
        raw=storable_json(inbound.raw),
        sender_profile=profile,
    )


async def do_ingest(rt: Runtime, inbound: InboundMessage) -> IngestResult:
    """Store an inbound message once, on its customer's one active conversation.

    Args:
        rt: the runtime.
        inbound: the message as the connector understood it.

    Returns:
        Where it landed; ``created`` is False for a redelivery of a stored message.
    """
    inbound = _storable_inbound(inbound)
    if not inbound.channel or not inbound.external_sender_id or not inbound.external_message_id:
        raise Invalid("channel, sender id and message id are required")
    now = utcnow()
    new_events: list[Event] = []
    # A message whose sender was erased keeps its channel id as a pseudonym: a redelivery
    # (an IMAP re-scan, a webhook retry) finds it and is not stored again.
    secret = rt.settings.secret_key.get_secret_value()
    known_ids = (
        inbound.external_message_id,
        pseudonym(secret, MESSAGE, inbound.channel, inbound.external_message_id),
    )

    async def work(session: AsyncSession) -> IngestResult:
        new_events.clear()
        dup = (
            (
                await session.execute(
                    select(Message)
                    .where(
                        Message.kind == MessageKind.INCOMING,
                        Message.channel == inbound.channel,
                        Message.channel_message_id.in_(known_ids),
                    )
                    .order_by(Message.id)
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
        if dup is not None:
            assert dup.conversation_id is not None
            erased = bool((dup.meta or {}).get("erased"))
            if inbound.edited and not erased and dup.text != inbound.text:
                _record_edit(dup, inbound.text[: rt.settings.max_text_chars], now)
                new_events.append(Event(ev.MESSAGE_UPDATED, message_dict(dup)))
            return IngestResult(
                dup.id, dup.conversation_id, dup.customer_id, created=False, erased=erased
            )

        language = inbound.language or detect_language(inbound.text)
        # Locked (it is updated below anyway): a message racing its sender's erasure either
        # lands before it (and is erased with the rest) or finds no identity and starts anew.
        identity = (
            await session.execute(
                select(Identity)
                .where(
                    Identity.channel == inbound.channel,
                    Identity.external_id == inbound.external_sender_id,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if identity is None:
            customer = await _link_by_profile(session, inbound.sender_profile)
            if customer is None:
                customer = Customer(
                    display_name=inbound.sender_name,
                    language=language,
                    email=inbound.sender_profile.get("email"),
                    phone=inbound.sender_profile.get("phone"),
                    attributes={},
                )
                session.add(customer)
                await session.flush()
            identity = Identity(
                customer_id=customer.id,
                channel=inbound.channel,
                external_id=inbound.external_sender_id,
                display_name=inbound.sender_name,
                profile=dict(inbound.sender_profile),
            )
            session.add(identity)
            await session.flush()
        else:
            customer = await surviving_customer(session, identity.customer_id)
            identity.last_seen_at = now
            if inbound.sender_name and not identity.display_name:
                identity.display_name = inbound.sender_name
        customer.last_seen_at = now
        if not customer.display_name and inbound.sender_name:
            customer.display_name = inbound.sender_name
        if not customer.language and language:
            customer.language = language

        conv = await active_conversation(session, customer.id)
        if conv is None:
            conv = Conversation(
                customer_id=customer.id,
                status=ConversationStatus.BOT,
                language=customer.language,
                labels=[],
                bot_state={},
                priority=Priority.NORMAL,
            )
            session.add(conv)
            await session.flush()
            new_events.append(Event(ev.CONVERSATION_CREATED, conversation_dict(conv)))
        elif conv.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
            conv.waiting_since = conv.waiting_since or now
        conv.last_message_at = now
        conv.updated_at = now
        conv.last_channel = inbound.channel
        conv.preview = inbound.text[:280]
        if language:
            conv.language = language

        text = inbound.text
        meta: dict[str, Any] = {}
        if len(text) > rt.settings.max_text_chars:
            text = text[: rt.settings.max_text_chars]
            meta["truncated"] = True
        if inbound.raw:
            meta["raw"] = inbound.raw
        message = Message(
            customer_id=customer.id,
            conversation_id=conv.id,
            kind=MessageKind.INCOMING,
            author=Author.CUSTOMER,
            channel=inbound.channel,
            channel_message_id=inbound.external_message_id,
            reply_to_channel_id=inbound.reply_to_external_id,
            text=text,
            attachments=[a.to_dict() for a in inbound.attachments],
            meta=meta,
            language=language,
            sent_at=inbound.sent_at,
            pipeline_state="pending",
            pipeline_steps=[],
        )
        session.add(message)
        await session.flush()
        new_events.append(Event(ev.MESSAGE_CREATED, message_dict(message)))
        new_events.append(Event(ev.CONVERSATION_UPDATED, conversation_dict(conv)))
        return IngestResult(message.id, conv.id, customer.id, created=True)

    result = await in_transaction(rt.sessions, work, events=new_events)
    if result.created:
        queue = pipeline_queue(result.conversation_id, rt.settings.pipeline_shards)
        await rt.bus.enqueue(queue, {"message_id": result.message_id})
    await emit(rt, new_events)  # a redelivered edit has its message.updated too
    return result


def _record_edit(message: Message, text: str, when: datetime) -> None:
    """Keep the earlier wording in the message's edit history and show the new one."""
    meta = dict(message.meta or {})
    meta["edits"] = [
        *meta.get("edits", []),
        {"text": message.text, "replaced_at": when.isoformat()},
    ]
    message.meta = meta
    message.text = text


# --- replies and notes -----------------------------------------------------------------------


async def _recipient(session: AsyncSession, customer_id: int, channel: str | None) -> Identity:
    """The customer's identity to reply on: the given channel, else the latest one used."""
    query = select(Identity).where(Identity.customer_id == customer_id)
    if channel:
        query = query.where(Identity.channel == channel)
    identity = (
        (await session.execute(query.order_by(Identity.last_seen_at.desc()).limit(1)))
        .scalars()
        .first()
    )
    if identity is None:
        where = f" on {channel}" if channel else ""
        raise Invalid(f"customer {customer_id} has no identity{where}", code="no_channel")
    if identity.blocked:
        raise ConflictError(f"the customer has blocked us on {identity.channel}", code="blocked")
    return identity


async def _reply_target(
    session: AsyncSession, conversation_id: int, channel: str, *, person: bool
) -> str | None:
    """The channel id of the customer's message a reply threads under.

    The newest one, except that a person's reply skips automated messages (out-of-office,
    bounces: ``meta.raw.automated``) for the customer's last real one: channels refuse to
    answer automated mail, and the agent is answering the customer. Machine replies (bot,
    notices) keep the newest, so a channel's loop guard still stops a machine answering one.
    """
    newest = (
        select(Message.channel_message_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.kind == MessageKind.INCOMING,
            Message.channel == channel,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    if person:
        real = newest.where(Message.meta[("raw", "automated")].as_string().is_(None))
        found = (await session.execute(real)).scalar_one_or_none()
        if found is not None:
            return found
    return (await session.execute(newest)).scalar_one_or_none()


async def do_reply(
    rt: Runtime,
    conversation_id: int,
    text: str,
    *,
    agent_id: int | None = None,
    author: Author = Author.AGENT,
    channel: str | None = None,
    attachments: Sequence[Attachment] = (),
    meta: dict[str, Any] | None = None,
) -> Message:
    """Store an outgoing message and queue it for delivery on the customer's channel.

    Args:
        rt: the runtime.
        conversation_id: the conversation replied to.
        text: the reply.
        agent_id: the agent replying (None for the bot or the system).
        author: who wrote it.
        channel: the channel to use; default the customer's most recent one.
        attachments: files to send.
        meta: extra facts to keep with the message.

    Returns:
        The stored message, delivery status ``queued``.
    """
    if not text.strip() and not attachments:
        raise Invalid("a reply needs text or an attachment")
    if len(text) > rt.settings.max_text_chars:
        raise Invalid(f"a reply is limited to {rt.settings.max_text_chars} characters")
    out: list[Event] = []

    async def work(session: AsyncSession) -> Message:
        out.clear()
        conv = await _conversation(session, conversation_id)
        if conv.status == ConversationStatus.RESOLVED:
            raise ConflictError("the conversation is resolved; reopen it first", code="resolved")
        if author == Author.BOT and conv.status != ConversationStatus.BOT:
            # Checked under the row lock: an agent who took over while Rasa was thinking wins.
            raise ConflictError("a person owns this conversation now", code="not_bot_owned")
        identity = await _recipient(session, conv.customer_id, channel or conv.last_channel)
        now = utcnow()
        last_in = await _reply_target(
            session, conv.id, identity.channel, person=author == Author.AGENT
        )
        message = Message(
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            kind=MessageKind.OUTGOING,
            author=author,
            agent_id=agent_id,
            channel=identity.channel,
            reply_to_channel_id=last_in,
            text=text,
            attachments=[a.to_dict() for a in attachments],
            meta={"recipient": identity.external_id, **(meta or {})},
            language=conv.language,
            delivery_status=DeliveryStatus.QUEUED,
        )
        session.add(message)
        if author == Author.AGENT and agent_id is not None:
            if conv.first_response_at is None:
                conv.first_response_at = now
            conv.waiting_since = None
            if conv.status in (ConversationStatus.BOT, ConversationStatus.PENDING):
                agent = await _agent(session, agent_id)
                conv.status = ConversationStatus.OPEN
                conv.assignee_id = conv.assignee_id or agent_id
                session.add(
                    activity_line(
                        conv,
                        "taken_over",
                        f"{agent.display_name} took over the conversation",
                        agent_id=agent_id,
                    )
                )
        conv.updated_at = now
        conv.last_message_at = now
        names = ", ".join(a.name or a.kind for a in attachments)
        conv.preview = (text if text.strip() else f"📎 {names}")[:280]
        await session.flush()
        out.append(Event(ev.MESSAGE_CREATED, message_dict(message)))
        out.append(Event(ev.CONVERSATION_UPDATED, conversation_dict(conv)))
        return message

    message = await in_transaction(rt.sessions, work, events=out)
    queue = delivery_queue(conversation_id, rt.settings.pipeline_shards)
    await rt.bus.enqueue(queue, {"message_id": message.id})
    await emit(rt, out)
    return message


async def do_note(rt: Runtime, conversation_id: int, agent_id: int, text: str) -> Message:
    """Add a private note: seen by agents, never sent to the customer."""
    if not text.strip():
        raise Invalid("a note needs text")
    if len(text) > rt.settings.max_text_chars:
        raise Invalid(f"a note is limited to {rt.settings.max_text_chars} characters")

    async def work(session: AsyncSession) -> Message:
        conv = await _conversation(session, conversation_id)
        await refuse_erased(session, conv.customer_id)
        note = Message(
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            kind=MessageKind.NOTE,
            author=Author.AGENT,
            agent_id=agent_id,
            text=text,
        )
        session.add(note)
        await session.flush()
        return note

    note = await in_transaction(rt.sessions, work)
    await emit(rt, [Event(ev.MESSAGE_CREATED, message_dict(note), private=True)])
    return note


# --- ownership ---------------------------------------------------------------------------------


async def _change(
    rt: Runtime,
    conversation_id: int,
    change: Any,
    names: Sequence[str],
    audience: Role = Role.AGENT,
) -> Conversation:
    """Apply ``change(session, conv) -> activity | None`` and emit the conversation events."""
    events: list[Event] = []

    async def work(session: AsyncSession) -> Conversation:
        conv = await _conversation(session, conversation_id)
        activity = await change(session, conv)
        conv.updated_at = utcnow()
        if activity is not None:
            session.add(activity)
        await session.flush()
        data = conversation_dict(conv)
        if activity is not None:
            events.append(Event(ev.MESSAGE_CREATED, message_dict(activity)))
        events.append(Event(ev.CONVERSATION_UPDATED, data))
        if activity is not None:
            events.extend(
                Event(name, {**data, "activity": message_dict(activity)}, audience)
                for name in names
            )
        return conv

    conv = await in_transaction(rt.sessions, work, events=events)
    await emit(rt, events)
    return conv


def raise_priority(current: Priority, wanted: Priority | None) -> Priority:
    """The higher of two priorities."""
    if wanted is None:
        return current
    return max(Priority(current), wanted, key=PRIORITY_ORDER.index)


async def do_escalate(
    rt: Runtime,
    conversation_id: int,
    reason: str,
    *,
    agent_id: int | None = None,
    priority: Priority | None = None,
    detail: str | None = None,
    only_from: Collection[ConversationStatus] | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Conversation:
    """Hand a conversation to the human queue (``pending``) with a reason; idempotent.

    Args:
        rt: the runtime.
        conversation_id: the conversation to escalate.
        reason: why (``anger``, ``customer_request``, ``no_bot``…).
        agent_id: the agent escalating, None for automatic escalations.
        priority: raise the priority to at least this.
        detail: words for the timeline.
        only_from: escalate only while the status is one of these, checked under the row lock;
            otherwise nothing changes. Automatic steps pass ``(BOT,)`` so a conversation an agent
            took while the step ran is never pulled back into the queue.
        facts: what the timeline line shows in the agent's language (``anger``, ``error``),
            kept in its ``meta`` beside the English ``detail``.

    Returns:
        The conversation as it is now.
    """

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if only_from is not None and conv.status not in only_from:
            return None
        if conv.status == ConversationStatus.RESOLVED:
            raise ConflictError("a resolved conversation cannot be escalated", code="resolved")
        new_priority = raise_priority(conv.priority, priority)
        if conv.status == ConversationStatus.PENDING and conv.escalation_reason == reason:
            conv.priority = new_priority
            return None
        previous = conv.status
        conv.status = ConversationStatus.PENDING
        conv.assignee_id = None
        conv.escalation_reason = reason
        conv.priority = new_priority
        conv.waiting_since = conv.waiting_since or utcnow()
        text = f"Escalated to a human: {reason}" + (f" ({detail})" if detail else "")
        return activity_line(
            conv,
            "escalated",
            text,
            agent_id=agent_id,
            reason=reason,
            previous_status=str(previous),
            priority=str(new_priority),
            detail=detail,
            **(facts or {}),
        )

    return await _change(
        rt, conversation_id, change, [ev.CONVERSATION_ESCALATED], audience=Role.AGENT
    )


async def do_set_priority(
    rt: Runtime,
    conversation_id: int,
    priority: Priority,
    *,
    agent_id: int | None = None,
    detail: str | None = None,
) -> Conversation:
    """Change a conversation's priority without touching who owns it."""

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.priority == priority:
            return None
        previous = conv.priority
        conv.priority = priority
        text = f"Priority {previous} → {priority}" + (f" ({detail})" if detail else "")
        return activity_line(
            conv,
            "priority",
            text,
            agent_id=agent_id,
            priority=str(priority),
            previous=str(previous),
        )

    return await _change(rt, conversation_id, change, [])


async def do_assign(
    rt: Runtime,
    conversation_id: int,
    assignee_id: int | None,
    *,
    agent_id: int | None,
    colleagues: bool = True,
) -> Conversation:
    """Give the conversation to an agent (it becomes ``open``), or back to the queue.

    Args:
        rt: the runtime.
        conversation_id: the conversation.
        assignee_id: the new owner, None to return it to the queue.
        agent_id: who does it.
        colleagues: whether ``agent_id`` may take or drop a conversation another agent owns
            (supervisors may; agents may not). Checked under the row lock, so a colleague who
            took it a moment earlier keeps it.

    Returns:
        The conversation as it is now.
    """

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.status == ConversationStatus.RESOLVED:
            raise ConflictError("reopen the conversation before assigning it", code="resolved")
        if not colleagues and conv.assignee_id not in (None, agent_id):
            owner = await session.get(Agent, conv.assignee_id)
            name = owner.display_name if owner else f"agent {conv.assignee_id}"
            raise Forbidden(
                f"{name} owns this conversation; only a supervisor or admin can take it "
                "from them or return it to the queue"
            )
        if assignee_id is None:
            if conv.assignee_id is None:
                return None
            conv.assignee_id = None
            conv.status = ConversationStatus.PENDING
            conv.waiting_since = conv.waiting_since or utcnow()
            return activity_line(conv, "unassigned", "Returned to the queue", agent_id=agent_id)
        assignee = await _agent(session, assignee_id)
        if conv.assignee_id == assignee_id and conv.status == ConversationStatus.OPEN:
            return None
        conv.assignee_id = assignee_id
        conv.status = ConversationStatus.OPEN
        return activity_line(
            conv,
            "assigned",
            f"Assigned to {assignee.display_name}",
            agent_id=agent_id,
            assignee_id=assignee_id,
        )

    return await _change(rt, conversation_id, change, [ev.CONVERSATION_ASSIGNED])


async def do_assign_team(
    rt: Runtime, conversation_id: int, team_id: int | None, *, agent_id: int | None
) -> Conversation:
    """Route the conversation to a team (or to none); who owns it and its status stay as-is."""

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.status == ConversationStatus.RESOLVED:
            raise ConflictError("reopen the conversation before routing it", code="resolved")
        if conv.team_id == team_id:
            return None
        previous = conv.team
        if team_id is None:
            conv.team = None
            return activity_line(
                conv,
                "team",
                f"Removed from team {previous.name}" if previous else "Removed from its team",
                agent_id=agent_id,
                team_id=None,
                previous_team_id=previous.id if previous else None,
                previous_team_name=previous.name if previous else None,
            )
        team = await session.get(Team, team_id)
        if team is None:
            raise NotFound(f"team {team_id} does not exist")
        conv.team = team
        return activity_line(
            conv,
            "team",
            f"Assigned to team {team.name}",
            agent_id=agent_id,
            team_id=team.id,
            team_name=team.name,
            previous_team_id=previous.id if previous else None,
            previous_team_name=previous.name if previous else None,
        )

    return await _change(rt, conversation_id, change, [ev.CONVERSATION_TEAM_ASSIGNED])


async def do_resolve(rt: Runtime, conversation_id: int, *, agent_id: int | None) -> Conversation:
    """Close the conversation; the customer's next message goes to the bot again."""

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.status == ConversationStatus.RESOLVED:
            return None
        conv.status = ConversationStatus.RESOLVED
        conv.resolved_at = utcnow()
        conv.waiting_since = None
        return activity_line(conv, "resolved", "Resolved", agent_id=agent_id)

    return await _change(rt, conversation_id, change, [ev.CONVERSATION_RESOLVED])


async def do_reopen(rt: Runtime, conversation_id: int, *, agent_id: int | None) -> Conversation:
    """Reopen a resolved conversation for the agent, unless a newer one is active."""

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.status != ConversationStatus.RESOLVED:
            return None
        await refuse_erased(session, conv.customer_id)
        newer = await active_conversation(session, conv.customer_id)
        if newer is not None:
            raise ConflictError(
                f"the customer already has active conversation {newer.id}", code="active_exists"
            )
        conv.status = ConversationStatus.OPEN if agent_id else ConversationStatus.PENDING
        conv.assignee_id = agent_id
        conv.resolved_at = None
        return activity_line(conv, "reopened", "Reopened", agent_id=agent_id)

    return await _change(rt, conversation_id, change, [ev.CONVERSATION_REOPENED])


async def do_hand_to_bot(
    rt: Runtime, conversation_id: int, *, agent_id: int | None
) -> Conversation:
    """Give the conversation back to the bot; it answers the customer's next message."""

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if conv.status == ConversationStatus.RESOLVED:
            raise ConflictError("a resolved conversation cannot go to the bot", code="resolved")
        if conv.status == ConversationStatus.BOT:
            return None
        conv.status = ConversationStatus.BOT
        conv.assignee_id = None
        conv.escalation_reason = None
        conv.waiting_since = None
        # No session token: the bot's next turn starts a new session, so the bot does not
        # resume a half-filled form or a fallback count from before the people stepped in.
        conv.bot_state = {}
        return activity_line(conv, "handed_to_bot", "Handed back to the bot", agent_id=agent_id)

    return await _change(rt, conversation_id, change, [])


async def do_start_bot_session(rt: Runtime, conversation_id: int) -> str:
    """The conversation's bot session token, made and stored first if it has none.

    The bot keys its memory on the token, so a conversation gets a fresh one when it is new and
    after every hand-back (``do_hand_to_bot`` clears ``bot_state``). Set under the row lock, so
    two callers agree on one token.
    """

    async def work(session: AsyncSession) -> str:
        conv = await _conversation(session, conversation_id)
        state = dict(conv.bot_state or {})
        token = state.get(BOT_SESSION)
        if not isinstance(token, str) or not token:
            token = secrets.token_hex(8)
            conv.bot_state = {**state, BOT_SESSION: token}
        return token

    return await in_transaction(rt.sessions, work)


async def do_set_bot_state(rt: Runtime, conversation_id: int, state: dict[str, Any]) -> None:
    """Remember routing facts (e.g. consecutive fallbacks) on the conversation."""

    async def work(session: AsyncSession) -> None:
        conv = await _conversation(session, conversation_id)
        conv.bot_state = dict(state)

    await in_transaction(rt.sessions, work)


async def do_set_labels(
    rt: Runtime, conversation_id: int, labels: Sequence[str], *, agent_id: int | None
) -> Conversation:
    """Replace the conversation's labels."""
    clean = sorted({label.strip().lower()[:40] for label in labels if label.strip()})

    async def change(session: AsyncSession, conv: Conversation) -> Message | None:
        if sorted(conv.labels or []) == clean:
            return None
        conv.labels = clean
        return activity_line(
            conv,
            "labelled",
            "Labels: " + (", ".join(clean) or "none"),
            agent_id=agent_id,
            labels=clean,
        )

    return await _change(rt, conversation_id, change, [])


# --- sentiment and delivery --------------------------------------------------------------------


async def do_record_sentiment(rt: Runtime, message_id: int, sentiment: Sentiment) -> Message:
    """Store a message's sentiment score and push it to agents."""
    out: list[Event] = []

    async def work(session: AsyncSession) -> Message:
        message = await session.get(Message, message_id)
        if message is None:
            raise NotFound(f"message {message_id} does not exist")
        message.sentiment_label = str(sentiment.label)
        message.sentiment_anger = round(sentiment.anger, 4)
        message.sentiment_scores = {k: round(v, 4) for k, v in sentiment.probabilities.items()}
        meta = dict(message.meta or {})
        meta["sentiment_model"] = sentiment.model
        meta["angry"] = sentiment.angry
        message.meta = meta
        if message.conversation_id is not None:
            conv = await session.get(Conversation, message.conversation_id)
            if conv is not None:
                conv.sentiment = str(sentiment.label)
        await session.flush()
        out.append(Event(ev.MESSAGE_UPDATED, message_dict(message)))
        return message

    message = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return message


async def do_mark_delivery(
    rt: Runtime,
    message_id: int,
    status: DeliveryStatus,
    *,
    external_id: str | None = None,
    error: str | None = None,
) -> Message:
    """Record how a delivery went."""
    out: list[Event] = []

    async def work(session: AsyncSession) -> Message:
        message = await session.get(Message, message_id)
        if message is None:
            raise NotFound(f"message {message_id} does not exist")
        message.delivery_status = status
        message.delivery_attempts = (message.delivery_attempts or 0) + (
            1 if status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) else 0
        )
        erased = bool((message.meta or {}).get("erased"))
        if external_id:
            # Sent while its customer was being erased: only the pseudonym of the id is kept.
            message.channel_message_id = (
                pseudonym(
                    rt.settings.secret_key.get_secret_value(),
                    MESSAGE,
                    message.channel or "",
                    external_id,
                )
                if erased
                else external_id
            )
            message.sent_at = utcnow()
        message.delivery_error = None if erased else error
        message.deliver_after = None
        await session.flush()
        out.append(Event(ev.MESSAGE_UPDATED, message_dict(message)))
        return message

    message = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return message


async def do_defer_delivery(rt: Runtime, message_id: int, until: datetime, reason: str) -> bool:
    """Hold a queued reply until ``until``, showing why; False if it already left the queue."""
    out: list[Event] = []

    async def work(session: AsyncSession) -> bool:
        message = await session.get(Message, message_id, with_for_update=True)
        if message is None or message.delivery_status != DeliveryStatus.QUEUED:
            return False
        message.deliver_after = until
        message.delivery_error = reason
        await session.flush()
        out.append(Event(ev.MESSAGE_UPDATED, message_dict(message)))
        return True

    deferred = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return deferred


async def do_mark_identity_blocked(
    rt: Runtime, channel: str, external_id: str, blocked: bool = True
) -> None:
    """Flag that a customer blocked us on a channel (agents see it; replies there stop)."""

    async def work(session: AsyncSession) -> None:
        await session.execute(
            update(Identity)
            .where(Identity.channel == channel, Identity.external_id == external_id)
            .values(blocked=blocked)
        )

    await in_transaction(rt.sessions, work)


AlertGuard = Callable[[AsyncSession, Conversation], Awaitable[bool]]


async def do_raise_alert(
    rt: Runtime,
    conversation_id: int,
    kind: str,
    detail: str,
    *,
    only_if: AlertGuard | None = None,
    **data: Any,
) -> Message | None:
    """Record a supervisor alert on the timeline and push it live to supervisors.

    Args:
        rt: the runtime.
        conversation_id: the conversation the alert is about.
        kind: ``anger``, ``slide``, ``handoff``, ``pipeline_error``, ``sla_breach``…
        detail: words for the timeline.
        only_if: checked under the conversation's row lock, in the alert's transaction; when
            it answers False nothing is stored or emitted. Lets an alert be raised once per
            episode however many processes try at the same moment.
        **data: extra facts kept in the alert line's ``meta`` and sent with the event.

    Returns:
        The alert's activity line, or None when ``only_if`` declined.
    """

    out: list[Event] = []

    async def work(session: AsyncSession) -> Message | None:
        out.clear()
        conv = await _conversation(session, conversation_id)
        if only_if is not None and not await only_if(session, conv):
            return None
        customer = await session.get(Customer, conv.customer_id)
        if customer is not None and customer.erased_at is not None:
            return None  # a step that read the message before it was erased: keep nothing
        activity = activity_line(conv, "alert", detail, alert=kind, **data)
        session.add(activity)
        await session.flush()
        payload = {
            "kind": kind,
            "detail": detail,
            "conversation": conversation_dict(conv),
            "activity": message_dict(activity),
            **data,
        }
        out.append(Event(ev.MESSAGE_CREATED, message_dict(activity)))
        out.append(Event(ev.ALERT_RAISED, payload, audience=Role.SUPERVISOR))
        return activity

    activity = await in_transaction(rt.sessions, work, events=out)
    if activity is None:
        return None
    await emit(rt, out)
    return activity


# --- customers ---------------------------------------------------------------------------------


async def do_merge_customers(
    rt: Runtime, source_id: int, target_id: int, *, agent_id: int | None
) -> Customer:
    """Merge ``source`` into ``target``: identities, conversations and messages move over.

    Args:
        rt: the runtime.
        source_id: the customer that disappears (kept as a pointer to the target).
        target_id: the customer that stays.
        agent_id: who merged.

    Returns:
        The surviving customer.
    """
    if source_id == target_id:
        raise Invalid("a customer cannot be merged into itself")
    out: list[Event] = []

    async def work(session: AsyncSession) -> Customer:
        out.clear()
        source = await session.get(Customer, source_id, with_for_update=True)
        target = await session.get(Customer, target_id, with_for_update=True)
        if source is None or target is None:
            raise NotFound("both customers must exist")
        if source.merged_into_id is not None or target.merged_into_id is not None:
            raise ConflictError("one of the customers was already merged", code="already_merged")
        if source.erased_at is not None or target.erased_at is not None:
            raise ConflictError("one of the customers' data was erased", code="erased")
        identity_ids = list(
            (await session.execute(select(Identity.id).where(Identity.customer_id == source_id)))
            .scalars()
            .all()
        )
        conversation_ids = list(
            (
                await session.execute(
                    select(Conversation.id).where(Conversation.customer_id == source_id)
                )
            )
            .scalars()
            .all()
        )
        source_active = await active_conversation(session, source_id)
        target_active = await active_conversation(session, target_id)
        folded: int | None = None
        pointer: Message | None = None
        if source_active is not None and target_active is not None:
            # Keep one active conversation: the source's live messages join the target's.
            await session.execute(
                update(Message)
                .where(Message.conversation_id == source_active.id)
                .values(conversation_id=target_active.id)
            )
            source_active.status = ConversationStatus.RESOLVED
            source_active.resolved_at = utcnow()
            target_active.priority = raise_priority(target_active.priority, source_active.priority)
            if source_active.waiting_since and (
                target_active.waiting_since is None
                or source_active.waiting_since < target_active.waiting_since
            ):
                target_active.waiting_since = source_active.waiting_since
            source_active.waiting_since = None
            folded = source_active.id
            await session.flush()
        await session.execute(
            update(Identity).where(Identity.customer_id == source_id).values(customer_id=target_id)
        )
        await session.execute(
            update(Conversation)
            .where(Conversation.customer_id == source_id)
            .values(customer_id=target_id)
        )
        await session.execute(
            update(Message).where(Message.customer_id == source_id).values(customer_id=target_id)
        )
        await session.execute(
            update(Order).where(Order.customer_id == source_id).values(customer_id=target_id)
        )
        source.merged_into_id = target_id
        target.display_name = target.display_name or source.display_name
        target.email = target.email or source.email
        target.phone = target.phone or source.phone
        target.language = target.language or source.language
        target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
        if source_active is not None and target_active is not None:
            # The folded conversation is closed by the merge, not by anyone answering it: its
            # timeline says where it went, and metrics leave it out of resolutions.
            pointer = activity_line(
                source_active,
                "merged_into",
                f"Merged into conversation #{target_active.id}",
                agent_id=agent_id,
                target_conversation_id=target_active.id,
                source_customer_id=source_id,
                target_customer_id=target_id,
            )
            pointer.customer_id = target_id
            session.add(pointer)
        anchor = target_active or source_active
        activity = Message(
            customer_id=target_id,
            conversation_id=anchor.id if anchor else None,
            kind=MessageKind.ACTIVITY,
            author=Author.AGENT if agent_id else Author.SYSTEM,
            agent_id=agent_id,
            text=f"Merged customer #{source_id} into #{target_id}",
            meta={
                "action": "merged",
                "source_id": source_id,
                "target_id": target_id,
                "identity_ids": identity_ids,
                "conversation_ids": conversation_ids,
                "folded_conversation_id": folded,
            },
        )
        session.add(activity)
        await session.flush()
        if pointer is not None and source_active is not None:
            out.append(Event(ev.MESSAGE_CREATED, message_dict(pointer)))
            out.append(Event(ev.CONVERSATION_UPDATED, conversation_dict(source_active)))
        out.append(Event(ev.MESSAGE_CREATED, message_dict(activity)))
        out.append(
            Event(
                ev.CUSTOMER_MERGED,
                {"source_id": source_id, "target_id": target_id, "customer": customer_dict(target)},
            )
        )
        return target

    target = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return target


CUSTOMER_FIELDS = ("display_name", "language", "email", "phone")


async def do_update_customer(
    rt: Runtime,
    customer_id: int,
    changes: Mapping[str, Any],
    *,
    agent_id: int | None = None,
) -> Customer:
    """Edit a customer's profile; writes an activity line and emits ``customer.updated``.

    Args:
        rt: the runtime.
        customer_id: the customer (a merged-away id edits the customer it was merged into).
        changes: any of ``display_name``, ``language``, ``email``, ``phone`` (None clears
            email and phone) and ``attributes``, merged key by key (a None value removes a key).
        agent_id: who edited.

    Returns:
        The customer as it is now; nothing is written or emitted when nothing changed.
    """
    unknown = set(changes) - {*CUSTOMER_FIELDS, "attributes"}
    if unknown:
        raise Invalid(f"unknown customer fields: {', '.join(sorted(unknown))}")
    for name in ("display_name", "language"):
        if name in changes and not (changes[name] or "").strip():
            raise Invalid(f"{name} cannot be empty", code="validation_error")
    out: list[Event] = []

    async def work(session: AsyncSession) -> Customer:
        out.clear()
        customer = await surviving_customer(session, customer_id)
        await refuse_erased(session, customer.id)
        changed: list[str] = []
        for name in CUSTOMER_FIELDS:
            if name in changes and getattr(customer, name) != changes[name]:
                setattr(customer, name, changes[name])
                changed.append(name)
        if "attributes" in changes:
            before = dict(customer.attributes or {})
            after = {**before, **changes["attributes"]}
            after = {k: v for k, v in after.items() if v is not None}
            if after != before:
                customer.attributes = after
                changed.extend(
                    f"attributes.{k}"
                    for k in sorted(set(before) | set(after))
                    if before.get(k) != after.get(k)
                )
        if not changed:
            return customer
        conv = await active_conversation(session, customer.id)
        line = Message(
            customer_id=customer.id,
            conversation_id=conv.id if conv else None,
            kind=MessageKind.ACTIVITY,
            author=Author.AGENT if agent_id else Author.SYSTEM,
            agent_id=agent_id,
            text="Customer details changed: " + ", ".join(changed),
            meta={"action": "customer_updated", "fields": changed},
        )
        session.add(line)
        await session.flush()
        out.append(Event(ev.MESSAGE_CREATED, message_dict(line)))
        out.append(
            Event(
                ev.CUSTOMER_UPDATED,
                {"customer": customer_dict(customer), "fields": changed, "agent_id": agent_id},
            )
        )
        return customer

    customer = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return customer


async def do_touch_agent(rt: Runtime, agent_id: int, when: datetime | None = None) -> None:
    """Remember when an agent was last active."""

    async def work(session: AsyncSession) -> None:
        await session.execute(
            update(Agent).where(Agent.id == agent_id).values(last_seen_at=when or utcnow())
        )

    await in_transaction(rt.sessions, work)
