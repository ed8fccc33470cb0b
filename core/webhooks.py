"""Signed HTTP webhooks: the signature scheme, event subscriptions and their persisted deliveries.

Every request we sign (events to subscribers, replies on the webhook channel) and every request
we verify (the webhook channel's inbound) uses one scheme: ``X-Tawasul-Timestamp`` (Unix
seconds) and ``X-Tawasul-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``.
Deliveries are rows, so a restart loses none; see ``docs/channels-telegram-webhook.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import emit
from core.db import in_transaction
from core.errors import ConflictError, Invalid, NotFound
from core.events import Event
from core.models import utcnow
from core.outbox import ALL, SUBSCRIBABLE_EVENTS, deliverable, plain_payload, wants
from core.runtime import Runtime
from core.types import Role
from core.webhook_models import OutboxEvent, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)
T = TypeVar("T")

SIGNATURE_HEADER = "X-Tawasul-Signature"
TIMESTAMP_HEADER = "X-Tawasul-Timestamp"
DELIVERY_HEADER = "X-Tawasul-Delivery"
EVENT_HEADER = "X-Tawasul-Event"
ATTEMPT_HEADER = "X-Tawasul-Attempt"
TOLERANCE_SECONDS = 300
USER_AGENT = "Tawasul-Webhooks/1"

WEBHOOK_PAUSED = "webhook.paused"

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

# Bumped by every change to subscriptions in this process; other processes notice within
# CACHE_SECONDS.
_VERSION = [0]
CACHE_SECONDS = 2.0


def _changed() -> None:
    """Tell this process's workers that subscriptions changed."""
    _VERSION[0] += 1


# --- the signature scheme -----------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"`` with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for a body sent now."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


class SignatureError(Exception):
    """A signed request failed verification; ``code`` says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify(
    secret: str,
    timestamp: str | None,
    given: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a signed request; return its timestamp or raise `SignatureError`."""
    if not timestamp or not given:
        raise SignatureError("missing_signature", f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise SignatureError("bad_timestamp", "the timestamp must be Unix seconds") from exc
    # Compare before looking at the clock, so a forged request learns nothing about freshness.
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s.strip()) for s in given.split(",")):
        raise SignatureError("bad_signature", "the signature does not match the body")
    if abs((time.time() if now is None else now) - ts) > tolerance:
        raise SignatureError("stale_timestamp", f"the timestamp is over {tolerance} s away")
    return ts


def new_secret() -> str:
    """A fresh signing secret."""
    return "whsec_" + secrets.token_urlsafe(32)


# --- views --------------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def subscription_status(sub: WebhookSubscription) -> str:
    """``active``, ``paused`` (kept failing; an admin resumes it) or ``disabled``."""
    if not sub.active:
        return "disabled"
    return "paused" if sub.paused_at is not None else "active"


def subscription_dict(sub: WebhookSubscription, *, with_secret: bool = False) -> dict[str, Any]:
    """A subscription as admins see it; the secret only when it was just made."""
    data: dict[str, Any] = {
        "id": sub.id,
        "url": sub.url,
        "events": list(sub.events or []),
        "description": sub.description,
        "status": subscription_status(sub),
        "paused_at": _iso(sub.paused_at),
        "pause_reason": sub.pause_reason,
        "failure_streak": sub.failure_streak,
        "last_error": sub.last_error,
        "last_success_at": _iso(sub.last_success_at),
        "created_at": _iso(sub.created_at),
    }
    if with_secret:
        data["secret"] = sub.secret
    return data


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    """One delivery's history."""
    return {
        "id": d.id,
        "delivery_id": d.delivery_id,
        "subscription_id": d.subscription_id,
        "event": d.event,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at) if d.status == PENDING else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": _iso(d.delivered_at),
        "created_at": _iso(d.created_at),
    }


# --- subscriptions ------------------------------------------------------------------------------


def _check_events(events: Sequence[str]) -> list[str]:
    """Known event names (or ``*``), deduplicated, sorted."""
    clean = sorted({e.strip() for e in events if e.strip()})
    if not clean:
        raise Invalid("subscribe to at least one event (or '*')")
    unknown = [e for e in clean if e != ALL and e not in SUBSCRIBABLE_EVENTS]
    if unknown:
        known = ", ".join(sorted(SUBSCRIBABLE_EVENTS))
        raise Invalid(f"unknown event(s) {', '.join(unknown)}; known: {known}", code="bad_event")
    return clean


def _check_url(url: str) -> str:
    """An http(s) URL."""
    if not url.startswith(("https://", "http://")):
        raise Invalid("the URL must start with https:// or http://", code="bad_url")
    return url


async def _subscription(session: AsyncSession, subscription_id: int) -> WebhookSubscription:
    sub = await session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} does not exist")
    return sub


