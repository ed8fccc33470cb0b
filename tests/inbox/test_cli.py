"""The command line's agent management: set-password and deactivate-agent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from core.accounts import agent_for_token, do_create_agent, do_login
from core.db import make_engine, make_sessions
from inbox.cli import main


def _login(url: str, login: str, password: str) -> str | None:
    """A session token, or None when the login is refused."""

    async def run() -> str | None:
        engine = make_engine(url)
        try:
            found = await do_login(make_sessions(engine), login, password, timedelta(hours=1))
        finally:
            await engine.dispose()
        return found[1] if found else None

    return asyncio.run(run())


def _alive(url: str, token: str) -> bool:
    """Whether a session token still works."""

    async def run() -> bool:
        engine = make_engine(url)
        try:
            return await agent_for_token(make_sessions(engine), token) is not None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_set_password_and_deactivate_from_the_command_line(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """set-password ends the agent's sessions; deactivate-agent stops them logging in."""
    monkeypatch.chdir(tmp_path)  # no `.env` here
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("REDIS_URL", raising=False)

    async def create() -> None:
        engine = make_engine(sqlite_url)
        await do_create_agent(make_sessions(engine), "sara", "Sara", "password123")
        await engine.dispose()

    asyncio.run(create())
    token = _login(sqlite_url, "sara", "password123")
    assert token is not None
    monkeypatch.setenv("TAWASUL_PASSWORD", "new-password-1")
    assert main(["set-password", "--login", "Sara"]) == 0
    assert "sessions ended" in capsys.readouterr().out
    assert not _alive(sqlite_url, token)
    assert _login(sqlite_url, "sara", "password123") is None
    token = _login(sqlite_url, "sara", "new-password-1")
    assert token is not None
    assert main(["deactivate-agent", "--login", "sara"]) == 0
    assert not _alive(sqlite_url, token)
    assert _login(sqlite_url, "sara", "new-password-1") is None
    assert main(["deactivate-agent", "--login", "nobody"]) == 1
    assert "no agent" in capsys.readouterr().err
    monkeypatch.setenv("TAWASUL_PASSWORD", "short")
    assert main(["set-password", "--login", "sara"]) == 1
