"""An app on a fresh database, with helpers to log agents in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from connectors.memory import MemoryConnector
from core.accounts import do_create_agent
from core.types import Role
from inbox.app import create_app
from inbox.keys import CONNECTORS, RUNTIME
from tests.conftest import make_settings

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], sqlite_url: str) -> Client:
    """The service on a fresh SQLite database with the in-memory channel and live workers."""
    app = create_app(make_settings(sqlite_url), migrate=False)
    return await aiohttp_client(app)


def memory(client: Client) -> MemoryConnector:
    """The app's in-memory channel."""
    connector = client.app[CONNECTORS]["memory"]
    assert isinstance(connector, MemoryConnector)
    return connector


async def login_as(client: Client, login: str, role: Role = Role.AGENT) -> dict[str, str]:
    """Create an agent with the role and return headers carrying its bearer token."""
    await do_create_agent(client.app[RUNTIME].sessions, login, login.title(), "password123", role)
    resp = await client.post("/api/v1/auth/login", json={"login": login, "password": "password123"})
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """Retry an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def db_client(aiohttp_client: Callable[..., Awaitable[Client]], database_url: str) -> Client:
    """The service on SQLite and on PostgreSQL, with no pipeline steps (tests set states)."""
    app = create_app(make_settings(database_url), migrate=False, steps=lambda *_: [])
    return await aiohttp_client(app)


async def next_event(ws: Any, name: str, within: float = 5.0) -> dict[str, Any]:
    """Read frames until one carries the named event."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            data: dict[str, Any] = json.loads(msg.data)
            if data["event"] == name:
                return data
