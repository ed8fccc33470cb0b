"""Service levels: a customer who waits too long raises one `sla_breach` alert per wait.

A wait starts when the customer is left waiting for a person (``waiting_since``: an escalation
to the queue, or a customer message on a conversation an agent owns) and ends when an agent
replies, the bot takes the conversation back, or it is resolved. In the queue (``pending``) the
limit is ``SLA_FIRST_RESPONSE_MINUTES``; with an agent (``open``) it is ``SLA_WAIT_MINUTES``.
Every process checks every ``SLA_CHECK_SECONDS``; the alert is raised through
``do_raise_alert`` with a guard checked under the conversation's row lock, so one wait gets one
alert however many processes look and however often they restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, exists, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.actions import AlertGuard, do_raise_alert
from core.models import Agent, Conversation, Message, utcnow
from core.runtime import Runtime
from core.settings import Settings
from core.types import ConversationStatus, MessageKind

log = logging.getLogger(__name__)

SLA_BREACH = "sla_breach"
QUEUE, REPLY = "queue", "reply"
SCOPES = {ConversationStatus.PENDING: QUEUE, ConversationStatus.OPEN: REPLY}
BATCH = 100  # alerts raised per check at most; the next check goes on with the rest


def limits(settings: Settings) -> dict[ConversationStatus, timedelta]:
    """How long a customer may wait, by the conversation's status."""
    return {
        ConversationStatus.PENDING: timedelta(minutes=settings.sla_first_response_minutes),
        ConversationStatus.OPEN: timedelta(minutes=settings.sla_wait_minutes),
    }


def warning(settings: Settings, status: ConversationStatus) -> timedelta:
    """The wait from which the console lists a conversation (never later than its limit)."""
    return min(timedelta(minutes=settings.sla_warning_minutes), limits(settings)[status])


def _this_wait_alerts() -> list[ColumnElement[bool]]:
    """SQL conditions: an `sla_breach` alert line of the conversation since its wait began."""
    return [
        Message.conversation_id == Conversation.id,
        # Inline, so PostgreSQL can use the partial index on activity lines.
        Message.kind == literal_column(f"'{MessageKind.ACTIVITY}'"),
        Message.meta["action"].as_string() == "alert",
        Message.meta["alert"].as_string() == SLA_BREACH,
        Message.created_at >= Conversation.waiting_since,
    ]


def alerted_this_wait() -> ColumnElement[bool]:
    """SQL: the conversation already has an `sla_breach` alert raised since its wait began."""
    return exists().where(*_this_wait_alerts())


def this_wait_alert_id() -> ScalarSelect[int | None]:
    """SQL: the id of the `sla_breach` alert raised for the conversation's current wait."""
    return (
        select(func.max(Message.id))
        .where(*_this_wait_alerts())
        .correlate(Conversation)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class Breach:
    """A conversation whose customer has waited past the limit, not yet alerted."""

    conversation_id: int
    status: ConversationStatus
    waiting_since: datetime
    assignee_id: int | None
    escalation_reason: str | None


async def find_breaches(rt: Runtime, now: datetime, limit: int = BATCH) -> list[Breach]:
    """Waits past their limit with no alert yet, longest first."""
    found: list[Breach] = []
    async with rt.sessions() as session:
        for status, allowed in limits(rt.settings).items():
            rows = (
                await session.execute(
                    select(
                        Conversation.id,
                        Conversation.waiting_since,
                        Conversation.assignee_id,
                        Conversation.escalation_reason,
                    )
                    .where(
                        Conversation.status == status,
                        Conversation.waiting_since < now - allowed,
                        ~alerted_this_wait(),
                    )
                    .order_by(Conversation.waiting_since)
                    .limit(limit)
                )
            ).all()
            found.extend(
                Breach(cid, status, since, who, why)
                for cid, since, who, why in rows
                if since is not None  # excluded by the query; this tells the type checker
            )
    found.sort(key=lambda b: b.waiting_since)
    return found[:limit]


def _guard(rt: Runtime, now: datetime) -> AlertGuard:
    """Under the row lock: the same wait is still on, past its limit, and not alerted yet."""

    async def still_breached(session: AsyncSession, conv: Conversation) -> bool:
        allowed = limits(rt.settings).get(ConversationStatus(conv.status))
        if allowed is None or conv.waiting_since is None or now - conv.waiting_since < allowed:
            return False
        # Another process may have raised it while we waited for the lock: it has committed
        # by now, and this statement sees it.
        done = await session.scalar(
            select(alerted_this_wait()).select_from(Conversation).where(Conversation.id == conv.id)
        )
        return not done

    return still_breached


async def check_sla(rt: Runtime, now: datetime | None = None) -> int:
    """Raise an `sla_breach` alert for each wait past its limit; return how many were raised."""
    now = now or utcnow()
    raised = 0
    for breach in await find_breaches(rt, now):
        waited = now - breach.waiting_since
        allowed = limits(rt.settings)[breach.status]
        scope = SCOPES[breach.status]
        who = ""
        if breach.assignee_id is not None:
            async with rt.sessions() as session:
                agent = await session.get(Agent, breach.assignee_id)
            who = f" from {agent.display_name}" if agent else ""
        minutes = int(waited.total_seconds() // 60)
        cap = f"limit {allowed.total_seconds() / 60:g} min"
        detail = (
            f"waiting {minutes} min in the queue ({cap})"
            if scope == QUEUE
            else f"waiting {minutes} min for a reply{who} ({cap})"
        )
        alert = await do_raise_alert(
            rt,
            breach.conversation_id,
            SLA_BREACH,
            detail,
            only_if=_guard(rt, now),
            scope=scope,
            waiting_since=breach.waiting_since.isoformat(),
            waited_seconds=int(waited.total_seconds()),
            limit_seconds=int(allowed.total_seconds()),
            assignee_id=breach.assignee_id,
            escalation_reason=breach.escalation_reason,
        )
        raised += alert is not None
    if raised:
        log.info("raised %d SLA breach alert(s)", raised)
    return raised


async def sla_forever(rt: Runtime) -> None:
    """Check at start-up (catching up after a restart), then every ``sla_check_seconds``."""
    while True:
        try:
            await check_sla(rt)
        except Exception:
            log.exception("SLA check failed")
        await asyncio.sleep(rt.settings.sla_check_seconds)
