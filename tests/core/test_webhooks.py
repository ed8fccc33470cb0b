"""Event webhooks: signatures, persisted deliveries, retries with one delivery id, pausing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from core import events as ev
from core.actions import do_ingest
from core.bus import InProcessBus
from core.db import make_engine, make_sessions
from core.errors import Invalid
from core.events import Event
from core.redis_bus import RedisBus
from core.runtime import Runtime
from core.types import InboundMessage, Role
from core.webhook_models import OutboxEvent, WebhookDelivery, WebhookSubscription
from core.webhooks import (
    WEBHOOK_PAUSED,
    SignatureError,
    WebhookWorker,
    deliver_due,
    do_create_subscription,
    do_delete_subscription,
    do_record_event,
    do_redeliver,
    do_resume_subscription,
    do_update_subscription,
    relay_outbox,
    retry_delay,
    signature,
    signed_headers,
    verify,
)
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.conftest import REDIS_URL, make_settings
from tests.connectors.receiver import Hit, Receiver
from tests.inbox.conftest import Client, eventually, login_as, memory

SECRET = "whsec_test_0123456789"


# --- the signature scheme ---------------------------------------------------------------------


def test_signature_round_trip() -> None:
    """A body signed now verifies and returns its timestamp."""
    headers = signed_headers(SECRET, b'{"a": 1}', now=1_700_000_000)
    ts = verify(
        SECRET,
        headers["X-Tawasul-Timestamp"],
        headers["X-Tawasul-Signature"],
        b'{"a": 1}',
        now=1_700_000_100,
    )
    assert ts == 1_700_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now", "code"),
    [
        ("another-secret", b"{}", 1_700_000_000, "bad_signature"),
        (SECRET, b'{"x": 1}', 1_700_000_000, "bad_signature"),
        (SECRET, b"{}", 1_700_000_301, "stale_timestamp"),
        (SECRET, b"{}", 1_699_999_699, "stale_timestamp"),
    ],
    ids=["wrong-secret", "tampered", "stale", "from-the-future"],
)
def test_verification_failures_name_their_cause(
    secret: str, body: bytes, now: int, code: str
) -> None:
    """Wrong secret, changed body, or a timestamp over 5 minutes off are refused by cause."""
    ts = "1700000000"
    with pytest.raises(SignatureError) as caught:
        verify(secret, ts, signature(SECRET, ts, b"{}"), body, now=now)
    assert caught.value.code == code


def test_any_of_several_signatures_may_match() -> None:
    """During a secret rotation a sender may send two signatures, comma-separated."""
    ts = "1700000000"
    both = f"{signature('old-secret', ts, b'{}')},{signature(SECRET, ts, b'{}')}"
    assert verify(SECRET, ts, both, b"{}", now=1_700_000_000) == 1_700_000_000


# --- deliveries on the real databases ---------------------------------------------------------


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    """A subscriber endpoint on 127.0.0.1."""
    rec = Receiver(secrets={"events": SECRET})
    server = await aiohttp_server(rec.app())
    rec.url = str(server.make_url("")).rstrip("/")
    return rec


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """An HTTP client session for the deliverer."""
    async with ClientSession() as session:
        yield session


@pytest.fixture
def fast(rt: Runtime, database_url: str) -> Runtime:
    """The runtime with retries in milliseconds."""
    settings = make_settings(
        database_url,
        webhook_retry_seconds=0.01,
        webhook_max_retry_seconds=0.05,
        webhook_max_attempts=5,
        webhook_pause_after=50,
    )
    return Runtime(sessions=rt.sessions, bus=rt.bus, settings=settings)


async def subscribe(rt: Runtime, receiver: Receiver, events: list[str]) -> WebhookSubscription:
    """A subscription to the receiver, its secret known to the receiver."""
    sub = await do_create_subscription(rt, f"{receiver.url}/events", events)
    receiver.secrets["events"] = sub.secret
    return sub


def message_event(message_id: int = 1, kind: str = "incoming") -> Event:
    """A message.created event like the actions emit."""
    return Event(ev.MESSAGE_CREATED, {"id": message_id, "kind": kind, "text": "مرحبا"})


async def drain(rt: Runtime, http: ClientSession, rounds: int = 40) -> None:
    """Run delivery rounds until nothing is due for a while."""
    idle = 0
    for _ in range(rounds):
        idle = idle + 1 if await deliver_due(rt, http) == 0 else 0
        if idle >= 5:
            return
        await asyncio.sleep(0.03)


async def rows(rt: Runtime) -> list[WebhookDelivery]:
    """Every delivery row."""
    async with rt.sessions() as session:
        return list((await session.execute(select(WebhookDelivery))).scalars().all())


async def test_500_three_times_then_200_delivers_once_with_one_delivery_id(
    fast: Runtime, http: ClientSession, receiver: Receiver
) -> None:
    """Three 500s then a 200: four attempts, one delivery id, exactly one success, no more."""
    await subscribe(fast, receiver, ["message.created"])
    receiver.fail("events", 500, 500, 500)
    assert await do_record_event(fast, message_event()) == 1
    await drain(fast, http)
    hits = receiver.on("events")
    assert [h.status for h in hits] == [500, 500, 500, 200]
    assert all(h.verified for h in hits)
    assert len({h.headers["X-Tawasul-Delivery"] for h in hits}) == 1
    assert [h.headers["X-Tawasul-Attempt"] for h in hits] == ["1", "2", "3", "4"]
    assert hits[-1].json["event"] == "message.created"
    assert hits[-1].json["data"]["text"] == "مرحبا"
    assert hits[-1].json["id"] == hits[0].headers["X-Tawasul-Delivery"]
    (row,) = await rows(fast)
    assert row.status == "delivered" and row.attempts == 4
    await drain(fast, http)
    assert len(receiver.ok("events")) == 1


async def test_the_same_event_seen_twice_is_owed_once(
    fast: Runtime, http: ClientSession, receiver: Receiver
) -> None:
    """Recording one event twice (two listeners, a bus redelivery) makes one delivery."""
    await subscribe(fast, receiver, ["*"])
    assert await do_record_event(fast, message_event()) == 1
    assert await do_record_event(fast, message_event()) == 0
    await drain(fast, http)
    assert len(receiver.ok("events")) == 1


async def test_only_wanted_and_public_events_are_recorded(
    fast: Runtime, receiver: Receiver
) -> None:
    """Subscribers get the events they chose; private notes and internal events never."""
    await subscribe(fast, receiver, ["conversation.resolved"])
    assert await do_record_event(fast, message_event()) == 0
    assert await do_record_event(fast, Event(ev.CONVERSATION_RESOLVED, {"id": 3})) == 1
    await subscribe(fast, receiver, ["*"])
    assert await do_record_event(fast, message_event(2, kind="note")) == 0
    assert await do_record_event(fast, Event(ev.MESSAGE_CREATED, {"id": 9}, private=True)) == 0
    assert await do_record_event(fast, Event(WEBHOOK_PAUSED, {"id": 1}, Role.ADMIN)) == 0


async def test_two_workers_never_send_one_delivery_twice(
    fast: Runtime, http: ClientSession, receiver: Receiver
) -> None:
    """Concurrent delivery rounds claim each delivery once."""
    await subscribe(fast, receiver, ["*"])
    for i in range(5):
        await do_record_event(fast, message_event(i))
    await asyncio.gather(deliver_due(fast, http), deliver_due(fast, http))
    await drain(fast, http)
    delivered = [h.headers["X-Tawasul-Delivery"] for h in receiver.ok("events")]
    assert len(delivered) == 5 and len(set(delivered)) == 5


async def test_gives_up_after_the_last_attempt_and_can_be_redelivered(
    fast: Runtime, http: ClientSession, receiver: Receiver
) -> None:
    """Out of attempts the delivery is failed (kept, visible); redelivery reuses its id."""
    sub = await subscribe(fast, receiver, ["*"])
    receiver.fail("events", *([500] * 5))
    await do_record_event(fast, message_event())
    await drain(fast, http)
    (row,) = await rows(fast)
    assert row.status == "failed" and row.attempts == 5 and row.last_status_code == 500
    await do_redeliver(fast, sub.id, row.id)
    await drain(fast, http)
    (ok,) = receiver.ok("events")
    assert ok.headers["X-Tawasul-Delivery"] == row.delivery_id


async def test_failing_endpoint_is_paused_and_admins_are_told(
    fast: Runtime, http: ClientSession, receiver: Receiver, database_url: str
) -> None:
    """After N failures in a row the subscription pauses, admins get an event; resume sends."""
    rt = Runtime(
        sessions=fast.sessions,
        bus=fast.bus,
        settings=make_settings(
            database_url, webhook_retry_seconds=0.01, webhook_pause_after=3, webhook_max_attempts=9
        ),
    )
    sub = await subscribe(rt, receiver, ["*"])
    receiver.fail("events", *([500] * 3))
    heard: list[Event] = []

    async def listen() -> None:
        async for event in rt.bus.listen():
            heard.append(event)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)
    await do_record_event(rt, message_event())
    await drain(rt, http)
    assert [h.status for h in receiver.on("events")] == [500, 500, 500]
    async with rt.sessions() as session:
        paused = await session.get(WebhookSubscription, sub.id)
    assert paused is not None and paused.paused_at is not None
    assert "3 failed attempts" in (paused.pause_reason or "")
    await eventually(lambda: asyncio.sleep(0, heard))
    assert heard[0].name == WEBHOOK_PAUSED and heard[0].audience == Role.ADMIN
    listener.cancel()
    await do_resume_subscription(rt, sub.id)
    await drain(rt, http)
    assert len(receiver.ok("events")) == 1


async def test_worker_sees_subscription_changes_at_once(
    fast: Runtime, http: ClientSession, receiver: Receiver
) -> None:
    """The worker's cached view follows subscriptions created, paused and disabled here."""
    worker = WebhookWorker(fast, http)
    event = message_event()
    assert not await worker.wanted(event)
    sub = await subscribe(fast, receiver, ["message.created"])
    assert await worker.wanted(event)
    assert not await worker.wanted(Event(ev.CONVERSATION_RESOLVED, {"id": 1}))
    await do_update_subscription(fast, sub.id, active=False)
    assert not await worker.wanted(event)


