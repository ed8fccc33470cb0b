"""The whole service on PostgreSQL and Redis, as deployed: in, routed, replied, delivered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from inbox.app import create_app
from tests.conftest import REDIS_URL, make_settings
from tests.inbox.conftest import eventually, login_as, memory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_message_round_trip_on_postgres_and_redis(
    redis_bus: Any,
    pg_url: str,
    aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
) -> None:
    """With Redis Streams workers and PostgreSQL, a message is routed and the reply delivered."""
    settings = make_settings(pg_url, redis_url=REDIS_URL)
    client = await aiohttp_client(create_app(settings, bus=redis_bus, migrate=False))
    headers = await login_as(client, "sara")
    await memory(client).receive("cust-1", "in-1", "السلام عليكم")

    async def pending() -> Any:
        body = await (
            await client.get("/api/v1/conversations?status=pending", headers=headers)
        ).json()
        return body["items"]

    items = await eventually(pending)
    resp = await client.post(
        f"/api/v1/conversations/{items[0]['id']}/reply",
        json={"text": "وعليكم السلام"},
        headers=headers,
    )
    assert resp.status == 201
    sent = await eventually(lambda: _sent(client))
    assert [m.text for m in sent] == ["وعليكم السلام"]


async def _sent(client: TestClient) -> list[Any]:  # type: ignore[type-arg]
    return list(memory(client).sent)


def test_serve_refuses_a_public_address_with_the_development_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve` on a non-loopback host with the default SECRET_KEY exits with a clear error."""
    from inbox.cli import main

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no `.env` here
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "SECRET_KEY" in capsys.readouterr().err
