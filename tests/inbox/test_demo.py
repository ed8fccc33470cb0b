"""The demo seed: believable, in every state, and safe to run twice."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import make_engine, make_sessions
from core.models import Agent, Conversation, Customer, Identity, Order, Team, TeamMember
from inbox.demo import seed
from tests.conftest import make_settings


async def test_demo_seeds_every_state_once(sqlite_url: str) -> None:
    """Agents, Arabic and English customers on several channels, each status; rerun adds nothing."""
    settings = make_settings(sqlite_url)
    assert "demo seeded" in await seed(settings)
    assert "already seeded" in await seed(settings)
    engine = make_engine(sqlite_url)
    sessions = make_sessions(engine)
    async with sessions() as session:
        statuses = set((await session.execute(select(Conversation.status))).scalars())
        channels = set((await session.execute(select(Identity.channel))).scalars())
        languages = set((await session.execute(select(Customer.language))).scalars())
        agents = await session.scalar(select(func.count()).select_from(Agent))
        orders = await session.scalar(select(func.count()).select_from(Order))
        teams = set((await session.execute(select(Team.name))).scalars())
        members = await session.scalar(select(func.count()).select_from(TeamMember))
        routed = await session.scalar(select(func.count()).where(Conversation.team_id.is_not(None)))
    await engine.dispose()
    assert statuses == {"bot", "pending", "open", "resolved"}
    assert {"telegram", "email", "webchat", "webhook"} <= channels
    assert {"ar", "en"} <= languages
    assert agents == 4 and orders == 5
    assert teams == {"Billing / الفوترة", "Shipping / الشحن"} and members == 4 and routed == 3
