"""Teams in core: create, rename, delete, membership and routing a conversation to a team."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import actions
from core.accounts import do_create_agent
from core.errors import ConflictError, Invalid, NotFound
from core.events import Event
from core.models import Conversation, Message, Team, TeamMember
from core.runtime import Runtime
from core.serialize import conversation_dict
from core.teams import (
    do_add_team_member,
    do_create_team,
    do_delete_team,
    do_remove_team_member,
    do_update_team,
)
from core.types import ConversationStatus, InboundMessage, MessageKind


@pytest.fixture
def published(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every event the actions publish on the runtime's bus."""
    seen: list[Event] = []

    async def publish(event: Event) -> None:
        seen.append(event)

    monkeypatch.setattr(rt.bus, "publish", publish)
    return seen


async def _conversation(rt: Runtime, sender: str = "42") -> int:
    r = await actions.do_ingest(rt, InboundMessage("telegram", sender, f"{sender}-1", "وين طلبي؟"))
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    return r.conversation_id


async def _activities(rt: Runtime, conversation_id: int) -> list[Message]:
    async with rt.sessions() as session:
        rows = await session.execute(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.kind == MessageKind.ACTIVITY)
            .order_by(Message.id)
        )
        return list(rows.scalars())


async def test_team_names_are_unique_ignoring_case(rt: Runtime) -> None:
    """A second "billing" is refused; blank and over-long names are invalid."""
    team = await do_create_team(rt, "  Billing   الفوترة ", "refunds and invoices")
    assert team.name == "Billing الفوترة" and team.description == "refunds and invoices"
    with pytest.raises(ConflictError) as exc:
        await do_create_team(rt, "billing الفوترة")
    assert exc.value.code == "team_exists"
    with pytest.raises(Invalid):
        await do_create_team(rt, "   ")
    with pytest.raises(Invalid):
        await do_create_team(rt, "x" * 81)


async def test_rename_keeps_members_and_refuses_a_taken_name(rt: Runtime) -> None:
    """Renaming changes the name only; another team's name is refused."""
    billing = await do_create_team(rt, "Billing")
    await do_create_team(rt, "Shipping")
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await do_add_team_member(rt, billing.id, sara.id)
    renamed = await do_update_team(rt, billing.id, name="الفوترة", description="الفواتير")
    assert (renamed.name, renamed.description) == ("الفوترة", "الفواتير")
    with pytest.raises(ConflictError):
        await do_update_team(rt, billing.id, name="shipping")
    with pytest.raises(NotFound):
        await do_update_team(rt, 999, name="Other")
    async with rt.sessions() as session:
        members = (await session.execute(select(TeamMember.agent_id))).scalars().all()
    assert list(members) == [sara.id]


async def test_membership_add_is_idempotent_and_remove_works(rt: Runtime) -> None:
    """Adding twice keeps one row; removing leaves the others; unknown agents are refused."""
    team = await do_create_team(rt, "Shipping")
    omar = await do_create_agent(rt.sessions, "omar", "عمر", "password123")
    huda = await do_create_agent(rt.sessions, "huda", "هدى", "password123")
    await do_add_team_member(rt, team.id, omar.id)
    assert await do_add_team_member(rt, team.id, omar.id) == [omar.id]
    assert await do_add_team_member(rt, team.id, huda.id) == sorted([omar.id, huda.id])
    assert await do_remove_team_member(rt, team.id, omar.id) == [huda.id]
    with pytest.raises(NotFound):
        await do_add_team_member(rt, team.id, 9999)
    with pytest.raises(NotFound):
        await do_add_team_member(rt, 9999, huda.id)


