"""The transactional outbox: events subscribers may receive, stored with the change that made them.

An action hands its events to `core.db.in_transaction`, which calls `stage` before the commit:
the events enabled subscriptions want become `OutboxEvent` rows in the same transaction, so a
commit without its outbox row (or the reverse) cannot happen. `core.webhooks.relay_outbox`
turns the rows into deliveries. Live fan-out to agents still goes over the bus after the commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.events import Event
from core.models import utcnow
from core.types import MessageKind
from core.webhook_models import OutboxEvent, WebhookSubscription

SUBSCRIBABLE_EVENTS = frozenset(ev.ALL_EVENTS)
ALL = "*"


def deliverable(event: Event) -> bool:
    """Whether subscribers may see an event: never private notes or internal events."""
    if event.private or event.name not in SUBSCRIBABLE_EVENTS:
        return False
    kind = event.payload.get("kind")
    return kind != str(MessageKind.NOTE)


def wants(events: Sequence[str] | None, name: str) -> bool:
    """Whether a subscription's event list takes an event name."""
    chosen = events or []
    return ALL in chosen or name in chosen


def plain_payload(event: Event) -> dict[str, Any]:
    """The payload as subscribers get it: JSON types only (timestamps as ISO strings)."""
    data: dict[str, Any] = json.loads(Event(event.name, event.payload).to_json())["data"]
    return data


async def stage(session: AsyncSession, events: Sequence[Event]) -> int:
    """Write the events enabled subscriptions want to the outbox, in the caller's transaction.

    Args:
        session: the session of the transaction that made the events.
        events: everything the change emits; private and internal events are skipped.

    Returns:
        How many outbox rows were added (none while no subscription wants the events).
    """
    public = [e for e in events if deliverable(e)]
    if not public:
        return 0
    subs = (
        await session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events).where(
                WebhookSubscription.active
            )
        )
    ).all()
    now = utcnow()
    added = 0
    for event in public:
        ids = [sub_id for sub_id, names in subs if wants(names, event.name)]
        if not ids:
            continue
        session.add(
            OutboxEvent(
                event_id=str(uuid.uuid4()),
                event=event.name,
                payload=plain_payload(event),
                subscription_ids=ids,
                created_at=now,
            )
        )
        added += 1
    return added
