"""A believable demo: agents, Arabic and English customers on several channels, every state."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import actions
from core.accounts import do_create_agent
from core.bus import InProcessBus
from core.db import in_transaction, make_engine, make_sessions
from core.migrate import upgrade
from core.models import Agent, Order, utcnow
from core.runtime import Runtime
from core.settings import Settings
from core.teams import do_add_team_member, do_create_team
from core.types import InboundMessage, Priority, Role

DEMO_PASSWORD = "tawasul-demo"

AGENTS = [
    ("admin", "Admin", Role.ADMIN, "en"),
    ("huda", "هدى الشمري", Role.SUPERVISOR, "ar"),
    ("sara", "Sara Haddad", Role.AGENT, "en"),
    ("omar", "عمر الفاروق", Role.AGENT, "ar"),
]

ORDERS = [
    # number, customer key, status, total, carrier, days to eta
    ("A-10234", "fatima", "shipped", "349.00", "Aramex", 2),
    ("A-10235", "fatima", "processing", "89.50", None, 5),
    ("A-20411", "ahmed", "shipped", "1250.00", "SMSA", -3),
    ("A-30877", "emily", "delivered", "59.99", "DHL", -10),
    ("A-40102", "khalid", "processing", "420.00", None, 4),
]


async def _ingest(
    rt: Runtime, channel: str, sender: str, mid: str, text: str, name: str
) -> actions.IngestResult:
    return await actions.do_ingest(rt, InboundMessage(channel, sender, mid, text, sender_name=name))


async def seed(settings: Settings) -> str:
    """Create the demo once; later runs only report the logins."""
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    sessions = make_sessions(engine)
    password = os.environ.get("TAWASUL_DEMO_PASSWORD", DEMO_PASSWORD)
    async with sessions() as session:
        existing = await session.scalar(select(func.count()).select_from(Agent))
    if existing:
        await engine.dispose()
        return "demo already seeded; log in as admin / " + password
    agents = {}
    for login, name, role, language in AGENTS:
        agents[login] = await do_create_agent(sessions, login, name, password, role, language)
    # The in-process bus here has no workers: the demo sets states itself.
    rt = Runtime(sessions=sessions, bus=InProcessBus(), settings=settings)
    sara, omar = agents["sara"].id, agents["omar"].id

    fatima = await _ingest(
        rt, "telegram", "5011", "tg-5011-1", "السلام عليكم، وين طلبي رقم A-10234؟", "فاطمة العتيبي"
    )
    ahmed = await _ingest(
        rt, "telegram", "6022", "tg-6022-1", "الطلب A-20411 متأخر ٣ أيام يا جماعة", "أحمد منصور"
    )
    ahmed_mail = await _ingest(
        rt,
        "email",
        "ahmed.mansour@example.com",
        "<m1@mail.example.com>",
        "دي تالت مرة أكلمكم ومحدش بيرد! عايز فلوسي ترجع حالاً وإلا هشتكيكم",
        "Ahmed Mansour",
    )
    emily = await _ingest(
        rt,
        "webchat",
        "v-7f3a",
        "wc-7f3a-1",
        "Hi, I can't log in, the reset email never comes",
        "Emily",
    )
    john = await _ingest(
        rt,
        "email",
        "john@example.org",
        "<j1@example.org>",
        "Do you ship to Bahrain?",
        "John Carter",
    )
    khalid = await _ingest(
        rt, "webhook", "crm-991", "crm-991-1", "ابغى الغي الطلب A-40102 لو سمحت", "خالد"
    )

    # Ahmed wrote on Telegram and by email: a supervisor merged them into one timeline.
    await actions.do_merge_customers(
        rt, ahmed_mail.customer_id, ahmed.customer_id, agent_id=agents["huda"].id
    )
    await actions.do_escalate(
        rt, ahmed.conversation_id, "anger", priority=Priority.HIGH, detail="demo"
    )
    await actions.do_escalate(rt, emily.conversation_id, "customer_request")
    await actions.do_assign(rt, emily.conversation_id, sara, agent_id=sara)
    await actions.do_reply(
        rt,
        emily.conversation_id,
        "Hi Emily, I've sent a new reset link. Could you check your spam folder too?",
        agent_id=sara,
    )
    await actions.do_escalate(rt, john.conversation_id, "no_bot")
    await actions.do_reply(
        rt, john.conversation_id, "Yes, we ship to Bahrain in 3-5 days.", agent_id=sara
    )
    await actions.do_resolve(rt, john.conversation_id, agent_id=sara)
    await actions.do_escalate(rt, khalid.conversation_id, "low_confidence")
    await actions.do_note(
        rt, khalid.conversation_id, omar, "العميل يريد الإلغاء قبل الشحن — تحقق من المستودع"
    )
    # Fatima's conversation stays with the bot.

    # Two teams; Huda supervises both. Refunds go to billing, deliveries and cancellations to
    # shipping (Khalid's waits there unassigned, so it shows under Omar's "My teams").
    billing = await do_create_team(rt, "Billing / الفوترة", "Refunds, invoices, payments")
    shipping = await do_create_team(rt, "Shipping / الشحن", "Deliveries, carriers, cancellations")
    for team, members in ((billing, ("sara", "huda")), (shipping, ("omar", "huda"))):
        for login in members:
            await do_add_team_member(rt, team.id, agents[login].id)
    huda = agents["huda"].id
    await actions.do_assign_team(rt, ahmed.conversation_id, billing.id, agent_id=huda)
    await actions.do_assign_team(rt, khalid.conversation_id, shipping.id, agent_id=huda)
    await actions.do_assign_team(rt, fatima.conversation_id, shipping.id, agent_id=None)
    customer_of = {
        "fatima": fatima.customer_id,
        "ahmed": ahmed.customer_id,
        "emily": emily.customer_id,
        "khalid": khalid.customer_id,
    }

    async def add_orders(session: AsyncSession) -> None:
        now = utcnow()
        for number, who, status, total, carrier, days in ORDERS:
            session.add(
                Order(
                    number=number,
                    customer_id=customer_of[who],
                    status=status,
                    total=Decimal(total),
                    currency="SAR",
                    carrier=carrier,
                    eta=now + timedelta(days=days),
                    items=[{"sku": "DEMO", "qty": 1}],
                )
            )

    await in_transaction(sessions, add_orders)
    await engine.dispose()
    return (
        "demo seeded: agents admin (admin), huda (supervisor), sara and omar (agents); "
        f"password {password}"
    )
