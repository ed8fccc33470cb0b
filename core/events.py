"""Events: what happened, as past-tense dotted names with one JSON payload each."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.types import Role

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_ESCALATED = "conversation.escalated"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_REOPENED = "conversation.reopened"
CONVERSATION_TEAM_ASSIGNED = "conversation.team_assigned"
CONVERSATION_READ = "conversation.read"
TEAM_UPDATED = "team.updated"
TEAM_DELETED = "team.deleted"
CUSTOMER_MERGED = "customer.merged"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_ERASED = "customer.erased"
ALERT_RAISED = "alert.raised"
# Internal: never delivered to webhooks (not in ALL_EVENTS). The WebSocket fan-out closes the
# named sessions' sockets instead of forwarding `session.revoked`.
AGENT_UPDATED = "agent.updated"
SESSION_REVOKED = "session.revoked"

ALL_EVENTS = (
    MESSAGE_CREATED,
    MESSAGE_UPDATED,
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    CONVERSATION_ESCALATED,
    CONVERSATION_ASSIGNED,
    CONVERSATION_RESOLVED,
    CONVERSATION_REOPENED,
    CONVERSATION_TEAM_ASSIGNED,
    CONVERSATION_READ,
    TEAM_UPDATED,
    TEAM_DELETED,
    CUSTOMER_MERGED,
    CUSTOMER_UPDATED,
    CUSTOMER_ERASED,
    ALERT_RAISED,
)


def _default(value: Any) -> Any:
    """JSON encoding for timestamps and enums."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened, and the least role allowed to see it live."""

    name: str
    payload: dict[str, Any]
    audience: Role = Role.AGENT
    private: bool = field(default=False)

    def to_json(self) -> str:
        """Serialise for the bus and the WebSocket."""
        return json.dumps(
            {"event": self.name, "audience": str(self.audience), "data": self.payload},
            default=_default,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Read an event serialised by `to_json`."""
        data = json.loads(raw)
        return cls(name=data["event"], payload=data["data"], audience=Role(data["audience"]))