async def do_create_subscription(
    rt: Runtime,
    url: str,
    events: Sequence[str],
    *,
    description: str = "",
    agent_id: int | None = None,
) -> WebhookSubscription:
    """Subscribe a URL to events; it gets a fresh signing secret."""
    sub = WebhookSubscription(
        url=_check_url(url),
        events=_check_events(events),
        description=description,
        secret=new_secret(),
        active=True,
        failure_streak=0,
        created_by_id=agent_id,
    )

    async def work(session: AsyncSession) -> WebhookSubscription:
        session.add(sub)
        await session.flush()
        return sub

    created = await in_transaction(rt.sessions, work)
    _changed()
    return created


async def do_update_subscription(
    rt: Runtime,
    subscription_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    rotate_secret: bool = False,
) -> WebhookSubscription:
    """Change a subscription's URL, events, description, on/off switch or secret."""

    async def work(session: AsyncSession) -> WebhookSubscription:
        sub = await _subscription(session, subscription_id)
        if url is not None:
            sub.url = _check_url(url)
        if events is not None:
            sub.events = _check_events(events)
        if description is not None:
            sub.description = description
        if active is not None:
            sub.active = active
        if rotate_secret:
            sub.secret = new_secret()
        return sub

    updated = await in_transaction(rt.sessions, work)
    _changed()
    return updated


async def do_delete_subscription(rt: Runtime, subscription_id: int) -> None:
    """Remove a subscription and the deliveries it was owed."""

    async def work(session: AsyncSession) -> None:
        sub = await _subscription(session, subscription_id)
        await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        )
        await session.delete(sub)

    await in_transaction(rt.sessions, work)
    _changed()


async def do_resume_subscription(rt: Runtime, subscription_id: int) -> WebhookSubscription:
    """Un-pause a subscription; what it was owed is retried now."""

    async def work(session: AsyncSession) -> WebhookSubscription:
        sub = await _subscription(session, subscription_id)
        sub.paused_at = None
        sub.pause_reason = None
        sub.failure_streak = 0
        sub.active = True
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                WebhookDelivery.status == PENDING,
            )
            .values(next_attempt_at=utcnow())
        )
        return sub

    resumed = await in_transaction(rt.sessions, work)
    _changed()
    return resumed


async def do_redeliver(rt: Runtime, subscription_id: int, delivery_row_id: int) -> WebhookDelivery:
    """Send a delivery again (same delivery id), e.g. one that failed for good."""

    async def work(session: AsyncSession) -> WebhookDelivery:
        d = await session.get(WebhookDelivery, delivery_row_id)
        if d is None or d.subscription_id != subscription_id:
            raise NotFound(f"webhook delivery {delivery_row_id} does not exist")
        if (d.payload or {}).get("redacted"):
            # Its customer's data was erased (core.erasure): there is nothing left to send.
            raise ConflictError("this delivery was redacted", code="redacted")
        d.status = PENDING
        d.next_attempt_at = utcnow()
        return d

    return await in_transaction(rt.sessions, work)


# --- recording events ---------------------------------------------------------------------------


