"""Agents and their login sessions; passwords are argon2 hashes, session tokens are hashed."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.actions import emit
from core.db import Sessions, in_transaction
from core.errors import ConflictError, Forbidden, Invalid, NotFound
from core.events import Event
from core.models import Agent, Session, utcnow
from core.runtime import Runtime
from core.serialize import agent_dict
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


async def do_logout(rt: Runtime, token: str) -> None:
    """End a session; its live sockets close (``session.revoked``)."""

    async def work(session: AsyncSession) -> list[tuple[int, int]]:
        rows = await session.execute(
            delete(Session)
            .where(Session.token_hash == token_hash(token))
            .returning(Session.id, Session.agent_id)
        )
        return [(row[0], row[1]) for row in rows]

    ended = await in_transaction(rt.sessions, work)
    for session_id, agent_id in ended:
        await emit(rt, [_revoked(agent_id, [session_id])])


def _revoked(agent_id: int, session_ids: list[int]) -> Event:
    """The internal event that closes these sessions' sockets in every process."""
    return Event(ev.SESSION_REVOKED, {"agent_id": agent_id, "session_ids": session_ids}, Role.ADMIN)


async def _revoke_sessions(
    session: AsyncSession, agent_id: int, keep_token: str | None = None
) -> list[int]:
    """Delete an agent's sessions (but the one ``keep_token`` names); their ids."""
    stmt = delete(Session).where(Session.agent_id == agent_id)
    if keep_token is not None:
        stmt = stmt.where(Session.token_hash != token_hash(keep_token))
    return list((await session.execute(stmt.returning(Session.id))).scalars().all())


async def do_update_agent(
    rt: Runtime,
    agent_id: int,
    *,
    display_name: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> Agent:
    """Rename, change the role of, or (de)activate an agent; deactivation ends its sessions."""
    if display_name is not None and not display_name.strip():
        raise Invalid("display_name cannot be empty")
    out: list[Event] = []

    async def work(session: AsyncSession) -> Agent:
        out.clear()
        agent = await session.get(Agent, agent_id, with_for_update=True)
        if agent is None:
            raise NotFound(f"agent {agent_id} does not exist")
        if display_name is not None:
            agent.display_name = display_name.strip()
        if role is not None:
            agent.role = role
        if active is not None:
            agent.active = active
        if active is False:
            ended = await _revoke_sessions(session, agent_id)
            out.append(_revoked(agent_id, ended))
        await session.flush()
        out.insert(0, Event(ev.AGENT_UPDATED, agent_dict(agent)))
        return agent

    agent = await in_transaction(rt.sessions, work)
    await emit(rt, out)
    return agent


async def do_set_password(
    rt: Runtime, agent_id: int, password: str, *, keep_token: str | None = None
) -> Agent:
    """Set an agent's password and end its sessions (but the one ``keep_token`` names)."""
    if len(password) < 8:
        raise Invalid("a password needs at least 8 characters", code="weak_password")
    hashed = await hash_password(password)
    out: list[Event] = []

    async def work(session: AsyncSession) -> Agent:
        out.clear()
        agent = await session.get(Agent, agent_id, with_for_update=True)
        if agent is None:
            raise NotFound(f"agent {agent_id} does not exist")
        agent.password_hash = hashed
        ended = await _revoke_sessions(session, agent_id, keep_token)
        out.append(_revoked(agent_id, ended))
        return agent

    agent = await in_transaction(rt.sessions, work)
    await emit(rt, out)
    return agent


async def do_change_password(
    rt: Runtime, agent_id: int, current: str, new: str, *, keep_token: str | None
) -> Agent:
    """An agent changes their own password: the current one must match; other sessions end."""
    async with rt.sessions() as session:
        agent = await session.get(Agent, agent_id)
    if not await verify_password(agent.password_hash if agent else None, current):
        raise Forbidden("the current password is wrong", code="wrong_password")
    return await do_set_password(rt, agent_id, new, keep_token=keep_token)


async def live_session(sessions: Sessions, token: str) -> tuple[Agent, int, datetime] | None:
    """The active agent, session id and expiry of a live session token."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(Agent, Session.id, Session.expires_at)
                .join(Session, Session.agent_id == Agent.id)
                .where(Session.token_hash == token_hash(token), Session.expires_at > utcnow())
            )
        ).one_or_none()
    if row is None or not row[0].active:
        return None
    return row[0], row[1], row[2]


async def agent_for_token(sessions: Sessions, token: str) -> Agent | None:
    """The active agent a live session token belongs to."""
    found = await live_session(sessions, token)
    return found[0] if found else None
