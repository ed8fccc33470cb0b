"""Agents: list them; admins create them."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from core.accounts import do_create_agent
from core.models import Agent
from core.serialize import agent_dict
from core.types import Role
from inbox.api import api
from inbox.keys import RUNTIME
from inbox.schemas import AgentBody


@api.route("GET", "/agents", tag="agents")
async def list_agents(request: web.Request) -> web.Response:
    """Every active agent."""
    async with request.app[RUNTIME].sessions() as session:
        agents = (
            (await session.execute(select(Agent).where(Agent.active).order_by(Agent.display_name)))
            .scalars()
            .all()
        )
    return web.json_response([agent_dict(a) for a in agents])


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
