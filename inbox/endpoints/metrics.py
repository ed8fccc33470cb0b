"""Supervisor metrics over a period, computed from the stored conversations and messages."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import StringConstraints
from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.errors import Invalid
from core.inbox_tables import CsatRating
from core.models import Agent, Conversation, Message
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


@dataclass(slots=True)
class Bucket:
    """Totals for one slice of conversations (counted in SQL) and its durations (seconds)."""

    conversations: int = 0
    resolved: int = 0
    contained: int = 0
    escalations: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    csat_satisfied: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)

    def add(self, other: Bucket) -> None:
        """Fold another slice's counts into this one (durations are added separately)."""
        self.conversations += other.conversations
        self.resolved += other.resolved
        self.contained += other.contained
        self.escalations += other.escalations
        self.csat_count += other.csat_count
        self.csat_sum += other.csat_sum
        self.csat_satisfied += other.csat_satisfied

    def summary(self) -> dict[str, Any]:
        """The bucket's figures, durations in seconds."""
        n = self.csat_count
        return {
            "conversations": self.conversations,
            "resolved": self.resolved,
            "bot_contained": self.contained,
            "containment_rate": round(self.contained / self.resolved, 4) if self.resolved else None,
            "escalations": self.escalations,
            "first_response_median_s": percentile(self.first_response, 0.5),
            "first_response_p90_s": percentile(self.first_response, 0.9),
            "resolution_median_s": percentile(self.resolution, 0.5),
            "resolution_p90_s": percentile(self.resolution, 0.9),
            "csat_count": n,
            "csat_average": round(self.csat_sum / n, 2) if n else None,
            "csat_satisfied_rate": round(self.csat_satisfied / n, 4) if n else None,
        }


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


def utc_day(column: Any, dialect: str) -> ColumnElement[str]:
    """A timestamp column's UTC date as ``YYYY-MM-DD`` text, in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite keeps timestamps as UTC text ("YYYY-MM-DD HH:MM:SS…"); date() reads it.
    return func.date(column)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 where the condition holds, for SUM()."""
    return case((condition, 1), else_=0)


