"""Search customers and message text, Arabic-aware (alef/ya/ta marbuta and diacritics fold)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints
from sqlalchemy import Select, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.inbox_tables import SEARCH_DOCUMENT_SQL
from core.models import Conversation, Customer, Identity, Message
from core.serialize import customer_dict
from core.text import first_match_at, normalize_for_search, search_groups
from core.types import MessageKind
from inbox.api import api
from inbox.keys import RUNTIME, SETTINGS
from inbox.schemas import Strict

# How many of the newest messages a search walks before it asks the GIN index (PostgreSQL).
RECENT_WINDOW = 2_000
# Planner settings turned off (0) for the index-only second phase of a message search.
PHASE_TWO = ("enable_seqscan", "enable_indexscan", "max_parallel_workers_per_gather")
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


def fold(column: Any, pg: bool) -> ColumnElement[str]:
    """The column folded like `normalize_for_search`, in SQL, on either database."""
    return pg_fold(column) if pg else func.tawasul_fold(column)


def snippet(text: str, groups: list[list[str]], width: int = 120) -> str:
    """The part of ``text`` around the first match of the query."""
    at = first_match_at(text, groups)
    start = max(0, at - width // 3) if at >= 0 else 0
    return ("…" if start else "") + text[start : start + width]


def tsquery_text(groups: list[list[str]]) -> str:
    """`to_tsquery` input: every group must match, any of its beginnings as a prefix."""

    def prefix(start: str) -> str:
        quoted = start.replace("\\", "\\\\").replace("'", "''")
        return f"'{quoted}':*"

    return " & ".join("(" + " | ".join(prefix(s) for s in group) + ")" for group in groups)


async def _pg_messages(session: AsyncSession, groups: list[list[str]], limit: int) -> list[Any]:
    """PostgreSQL full-text over folded message text (the 'simple' config keeps Arabic words)."""
    # The indexed expression, verbatim, so the planner can use ix_messages_search_document;
    # prefix terms (:*) are answered by the same GIN index.
    document: ColumnElement[Any] = literal_column(SEARCH_DOCUMENT_SQL)
    query = func.to_tsquery(literal_column("'simple'::regconfig"), tsquery_text(groups))

    def page(*where: ColumnElement[bool]) -> Select[Message, str | None]:
        return (
            select(Message, Customer.display_name)
            .join(Customer, Customer.id == Message.customer_id)
            .where(
                Message.kind.in_((MessageKind.INCOMING, MessageKind.OUTGOING)),
                document.op("@@")(query),
                *where,
            )
            .order_by(Message.id.desc())
        )

    # A common word fills the page from the newest messages at once, walking ids backwards;
    # a rare one would make that walk read the whole table (20 s at 1M messages, see
    # bench/search_bench.py), and the planner cannot tell them apart for prefix queries (it
    # guesses a fixed share per prefix). So: walk only the newest RECENT_WINDOW messages…
    newest = await session.scalar(select(func.max(Message.id)))
    if newest is None:
        return []
    floor = newest - RECENT_WINDOW
    found = list((await session.execute(page(Message.id > floor).limit(limit))).all())
    if len(found) == limit:
        return found
    # …and when the word is sparse there, its older hits come from the GIN index. Plain index
    # and sequential scans are off for this one query, so a wrong row estimate cannot turn it
    # into a scan of every message; so are parallel workers, whose start-up (40–250 ms
    # measured) costs more than the few rows it reads.
    for setting in PHASE_TWO:
        await session.execute(text(f"SET LOCAL {setting} = 0"))
    try:
        older = (await session.execute(page(Message.id <= floor).limit(limit - len(found)))).all()
    finally:
        for setting in PHASE_TWO:
            await session.execute(text(f"SET LOCAL {setting} TO DEFAULT"))
    return found + list(older)


async def _sqlite_messages(session: AsyncSession, groups: list[list[str]], limit: int) -> list[Any]:
    """SQLite: the same matching in Python (`tawasul_match`), every message, newest first."""
    # No index and no cap: a rare word reads the whole table, in SQLite's thread (off the
    # event loop); PostgreSQL is the choice for large inboxes.
    return list(
        (
            await session.execute(
                select(Message, Customer.display_name)
                .join(Customer, Customer.id == Message.customer_id)
                .where(
                    Message.kind.in_((MessageKind.INCOMING, MessageKind.OUTGOING)),
                    func.tawasul_match(Message.text, json.dumps(groups)) == 1,
                )
                .order_by(Message.id.desc())
                .limit(limit)
            )
        ).all()
    )


async def _customers(session: AsyncSession, needle: str, limit: int, pg: bool) -> list[Customer]:
    """Customers whose name, email, phone or channel id contains the folded query."""

    # autoescape: a % or _ in the query is a character to find, not a wildcard.
    def has(column: ColumnElement[str]) -> ColumnElement[bool]:
        return column.contains(needle, autoescape=True)

    stmt = (
        select(Customer)
        .where(
            Customer.merged_into_id.is_(None),
            or_(
                has(fold(func.coalesce(Customer.display_name, ""), pg)),
                has(func.lower(func.coalesce(Customer.email, ""))),
                has(func.coalesce(Customer.phone, "")),
                Customer.id.in_(
                    select(Identity.customer_id).where(
                        has(fold(func.coalesce(Identity.display_name, ""), pg))
                        | has(func.lower(Identity.external_id))
                    )
                ),
            ),
        )
        .order_by(Customer.last_seen_at.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


@api.route("GET", "/search", tag="search")
async def search(request: web.Request, query: SearchQuery) -> web.Response:
    """Customers containing the query; messages with every query word as a word prefix."""
    needle = normalize_for_search(query.q)
    groups = search_groups(query.q)
    pg = not request.app[SETTINGS].is_sqlite
    async with request.app[RUNTIME].sessions() as session:
        customers = await _customers(session, needle, query.limit, pg)
        finder = _pg_messages if pg else _sqlite_messages
        messages = await finder(session, groups, query.limit) if groups else []
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
                    "snippet": snippet(m.text, groups),
                    "created_at": m.created_at.isoformat(),
                }
                for m, name in messages
            ],
        }
    )
