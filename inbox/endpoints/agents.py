"""Agents: list them; admins create, change, deactivate them and reset their passwords."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from core.accounts import do_create_agent, do_set_password, do_update_agent
from core.errors import ConflictError, Forbidden, NotFound
from core.models import Agent
from core.serialize import agent_dict
from core.types import Role
from inbox.api import api, current_agent
from inbox.keys import RUNTIME
from inbox.schemas import AgentBody, AgentPatch, AgentQuery, PasswordBody
from inbox.ws import online_agent_ids


def agent_id(request: web.Request) -> int:
    """The agent id in the path."""
    try:
        return int(request.match_info["agent_id"])
    except ValueError as exc:
        raise NotFound("no such agent") from exc


@api.route("GET", "/agents", tag="agents")
async def list_agents(request: web.Request, query: AgentQuery) -> web.Response:
    """Every active agent; for supervisors, on request, deactivated ones too and who is online."""
    if query.include_inactive and not Role(current_agent(request).role).allows(Role.SUPERVISOR):
        raise Forbidden("listing deactivated agents needs the supervisor role")
    stmt = select(Agent).order_by(Agent.display_name, Agent.id)
    if not query.include_inactive:
        stmt = stmt.where(Agent.active)
    async with request.app[RUNTIME].sessions() as session:
        agents = (await session.execute(stmt)).scalars().all()
    if not query.include_inactive:
        return web.json_response([agent_dict(a) for a in agents])
    online = online_agent_ids(request.app)
    return web.json_response([{**agent_dict(a), "online": a.id in online} for a in agents])


@api.route("POST", "/agents", role=Role.ADMIN, tag="agents", status=201)
async def create_agent(request: web.Request, body: AgentBody) -> web.Response:
    """Create an agent (admins only)."""
    agent = await do_create_agent(
        request.app[RUNTIME].sessions,
        body.login,
        body.display_name,
        body.password,
        body.role,
        body.language,
    )
    return web.json_response(agent_dict(agent), status=201)


@api.route("PATCH", "/agents/{agent_id}", role=Role.ADMIN, tag="agents")
async def update_agent(request: web.Request, body: AgentPatch) -> web.Response:
    """Rename, change the role of, or (de)activate an agent; deactivating ends its sessions."""
    me = current_agent(request)
    target = agent_id(request)
    if target == me.id and (body.active is False or body.role not in (None, Role.ADMIN)):
        # The last admin locking themselves out would need the database to undo.
        raise ConflictError(
            "you cannot deactivate or demote yourself; ask another admin", code="self_lockout"
        )
    agent = await do_update_agent(
        request.app[RUNTIME],
        target,
        display_name=body.display_name,
        role=body.role,
        active=body.active,
    )
    return web.json_response(agent_dict(agent))


@api.route("POST", "/agents/{agent_id}/password", role=Role.ADMIN, tag="agents")
async def reset_password(request: web.Request, body: PasswordBody) -> web.Response:
    """Set an agent's password (admins); every session of that agent ends."""
    agent = await do_set_password(request.app[RUNTIME], agent_id(request), body.password)
    return web.json_response(agent_dict(agent))