class DeadBus(InProcessBus):
    """A bus that never publishes: the process died between the commit and the publish."""

    async def publish(self, event: Event) -> None:
        """Fail like a process killed at this point (or a Redis that went away)."""
        raise ConnectionError("the process died before publishing")


async def test_concurrent_relays_owe_and_send_each_event_once_per_subscription(
    fast: Runtime, http: ClientSession, receiver: Receiver, database_url: str
) -> None:
    """Events whose publish failed are relayed from the outbox; four relays and two deliverers
    racing (separate connections) owe and send each event exactly once to each subscription."""
    rt = Runtime(sessions=fast.sessions, bus=DeadBus(), settings=fast.settings)
    for path in ("a", "b"):
        sub = await do_create_subscription(rt, f"{receiver.url}/{path}", ["message.created"])
        receiver.secrets[path] = sub.secret
    for i in range(12):
        await do_ingest(rt, InboundMessage("telegram", f"c-{i}", f"m-{i}", f"hello {i}"))
    engines = [make_engine(database_url) for _ in range(3)]
    others = [Runtime(make_sessions(e), rt.bus, rt.settings) for e in engines]
    try:
        relays = [relay_outbox(r, limit=2) for r in (rt, *others)]
        made = await asyncio.gather(*relays)
        assert sum(made) == 24
        await asyncio.gather(deliver_due(rt, http), deliver_due(others[0], http))
        await drain(rt, http)
    finally:
        for engine in engines:
            await engine.dispose()
    for path in ("a", "b"):
        texts = sorted(h.json["data"]["text"] for h in receiver.ok(path))
        assert texts == sorted(f"hello {i}" for i in range(12))
        assert len({h.headers["X-Tawasul-Delivery"] for h in receiver.ok(path)}) == 12
    assert len(await rows(rt)) == 24
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_a_subscription_deleted_or_disabled_meanwhile_is_owed_nothing(
    fast: Runtime, receiver: Receiver
) -> None:
    """Between the event and the relay, a removed or disabled subscription drops out."""
    kept = await subscribe(fast, receiver, ["*"])
    gone = await do_create_subscription(fast, f"{receiver.url}/gone", ["*"])
    off = await do_create_subscription(fast, f"{receiver.url}/off", ["*"])
    await do_ingest(fast, InboundMessage("telegram", "c-1", "m-1", "hello"))
    await do_delete_subscription(fast, gone.id)
    await do_update_subscription(fast, off.id, active=False)
    assert await relay_outbox(fast) == 3  # conversation.created, message.created, .updated
    assert {d.subscription_id for d in await rows(fast)} == {kept.id}


