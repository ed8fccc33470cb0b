"""Engine and session set-up, and the retrying transaction every `do_*` action runs in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.events import Event
from core.outbox import stage

log = logging.getLogger(__name__)
T = TypeVar("T")

Sessions = async_sessionmaker[AsyncSession]
WRITE_OPTION = "tawasul_write"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    if url.startswith("sqlite"):
        tail = url.split("///", 1)[1] if "///" in url else ""
        if tail and tail != ":memory:":
            Path(tail).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 5}, **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite safe for several writers in one process."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions start (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL stays crash-safe for the app; only an OS crash can lose the last
        # commits, and it saves an fsync per commit.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail at once with SQLITE_BUSY when
        # another writer got in first; taking the write lock up front makes writers queue.
        # Readers stay deferred: in WAL mode they never wait for a writer.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_sessions(engine: AsyncEngine) -> Sessions:
    """A session factory whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


class Conflict(Exception):
    """A write lost a race it cannot win by retrying."""


async def in_transaction(
    sessions: Sessions,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 5,
    events: list[Event] | None = None,
) -> T:
    """Run ``work`` in one transaction, retrying on lost races (unique keys, locks).

    ``events`` is the list ``work`` puts its change's events in: it is emptied before each
    attempt, and those subscribers may receive go to the outbox in the same transaction.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session:
                await session.connection(execution_options={WRITE_OPTION: True})
                try:
                    if events is not None:
                        events.clear()
                    result = await work(session)
                    if events:
                        await stage(session, events)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                return result
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            log.debug("retrying transaction after %s (attempt %d)", type(exc).__name__, attempt)
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


def _retryable(exc: DBAPIError) -> bool:
    """Whether a database error is a race that a fresh transaction may win."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "serialization", "could not serialize"))