async def compute_metrics(session: AsyncSession, query: MetricsQuery) -> dict[str, Any]:
    """Every figure the console shows for conversations created in the period.

    Counts are grouped in SQL (per slice, per day, per reason, per day and mood); only the
    durations behind the percentiles come back row by row, two timestamps per conversation.
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
    in_scope = Message.conversation_id.in_(select(Conversation.id).where(*filters))
    action = Message.meta["action"].as_string()
    # Inline, not a bound parameter, so PostgreSQL can match the partial index on activity.
    is_activity = Message.kind == literal_column(f"'{MessageKind.ACTIVITY}'")
    # One pass over the period's activity lines, one row per conversation: how often it was
    # escalated, whether someone assigned or took it, whether a customer merge folded it.
    acts = (
        select(
            Message.conversation_id.label("id"),
            func.sum(_flag(action == "escalated")).label("escalations"),
            func.max(_flag(action.in_(("assigned", "taken_over")))).label("touched"),
            func.max(_flag(action == "merged_into")).label("folded"),
        )
        .where(
            in_scope,
            is_activity,
            action.in_(("escalated", "assigned", "taken_over", "merged_into")),
        )
        .group_by(Message.conversation_id)
        .subquery("acts")
    )
    # Closed by a customer merge (folded into the other conversation) is not resolved.
    resolved = and_(
        Conversation.status == ConversationStatus.RESOLVED,
        Conversation.resolved_at.is_not(None),
        func.coalesce(acts.c.folded, 0) == 0,
    )
    # The bot closed it alone: never escalated, no one assigned or took it, and no agent
    # ever replied (first_response_at is set by the first agent reply and never cleared).
    contained = and_(
        resolved,
        func.coalesce(acts.c.escalations, 0) == 0,
        func.coalesce(acts.c.touched, 0) == 0,
        Conversation.assignee_id.is_(None),
        Conversation.first_response_at.is_(None),
    )
    key = {
        "channel": Conversation.last_channel,
        "agent": Conversation.assignee_id,
        "language": Conversation.language,
    }[query.group_by]
    joined = (
        select(Conversation)
        .outerjoin(acts, acts.c.id == Conversation.id)
        .outerjoin(CsatRating, CsatRating.conversation_id == Conversation.id)
        .where(*filters)
    )
    slices = (
        await session.execute(
            joined.with_only_columns(
                key.label("key"),
                func.count(),
                func.sum(_flag(resolved)),
                func.sum(_flag(contained)),
                func.sum(func.coalesce(acts.c.escalations, 0)),
                func.count(CsatRating.score),
                func.sum(func.coalesce(CsatRating.score, 0)),
                func.sum(_flag(CsatRating.score >= 4)),
            ).group_by(key)
        )
    ).all()
    durations = (
        await session.execute(
            select(
                key.label("key"),
                Conversation.created_at,
                Conversation.first_response_at,
                case((resolved, Conversation.resolved_at), else_=None),
            )
            .outerjoin(acts, acts.c.id == Conversation.id)
            .where(
                *filters,
                or_(Conversation.first_response_at.is_not(None), resolved),
            )
        )
    ).all()
    day = utc_day(Conversation.created_at, dialect)
    volume = dict(
        (await session.execute(select(day, func.count()).where(*filters).group_by(day))).all()
    )
    reason = func.coalesce(Message.meta["reason"].as_string(), "unknown")
    reasons = (
        await session.execute(
            select(reason, func.count())
            .where(in_scope, is_activity, action == "escalated")
            .group_by(reason)
            .order_by(func.count().desc(), reason)
        )
    ).all()
    mood_day = utc_day(Message.created_at, dialect)
    moods = (
        await session.execute(
            select(mood_day, Message.sentiment_label, func.count())
            .where(
                in_scope,
                Message.kind == MessageKind.INCOMING,
                Message.sentiment_label.is_not(None),
            )
            .group_by(mood_day, Message.sentiment_label)
        )
    ).all()
    names: dict[int, str] = {}
    if query.group_by == "agent":
        names = dict((await session.execute(select(Agent.id, Agent.display_name))).all())

    def name_of(value: Any) -> str:
        if query.group_by == "agent":
            return names.get(value, "—") if value else "—"
        return str(value or "—")

    total = Bucket()
    groups: dict[str, Bucket] = defaultdict(Bucket)
    for value, n, n_resolved, n_contained, n_escalations, n_csat, csat_sum, happy in slices:
        bucket = Bucket(
            conversations=int(n),
            resolved=int(n_resolved or 0),
            contained=int(n_contained or 0),
            escalations=int(n_escalations or 0),
            csat_count=int(n_csat or 0),
            csat_sum=int(csat_sum or 0),
            csat_satisfied=int(happy or 0),
        )
        groups[name_of(value)].add(bucket)
        total.add(bucket)
    for value, created_at, first_response_at, resolved_at in durations:
        for bucket in (total, groups[name_of(value)]):
            if first_response_at is not None:
                bucket.first_response.append((first_response_at - created_at).total_seconds())
            if resolved_at is not None:
                bucket.resolution.append((resolved_at - created_at).total_seconds())

    trend: dict[str, Counter[str]] = defaultdict(Counter)
    for mood_on, label, n in moods:
        trend[str(mood_on)][str(label)] += int(n)
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "filters": {
            "channel": query.channel,
            "agent_id": query.agent_id,
            "language": query.language,
        },
        "group_by": query.group_by,
        "totals": total.summary(),
        "volume": [{"day": d, "conversations": int(volume.get(d, 0))} for d in days],
        "escalations_by_reason": {str(r): int(n) for r, n in reasons},
        "sentiment_trend": [{"day": d, **{s: trend[d][s] for s in SENTIMENTS}} for d in days],
        "breakdown": [
            {"key": key, **bucket.summary()}
            for key, bucket in sorted(groups.items(), key=lambda kv: -kv[1].conversations)
        ],
        "csat_collected": total.csat_count > 0,
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