def event_key(event: Event) -> str:
    """A stable hash of the event's name and payload."""
    raw = json.dumps([event.name, event.payload], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


async def do_record_event(rt: Runtime, event: Event) -> int:
    """Owe an event made outside any action's transaction to every enabled subscription that
    wants it, once per content (``event_key``); return how many deliveries were made.

    Actions do not need this: their events reach subscribers through the outbox.
    """
    if not deliverable(event):
        return 0
    key = event_key(event)
    payload = plain_payload(event)

    async def work(session: AsyncSession) -> int:
        subs = (
            (await session.execute(select(WebhookSubscription).where(WebhookSubscription.active)))
            .scalars()
            .all()
        )
        wanted = [s for s in subs if wants(s.events, event.name)]
        if not wanted:
            return 0
        owed = set(
            (
                await session.execute(
                    select(WebhookDelivery.subscription_id).where(
                        WebhookDelivery.event_key == key,
                        WebhookDelivery.subscription_id.in_([s.id for s in wanted]),
                    )
                )
            )
            .scalars()
            .all()
        )
        made = 0
        for sub in wanted:
            if sub.id in owed:
                continue
            session.add(
                WebhookDelivery(
                    delivery_id=str(uuid.uuid4()),
                    subscription_id=sub.id,
                    event=event.name,
                    event_key=key,
                    payload=payload,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=utcnow(),
                )
            )
            made += 1
        return made

    return await in_transaction(rt.sessions, work)


async def _relay_batch(rt: Runtime, limit: int) -> tuple[int, int]:
    """Owe one batch of outbox events and delete them; (rows taken, deliveries made)."""

    async def work(session: AsyncSession) -> tuple[int, int]:
        # SKIP LOCKED: relays in other processes take other rows instead of waiting (PostgreSQL;
        # SQLite's write lock serialises relays, and the rows are gone when the next one reads).
        staged = (
            (
                await session.execute(
                    select(OutboxEvent)
                    .order_by(OutboxEvent.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not staged:
            return 0, 0
        wanted = {i for row in staged for i in row.subscription_ids or []}
        # Deleted or disabled since the event happened: nothing is owed to it any more.
        enabled = set(
            (
                await session.execute(
                    select(WebhookSubscription.id).where(
                        WebhookSubscription.id.in_(wanted), WebhookSubscription.active
                    )
                )
            )
            .scalars()
            .all()
        )
        now = utcnow()
        made = 0
        for row in staged:
            for sub_id in row.subscription_ids or []:
                if sub_id not in enabled:
                    continue
                session.add(
                    WebhookDelivery(
                        delivery_id=str(uuid.uuid4()),
                        subscription_id=sub_id,
                        event=row.event,
                        event_key=row.event_id,
                        payload=row.payload,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=row.created_at,
                    )
                )
                made += 1
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in staged])))
        return len(staged), made

    return await in_transaction(rt.sessions, work)


async def relay_outbox(rt: Runtime, limit: int = 100) -> int:
    """Turn every staged event into deliveries, exactly once; return how many were made."""
    made = 0
    while True:
        taken, batch = await _to_completion(_relay_batch(rt, limit))
        made += batch
        if taken < limit:
            return made


async def _to_completion(step: Coroutine[Any, Any, T]) -> T:
    """Run a short database step to its end even when cancelled meanwhile, then re-raise.

    A worker cancelled mid-transaction would otherwise leave a half-closed session holding
    SQLite's write lock while the service shuts down.
    """
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


# --- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A delivery taken by this worker for one attempt."""

    id: int
    delivery_id: str
    event: str
    payload: dict[str, Any]
    attempt: int
    created_at: str
    url: str
    secret: str
    subscription_id: int


def retry_delay(rt: Runtime, attempt: int) -> float:
    """Seconds before the next try after the given failed attempt: doubling, capped, jittered."""
    s = rt.settings
    base = min(s.webhook_retry_seconds * 2 ** (attempt - 1), s.webhook_max_retry_seconds)
    return float(base * random.uniform(0.9, 1.1))


async def _claim(rt: Runtime, limit: int) -> list[_Claimed]:
    """Take due deliveries of live subscriptions, leasing them so no other worker sends them."""
    lease = timedelta(seconds=rt.settings.webhook_timeout_seconds + 30)

    async def work(session: AsyncSession) -> list[_Claimed]:
        now = utcnow()
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription,
                    WebhookSubscription.id == WebhookDelivery.subscription_id,
                )
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookSubscription.active,
                    WebhookSubscription.paused_at.is_(None),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        claimed = []
        for d, sub in rows:
            d.attempts += 1
            d.next_attempt_at = now + lease
            claimed.append(
                _Claimed(
                    d.id,
                    d.delivery_id,
                    d.event,
                    dict(d.payload),
                    d.attempts,
                    d.created_at.isoformat(),
                    sub.url,
                    sub.secret,
                    sub.id,
                )
            )
        return claimed

    return await in_transaction(rt.sessions, work)


def delivery_body(delivery_id: str, event: str, created_at: str, data: dict[str, Any]) -> bytes:
    """The JSON body a subscriber receives."""
    envelope = {"id": delivery_id, "event": event, "created_at": created_at, "data": data}
    return json.dumps(envelope, ensure_ascii=False).encode()


async def _post(
    rt: Runtime, http: ClientSession, c: _Claimed
) -> tuple[bool, int | None, str | None]:
    """One attempt: (succeeded, HTTP status, error)."""
    body = delivery_body(c.delivery_id, c.event, c.created_at, c.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: c.event,
        DELIVERY_HEADER: c.delivery_id,
        ATTEMPT_HEADER: str(c.attempt),
        **signed_headers(c.secret, body),
    }
    timeout = ClientTimeout(total=rt.settings.webhook_timeout_seconds)
    try:
        async with http.post(c.url, data=body, headers=headers, timeout=timeout) as resp:
            text = (await resp.text(errors="replace"))[:200]
            if 200 <= resp.status < 300:
                return True, resp.status, None
            return False, resp.status, f"HTTP {resp.status}: {text}".strip()
    except (ClientError, TimeoutError) as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]


