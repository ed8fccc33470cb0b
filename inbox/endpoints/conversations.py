"""Conversations: the list, one conversation, and every move an agent makes on it."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import and_, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.sql.elements import ColumnElement

from core import actions
from core.errors import Forbidden, Invalid, NotFound
from core.files import FileMissing
from core.models import Conversation, Customer, Message, Team, TeamMember
from core.reads import do_mark_read, unread_counts
from core.serialize import conversation_dict, customer_dict, message_dict
from core.types import ConversationStatus, Role
from inbox.api import api, current_agent
from inbox.keys import FILES, RUNTIME, SETTINGS
from inbox.schemas import (
    AssignBody,
    ConversationQuery,
    EscalateBody,
    LabelsBody,
    MessagePageQuery,
    NoteBody,
    ReadBody,
    ReplyBody,
    TeamAssignBody,
)

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def encode_cursor(when: datetime, row_id: int) -> str:
    """An opaque keyset cursor."""
    return base64.urlsafe_b64encode(f"{when.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Read a cursor made by `encode_cursor`."""
    try:
        when, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(when), int(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this API gave out", code="bad_cursor") from exc


def has_label(label: str, sqlite: bool) -> ColumnElement[bool]:
    """Whether the conversation's labels (a JSON array) hold exactly this label."""
    if sqlite:
        # SQLite keeps JSON text with \uXXXX escapes for non-ASCII, so a LIKE on the raw text
        # never finds an Arabic label; json_each compares the decoded values.
        each = func.json_each(Conversation.labels).table_valued("value")
        return select(literal(1)).select_from(each).where(each.c.value == label).exists()
    # jsonb `?`: is the string a top-level element of the array.
    found: ColumnElement[bool] = type_coerce(Conversation.labels, JSONB).has_key(label)
    return found


def conversation_id(request: web.Request) -> int:
    """The conversation id in the path."""
    try:
        return int(request.match_info["conversation_id"])
    except ValueError as exc:
        raise NotFound("no such conversation") from exc


@api.route("GET", "/conversations", tag="conversations")
async def list_conversations(request: web.Request, query: ConversationQuery) -> web.Response:
    """Conversations, newest activity first or longest waiting first, keyset-paged."""
    agent = current_agent(request)
    filters: list[ColumnElement[bool]] = []
    if query.status:
        filters.append(Conversation.status == query.status)
    if query.assignee == "me":
        filters.append(Conversation.assignee_id == agent.id)
    elif query.assignee == "none":
        filters.append(Conversation.assignee_id.is_(None))
    elif query.assignee:
        if not query.assignee.isdigit():
            raise Invalid("assignee is 'me', 'none' or an agent id", code="validation_error")
        filters.append(Conversation.assignee_id == int(query.assignee))
    if query.channel:
        filters.append(Conversation.last_channel == query.channel)
    if query.language:
        filters.append(Conversation.language == query.language)
    if query.sentiment:
        filters.append(Conversation.sentiment == query.sentiment)
    if query.label:
        sqlite = request.app[SETTINGS].is_sqlite
        filters.append(has_label(query.label.strip().lower(), sqlite))
    if query.team == "mine":
        filters.append(
            Conversation.team_id.in_(
                select(TeamMember.team_id).where(TeamMember.agent_id == agent.id)
            )
        )
    elif query.team == "none":
        filters.append(Conversation.team_id.is_(None))
    elif query.team:
        if not query.team.isdigit():
            raise Invalid("team is 'mine', 'none' or a team id", code="validation_error")
        filters.append(Conversation.team_id == int(query.team))
    if query.active:
        filters.append(Conversation.status != ConversationStatus.RESOLVED)

    if query.sort == "waiting":
        key = func.coalesce(Conversation.waiting_since, FAR_FUTURE)
        order: list[Any] = [key.asc(), Conversation.id.asc()]
        if query.cursor:
            when, last_id = decode_cursor(query.cursor)
            filters.append(or_(key > when, and_(key == when, Conversation.id > last_id)))
    else:
        order = [Conversation.last_message_at.desc(), Conversation.id.desc()]
        if query.cursor:
            when, last_id = decode_cursor(query.cursor)
            filters.append(
                or_(
                    Conversation.last_message_at < when,
                    and_(Conversation.last_message_at == when, Conversation.id < last_id),
                )
            )
    stmt = (
        select(Conversation, Customer.display_name, Customer.language)
        .join(Customer, Customer.id == Conversation.customer_id)
        # The team's name comes in the same round trip (teams are few; the join is a hash).
        .outerjoin(Team, Team.id == Conversation.team_id)
        .options(contains_eager(Conversation.team))
        .where(*filters)
        .order_by(*order)
        .limit(query.limit + 1)
    )
    async with request.app[RUNTIME].sessions() as session:
        rows = (await session.execute(stmt)).all()
        # One grouped query for the page, not one per row.
        unread = await unread_counts(session, agent.id, [row[0].id for row in rows[: query.limit]])
    items: list[dict[str, Any]] = []
    for conv, name, language in rows[: query.limit]:
        item = conversation_dict(conv)
        item["customer"] = {"id": conv.customer_id, "display_name": name, "language": language}
        item["unread"] = unread.get(conv.id, 0)
        items.append(item)
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1][0]
        key_value = (
            (last.waiting_since or FAR_FUTURE) if query.sort == "waiting" else last.last_message_at
        )
        next_cursor = encode_cursor(key_value, last.id)
    return web.json_response({"items": items, "next_cursor": next_cursor})


