"""The app factory: wires settings, database, bus, connectors, pipeline workers and routes."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

import inbox.endpoints  # noqa: F401  (registers the routes)
from connectors.registry import Connectors
from core.actions import IngestResult, do_ingest, do_mark_identity_blocked
from core.bus import Bus, InProcessBus, RetryPolicy, delivery_queue, pipeline_queue
from core.channel_reads import ChannelReads
from core.db import make_engine, make_sessions
from core.delivery import handle_delivery_job, on_delivery_dead
from core.files import FileLinks, LocalFileStore
from core.identity_links import do_link_identity
from core.migrate import upgrade
from core.pipeline import Step, handle_pipeline_job, on_pipeline_dead, sweep_forever
from core.routing import HumanRouting
from core.runtime import Runtime
from core.settings import Settings
from core.shared import shared_for
from core.sla import sla_forever
from core.types import InboundMessage
from core.visitors import do_identify_visitor, do_issue_link_token, do_record_contact
from core.webhooks import WebhookWorker
from inbox.api import api
from inbox.auth import auth_middleware
from inbox.errors import error_middleware
from inbox.keys import (
    CONNECTORS,
    ENGINE,
    FILES,
    HTTP,
    LOGIN_THROTTLE,
    RUNTIME,
    SETTINGS,
    SOCKETS,
)
from inbox.pages import setup_pages
from inbox.throttle import LoginThrottle
from inbox.ws import fan_out, websocket

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SHUTDOWN_GRACE_SECONDS = 10

StepFactory = Callable[[Settings, ClientSession], Sequence[Step]]


def sentiment_step(settings: Settings) -> Step:
    """The scorer the settings name, one per worker behind micro-batchers, as a pipeline step."""
    from core.mood import SentimentStep
    from sentiment.batcher import Batcher
    from sentiment.pool import BatcherPool
    from sentiment.scorer import load_scorer

    pool = BatcherPool(
        [
            Batcher(
                load_scorer(
                    settings.sentiment_model,
                    threshold=settings.angry_threshold,
                    label_map=settings.sentiment_label_map,
                    threads=settings.sentiment_threads,
                ),
                max_batch=settings.sentiment_batch,
                max_wait=settings.sentiment_wait_ms / 1000,
            )
            for _ in range(max(1, settings.sentiment_workers))
        ]
    )
    return SentimentStep(pool.score, pool.close)


def default_steps(settings: Settings, http: ClientSession) -> list[Step]:
    """Sentiment first (anger can escalate before the bot answers), then routing."""
    steps: list[Step] = []
    if settings.sentiment_enabled:
        steps.append(sentiment_step(settings))
    if settings.bot_enabled:
        from bot.client import RasaClient
        from bot.step import BotRouting

        client = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds, session=http)
        steps.append(BotRouting(client))
    else:
        steps.append(HumanRouting())
    return steps


def make_bus(settings: Settings) -> Bus:
    """Redis when ``REDIS_URL`` is set, else the in-process bus."""
    if settings.redis_url:
        from core.redis_bus import RedisBus

        return RedisBus(settings.redis_url)
    return InProcessBus()


def create_app(
    settings: Settings | None = None,
    *,
    steps: StepFactory = default_steps,
    bus: Bus | None = None,
    migrate: bool = True,
    workers: bool = True,
) -> web.Application:
    """Build the service.

    ``steps`` chooses the pipeline steps, ``bus`` overrides the bus (tests), ``migrate`` runs
    migrations at start-up, ``workers`` runs the pipeline and delivery workers in-process.
    """
    settings = settings or Settings()
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[SOCKETS] = weakref.WeakSet()
    app[LOGIN_THROTTLE] = LoginThrottle()

    async def sink(inbound: InboundMessage) -> IngestResult:
        return await do_ingest(app[RUNTIME], inbound)

    connectors = Connectors.build(
        settings.channel_names(), {n: settings.section(n) for n in settings.channel_names()}, sink
    )
    app[CONNECTORS] = connectors
    files = LocalFileStore(settings.files_dir, settings.files_max_bytes)
    app[FILES] = files
    links = FileLinks(
        settings.secret_key.get_secret_value(), settings.file_link_ttl_seconds, settings.public_url
    )
    for name, connector in connectors.by_name.items():
        connector.files = files
        connector.links = links
        sub = web.Application(client_max_size=settings.max_body_bytes)
        sub.add_routes(connector.routes())
        if connector.routes():
            app.add_subapp(f"/channels/{name}", sub)
        if demo_page := getattr(connector, "demo_page", None):
            app.router.add_get("/demo", demo_page)
        if on_shutdown := getattr(connector, "on_shutdown", None):
            app.on_shutdown.append(on_shutdown)

    api.mount(app)
    app.router.add_get("/api/v1/ws", websocket)
    if STATIC.is_dir():
        app.router.add_static("/static", STATIC)
    setup_pages(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
        app[ENGINE] = engine
        the_bus = bus or make_bus(settings)
        http = ClientSession(timeout=ClientTimeout(total=30))
        app[HTTP] = http
        # On Redis, channels agree with the other processes (rate limits, replays, live sockets).
        shared = shared_for(the_bus)
        for connector in connectors.by_name.values():
            connector.http = http
            connector.shared = shared
        app[RUNTIME] = Runtime(
            sessions=make_sessions(engine),
            bus=the_bus,
            settings=settings,
            steps=list(steps(settings, http)),
            sender=connectors,
            # Customer erasure removes files from every store that keeps customers' files.
            file_erasers=[
                files.erase,
                *(e for c in connectors.by_name.values() if (e := getattr(c, "erase_file", None))),
            ],
        )
        for name, connector in connectors.by_name.items():
            connector.on_blocked = partial(do_mark_identity_blocked, app[RUNTIME])
            if bind_reads := getattr(connector, "bind_reads", None):
                bind_reads(
                    ChannelReads(
                        app[RUNTIME].sessions,
                        name,
                        settings,
                        agents_online=lambda: len(app[SOCKETS]) > 0,
                        send_via=connectors.send,
                    )
                )
            if hasattr(connector, "on_link"):  # channels that can link identities (Telegram)
                connector.on_link = partial(do_link_identity, app[RUNTIME])
            if hasattr(connector, "on_identify"):  # channels whose visitors say who they are
                connector.on_identify = partial(do_identify_visitor, app[RUNTIME])
            if hasattr(connector, "on_contact"):  # offline visitors leaving an email
                connector.on_contact = partial(do_record_contact, app[RUNTIME])
            if hasattr(connector, "on_link_request"):  # visitors continuing on Telegram
                connector.on_link_request = partial(do_issue_link_token, app[RUNTIME])
            if hasattr(connector, "on_unblocked"):  # channels that see a user unblock us
                connector.on_unblocked = partial(
                    do_mark_identity_blocked, app[RUNTIME], blocked=False
                )
        await connectors.start()
        yield
        try:
            await asyncio.wait_for(connectors.stop(), SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            log.error("channels did not stop within %s s", SHUTDOWN_GRACE_SECONDS)
        sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
        for ws in list(sockets):
            await ws.close(code=1001, message=b"server shutdown")
        await http.close()
        if bus is None:
            await the_bus.close()
        await engine.dispose()

    async def background(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        tasks = [asyncio.create_task(fan_out(app, rt.bus), name="fan-out")]
        if workers:
            hooks = WebhookWorker(rt, app[HTTP])
            pipeline_policy = RetryPolicy(
                settings.pipeline_max_attempts, settings.pipeline_retry_seconds
            )
            delivery_policy = RetryPolicy(
                settings.delivery_max_attempts, settings.delivery_retry_seconds
            )
            for shard in range(settings.pipeline_shards):
                for queue, handle, policy, dead in (
                    (pipeline_queue, handle_pipeline_job, pipeline_policy, on_pipeline_dead),
                    (delivery_queue, handle_delivery_job, delivery_policy, on_delivery_dead),
                ):
                    name = queue(shard, settings.pipeline_shards)
                    work = rt.bus.work(name, partial(handle, rt), policy, partial(dead, rt))
                    tasks.append(asyncio.create_task(work, name=name))
            tasks.append(asyncio.create_task(sweep_forever(rt), name="sweeper"))
            tasks.append(asyncio.create_task(sla_forever(rt), name="sla"))
            tasks.append(asyncio.create_task(hooks.wake_forever(), name="webhook-waker"))
            tasks.append(asyncio.create_task(hooks.deliver_forever(), name="webhook-deliverer"))
        yield
        for task in tasks:
            task.cancel()
        # A worker stuck in a database or network call must not hold shutdown hostage.
        _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in stuck:
            log.error("background task %s did not stop in time", task.get_name())

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(background)
    return app
