"""Supervisor metrics over a period, computed from the stored conversations and messages."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import StringConstraints
from sqlalchemy import (
    Date,
    Float,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from core.errors import Invalid
from core.inbox_tables import CsatRating
from core.models import MERGED_INTO_LINE, Agent, Conversation, Message
from core.types import ConversationStatus, MessageKind, Role
from inbox.api import api
from inbox.keys import RUNTIME
from inbox.schemas import Strict

Dimension = Literal["channel", "agent", "language"]
SENTIMENTS = ("angry", "negative", "neutral", "positive")
# The longest period one request may cover (a leap year); longer asks are refused with 422.
MAX_PERIOD_DAYS = 366


class MetricsQuery(Strict):
    """The period (inclusive dates, UTC) and the slice to look at."""

    start: date | None = None
    end: date | None = None
    channel: Annotated[str, StringConstraints(max_length=32)] | None = None
    agent_id: int | None = None
    language: Annotated[str, StringConstraints(max_length=16)] | None = None
    group_by: Dimension = "channel"


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0–1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def period(query: MetricsQuery, today: date | None = None) -> tuple[date, date]:
    """The inclusive date range asked for (the last 14 days by default), at most a year."""
    end = query.end or today or datetime.now(UTC).date()
    start = query.start or end - timedelta(days=13)
    if start > end:
        start, end = end, start
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        # Metrics read the period's rows on every request; a decade would be a slow query
        # that nobody meant, so the caller is told rather than silently clipped.
        raise Invalid(
            f"the period is {days} days; metrics cover at most {MAX_PERIOD_DAYS} days at once",
            code="period_too_long",
        )
    return start, end


def utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """A timestamp column's UTC date, in SQL (a date on PostgreSQL, ``YYYY-MM-DD`` on SQLite)."""
    if dialect == "postgresql":
        # A cast, not to_char(): the trend groups up to 500,000 messages by day.
        return cast(func.timezone("UTC", column), Date)
    # SQLite keeps timestamps as UTC text ("YYYY-MM-DD HH:MM:SS…"); date() reads it.
    return func.date(column)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 where the condition holds, for SUM()."""
    return case((condition, 1), else_=0)


def _seconds(later: Any, earlier: Any) -> ColumnElement[float]:
    """``later − earlier`` in seconds as a double, exactly what ``timedelta.total_seconds()`` gives.

    PostgreSQL only: EXTRACT(EPOCH FROM interval) is an exact numeric (microseconds), and both it
    and Python round that decimal to the nearest double.
    """
    return cast(func.extract("epoch", later - earlier), Float)


def _figures(counts: Sequence[Any], quantiles: Sequence[Any], escalations: int) -> dict[str, Any]:
    """One slice's figures: its SQL counts, its four percentiles (seconds) and escalations."""
    n, resolved, contained, csat_count, csat_sum, happy = (int(v or 0) for v in counts)
    fr_median, fr_p90, res_median, res_p90 = quantiles
    return {
        "conversations": n,
        "resolved": resolved,
        "bot_contained": contained,
        "containment_rate": round(contained / resolved, 4) if resolved else None,
        "escalations": escalations,
        "first_response_median_s": fr_median,
        "first_response_p90_s": fr_p90,
        "resolution_median_s": res_median,
        "resolution_p90_s": res_p90,
        "csat_count": csat_count,
        "csat_average": round(csat_sum / csat_count, 2) if csat_count else None,
        "csat_satisfied_rate": round(happy / csat_count, 4) if csat_count else None,
    }


