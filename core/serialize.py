"""Plain JSON-ready views of stored rows, shared by events and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from core.models import Agent, Conversation, Customer, Identity, Message, Order, Team


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def message_dict(m: Message) -> dict[str, Any]:
    """A timeline entry as agents see it."""
    return {
        "id": m.id,
        "customer_id": m.customer_id,
        "conversation_id": m.conversation_id,
        "kind": str(m.kind),
        "author": str(m.author),
        "agent_id": m.agent_id,
        "channel": m.channel,
        "channel_message_id": m.channel_message_id,
        "text": m.text,
        "attachments": m.attachments or [],
        "meta": m.meta or {},
        "language": m.language,
        "delivery_status": m.delivery_status,
        "delivery_error": m.delivery_error,
        "sentiment": (
            {"label": m.sentiment_label, "anger": m.sentiment_anger, "scores": m.sentiment_scores}
            if m.sentiment_label is not None
            else None
        ),
        "created_at": _iso(m.created_at),
        "sent_at": _iso(m.sent_at),
    }


def team_ref(c: Conversation) -> dict[str, Any] | None:
    """The conversation's team as ``{id, name}``, never triggering a load (async-safe)."""
    if c.team_id is None:
        return None
    team = inspect(c).attrs.team.loaded_value
    if isinstance(team, Team) and team.id == c.team_id:
        return {"id": team.id, "name": team.name}
    # Not loaded (a row built in this transaction): the id alone still identifies it.
    return {"id": c.team_id, "name": None}


def conversation_dict(c: Conversation) -> dict[str, Any]:
    """A conversation's header: ownership, timing and routing facts."""
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "status": str(c.status),
        "assignee_id": c.assignee_id,
        "team_id": c.team_id,
        "team": team_ref(c),
        "priority": str(c.priority),
        "escalation_reason": c.escalation_reason,
        "language": c.language,
        "last_channel": c.last_channel,
        "labels": list(c.labels or []),
        "preview": c.preview,
        "sentiment": c.sentiment,
        "waiting_since": _iso(c.waiting_since),
        "first_response_at": _iso(c.first_response_at),
        "resolved_at": _iso(c.resolved_at),
        "last_message_at": _iso(c.last_message_at),
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
    }


def identity_dict(i: Identity) -> dict[str, Any]:
    """A customer's identity on one channel."""
    return {
        "id": i.id,
        "channel": i.channel,
        "external_id": i.external_id,
        "display_name": i.display_name,
        "profile": i.profile or {},
        "blocked": i.blocked,
        "created_at": _iso(i.created_at),
        "last_seen_at": _iso(i.last_seen_at),
    }


def customer_dict(c: Customer) -> dict[str, Any]:
    """A customer's profile."""
    return {
        "id": c.id,
        "display_name": c.display_name,
        "language": c.language,
        "email": c.email,
        "phone": c.phone,
        "attributes": c.attributes or {},
        "merged_into_id": c.merged_into_id,
        "created_at": _iso(c.created_at),
        "last_seen_at": _iso(c.last_seen_at),
        "erased_at": _iso(c.erased_at),
    }


def agent_dict(a: Agent) -> dict[str, Any]:
    """An agent, without the password hash."""
    return {
        "id": a.id,
        "login": a.login,
        "display_name": a.display_name,
        "role": str(a.role),
        "language": a.language,
        "active": a.active,
        "last_seen_at": _iso(a.last_seen_at),
    }


def team_dict(t: Team, member_ids: list[int] | None = None) -> dict[str, Any]:
    """A team and, when given, the ids of its members."""
    data: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description or "",
        "created_at": _iso(t.created_at),
    }
    if member_ids is not None:
        data["member_ids"] = sorted(member_ids)
    return data


def order_dict(o: Order) -> dict[str, Any]:
    """An order as the bot and agents see it."""
    return {
        "number": o.number,
        "status": o.status,
        "eta": o.eta.date().isoformat() if o.eta else None,
        "carrier": o.carrier,
        "total": f"{o.total:.2f}",
        "currency": o.currency,
        "items": o.items or [],
        "cancellable": o.status in ("processing", "pending"),
        "created_at": _iso(o.created_at),
    }