def test_backoff_doubles_up_to_the_cap(rt: Runtime) -> None:
    """Retry delays double from the base and stop at the cap (with ±10% jitter)."""
    delays = [retry_delay(rt, n) for n in (1, 2, 3, 20)]
    assert 27 <= delays[0] <= 33 and 54 <= delays[1] <= 66 and 108 <= delays[2] <= 132
    assert 3240 <= delays[3] <= 3960
    total = sum(retry_delay(rt, n) for n in range(1, rt.settings.webhook_max_attempts))
    assert total > 4 * 3600  # the default schedule keeps trying for hours


async def test_unknown_event_names_are_refused(rt: Runtime) -> None:
    """A typo in an event name is an error, not a subscription that never fires."""
    with pytest.raises(Invalid):
        await do_create_subscription(rt, "https://example.com/hook", ["message.craeted"])


# --- through the service ----------------------------------------------------------------------


def fast_settings(url: str, **overrides: Any) -> Any:
    """Settings with the webhook worker polling and retrying in milliseconds."""
    values: dict[str, Any] = {
        "webhook_poll_seconds": 0.02,
        "webhook_retry_seconds": 0.05,
        **overrides,
    }
    return make_settings(url, **values)


@pytest.fixture
async def service(aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str) -> Client:
    """The service with fast webhook workers."""
    return await aiohttp_client(create_app(fast_settings(sqlite_url), migrate=False))