async def compute_metrics(session: AsyncSession, query: MetricsQuery) -> dict[str, Any]:
    """Every figure the console shows for conversations created in the period.

    Four statements, each grouped in SQL: the slices and the total (percentiles included on
    PostgreSQL), the escalations per slice and reason, the volume per day, and the customer
    messages per day and mood. SQLite has no ordered-set aggregates, so there the durations
    come back and the percentiles are taken in Python (the same nearest rank).
    """
    start, end = period(query)
    since = datetime.combine(start, time.min, UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    filters: list[ColumnElement[bool]] = [
        Conversation.created_at >= since,
        Conversation.created_at < until,
    ]
    if query.channel:
        filters.append(Conversation.last_channel == query.channel)
    if query.agent_id is not None:
        filters.append(Conversation.assignee_id == query.agent_id)
    if query.language:
        filters.append(Conversation.language == query.language)
    dialect = session.get_bind().dialect.name
    postgres = dialect == "postgresql"
    action = Message.meta["action"].as_string()
    # Inline, not bound parameters, so PostgreSQL can match the partial indexes' predicates.
    is_activity = Message.kind == literal_column(f"'{MessageKind.ACTIVITY}'")
    # The slice's name as the breakdown shows it ("—" for none; an agent by display name).
    key: ColumnElement[Any] = {
        "channel": func.coalesce(func.nullif(Conversation.last_channel, ""), "—"),
        "agent": func.coalesce(Agent.display_name, "—"),
        "language": func.coalesce(func.nullif(Conversation.language, ""), "—"),
    }[query.group_by]

    def scoped(statement: Select[Any]) -> Select[Any]:
        """The period's conversations (with their agent's name when grouped by agent)."""
        if query.group_by == "agent":
            statement = statement.outerjoin(Agent, Agent.id == Conversation.assignee_id)
        return statement.where(*filters)

    # One row per conversation and no grouping by conversation: what its activity lines
    # decide is asked of the lines per conversation (escalations are counted below).
    # Closed by a customer merge (folded into the other conversation) is not resolved; the
    # folded set is every merged_into line, read once from the small ix_messages_merged_into.
    closed = and_(
        Conversation.status == ConversationStatus.RESOLVED,
        Conversation.resolved_at.is_not(None),
    )
    folded = Conversation.id.in_(
        select(Message.conversation_id).where(text(MERGED_INTO_LINE[dialect]))
    )
    # The bot closed it alone: never escalated, no one assigned or took it, no merge folded
    # it, no data erasure closed it, and no agent ever replied (first_response_at is set by
    # the first agent reply and never cleared). Only such candidates look for a line, through
    # the activity index.
    any_line = (
        select(Message.id)
        .where(
            Message.conversation_id == Conversation.id,
            is_activity,
            action.in_(("escalated", "assigned", "taken_over", "merged_into", "erased")),
        )
        .exists()
    )
    candidate = and_(
        closed,
        Conversation.assignee_id.is_(None),
        Conversation.first_response_at.is_(None),
    )
    contained = case((candidate, case((any_line, 0), else_=1)), else_=0)
    # The durations: seconds on PostgreSQL, the timestamps themselves on SQLite.
    first: Any = Conversation.first_response_at
    resolution: Any = Conversation.resolved_at
    if postgres:
        first = _seconds(Conversation.first_response_at, Conversation.created_at)
        resolution = _seconds(Conversation.resolved_at, Conversation.created_at)
    per = scoped(
        select(
            key.label("key"),
            contained.label("contained"),
            CsatRating.score.label("score"),
            Conversation.created_at,
            first.label("first"),
            # Null unless resolved: the resolved count is this column's count.
            case((closed, case((folded, None), else_=resolution))).label("resolution"),
        )
        .select_from(Conversation)
        .outerjoin(CsatRating, CsatRating.conversation_id == Conversation.id)
    ).subquery("per")
    counts = (
        func.count(),
        func.count(per.c.resolution),
        func.sum(per.c.contained),
        func.count(per.c.score),
        func.sum(per.c.score),
        func.sum(_flag(per.c.score >= 4)),
    )
    if postgres:
        # For this transaction only: the sorts behind the percentiles and the grouping hold
        # up to a year's conversations (in memory, not spilled to disk); and each statement
        # is planned for its own period, never with the generic plan a prepared statement
        # falls back to after five runs (the trend took 250 ms with it instead of 150).
        await session.execute(
            select(
                func.set_config("work_mem", "64MB", True),
                func.set_config("plan_cache_mode", "force_custom_plan", True),
            )
        )
    slices: dict[str | None, tuple[Sequence[Any], Sequence[Any]]]  # None: the total
    if postgres:
        rows = await session.execute(
            select(
                func.grouping(per.c.key),
                per.c.key,
                *counts,
                *(
                    func.percentile_disc(literal_column(p)).within_group(column)
                    for column in (per.c.first, per.c.resolution)
                    for p in ("0.5", "0.9")
                ),
            ).group_by(func.grouping_sets(tuple_(per.c.key), tuple_()))
        )
        slices = {(None if row[0] else row[1]): (row[2:8], row[8:12]) for row in rows}
    else:
        slices = await _slices_in_python(session, per, counts)

    # Escalations per slice and per reason, one pass over the escalated lines; reasons
    # ordered busiest first, then by name in the database's collation.
    reason = func.coalesce(Message.meta["reason"].as_string(), "unknown")
    per_reason = func.sum(func.count()).over(partition_by=reason)
    escalated = await session.execute(
        scoped(
            select(key, reason, func.count(), per_reason)
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(is_activity, action == "escalated")
        )
        .group_by(key, reason)
        .order_by(per_reason.desc(), reason)
    )
    escalations: Counter[str | None] = Counter()
    reasons: dict[str, int] = {}
    for name, why, n, total_for_reason in escalated:
        escalations[name] += int(n)
        escalations[None] += int(n)
        reasons[str(why)] = int(total_for_reason)

    day = utc_day(Conversation.created_at, dialect)
    volume = {
        str(d): int(n)
        for d, n in (
            await session.execute(select(day, func.count()).where(*filters).group_by(day))
        ).all()
    }
    # Customer messages per day and mood. Only the period's days are shown, so only the
    # messages written in the period are read: a range of ix_messages_mood, index only.
    mood_day = utc_day(Message.created_at, dialect)
    moods = await session.execute(
        select(mood_day, Message.sentiment_label, func.count())
        .where(
            # IN, not a join: SQLite then walks the period's conversations (349 -> 155 ms
            # for 90 days of 20,000); PostgreSQL plans both as the same hash join.
            Message.conversation_id.in_(select(Conversation.id).where(*filters)),
            Message.kind == literal_column(f"'{MessageKind.INCOMING}'"),
            Message.sentiment_label.is_not(None),
            Message.created_at >= since,
            Message.created_at < until,
        )
        .group_by(mood_day, Message.sentiment_label)
    )
    trend: dict[str, Counter[str]] = defaultdict(Counter)
    for mood_on, label, n in moods:
        trend[str(mood_on)][str(label)] += int(n)

    totals = _figures(*slices.pop(None), escalations[None])
    breakdown = sorted(
        (
            {"key": str(name), **_figures(*figures, escalations[name])}
            for name, figures in slices.items()
        ),
        key=lambda slice_: (-slice_["conversations"], slice_["key"]),
    )
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "filters": {
            "channel": query.channel,
            "agent_id": query.agent_id,
            "language": query.language,
        },
        "group_by": query.group_by,
        "totals": totals,
        "volume": [{"day": d, "conversations": volume.get(d, 0)} for d in days],
        "escalations_by_reason": reasons,
        "sentiment_trend": [{"day": d, **{s: trend[d][s] for s in SENTIMENTS}} for d in days],
        "breakdown": breakdown,
        "csat_collected": totals["csat_count"] > 0,
    }