async def _timeline_page(
    session: AsyncSession, cid: int, query: MessagePageQuery
) -> tuple[list[Message], bool]:
    """Up to ``limit`` entries before ``before`` (oldest first), and whether earlier ones exist."""
    stmt = select(Message).where(Message.conversation_id == cid)
    if query.before is not None:
        stmt = stmt.where(Message.id < query.before)
    # Newest first on ix_messages_conversation_timeline; one extra row says if there is more.
    rows = (
        (await session.execute(stmt.order_by(Message.id.desc()).limit(query.limit + 1)))
        .scalars()
        .all()
    )
    return list(reversed(rows[: query.limit])), len(rows) > query.limit


@api.route("GET", "/conversations/{conversation_id}", tag="conversations")
async def get_conversation(request: web.Request, query: MessagePageQuery) -> web.Response:
    """One conversation with its customer and its newest timeline entries (``has_earlier``)."""
    cid = conversation_id(request)
    async with request.app[RUNTIME].sessions() as session:
        conv = await session.get(Conversation, cid)
        if conv is None:
            raise NotFound(f"conversation {cid} does not exist")
        customer = await session.get(Customer, conv.customer_id)
        messages, earlier = await _timeline_page(session, cid, query)
    assert customer is not None
    return web.json_response(
        {
            "conversation": conversation_dict(conv),
            "customer": customer_dict(customer),
            "messages": [message_dict(m) for m in messages],
            "has_earlier": earlier,
        }
    )


@api.route("GET", "/conversations/{conversation_id}/messages", tag="conversations")
async def conversation_messages(request: web.Request, query: MessagePageQuery) -> web.Response:
    """Timeline entries before a message id, oldest first, and whether earlier ones exist."""
    cid = conversation_id(request)
    async with request.app[RUNTIME].sessions() as session:
        if await session.get(Conversation, cid) is None:
            raise NotFound(f"conversation {cid} does not exist")
        messages, earlier = await _timeline_page(session, cid, query)
    return web.json_response({"items": [message_dict(m) for m in messages], "has_earlier": earlier})


@api.route("POST", "/conversations/{conversation_id}/reply", tag="conversations", status=201)
async def reply(request: web.Request, body: ReplyBody) -> web.Response:
    """Reply on the customer's latest channel, or the one chosen, with uploaded files."""
    agent = current_agent(request)
    store = request.app[FILES]
    try:
        files = [(await store.get(file_id)).attachment() for file_id in body.attachments]
    except FileMissing as exc:
        raise Invalid(f"{exc.message}: upload it again", code="unknown_upload") from exc
    message = await actions.do_reply(
        request.app[RUNTIME],
        conversation_id(request),
        body.text,
        agent_id=agent.id,
        channel=body.channel,
        attachments=files,
    )
    return web.json_response(message_dict(message), status=201)


