"""Teams: create, rename, delete, membership; every change commits, then is announced."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.actions import activity_line, emit
from core.db import in_transaction
from core.errors import ConflictError, Invalid, NotFound
from core.events import Event
from core.models import Agent, Conversation, Team, TeamMember, utcnow
from core.runtime import Runtime
from core.serialize import conversation_dict, message_dict, team_dict

NAME_MAX = 80
DESCRIPTION_MAX = 500


def _clean_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > NAME_MAX:
        raise Invalid(f"a team name is 1–{NAME_MAX} characters", code="bad_team_name")
    return clean


def _clean_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise Invalid(f"a team description is at most {DESCRIPTION_MAX} characters")
    return description.strip()


async def member_ids(session: AsyncSession, team_id: int) -> list[int]:
    """The ids of a team's members."""
    rows = await session.execute(select(TeamMember.agent_id).where(TeamMember.team_id == team_id))
    return sorted(rows.scalars().all())


async def team_ids_of(session: AsyncSession, agent_id: int) -> list[int]:
    """The ids of the teams an agent belongs to."""
    rows = await session.execute(select(TeamMember.team_id).where(TeamMember.agent_id == agent_id))
    return sorted(rows.scalars().all())


async def _team(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound(f"team {team_id} does not exist")
    return team


async def _check_name_free(session: AsyncSession, name: str, team_id: int | None = None) -> None:
    """Refuse a name another team already has, ignoring case (``Billing`` vs ``billing``)."""
    query = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if (await session.execute(query.limit(1))).first() is not None:
        raise ConflictError(f"a team named {name!r} already exists", code="team_exists")


async def do_create_team(rt: Runtime, name: str, description: str = "") -> Team:
    """Create a team with a unique name.

    Args:
        rt: the runtime.
        name: shown on conversations; unique, ignoring case.
        description: what the team handles.

    Returns:
        The new team, without members.
    """
    clean, about = _clean_name(name), _clean_description(description)
    out: list[Event] = []

    async def work(session: AsyncSession) -> Team:
        await _check_name_free(session, clean)
        team = Team(name=clean, description=about)
        session.add(team)
        await session.flush()
        out.append(Event(ev.TEAM_UPDATED, team_dict(team, [])))
        return team

    team = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return team


async def do_update_team(
    rt: Runtime, team_id: int, *, name: str | None = None, description: str | None = None
) -> Team:
    """Rename a team or change its description."""
    clean = _clean_name(name) if name is not None else None
    about = _clean_description(description) if description is not None else None
    out: list[Event] = []

    async def work(session: AsyncSession) -> Team:
        team = await _team(session, team_id)
        if clean is not None and clean != team.name:
            await _check_name_free(session, clean, team_id)
            team.name = clean
        if about is not None:
            team.description = about
        await session.flush()
        out.append(Event(ev.TEAM_UPDATED, team_dict(team, await member_ids(session, team_id))))
        return team

    team = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return team


async def do_delete_team(rt: Runtime, team_id: int, *, agent_id: int | None) -> int:
    """Delete a team; its conversations lose their team, each with a timeline line.

    Returns:
        How many conversations were cleared.
    """
    out: list[Event] = []

    async def work(session: AsyncSession) -> int:
        out.clear()
        team = await _team(session, team_id)
        convs = (
            (
                await session.execute(
                    select(Conversation)
                    .where(Conversation.team_id == team_id)
                    .order_by(Conversation.id)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        now = utcnow()
        activities = []
        for conv in convs:
            conv.team = None
            conv.updated_at = now
            activity = activity_line(
                conv,
                "team",
                f"Team {team.name} was deleted",
                agent_id=agent_id,
                team_id=None,
                previous_team_id=team_id,
                previous_team_name=team.name,
                reason="team_deleted",
            )
            session.add(activity)
            activities.append(activity)
        await session.flush()
        await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
        await session.delete(team)
        await session.flush()
        for conv, activity in zip(convs, activities, strict=True):
            out.append(Event(ev.MESSAGE_CREATED, message_dict(activity)))
            out.append(Event(ev.CONVERSATION_UPDATED, conversation_dict(conv)))
        out.append(Event(ev.TEAM_DELETED, {"id": team_id, "name": team.name}))
        return len(convs)

    cleared = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return cleared


async def _membership(rt: Runtime, team_id: int, agent_id: int, *, add: bool) -> list[int]:
    """Add or remove a member (idempotent); returns the members afterwards."""
    out: list[Event] = []

    async def work(session: AsyncSession) -> list[int]:
        team = await _team(session, team_id)
        agent = await session.get(Agent, agent_id)
        if agent is None or (add and not agent.active):
            raise NotFound(f"agent {agent_id} does not exist")
        found = await session.get(TeamMember, {"team_id": team_id, "agent_id": agent_id})
        if add and found is None:
            session.add(TeamMember(team_id=team_id, agent_id=agent_id))
        elif not add and found is not None:
            await session.delete(found)
        await session.flush()
        members = await member_ids(session, team_id)
        out.append(Event(ev.TEAM_UPDATED, team_dict(team, members)))
        return members

    members = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    return members


async def do_add_team_member(rt: Runtime, team_id: int, agent_id: int) -> list[int]:
    """Put an agent in a team; adding a member twice changes nothing."""
    return await _membership(rt, team_id, agent_id, add=True)


async def do_remove_team_member(rt: Runtime, team_id: int, agent_id: int) -> list[int]:
    """Take an agent out of a team; conversations keep the team."""
    return await _membership(rt, team_id, agent_id, add=False)