async def _record_attempt(
    rt: Runtime, c: _Claimed, ok: bool, status: int | None, error: str | None
) -> None:
    """Store an attempt's outcome; pause the endpoint once it has failed too often in a row."""
    out: list[Event] = []

    async def work(session: AsyncSession) -> None:
        out.clear()
        now = utcnow()
        d = await session.get(WebhookDelivery, c.id)
        sub = await session.get(WebhookSubscription, c.subscription_id)
        if d is None or sub is None:
            return
        d.last_status_code = status
        d.last_error = error
        if ok:
            d.status = DELIVERED
            d.delivered_at = now
            sub.failure_streak = 0
            sub.last_success_at = now
            sub.last_error = None
            return
        if d.attempts >= rt.settings.webhook_max_attempts:
            d.status = FAILED
        else:
            d.next_attempt_at = now + timedelta(seconds=retry_delay(rt, d.attempts))
        sub.failure_streak += 1
        sub.last_error = (error or "")[:500]
        if sub.paused_at is None and sub.failure_streak >= rt.settings.webhook_pause_after:
            sub.paused_at = now
            sub.pause_reason = f"{sub.failure_streak} failed attempts in a row; last: {error}"[:500]
            out.append(Event(WEBHOOK_PAUSED, subscription_dict(sub), audience=Role.ADMIN))

    await in_transaction(rt.sessions, work)
    if out:
        _changed()
        log.warning("webhook subscription %s paused: %s", c.subscription_id, error)
        await emit(rt, out)


async def deliver_due(rt: Runtime, http: ClientSession, limit: int = 20) -> int:
    """Attempt every delivery that is due now; return how many were attempted."""
    claimed = await _to_completion(_claim(rt, limit))
    finished: set[int] = set()

    async def attempt(c: _Claimed) -> None:
        ok, status, error = await _post(rt, http, c)
        if not ok:
            log.info(
                "webhook %s attempt %d to %s failed: %s", c.delivery_id, c.attempt, c.url, error
            )
        await _to_completion(_record_attempt(rt, c, ok, status, error))
        finished.add(c.id)

    try:
        await asyncio.gather(*(attempt(c) for c in claimed))
    except asyncio.CancelledError:
        # Shutting down mid-attempt: hand the leases back so the next start sends them at once.
        unfinished = [c.id for c in claimed if c.id not in finished]
        if unfinished:
            await _to_completion(_release(rt, unfinished))
        raise
    return len(claimed)


async def _release(rt: Runtime, ids: list[int]) -> None:
    """Make leased deliveries due again now."""

    async def work(session: AsyncSession) -> None:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == PENDING)
            .values(next_attempt_at=utcnow())
        )

    await in_transaction(rt.sessions, work)


class WebhookWorker:
    """The relay and the deliverer of one process, sharing what they know.

    Both skip the database while no subscription is enabled, so a service without webhooks pays
    nothing. The outbox is read every poll interval, and at once when this process hears an
    event a subscription wants on the bus: the bus only makes it prompt, never makes it happen.
    """

    def __init__(self, rt: Runtime, http: ClientSession, reconnect_seconds: float = 1.0) -> None:
        self.rt = rt
        self.http = http
        self.reconnect_seconds = reconnect_seconds
        self.wake = asyncio.Event()
        self._subs: list[tuple[bool, list[str]]] = []
        self._loaded_at = -1.0
        self._version = -1

    async def subscriptions(self) -> list[tuple[bool, list[str]]]:
        """(live, events) of every enabled subscription, re-read when changed or stale."""
        now = time.monotonic()
        if self._version != _VERSION[0] or now - self._loaded_at > CACHE_SECONDS:
            self._subs = await _to_completion(self._load())
            self._loaded_at, self._version = now, _VERSION[0]
        return self._subs

    async def _load(self) -> list[tuple[bool, list[str]]]:
        """Read the enabled subscriptions."""
        async with self.rt.sessions() as session:
            rows = (
                await session.execute(
                    select(WebhookSubscription.paused_at, WebhookSubscription.events).where(
                        WebhookSubscription.active
                    )
                )
            ).all()
        return [(paused is None, list(events or [])) for paused, events in rows]

    async def wanted(self, event: Event) -> bool:
        """Whether any enabled subscription wants the event."""
        if not deliverable(event):
            return False
        subs = await self.subscriptions()
        return any(wants(events, event.name) for _, events in subs)

    async def wake_forever(self) -> None:
        """Wake the deliverer when the bus carries an event a subscription wants."""
        while True:
            try:
                async for event in self.rt.bus.listen():
                    try:
                        if await self.wanted(event):
                            self.wake.set()
                    except Exception:
                        log.exception("could not check %s for webhooks", event.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook waker lost the bus; listening again")
            await asyncio.sleep(self.reconnect_seconds)

    async def deliver_forever(self) -> None:
        """Relay the outbox and send what is due; sleep until woken or the poll interval passes."""
        while True:
            busy = 0
            self.wake.clear()  # before the round, so an event staged during it is not missed
            try:
                subs = await self.subscriptions()
                if subs:
                    busy += await relay_outbox(self.rt)
                if any(live for live, _ in subs):
                    busy += await deliver_due(self.rt, self.http)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery round failed")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.rt.settings.webhook_poll_seconds)
