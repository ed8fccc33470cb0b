"""Search customers and message text, Arabic-aware (alef/ya/ta marbuta and diacritics fold)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints
from sqlalchemy import func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.inbox_tables import SEARCH_DOCUMENT_SQL
from core.models import Conversation, Customer, Identity, Message
from core.serialize import customer_dict
from core.text import normalize_for_search
from core.types import MessageKind
from inbox.api import api
from inbox.keys import RUNTIME, SETTINGS
from inbox.schemas import Strict

# The SQLite fallback folds text in Python over the newest messages only.
SQLITE_SCAN = 20_000
# Above this many estimated hits, walking the newest messages finds a page sooner than the index.
DENSE_HITS = 20_000
_FOLD_FROM = "أإآٱىةؤئ"
_FOLD_TO = "اااايهوي"
_DIACRITICS = "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"


class SearchQuery(Strict):
    """What to look for."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    limit: int = Field(default=20, ge=1, le=50)


def pg_fold(column: Any) -> ColumnElement[str]:
    """The SQL twin of `normalize_for_search` for PostgreSQL (letters, diacritics, case)."""
    stripped = func.regexp_replace(column, _DIACRITICS, "", "g")
    return func.lower(func.translate(stripped, _FOLD_FROM, _FOLD_TO))


def snippet(text: str, needle: str, width: int = 120) -> str:
    """The part of ``text`` around the first folded match of ``needle``."""
    at = normalize_for_search(text).find(needle)
    start = max(0, at - width // 3) if at >= 0 else 0
    return ("…" if start else "") + text[start : start + width]


async def _estimated_hits(session: AsyncSession, needle: str) -> float:
    """The planner's guess of how many messages contain the words (EXPLAIN, no execution)."""
    explained = (
        await session.execute(
            text(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE "
                f"{SEARCH_DOCUMENT_SQL} @@ plainto_tsquery('simple'::regconfig, :q)"
            ),
            {"q": needle},
        )
    ).scalar_one()
    plan = json.loads(explained) if isinstance(explained, str) else explained
    return float(plan[0]["Plan"]["Plan Rows"])


async def _pg_messages(session: AsyncSession, needle: str, limit: int) -> list[Any]:
    """PostgreSQL full-text over folded message text (the 'simple' config keeps Arabic words)."""
    # The indexed expression, verbatim, so the planner can use ix_messages_search_document.
    document: ColumnElement[Any] = literal_column(SEARCH_DOCUMENT_SQL)
    query = func.plainto_tsquery(literal_column("'simple'::regconfig"), needle)
    # Newest first: a common word is found at once walking ids backwards, but a rare one
    # would mean scoring the whole table that way (10 s at 1M messages, see bench/), so rare
    # words go through the GIN index and sort their few hits ("id + 0" hides the id order).
    dense = await _estimated_hits(session, needle) > DENSE_HITS
    newest = Message.id.desc() if dense else (Message.id + 0).desc()
    return list(
        (
            await session.execute(
                select(Message, Customer.display_name)
                .join(Customer, Customer.id == Message.customer_id)
                .where(
                    Message.kind.in_((MessageKind.INCOMING, MessageKind.OUTGOING)),
                    document.op("@@")(query),
                )
                .order_by(newest)
                .limit(limit)
            )
        ).all()
    )


async def _sqlite_messages(session: AsyncSession, needle: str, limit: int) -> list[Any]:
    """The simple fallback: fold the newest messages in Python and keep those that contain it."""
    rows = (
        await session.execute(
            select(Message, Customer.display_name)
            .join(Customer, Customer.id == Message.customer_id)
            .where(Message.kind.in_((MessageKind.INCOMING, MessageKind.OUTGOING)))
            .order_by(Message.id.desc())
            .limit(SQLITE_SCAN)
        )
    ).all()
    return [row for row in rows if needle in normalize_for_search(row[0].text)][:limit]


async def _customers(session: AsyncSession, needle: str, limit: int, pg: bool) -> list[Customer]:
    """Customers whose name, email, phone or channel id contains the folded query."""
    if pg:
        # autoescape: a % or _ in the query is a character to find, not a wildcard.
        def has(column: ColumnElement[str]) -> ColumnElement[bool]:
            return column.contains(needle, autoescape=True)

        stmt = (
            select(Customer)
            .where(
                Customer.merged_into_id.is_(None),
                or_(
                    has(pg_fold(func.coalesce(Customer.display_name, ""))),
                    has(func.lower(func.coalesce(Customer.email, ""))),
                    has(func.coalesce(Customer.phone, "")),
                    Customer.id.in_(
                        select(Identity.customer_id).where(
                            has(pg_fold(func.coalesce(Identity.display_name, "")))
                            | has(func.lower(Identity.external_id))
                        )
                    ),
                ),
            )
            .order_by(Customer.last_seen_at.desc())
            .limit(limit)
        )
        return list((await session.execute(stmt)).scalars().all())
    rows = (
        (
            await session.execute(
                select(Customer)
                .where(Customer.merged_into_id.is_(None))
                .order_by(Customer.last_seen_at.desc())
                .limit(SQLITE_SCAN)
            )
        )
        .scalars()
        .all()
    )
    found = []
    for c in rows:
        haystack = " ".join(filter(None, [c.display_name, c.email, c.phone]))
        if needle in normalize_for_search(haystack):
            found.append(c)
    return found[:limit]


@api.route("GET", "/search", tag="search")
async def search(request: web.Request, query: SearchQuery) -> web.Response:
    """Customers and messages matching the query, newest first."""
    needle = normalize_for_search(query.q)
    pg = not request.app[SETTINGS].is_sqlite
    async with request.app[RUNTIME].sessions() as session:
        customers = await _customers(session, needle, query.limit, pg)
        finder = _pg_messages if pg else _sqlite_messages
        messages = await finder(session, needle, query.limit)
        conv_status = dict(
            (
                await session.execute(
                    select(Conversation.id, Conversation.status).where(
                        Conversation.id.in_({m.conversation_id for m, _ in messages})
                    )
                )
            ).all()
        )
    return web.json_response(
        {
            "customers": [customer_dict(c) for c in customers],
            "messages": [
                {
                    "id": m.id,
                    "conversation_id": m.conversation_id,
                    "conversation_status": conv_status.get(m.conversation_id),
                    "customer_id": m.customer_id,
                    "customer_name": name,
                    "channel": m.channel,
                    "kind": m.kind,
                    "snippet": snippet(m.text, needle),
                    "created_at": m.created_at.isoformat(),
                }
                for m, name in messages
            ],
        }
    )
