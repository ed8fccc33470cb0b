"""Telling a database that is away from values it refuses (`core.db.storage_unavailable`)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import make_engine, storage_unavailable
from tests.connectors.conftest import free_port


async def _refused_write(url: str) -> BaseException:
    """The error of a write whose values this database refuses."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TEMP TABLE t (v varchar(10) NOT NULL)"))
            # PostgreSQL refuses NUL in text; SQLite takes it, but not a NULL in a NOT NULL.
            value = "a\x00b" if url.startswith("postgresql") else None
            await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the write went through")


async def test_values_the_database_refuses_are_not_an_outage(database_url: str) -> None:
    """A NUL (PostgreSQL) or a NOT NULL violation will fail again: not worth waiting for."""
    assert not storage_unavailable(await _refused_write(database_url))
    assert not storage_unavailable(ValueError("our code choked on this input"))


async def test_a_database_that_is_away_or_busy_is_an_outage() -> None:
    """Refused connections and SQLite's lock are temporary: the same write may work later."""
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    with pytest.raises(Exception) as refused:
        async with engine.connect():
            pass
    await engine.dispose()
    assert storage_unavailable(refused.value)
    assert storage_unavailable(OperationalError("INSERT", {}, Exception("database is locked")))