async def test_subscriptions_are_managed_by_admins_only(
    service: Client, receiver: Receiver
) -> None:
    """Admins create, list, rotate and delete; the secret is shown only when issued."""
    agent = await login_as(service, "sara")
    admin = await login_as(service, "root", Role.ADMIN)
    body = {"url": f"{receiver.url}/events", "events": ["message.created"]}
    assert (await service.post("/api/v1/webhooks", json=body, headers=agent)).status == 403
    created = await service.post("/api/v1/webhooks", json=body, headers=admin)
    assert created.status == 201
    sub = await created.json()
    assert sub["secret"].startswith("whsec_") and sub["status"] == "active"
    listed = await (await service.get("/api/v1/webhooks", headers=admin)).json()
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    rotated = await service.patch(
        f"/api/v1/webhooks/{sub['id']}", json={"rotate_secret": True}, headers=admin
    )
    assert (await rotated.json())["secret"] != sub["secret"]
    bad = await service.post(
        "/api/v1/webhooks", json={"url": "ftp://x.example", "events": ["*"]}, headers=admin
    )
    assert bad.status == 422
    gone = await service.delete(f"/api/v1/webhooks/{sub['id']}", headers=admin)
    assert gone.status == 200
    assert (await service.get(f"/api/v1/webhooks/{sub['id']}", headers=admin)).status == 404


async def test_customer_message_reaches_the_subscriber_and_notes_do_not(
    service: Client, receiver: Receiver
) -> None:
    """A new message is posted, signed, to the subscriber; a private note never is."""
    admin = await login_as(service, "root", Role.ADMIN)
    created = await service.post(
        "/api/v1/webhooks",
        json={"url": f"{receiver.url}/events", "events": ["*"]},
        headers=admin,
    )
    receiver.secrets["events"] = (await created.json())["secret"]
    await asyncio.sleep(0.05)  # let the recorder subscribe to the bus
    result = await memory(service).receive("c-1", "m-1", "السلام عليكم")
    await service.post(
        f"/api/v1/conversations/{result.conversation_id}/notes",
        json={"text": "secret note"},
        headers=admin,
    )

    async def got_message() -> bool:
        return any(
            h.json["event"] == "message.created" and h.json["data"]["text"] == "السلام عليكم"
            for h in receiver.ok("events")
        )

    await eventually(got_message)
    await asyncio.sleep(0.2)
    assert all(h.verified for h in receiver.on("events"))
    assert all("secret note" not in h.body.decode() for h in receiver.on("events"))
    deliveries = await service.get(
        f"/api/v1/webhooks/{(await created.json())['id']}/deliveries", headers=admin
    )
    assert {d["status"] for d in await deliveries.json()} == {"delivered"}


