"""Shared fixtures: real SQLite and PostgreSQL databases, real buses, and a loopback-only net."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from core.bus import Bus, InProcessBus
from core.db import Sessions, make_engine, make_sessions
from core.migrate import upgrade
from core.models import Base
from core.redis_bus import RedisBus
from core.runtime import Runtime
from core.settings import Settings

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:5432/postgres"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    """Refuse any connection that leaves the machine."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host))
        if not ip.is_loopback:
            raise RuntimeError(f"test tried to reach {host}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that reaches a non-loopback address."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def _files_dir(database_url: str) -> Path:
    """Uploads beside the test's SQLite file (in its tmp_path), else in a fresh temp dir."""
    if database_url.startswith("sqlite") and "///" in database_url:
        return Path(database_url.split("///", 1)[1]).parent / "files"
    return Path(tempfile.mkdtemp(prefix="tawasul-files-"))


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings that ignore the developer's `.env` and environment."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "files_dir": _files_dir(database_url),
        "secret_key": "test-secret",
        "pipeline_retry_seconds": 0.05,
        "delivery_retry_seconds": 0.05,
        "sweep_interval_seconds": 3600,
        "sla_check_seconds": 3600,  # once at start-up; SLA tests ask for more
        "sentiment_enabled": False,
        "pipeline_shards": 1,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def build() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated once."""
    name = f"tawasul_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        engine = make_engine(f"postgresql+asyncpg://postgres@{PG_HOST}:5432/{name}")
        await upgrade(engine)
        await engine.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    yield f"postgresql+asyncpg://postgres@{PG_HOST}:5432/{name}"
    asyncio.run(drop())


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database for one test."""
    path = tmp_path / "tawasul.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    engine = make_engine(pg_database)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on the embedded SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """A session factory on the test database."""
    engine = make_engine(database_url)
    yield make_sessions(engine)
    await engine.dispose()


@pytest.fixture
async def redis_bus() -> AsyncIterator[RedisBus]:
    """A Redis bus on the real server, under a prefix of its own."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    bus = RedisBus(REDIS_URL, prefix=prefix, block_ms=50)
    yield bus

    async def cleanup() -> None:
        keys = [k async for k in bus.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await bus.redis.delete(*keys)

    await asyncio.wait_for(cleanup(), 10)
    await bus.close()


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.redis)])
def bus(request: pytest.FixtureRequest) -> Bus:
    """Each bus test runs on the in-process bus and on the real Redis."""
    if request.param == "inprocess":
        return InProcessBus()
    bus: Bus = request.getfixturevalue("redis_bus")
    return bus


@pytest.fixture
async def rt(sessions: Sessions, database_url: str) -> Runtime:
    """A runtime on the test database with an in-process bus and no workers."""
    return Runtime(sessions=sessions, bus=InProcessBus(), settings=make_settings(database_url))
