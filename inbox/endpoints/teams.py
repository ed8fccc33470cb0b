"""Teams: everyone may list them; supervisors create, rename, delete and staff them."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web
from sqlalchemy import select

from core.errors import NotFound
from core.models import Team, TeamMember
from core.serialize import team_dict
from core.teams import (
    do_add_team_member,
    do_create_team,
    do_delete_team,
    do_remove_team_member,
    do_update_team,
)
from core.types import Role
from inbox.api import api, current_agent
from inbox.keys import RUNTIME
from inbox.schemas import MemberBody, TeamBody, TeamPatch


def _path_id(request: web.Request, name: str) -> int:
    """An integer id from the path; anything else is a 404."""
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise NotFound(f"no such {name.removesuffix('_id')}") from exc


@api.route("GET", "/teams", tag="teams")
async def list_teams(request: web.Request) -> web.Response:
    """Every team with its member ids; ``mine`` says whether the caller belongs to it."""
    agent = current_agent(request)
    async with request.app[RUNTIME].sessions() as session:
        teams = (await session.execute(select(Team).order_by(Team.name))).scalars().all()
        members: dict[int, list[int]] = defaultdict(list)
        for team_id, agent_id in (
            await session.execute(select(TeamMember.team_id, TeamMember.agent_id))
        ).all():
            members[team_id].append(agent_id)
    return web.json_response(
        [{**team_dict(t, members[t.id]), "mine": agent.id in members[t.id]} for t in teams]
    )


@api.route("POST", "/teams", role=Role.SUPERVISOR, tag="teams", status=201)
async def create_team(request: web.Request, body: TeamBody) -> web.Response:
    """Create a team (supervisors); names are unique, ignoring case."""
    team = await do_create_team(request.app[RUNTIME], body.name, body.description)
    return web.json_response(team_dict(team, []), status=201)


@api.route("PATCH", "/teams/{team_id}", role=Role.SUPERVISOR, tag="teams")
async def update_team(request: web.Request, body: TeamPatch) -> web.Response:
    """Rename a team or change its description (supervisors)."""
    team = await do_update_team(
        request.app[RUNTIME],
        _path_id(request, "team_id"),
        name=body.name,
        description=body.description,
    )
    async with request.app[RUNTIME].sessions() as session:
        members = (
            await session.execute(select(TeamMember.agent_id).where(TeamMember.team_id == team.id))
        ).scalars()
        return web.json_response(team_dict(team, list(members)))


@api.route("DELETE", "/teams/{team_id}", role=Role.SUPERVISOR, tag="teams")
async def delete_team(request: web.Request) -> web.Response:
    """Delete a team (supervisors); its conversations lose the team, on their timelines."""
    agent = current_agent(request)
    cleared = await do_delete_team(
        request.app[RUNTIME], _path_id(request, "team_id"), agent_id=agent.id
    )
    return web.json_response({"ok": True, "conversations_cleared": cleared})


@api.route("POST", "/teams/{team_id}/members", role=Role.SUPERVISOR, tag="teams")
async def add_member(request: web.Request, body: MemberBody) -> web.Response:
    """Add an agent to a team (supervisors); adding twice is harmless."""
    members = await do_add_team_member(
        request.app[RUNTIME], _path_id(request, "team_id"), body.agent_id
    )
    return web.json_response({"member_ids": members})


@api.route("DELETE", "/teams/{team_id}/members/{agent_id}", role=Role.SUPERVISOR, tag="teams")
async def remove_member(request: web.Request) -> web.Response:
    """Take an agent out of a team (supervisors)."""
    members = await do_remove_team_member(
        request.app[RUNTIME], _path_id(request, "team_id"), _path_id(request, "agent_id")
    )
    return web.json_response({"member_ids": members})