async def test_events_never_published_reach_the_subscriber_after_a_restart(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, receiver: Receiver
) -> None:
    """A process that commits and dies before publishing: the next start still delivers."""
    first = await aiohttp_client(
        create_app(fast_settings(sqlite_url), bus=DeadBus(), migrate=False, workers=False)
    )
    await subscribe(first.app[RUNTIME], receiver, ["message.created"])
    await memory(first).receive("c-1", "m-1", "مرحبا")
    await first.close()
    assert receiver.on("events") == []

    await aiohttp_client(create_app(fast_settings(sqlite_url), migrate=False))

    def customer_said() -> list[Hit]:
        return [h for h in receiver.ok("events") if h.json["data"]["kind"] == "incoming"]

    await eventually(lambda: asyncio.sleep(0, customer_said()), within=10)
    await asyncio.sleep(0.2)
    (hit,) = customer_said()
    assert hit.json["event"] == "message.created" and hit.json["data"]["text"] == "مرحبا"


async def test_pending_deliveries_survive_a_restart(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, receiver: Receiver
) -> None:
    """A delivery still owed when the service stops is sent by the next service, same id."""
    first = await aiohttp_client(
        create_app(fast_settings(sqlite_url, webhook_retry_seconds=1.0), migrate=False)
    )
    sub = await subscribe(first.app[RUNTIME], receiver, ["conversation.created"])
    receiver.fail("events", 500)
    await asyncio.sleep(0.05)
    await memory(first).receive("c-1", "m-1", "hello")

    async def failure_recorded() -> bool:
        return any(r.last_status_code == 500 for r in await rows(first.app[RUNTIME]))

    await eventually(failure_recorded)
    await first.close()  # stopped with the retry still owed
    assert receiver.ok("events") == []

    second = await aiohttp_client(create_app(fast_settings(sqlite_url), migrate=False))
    await eventually(lambda: asyncio.sleep(0, receiver.ok("events")), within=10)
    failed, delivered = receiver.on("events")
    assert failed.headers["X-Tawasul-Delivery"] == delivered.headers["X-Tawasul-Delivery"]
    async with second.app[RUNTIME].sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id)
        )
    assert count == 1
    await asyncio.sleep(0.2)
    assert len(receiver.ok("events")) == 1


async def test_shutdown_mid_attempt_hands_the_delivery_back(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, receiver: Receiver
) -> None:
    """Stopping while a subscriber is slow frees the delivery: the next start sends it at once."""
    first = await aiohttp_client(create_app(fast_settings(sqlite_url), migrate=False))
    await subscribe(first.app[RUNTIME], receiver, ["conversation.created"])
    receiver.stalls["events"] = [3.0]
    await asyncio.sleep(0.05)
    await memory(first).receive("c-1", "m-1", "hello")
    await eventually(lambda: asyncio.sleep(0, receiver.arrived))
    await first.close()  # cancelled mid-request
    started = asyncio.get_running_loop().time()
    await aiohttp_client(create_app(fast_settings(sqlite_url), migrate=False))

    def retried() -> list[Hit]:
        return [h for h in receiver.ok("events") if h.headers["X-Tawasul-Attempt"] == "2"]

    await eventually(lambda: asyncio.sleep(0, retried()), within=10)
    # Well before the stalled first attempt would have answered, let alone the lease expired.
    assert asyncio.get_running_loop().time() - started < 2.5


@pytest.mark.redis
async def test_two_processes_on_redis_owe_and_send_each_event_once(
    aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str, receiver: Receiver
) -> None:
    """Two services on one Redis both hear every event; each is still delivered once."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    buses = [RedisBus(REDIS_URL, prefix=prefix, block_ms=50) for _ in range(2)]
    apps: list[Client] = []
    try:
        apps = [
            await aiohttp_client(create_app(fast_settings(sqlite_url), bus=bus, migrate=False))
            for bus in buses
        ]
        await subscribe(apps[0].app[RUNTIME], receiver, ["conversation.created"])
        await asyncio.sleep(0.3)  # both recorders are listening
        for i in range(3):
            await memory(apps[i % 2]).receive(f"c-{i}", f"m-{i}", "مرحبا")
        await eventually(lambda: asyncio.sleep(0, len(receiver.ok("events")) >= 3), within=10)
        await asyncio.sleep(0.5)
        delivered = [h.headers["X-Tawasul-Delivery"] for h in receiver.ok("events")]
        assert len(delivered) == 3 and len(set(delivered)) == 3
        assert len(await rows(apps[0].app[RUNTIME])) == 3
    finally:
        for app in apps:
            await app.close()
        keys = [k async for k in buses[0].redis.scan_iter(f"{prefix}:*")]
        if keys:
            await buses[0].redis.delete(*keys)
        for bus in buses:
            await bus.close()