@api.route("POST", "/conversations/{conversation_id}/notes", tag="conversations", status=201)
async def note(request: web.Request, body: NoteBody) -> web.Response:
    """Add a private note."""
    agent = current_agent(request)
    message = await actions.do_note(
        request.app[RUNTIME], conversation_id(request), agent.id, body.text
    )
    return web.json_response(message_dict(message), status=201)


async def _apply(
    request: web.Request,
    action: Callable[..., Awaitable[Conversation]],
    *args: Any,
    **kwargs: Any,
) -> web.Response:
    """Run a conversation ``do_*`` action as the calling agent and answer the conversation."""
    agent = current_agent(request)
    conv = await action(
        request.app[RUNTIME], conversation_id(request), *args, agent_id=agent.id, **kwargs
    )
    return web.json_response(conversation_dict(conv))


@api.route("POST", "/conversations/{conversation_id}/assign", tag="conversations")
async def assign(request: web.Request, body: AssignBody) -> web.Response:
    """Assign to an agent or return to the queue; agents only take free ones and drop their own."""
    agent = current_agent(request)
    supervisor = Role(agent.role).allows(Role.SUPERVISOR)
    if body.agent_id not in (None, agent.id) and not supervisor:
        raise Forbidden(
            "agents can only assign conversations to themselves; "
            "assigning a colleague needs a supervisor or admin"
        )
    conv = await actions.do_assign(
        request.app[RUNTIME],
        conversation_id(request),
        body.agent_id,
        agent_id=agent.id,
        colleagues=supervisor,
    )
    return web.json_response(conversation_dict(conv))


@api.route("POST", "/conversations/{conversation_id}/team", tag="conversations")
async def assign_team(request: web.Request, body: TeamAssignBody) -> web.Response:
    """Route to a team (any agent), or to no team; the assignee and status stay."""
    return await _apply(request, actions.do_assign_team, body.team_id)


@api.route("POST", "/conversations/{conversation_id}/read", tag="conversations")
async def mark_read(request: web.Request, body: ReadBody) -> web.Response:
    """Mark the conversation read up to a message (default: all) for the calling agent."""
    agent = current_agent(request)
    cid = conversation_id(request)
    marker = await do_mark_read(request.app[RUNTIME], agent.id, cid, body.message_id)
    async with request.app[RUNTIME].sessions() as session:
        unread = (await unread_counts(session, agent.id, [cid])).get(cid, 0)
    return web.json_response(
        {"conversation_id": cid, "last_read_message_id": marker, "unread": unread}
    )


@api.route("POST", "/conversations/{conversation_id}/escalate", tag="conversations")
async def escalate(request: web.Request, body: EscalateBody) -> web.Response:
    """Put the conversation in the human queue with a reason."""
    return await _apply(request, actions.do_escalate, body.reason, priority=body.priority)


@api.route("POST", "/conversations/{conversation_id}/resolve", tag="conversations")
async def resolve(request: web.Request) -> web.Response:
    """Resolve; the customer's next message starts with the bot."""
    return await _apply(request, actions.do_resolve)


@api.route("POST", "/conversations/{conversation_id}/reopen", tag="conversations")
async def reopen(request: web.Request) -> web.Response:
    """Reopen a resolved conversation and own it."""
    return await _apply(request, actions.do_reopen)


@api.route("POST", "/conversations/{conversation_id}/hand-to-bot", tag="conversations")
async def hand_to_bot(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    return await _apply(request, actions.do_hand_to_bot)


@api.route("PUT", "/conversations/{conversation_id}/labels", tag="conversations")
async def labels(request: web.Request, body: LabelsBody) -> web.Response:
    """Replace the labels."""
    return await _apply(request, actions.do_set_labels, body.labels)
