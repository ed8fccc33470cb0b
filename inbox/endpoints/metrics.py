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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.inbox_tables import CsatRating
from core.models import Agent, Conversation, Message
from core.types import Author, ConversationStatus, MessageKind, Role
from inbox.api import api
from inbox.keys import RUNTIME
from inbox.schemas import Strict

Dimension = Literal["channel", "agent", "language"]
SENTIMENTS = ("angry", "negative", "neutral", "positive")


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
    """Running totals for one slice of conversations."""

    conversations: int = 0
    resolved: int = 0
    contained: int = 0
    escalations: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The bucket's figures, durations in seconds."""
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
            "csat_count": len(self.csat),
            "csat_average": round(sum(self.csat) / len(self.csat), 2) if self.csat else None,
            "csat_satisfied_rate": (
                round(sum(1 for s in self.csat if s >= 4) / len(self.csat), 4)
                if self.csat
                else None
            ),
        }


def period(query: MetricsQuery, today: date | None = None) -> tuple[date, date]:
    """The inclusive date range asked for; the last 14 days by default."""
    end = query.end or today or datetime.now(UTC).date()
    start = query.start or end - timedelta(days=13)
    if start > end:
        start, end = end, start
    return start, end


def _day(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()


async def compute_metrics(session: AsyncSession, query: MetricsQuery) -> dict[str, Any]:
    """Every figure the console shows for conversations created in the period."""
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
    in_scope = select(Conversation.id).where(*filters).scalar_subquery()

    convs = (
        await session.execute(
            select(
                Conversation.id,
                Conversation.created_at,
                Conversation.first_response_at,
                Conversation.resolved_at,
                Conversation.status,
                Conversation.assignee_id,
                Conversation.last_channel,
                Conversation.language,
            ).where(*filters)
        )
    ).all()
    human = set(
        (
            await session.execute(
                select(Message.conversation_id)
                .where(
                    Message.conversation_id.in_(in_scope),
                    Message.kind == MessageKind.OUTGOING,
                    Message.author == Author.AGENT,
                )
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    activities = (
        await session.execute(
            select(Message.conversation_id, Message.meta).where(
                Message.conversation_id.in_(in_scope), Message.kind == MessageKind.ACTIVITY
            )
        )
    ).all()
    moods = (
        await session.execute(
            select(Message.created_at, Message.sentiment_label).where(
                Message.conversation_id.in_(in_scope),
                Message.kind == MessageKind.INCOMING,
                Message.sentiment_label.is_not(None),
            )
        )
    ).all()
    ratings = dict(
        (
            await session.execute(
                select(CsatRating.conversation_id, CsatRating.score).where(
                    CsatRating.conversation_id.in_(in_scope)
                )
            )
        ).all()
    )
    names = dict((await session.execute(select(Agent.id, Agent.display_name))).all())

    assigned_ever: set[int] = set()
    folded: set[int] = set()
    reasons: Counter[str] = Counter()
    escalations_of: Counter[int] = Counter()
    for conv_id, meta in activities:
        action = (meta or {}).get("action")
        if action == "escalated":
            reasons[str(meta.get("reason") or "unknown")] += 1
            escalations_of[conv_id] += 1
        elif action in ("assigned", "taken_over"):
            assigned_ever.add(conv_id)
        elif action == "merged_into":
            folded.add(conv_id)

    def key_of(row: Any) -> str:
        if query.group_by == "agent":
            return names.get(row.assignee_id, "—") if row.assignee_id else "—"
        value = row.last_channel if query.group_by == "channel" else row.language
        return str(value or "—")

    total = Bucket()
    groups: dict[str, Bucket] = defaultdict(Bucket)
    volume: Counter[str] = Counter()
    for row in convs:
        volume[_day(row.created_at)] += 1
        for bucket in (total, groups[key_of(row)]):
            bucket.conversations += 1
            bucket.escalations += escalations_of[row.id]
            if row.first_response_at is not None:
                bucket.first_response.append(
                    (row.first_response_at - row.created_at).total_seconds()
                )
            # A conversation folded into another by a customer merge was closed by the merge,
            # not resolved: it counts in neither resolutions nor containment.
            if (
                row.status == ConversationStatus.RESOLVED
                and row.resolved_at is not None
                and row.id not in folded
            ):
                bucket.resolved += 1
                bucket.resolution.append((row.resolved_at - row.created_at).total_seconds())
                touched = (
                    row.id in human
                    or row.id in assigned_ever
                    or row.id in escalations_of
                    or row.assignee_id
                )
                if not touched:
                    bucket.contained += 1
            if row.id in ratings:
                bucket.csat.append(int(ratings[row.id]))

    trend: dict[str, Counter[str]] = defaultdict(Counter)
    for created_at, label in moods:
        trend[_day(created_at)][str(label)] += 1
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
        "volume": [{"day": d, "conversations": volume[d]} for d in days],
        "escalations_by_reason": dict(reasons.most_common()),
        "sentiment_trend": [{"day": d, **{s: trend[d][s] for s in SENTIMENTS}} for d in days],
        "breakdown": [
            {"key": key, **bucket.summary()}
            for key, bucket in sorted(groups.items(), key=lambda kv: -kv[1].conversations)
        ],
        "csat_collected": bool(ratings),
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
