"""Visitors' verified profiles, contact emails and link tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from core.actions import do_ingest
from core.identity_links import read_link_token
from core.models import Customer, Identity, Message
from core.runtime import Runtime
from core.types import InboundMessage, MessageKind
from core.visitors import do_identify_visitor, do_issue_link_token, do_record_contact

VISITOR = "shop:visitor-0001"


async def identities(rt: Runtime, customer_id: int) -> set[tuple[str, str]]:
    """A customer's identities as (channel, external id)."""
    async with rt.sessions() as session:
        rows = await session.execute(
            select(Identity.channel, Identity.external_id).where(
                Identity.customer_id == customer_id
            )
        )
        return {(str(c), str(e)) for c, e in rows.all()}


async def activities(rt: Runtime, customer_id: int) -> list[Message]:
    """The customer's activity lines, oldest first."""
    async with rt.sessions() as session:
        rows = await session.execute(
            select(Message)
            .where(Message.customer_id == customer_id, Message.kind == MessageKind.ACTIVITY)
            .order_by(Message.id)
        )
        return list(rows.scalars().all())


async def test_verified_identify_sets_profile_and_links_an_email_identity(rt: Runtime) -> None:
    """Before any message: a customer with the site's name, email, attributes and email identity."""
    result = await do_identify_visitor(
        rt, "webchat", VISITOR, name="ليلى أحمد", email="Layla@X.test",
        attributes={"plan": "gold", "orders": 3, "nested": {"no": 1}}, verified=True,
    )  # fmt: skip
    async with rt.sessions() as session:
        customer = await session.get(Customer, result.customer_id)
    assert customer is not None
    assert (customer.display_name, customer.email) == ("ليلى أحمد", "layla@x.test")
    assert customer.attributes == {"plan": "gold", "orders": 3}
    assert await identities(rt, result.customer_id) == {
        ("webchat", VISITOR),
        ("email", "layla@x.test"),
    }
    again = await do_identify_visitor(
        rt, "webchat", VISITOR, name="ليلى أحمد", email="layla@x.test", verified=True
    )
    assert again.customer_id == result.customer_id
    lines = await activities(rt, result.customer_id)
    assert [m.meta["action"] for m in lines] == ["identified"]


async def test_verified_identify_joins_the_customer_known_by_that_email(rt: Runtime) -> None:
    """An anonymous visitor who wrote already is merged into the customer the email belongs to."""
    known = await do_ingest(rt, InboundMessage("email", "huda@x.test", "<m1@x>", "طلبي تأخر"))
    visitor = await do_ingest(rt, InboundMessage("webchat", VISITOR, "v:c1", "مرحبا"))
    assert visitor.customer_id != known.customer_id
    result = await do_identify_visitor(
        rt, "webchat", VISITOR, name="Huda", email="huda@x.test", verified=True
    )
    assert result.customer_id == known.customer_id
    assert await identities(rt, known.customer_id) == {
        ("webchat", VISITOR),
        ("email", "huda@x.test"),
    }
    actions = [m.meta["action"] for m in await activities(rt, known.customer_id)]
    assert "merged" in actions and "identified" in actions


async def test_unverified_identify_keeps_only_the_name(rt: Runtime) -> None:
    """Without the site's HMAC the email is not stored and links nobody."""
    known = await do_ingest(rt, InboundMessage("email", "ceo@x.test", "<m2@x>", "private"))
    result = await do_identify_visitor(
        rt, "webchat", VISITOR, name="Omar", email="ceo@x.test", verified=False
    )
    assert result.customer_id != known.customer_id
    async with rt.sessions() as session:
        customer = await session.get(Customer, result.customer_id)
    assert customer is not None and customer.display_name == "Omar" and customer.email is None
    assert await identities(rt, result.customer_id) == {("webchat", VISITOR)}


async def test_contact_email_gets_an_identity_and_a_timeline_line(rt: Runtime) -> None:
    """An offline visitor's email becomes their email identity and shows in the conversation."""
    first = await do_ingest(rt, InboundMessage("webchat", VISITOR, "v:c1", "هل تشحنون إلى جدة؟"))
    result = await do_record_contact(rt, "webchat", VISITOR, "Visitor@Customer.test")
    assert result.customer_id == first.customer_id
    assert ("email", "visitor@customer.test") in await identities(rt, first.customer_id)
    (line,) = await activities(rt, first.customer_id)
    assert line.conversation_id == first.conversation_id
    assert line.meta == {
        "action": "contact_email",
        "channel": "webchat",
        "email": "visitor@customer.test",
    }
    async with rt.sessions() as session:
        visitor = (
            await session.execute(select(Identity).where(Identity.external_id == VISITOR))
        ).scalar_one()
    assert visitor.profile["contact_email"] == "visitor@customer.test"
    await do_record_contact(rt, "webchat", VISITOR, "visitor@customer.test")
    assert len(await activities(rt, first.customer_id)) == 1


async def test_contact_email_of_someone_else_never_joins_their_customer(rt: Runtime) -> None:
    """Typing a known customer's address links nothing; the line names whom it matches."""
    known = await do_ingest(rt, InboundMessage("email", "ceo@x.test", "<m3@x>", "secret order"))
    result = await do_record_contact(rt, "webchat", VISITOR, "ceo@x.test")
    assert result.customer_id != known.customer_id
    assert await identities(rt, known.customer_id) == {("email", "ceo@x.test")}
    (line,) = await activities(rt, result.customer_id)
    assert line.conversation_id is None
    assert line.meta["known_customer_id"] == known.customer_id


async def test_link_token_names_the_visitors_customer(rt: Runtime) -> None:
    """A visitor who has not written yet still gets a token for their (new) customer."""
    token = await do_issue_link_token(rt, "webchat", VISITOR)
    secret = rt.settings.secret_key.get_secret_value()
    customer_id = read_link_token(secret, token)
    assert await identities(rt, customer_id) == {("webchat", VISITOR)}
    assert read_link_token(secret, await do_issue_link_token(rt, "webchat", VISITOR)) == customer_id
