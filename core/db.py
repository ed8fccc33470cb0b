"""Engine and session set-up, and the retrying transaction every `do_*` action runs in."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.events import Event
from core.outbox import stage
from core.text import matches_search, normalize_for_search

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
        # Search on SQLite folds and matches Arabic text with the same Python as everywhere
        # else, inside the query, so it can scan every row and stop at the first page.
        dbapi_conn.create_function("tawasul_fold", 1, _sqlite_fold, deterministic=True)
        dbapi_conn.create_function("tawasul_match", 2, _sqlite_match, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail at once with SQLITE_BUSY when
        # another writer got in first; taking the write lock up front makes writers queue.
        # Readers stay deferred: in WAL mode they never wait for a writer.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _sqlite_fold(text: str | None) -> str:
    """SQL ``tawasul_fold(text)``: `normalize_for_search`, NULL as empty."""
    return normalize_for_search(text or "")


@lru_cache(maxsize=64)
def _groups(spec: str) -> tuple[tuple[str, ...], ...]:
    """A search's groups, decoded once per query rather than once per row."""
    return tuple(tuple(group) for group in json.loads(spec))


def _sqlite_match(text: str | None, spec: str) -> int:
    """SQL ``tawasul_match(text, groups_json)``: `matches_search` as 0/1."""
    return int(matches_search(text or "", _groups(spec)))


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


# SQLSTATE classes that blame the values written, not the server: data exception (22: NUL,
# too long, bad encoding), integrity (23) and program limits (54: row or index entry too big).
_VALUE_STATES = ("22", "23", "54")


def storage_unavailable(exc: BaseException) -> bool:
    """Whether a failed write may work later unchanged: the database is away, busy or broken.

    False means the values themselves were refused (or our code could not handle them), so
    retrying the same input will fail the same way.
    """
    if isinstance(exc, OSError | TimeoutError | PoolTimeout | DisconnectionError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True  # connection lost, server shutting down, SQLite locked or unmigrated
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        if state:
            return not state.startswith(_VALUE_STATES)
        return not isinstance(exc, DataError | IntegrityError)
    return False