async def test_assign_team_records_activity_and_emits_event(
    rt: Runtime, published: list[Event]
) -> None:
    """Routing to a team writes a timeline line and announces it; assignee and status stay."""
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    cid = await _conversation(rt)
    await actions.do_assign(rt, cid, sara.id, agent_id=sara.id)
    team = await do_create_team(rt, "Billing")
    published.clear()
    conv = await actions.do_assign_team(rt, cid, team.id, agent_id=sara.id)
    assert conv.team_id == team.id and conv.assignee_id == sara.id
    assert conv.status == ConversationStatus.OPEN
    assert conversation_dict(conv)["team"] == {"id": team.id, "name": "Billing"}
    names = [e.name for e in published]
    assert names == ["message.created", "conversation.updated", "conversation.team_assigned"]
    assigned = published[-1].payload
    assert assigned["team"] == {"id": team.id, "name": "Billing"}
    assert assigned["activity"]["meta"]["action"] == "team"
    last = (await _activities(rt, cid))[-1]
    assert last.text == "Assigned to team Billing" and last.agent_id == sara.id
    assert last.meta["team_id"] == team.id and last.meta["previous_team_id"] is None

    published.clear()
    again = await actions.do_assign_team(rt, cid, team.id, agent_id=sara.id)
    assert again.team_id == team.id
    assert [e.name for e in published] == ["conversation.updated"]

    cleared = await actions.do_assign_team(rt, cid, None, agent_id=sara.id)
    assert cleared.team_id is None and conversation_dict(cleared)["team"] is None
    assert (await _activities(rt, cid))[-1].text == "Removed from team Billing"


async def test_assigning_an_agent_outside_the_team_keeps_the_team(rt: Runtime) -> None:
    """A supervisor may hand a team's conversation to anyone; the team stays."""
    omar = await do_create_agent(rt.sessions, "omar", "عمر", "password123")
    team = await do_create_team(rt, "الشحن")
    cid = await _conversation(rt)
    await actions.do_assign_team(rt, cid, team.id, agent_id=None)
    conv = await actions.do_assign(rt, cid, omar.id, agent_id=None)
    assert conv.assignee_id == omar.id and conv.team_id == team.id


async def test_assign_team_refuses_unknown_team_and_resolved_conversation(rt: Runtime) -> None:
    """An unknown team is 404; a resolved conversation must be reopened first."""
    cid = await _conversation(rt)
    with pytest.raises(NotFound):
        await actions.do_assign_team(rt, cid, 12345, agent_id=None)
    team = await do_create_team(rt, "Billing")
    await actions.do_resolve(rt, cid, agent_id=None)
    with pytest.raises(ConflictError):
        await actions.do_assign_team(rt, cid, team.id, agent_id=None)


async def test_deleting_a_team_clears_its_conversations_on_the_record(
    rt: Runtime, published: list[Event]
) -> None:
    """Its conversations lose the team with an activity line each; members go; others stay."""
    huda = await do_create_agent(rt.sessions, "huda", "هدى", "password123")
    billing = await do_create_team(rt, "Billing")
    shipping = await do_create_team(rt, "Shipping")
    await do_add_team_member(rt, billing.id, huda.id)
    first, second, other = [await _conversation(rt, s) for s in ("1", "2", "3")]
    for cid in (first, second):
        await actions.do_assign_team(rt, cid, billing.id, agent_id=None)
    await actions.do_assign_team(rt, other, shipping.id, agent_id=None)
    published.clear()

    assert await do_delete_team(rt, billing.id, agent_id=huda.id) == 2
    async with rt.sessions() as session:
        teams = {c.id: c.team_id for c in (await session.execute(select(Conversation))).scalars()}
        members = await session.scalar(select(func.count()).select_from(TeamMember))
        left = (await session.execute(select(Team.name))).scalars().all()
    assert teams == {first: None, second: None, other: shipping.id}
    assert members == 0 and list(left) == ["Shipping"]
    for cid in (first, second):
        line = (await _activities(rt, cid))[-1]
        assert line.meta["reason"] == "team_deleted" and line.meta["previous_team_id"] == billing.id
        assert line.text == "Team Billing was deleted"
    updated = [e.payload["id"] for e in published if e.name == "conversation.updated"]
    assert sorted(updated) == sorted([first, second])
    assert published[-1].name == "team.deleted"
    with pytest.raises(NotFound):
        await do_delete_team(rt, billing.id, agent_id=None)
