"""The supervisor's live view: the alert feed, acknowledging alerts, and the team's load."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import and_, func, or_, select

from core.alerts import FEED_ACTIONS, do_acknowledge_alert
from core.errors import NotFound
from core.models import Agent, Conversation, Customer, Message, utcnow
from core.serialize import agent_dict, message_dict
from core.settings import Settings
from core.sla import SCOPES, limits, this_wait_alert_id, warning
from core.types import ConversationStatus, MessageKind, Role
from inbox.api import api, current_agent
from inbox.keys import RUNTIME
from inbox.schemas import Strict
from inbox.ws import online_agent_ids

HANDOFF_TWIN = timedelta(seconds=60)
QUIET_REASON = "no_bot"


class AlertQuery(Strict):
    """How many feed entries to return."""

    limit: int = Field(default=50, ge=1, le=200)


def feed_entry(message: dict[str, Any], customer_name: str | None) -> dict[str, Any]:
    """One alert-feed line from an activity message (an alert or an escalation)."""
    meta = message["meta"]
    kind = meta.get("alert") if meta.get("action") == "alert" else "handoff"
    return {
        "id": message["id"],
        "kind": kind,
        "reason": meta.get("reason"),
        "detail": message["text"],
        "conversation_id": message["conversation_id"],
        "customer_name": customer_name,
        "created_at": message["created_at"],
        "acknowledged_by": meta.get("acknowledged_by"),
        "excerpt": meta.get("excerpt"),
        # SLA breaches: which wait (queue or reply), since when, and the limit it passed.
        "scope": meta.get("scope"),
        "waiting_since": meta.get("waiting_since"),
        "limit_seconds": meta.get("limit_seconds"),
    }


def without_twin_handoffs(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the second report of one bot handoff (the bot escalates and raises an alert)."""
    kept: list[dict[str, Any]] = []
    for entry in entries:
        twin = next(
            (
                k
                for k in kept
                if entry["kind"] == k["kind"] == "handoff"
                and entry["conversation_id"] == k["conversation_id"]
                and abs(
                    datetime.fromisoformat(k["created_at"])
                    - datetime.fromisoformat(entry["created_at"])
                )
                < HANDOFF_TWIN
            ),
            None,
        )
        if twin is None:
            kept.append(entry)
        else:
            twin["reason"] = twin["reason"] or entry["reason"]
            twin["acknowledged_by"] = twin["acknowledged_by"] or entry["acknowledged_by"]
            # Acknowledging either line acknowledges the entry: consoles match on these ids.
            twin["twin_ids"] = [*twin.get("twin_ids", []), entry["id"]]
    return kept


def wait_entry(
    conv: Conversation, customer_name: str | None, now: datetime, settings: Settings
) -> dict[str, Any]:
    """A line for a conversation whose customer is waiting: a long wait, or past its SLA."""
    since = conv.waiting_since or now
    status = ConversationStatus(conv.status)
    allowed = limits(settings)[status]
    return {
        "id": f"wait-{conv.id}",
        "kind": "sla_breach" if now - since >= allowed else "long_wait",
        "scope": SCOPES[status],
        "reason": conv.escalation_reason,
        "detail": None,
        "waiting_seconds": int((now - since).total_seconds()),
        "limit_seconds": int(allowed.total_seconds()),
        "conversation_id": conv.id,
        "customer_name": customer_name,
        "created_at": since.isoformat(),
        "acknowledged_by": None,
    }


@api.route("GET", "/alerts", role=Role.SUPERVISOR, tag="supervision")
async def list_alerts(request: web.Request, query: AlertQuery) -> web.Response:
    """Recent alerts and handoffs, newest first, and the customers waiting past the warning."""
    now = utcnow()
    settings = request.app[RUNTIME].settings
    action = Message.meta["action"].as_string()
    async with request.app[RUNTIME].sessions() as session:
        recent = (
            await session.execute(
                select(Message, Customer.display_name)
                .join(Customer, Customer.id == Message.customer_id)
                .where(
                    Message.kind == MessageKind.ACTIVITY,
                    action.in_(FEED_ACTIONS),
                    # Without a bot every conversation is escalated `no_bot`: the normal path,
                    # not something to alert on. Filtered here so they cannot fill the page.
                    or_(
                        action != "escalated",
                        func.coalesce(Message.meta["reason"].as_string(), "") != QUIET_REASON,
                    ),
                )
                .order_by(Message.id.desc())
                .limit(query.limit)
            )
        ).all()
        waiting = (
            await session.execute(
                select(Conversation, Customer.display_name, this_wait_alert_id())
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(
                    or_(
                        *(
                            and_(
                                Conversation.status == status,
                                Conversation.waiting_since < now - warning(settings, status),
                            )
                            for status in SCOPES
                        )
                    ),
                )
                .order_by(Conversation.waiting_since)
                .limit(query.limit)
            )
        ).all()
    items = without_twin_handoffs([feed_entry(message_dict(m), name) for m, name in recent])
    # A wait whose breach alert is on this page of the feed is listed once, there, where it
    # can be acknowledged; one whose alert has scrolled off the feed stays in this list.
    shown = {item["id"] for item in items}
    waits = [
        wait_entry(conv, name, now, settings)
        for conv, name, alert_id in waiting
        if alert_id is None or alert_id not in shown
    ]
    return web.json_response({"alerts": items, "waiting": waits})


@api.route("POST", "/alerts/{alert_id}/acknowledge", role=Role.SUPERVISOR, tag="supervision")
async def acknowledge(request: web.Request) -> web.Response:
    """Mark an alert as handled by this supervisor."""
    try:
        alert_id = int(request.match_info["alert_id"])
    except ValueError as exc:
        raise NotFound("no such alert") from exc
    message = await do_acknowledge_alert(request.app[RUNTIME], alert_id, current_agent(request).id)
    return web.json_response(message_dict(message))


@api.route("GET", "/team", role=Role.SUPERVISOR, tag="supervision")
async def team(request: web.Request) -> web.Response:
    """Every active agent: online now (an open WebSocket), open and pending load."""
    online = online_agent_ids(request.app)
    async with request.app[RUNTIME].sessions() as session:
        agents = (
            (await session.execute(select(Agent).where(Agent.active).order_by(Agent.display_name)))
            .scalars()
            .all()
        )
        load = dict(
            (
                await session.execute(
                    select(Conversation.assignee_id, func.count())
                    .where(Conversation.status == ConversationStatus.OPEN)
                    .group_by(Conversation.assignee_id)
                )
            ).all()
        )
    return web.json_response(
        [
            {**agent_dict(a), "online": a.id in online, "open": int(load.get(a.id, 0))}
            for a in agents
        ]
    )
