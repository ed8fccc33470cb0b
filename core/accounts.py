"""Agents and their login sessions; passwords are argon2 hashes, session tokens are hashed."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Sessions, in_transaction
from core.errors import ConflictError, Invalid
from core.models import Agent, Session, utcnow
from core.types import Role

_hasher = PasswordHasher()
# Verifying against this when the login is unknown keeps timing the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def hash_password(password: str) -> str:
    """Argon2-hash a password off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password off the event loop, in constant work whether or not the agent exists."""

    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(None, check)


async def do_create_agent(
    sessions: Sessions,
    login: str,
    display_name: str,
    password: str,
    role: Role = Role.AGENT,
    language: str = "en",
) -> Agent:
    """Create an agent; logins are unique, case-insensitively."""
    login = login.strip().lower()
    if not login or len(password) < 8:
        raise Invalid("a login and a password of at least 8 characters are required")
    hashed = await hash_password(password)

    async def work(session: AsyncSession) -> Agent:
        taken = await session.scalar(select(func.count()).where(Agent.login == login))
        if taken:
            raise ConflictError(f"login {login!r} is taken", code="login_taken")
        agent = Agent(
            login=login,
            display_name=display_name.strip() or login,
            role=role,
            password_hash=hashed,
            language=language,
        )
        session.add(agent)
        await session.flush()
        return agent

    return await in_transaction(sessions, work, attempts=1)


async def do_login(
    sessions: Sessions, login: str, password: str, ttl: timedelta
) -> tuple[Agent, str] | None:
    """Check credentials and open a session; returns the agent and the raw token once."""
    async with sessions() as session:
        agent = (
            await session.execute(select(Agent).where(Agent.login == login.strip().lower()))
        ).scalar_one_or_none()
    ok = await verify_password(agent.password_hash if agent else None, password)
    if not ok or agent is None or not agent.active:
        return None
    token = secrets.token_urlsafe(32)

    async def work(session: AsyncSession) -> None:
        now = utcnow()
        await session.execute(delete(Session).where(Session.expires_at < now))
        session.add(Session(token_hash=token_hash(token), agent_id=agent.id, expires_at=now + ttl))
        db_agent = await session.get(Agent, agent.id)
        if db_agent is not None:
            db_agent.last_seen_at = now

    await in_transaction(sessions, work)
    return agent, token


async def do_logout(sessions: Sessions, token: str) -> None:
    """End a session."""

    async def work(session: AsyncSession) -> None:
        await session.execute(delete(Session).where(Session.token_hash == token_hash(token)))

    await in_transaction(sessions, work)


async def agent_for_token(sessions: Sessions, token: str) -> Agent | None:
    """The active agent a live session token belongs to."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(Agent)
                .join(Session, Session.agent_id == Agent.id)
                .where(Session.token_hash == token_hash(token), Session.expires_at > utcnow())
            )
        ).scalar_one_or_none()
    return row if row is not None and row.active else None