async def _slices_in_python(
    session: AsyncSession, per: Subquery, counts: tuple[ColumnElement[Any], ...]
) -> dict[str | None, tuple[Sequence[Any], Sequence[Any]]]:
    """SQLite: each slice's counts from SQL, the percentiles (and the total) from Python.

    Returns slice name (None for the total) → (counts, first response median and p90,
    resolution median and p90), as PostgreSQL's grouping sets give them.
    """
    grouped = (await session.execute(select(per.c.key, *counts).group_by(per.c.key))).all()
    durations = await session.execute(
        select(per.c.key, per.c.created_at, per.c.first, per.c.resolution).where(
            or_(per.c.first.is_not(None), per.c.resolution.is_not(None))
        )
    )
    first: dict[str | None, list[float]] = defaultdict(list)
    resolution: dict[str | None, list[float]] = defaultdict(list)
    for name, created_at, first_response_at, resolved_at in durations:
        for slice_ in (name, None):
            if first_response_at is not None:
                first[slice_].append((first_response_at - created_at).total_seconds())
            if resolved_at is not None:
                resolution[slice_].append((resolved_at - created_at).total_seconds())
    total = [sum(int(row[i] or 0) for row in grouped) for i in range(1, len(counts) + 1)]
    return {
        name: (
            numbers,
            [
                percentile(first[name], 0.5),
                percentile(first[name], 0.9),
                percentile(resolution[name], 0.5),
                percentile(resolution[name], 0.9),
            ],
        )
        for name, *numbers in [*grouped, (None, *total)]
    }


CSV_COLUMNS = (
    "conversations",
    "resolved",
    "bot_contained",
    "containment_rate",
    "escalations",
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "csat_count",
    "csat_average",
)


def _safe_cell(value: str) -> str:
    """Quote a cell a spreadsheet would otherwise run as a formula (= + - @)."""
    return "'" + value if value[:1] and value[0] in "=+-@" else value


def metrics_csv(data: dict[str, Any]) -> str:
    """The breakdown and the total as CSV, one row per slice."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period_start", "period_end", data["group_by"], *CSV_COLUMNS])
    rows: Iterable[dict[str, Any]] = [*data["breakdown"], {"key": "total", **data["totals"]}]
    for row in rows:
        writer.writerow(
            [
                data["period"]["start"],
                data["period"]["end"],
                _safe_cell(str(row["key"])),
                *("" if row[c] is None else row[c] for c in CSV_COLUMNS),
            ]
        )
    return out.getvalue()


@api.route("GET", "/metrics", role=Role.SUPERVISOR, tag="metrics")
async def metrics(request: web.Request, query: MetricsQuery) -> web.Response:
    """Volume, containment, escalations, response times, CSAT and sentiment over a period."""
    async with request.app[RUNTIME].sessions() as session:
        data = await compute_metrics(session, query)
    return web.json_response(data)


@api.route("GET", "/metrics.csv", role=Role.SUPERVISOR, tag="metrics")
async def metrics_export(request: web.Request, query: MetricsQuery) -> web.Response:
    """The same metrics as a CSV download."""
    async with request.app[RUNTIME].sessions() as session:
        data = await compute_metrics(session, query)
    start, end = data["period"]["start"], data["period"]["end"]
    return web.Response(
        text=metrics_csv(data),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="tawasul-{start}-{end}.csv"'},
    )
