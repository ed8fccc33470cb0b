"""Customer erasure: no personal data left anywhere in the database, files gone, facts kept."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from core import actions
from core import events as ev
from core.accounts import do_create_agent
from core.csat import do_record_csat
from core.erasure import ERASED, do_erase_customer
from core.errors import ConflictError, Invalid
from core.events import Event
from core.files import LocalFileStore
from core.inbox_tables import CsatRating
from core.models import Base, Conversation, Customer, Identity, Message, Order
from core.privacy import ERASED_TEXT
from core.runtime import Runtime
from core.types import Attachment, ConversationStatus, DeliveryStatus, InboundMessage, Role
from core.visitors import do_record_contact
from core.webhook_models import OutboxEvent, WebhookDelivery
from core.webhooks import do_create_subscription, do_redeliver, relay_outbox
from tests.connectors.receiver import Receiver
from tests.core.test_outbox import RecordingBus
from tests.core.test_webhooks import drain

NAME = "Layla Haddad"
EMAIL = "layla.h@example.com"
PHONE = "+966550001111"
TG_ID = "tg-layla-4242"
WORDS = "My passport number is P-98765"
TG_WORDS = "اتصلوا بي يا جماعة"
EDITED = "my old words before the edit"
SUBJECT = "Refund for order of Layla"
FILE_NAME = "passport-layla.pdf"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"
# Everything about Layla the database held; none of it may survive the erasure.
SECRETS = [
    "Layla",
    "layla",
    EMAIL,
    PHONE,
    TG_ID,
    "P-98765",
    "اتصلوا",
    EDITED,
    "VIP-LAYLA-7",
    "loved the help",
    "Dear Layla",
    "calls from her office",
]


@pytest.fixture
def store(rt: Runtime, tmp_path: Path) -> LocalFileStore:
    """The upload store, wired into the runtime's file erasers as the app does."""
    files = LocalFileStore(tmp_path / "uploads-store")
    rt.file_erasers.append(files.erase)
    return files


async def dump(rt: Runtime) -> str:
    """Every row of every table, as one text."""
    parts = []
    async with rt.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            parts.append(json.dumps([list(r) for r in rows], default=str, ensure_ascii=False))
    return "\n".join(parts)


async def layla(rt: Runtime, store: LocalFileStore) -> dict[str, int]:
    """A customer with data in every place it can hide; returns the ids the test needs."""
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.ADMIN)
    mail = await actions.do_ingest(
        rt,
        InboundMessage(
            "email",
            EMAIL,
            f"{EMAIL} <m1@mail.example.com>",
            EDITED,
            NAME,
            raw={"subject": SUBJECT, "headers": {"From": f"{NAME} <{EMAIL}>"}},
            sender_profile={"email": EMAIL},
            attachments=(Attachment("document", FILE_NAME, "application/pdf", 10),),
        ),
    )
    await actions.do_ingest(
        rt,
        InboundMessage("email", EMAIL, f"{EMAIL} <m1@mail.example.com>", WORDS, edited=True),
    )
    tg = await actions.do_ingest(rt, InboundMessage("telegram", TG_ID, "tg-1", TG_WORDS, NAME))
    await actions.do_merge_customers(rt, tg.customer_id, mail.customer_id, agent_id=agent.id)
    await actions.do_update_customer(
        rt, mail.customer_id, {"phone": PHONE, "attributes": {"code": "VIP-LAYLA-7"}}
    )
    # A web-chat visitor types her address: perhaps her, perhaps not; the admin is told.
    visitor = await do_record_contact(rt, "webchat", "visitor-9", EMAIL)
    conv = mail.conversation_id
    await actions.do_raise_alert(rt, conv, "anger", "angry message", excerpt=WORDS)
    upload = await store.put(PDF, FILE_NAME, "application/pdf")
    await actions.do_escalate(rt, conv, "customer_request")
    await actions.do_reply(
        rt, conv, "Dear Layla, here it is", agent_id=agent.id, attachments=[upload.attachment()]
    )
    await actions.do_note(rt, conv, agent.id, "She calls from her office")
    await do_record_csat(rt, conv, 5, comment="I loved the help")
    async with rt.sessions() as session:
        session.add(
            Order(
                number="A-5555",
                customer_id=mail.customer_id,
                status="delivered",
                items=[],
                total=Decimal("10.00"),
            )
        )
        await session.commit()
    return {
        "customer": mail.customer_id,
        "merged": tg.customer_id,
        "conversation": conv,
        "agent": agent.id,
        "message": mail.message_id,
        "visitor": visitor.customer_id,
    }


async def test_nothing_personal_is_left_in_any_table(rt: Runtime, store: LocalFileStore) -> None:
    """After erasure no row of any table holds her words, name, address, phone or ids."""
    sub = await do_create_subscription(rt, "https://crm.example/hook", ["*"])
    ids = await layla(rt, store)
    await relay_outbox(rt)  # some events became deliveries, one was already sent
    async with rt.sessions() as session:
        first = (await session.execute(select(WebhookDelivery).limit(1))).scalar_one()
        first.status = "delivered"
        await session.commit()
    await actions.do_raise_alert(rt, ids["conversation"], "slide", "mood", excerpt=WORDS)
    before = await dump(rt)
    assert all(s in before for s in SECRETS)
    upload_blob = store.root / "blobs" / hashlib.sha256(PDF).hexdigest()[:2]

    result = await do_erase_customer(
        rt, ids["merged"], agent_id=ids["agent"], reason="GDPR request #12"
    )

    after = await dump(rt)
    left = [s for s in SECRETS if s in after]
    assert left == [], left
    assert result.erased and result.customer_id == ids["customer"]
    assert result.other_customers == [ids["visitor"]]
    assert result.files_pending == 0 and result.counts["files_removed"] == 2
    assert not any(upload_blob.iterdir()) and not any((store.root / "uploads").iterdir())
    async with rt.sessions() as session:
        people = (await session.execute(select(Customer).order_by(Customer.id))).scalars().all()
        erased = {c.id: c for c in people if c.erased_at is not None}
        assert set(erased) == {ids["customer"], ids["merged"]}
        survivor = erased[ids["customer"]]
        assert survivor.display_name == f"Erased customer #{ids['customer']}"
        assert (survivor.email, survivor.phone, survivor.attributes) == (None, None, {})
        assert survivor.language is not None  # kept for the metrics by language
        conv = await session.get(Conversation, ids["conversation"])
        assert conv is not None and conv.status == ConversationStatus.RESOLVED
        assert conv.preview is None
        identities = (await session.execute(select(Identity))).scalars().all()
        mine = [i for i in identities if i.customer_id in erased]
        assert sorted(i.channel for i in mine) == ["email", "telegram"]
        assert all(i.external_id.startswith("erased:") for i in mine)
        order = (await session.execute(select(Order))).scalar_one()
        assert order.customer_id is None and order.number == "A-5555"
        rating = (await session.execute(select(CsatRating))).scalar_one()
        assert rating.score == 5 and rating.comment is None
        reply = (
            await session.execute(select(Message).where(Message.kind == "outgoing"))
        ).scalar_one()
        assert reply.text == ERASED_TEXT and reply.attachments == []
        assert reply.delivery_status == DeliveryStatus.FAILED  # queued: never sent now
        lines = (
            (
                await session.execute(
                    select(Message).where(Message.meta["action"].as_string() == ERASED)
                )
            )
            .scalars()
            .all()
        )
        assert [m.text for m in lines] == ["Customer data erased by Sara (GDPR request #12)"]
        assert lines[0].meta["customer_ids"] == sorted(erased)
        assert "files_pending" not in lines[0].meta
        # The facts stay: how many messages, which were angry, which alerts were raised.
        incoming = (
            await session.scalar(
                select(func.count()).where(
                    Message.kind == "incoming", Message.customer_id == ids["customer"]
                )
            )
            or 0
        )
        assert incoming == 2
        alerts = (
            await session.scalar(
                select(func.count()).where(Message.meta["alert"].as_string().is_not(None))
            )
            or 0
        )
        assert alerts == 2
        rows = (await session.execute(select(WebhookDelivery))).scalars().all()
        assert [r.payload for r in rows if r.id == first.id] == [
            {"redacted": "customer data erased"}
        ]
        outbox = (await session.execute(select(OutboxEvent))).scalars().all()
    # Only what the erasure itself said is still owed to the subscriber.
    assert {r.event for r in outbox} >= {ev.CUSTOMER_ERASED}
    assert all(r.subscription_ids == [sub.id] for r in outbox)
    with pytest.raises(ConflictError):
        await do_redeliver(rt, sub.id, first.id)


async def test_a_file_another_customer_was_sent_stays(rt: Runtime, store: LocalFileStore) -> None:
    """The same upload sent to two customers: erasing one keeps the bytes for the other."""
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.AGENT)
    upload = await store.put(PDF, "price-list.pdf", "application/pdf")
    convs = []
    for n in (1, 2):
        r = await actions.do_ingest(rt, InboundMessage("memory", f"c{n}", f"m{n}", "hi"))
        await actions.do_reply(
            rt, r.conversation_id, "list", agent_id=agent.id, attachments=[upload.attachment()]
        )
        convs.append(r)
    result = await do_erase_customer(rt, convs[0].customer_id, agent_id=agent.id, reason="req")
    assert result.counts["files_kept_shared"] == 1 and result.files_pending == 0
    assert await store.open(upload.key) == PDF


async def test_the_same_sender_afterwards_is_a_new_customer(rt: Runtime) -> None:
    """A new message from the erased address starts a fresh customer; old ones stay erased."""
    first = await actions.do_ingest(
        rt, InboundMessage("email", EMAIL, "<m1@x>", WORDS, NAME, sender_profile={"email": EMAIL})
    )
    await do_erase_customer(rt, first.customer_id, agent_id=None, reason="PDPL request")
    again = await actions.do_ingest(
        rt, InboundMessage("email", EMAIL, "<m2@x>", "hello again", sender_profile={"email": EMAIL})
    )
    assert again.created and again.customer_id != first.customer_id
    assert again.conversation_id != first.conversation_id
    # The old mail fetched again (an IMAP re-scan), or edited, is the erased row: nothing new.
    for edited in (False, True):
        old = await actions.do_ingest(
            rt, InboundMessage("email", EMAIL, "<m1@x>", WORDS, NAME, edited=edited)
        )
        assert not old.created and old.message_id == first.message_id
    async with rt.sessions() as session:
        message = await session.get(Message, first.message_id)
        fresh = await session.get(Customer, again.customer_id)
    assert message is not None and message.text == ERASED_TEXT
    assert fresh is not None and fresh.email == EMAIL and fresh.erased_at is None
    assert WORDS not in await dump(rt)


async def test_the_same_sender_can_be_erased_again_later(rt: Runtime) -> None:
    """Back as a new customer and erased again: both erased, pseudonyms never collide."""
    first = await actions.do_ingest(rt, InboundMessage("telegram", TG_ID, "tg-1", WORDS, NAME))
    await do_erase_customer(rt, first.customer_id, agent_id=None, reason="request 1")
    second = await actions.do_ingest(rt, InboundMessage("telegram", TG_ID, "tg-2", TG_WORDS))
    assert second.customer_id != first.customer_id
    result = await do_erase_customer(rt, second.customer_id, agent_id=None, reason="request 2")
    assert result.erased
    async with rt.sessions() as session:
        marks = (await session.execute(select(Identity.external_id))).scalars().all()
    assert len(set(marks)) == 2 and all(m.startswith("erased:") for m in marks)
    assert marks[0].split(".")[0] == marks[1].split(".")[0]  # the same sender, provably
    dumped = await dump(rt)
    assert TG_ID not in dumped and WORDS not in dumped and "اتصلوا" not in dumped


async def test_messages_racing_the_erasure_are_erased_or_start_a_new_customer(
    rt: Runtime,
) -> None:
    """Messages arriving while the erasure runs: none keeps its words on the erased customer."""
    first = await actions.do_ingest(rt, InboundMessage("telegram", TG_ID, "tg-0", WORDS, NAME))
    racing = [
        actions.do_ingest(rt, InboundMessage("telegram", TG_ID, f"tg-{n}", f"{WORDS} {n}"))
        for n in range(1, 6)
    ]
    erase = do_erase_customer(rt, first.customer_id, agent_id=None, reason="request")
    await asyncio.gather(erase, *racing)
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Message.text, Customer.erased_at)
                .join(Customer, Customer.id == Message.customer_id)
                .where(Message.kind == "incoming")
            )
        ).all()
    assert len(rows) == 6
    assert all(text == ERASED_TEXT for text, erased_at in rows if erased_at is not None)
    assert all(text != ERASED_TEXT for text, erased_at in rows if erased_at is None)


async def test_a_second_erase_changes_nothing(rt: Runtime) -> None:
    """Erasing again writes no row and publishes no event."""
    bus = RecordingBus()
    rt = Runtime(sessions=rt.sessions, bus=bus, settings=rt.settings)
    r = await actions.do_ingest(rt, InboundMessage("memory", "c1", "m1", WORDS, NAME))
    first = await do_erase_customer(rt, r.customer_id, agent_id=None, reason="request")
    published = len(bus.published)
    before = await dump(rt)
    second = await do_erase_customer(rt, r.customer_id, agent_id=None, reason="again")
    assert first.erased and not second.erased
    assert second.erased_at == first.erased_at and second.counts == {}
    assert await dump(rt) == before
    assert len(bus.published) == published
    names = [e.name for e in bus.published]
    assert names.count(ev.CUSTOMER_ERASED) == 1


async def test_an_erased_customer_takes_no_new_data(rt: Runtime) -> None:
    """Edits, merges, notes, reopening, CSAT and late alerts are refused or dropped."""
    agent = await do_create_agent(rt.sessions, "root", "Root", "password123", Role.ADMIN)
    r = await actions.do_ingest(rt, InboundMessage("memory", "c1", "m1", WORDS, NAME))
    other = await actions.do_ingest(rt, InboundMessage("memory", "c2", "m2", "hi"))
    await do_erase_customer(rt, r.customer_id, agent_id=agent.id, reason="request")
    refused = [
        actions.do_update_customer(rt, r.customer_id, {"email": EMAIL}),
        actions.do_merge_customers(rt, other.customer_id, r.customer_id, agent_id=agent.id),
        actions.do_merge_customers(rt, r.customer_id, other.customer_id, agent_id=agent.id),
        actions.do_note(rt, r.conversation_id, agent.id, "about her"),
        actions.do_reopen(rt, r.conversation_id, agent_id=agent.id),
        do_record_csat(rt, r.conversation_id, 1, comment="her words"),
    ]
    for call in refused:
        with pytest.raises(ConflictError) as caught:
            await call
        assert caught.value.code == "erased"
    late = await actions.do_raise_alert(rt, r.conversation_id, "anger", "x", excerpt=WORDS)
    assert late is None
    assert WORDS not in await dump(rt)


async def test_a_file_store_that_fails_is_retried_by_the_next_erase(
    rt: Runtime, store: LocalFileStore
) -> None:
    """A store error leaves the file listed as pending; erasing again removes it."""
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.ADMIN)
    upload = await store.put(PDF, FILE_NAME, "application/pdf")
    r = await actions.do_ingest(rt, InboundMessage("memory", "c1", "m1", "hi"))
    await actions.do_reply(
        rt, r.conversation_id, "file", agent_id=agent.id, attachments=[upload.attachment()]
    )

    async def broken(digest: str) -> int:
        raise OSError("disk unavailable")

    rt.file_erasers.insert(0, broken)
    first = await do_erase_customer(rt, r.customer_id, agent_id=agent.id, reason="request")
    assert first.files_pending == 1 and await store.open(upload.key) == PDF
    rt.file_erasers.remove(broken)
    second = await do_erase_customer(rt, r.customer_id, agent_id=agent.id, reason="request")
    assert not second.erased and second.files_pending == 0
    assert not (store.root / "blobs" / upload.key[:2] / upload.key).exists()
    assert upload.key not in await dump(rt)


async def test_a_reason_is_required(rt: Runtime) -> None:
    """An erasure without a reason is refused before anything changes."""
    r = await actions.do_ingest(rt, InboundMessage("memory", "c1", "m1", "hi"))
    with pytest.raises(Invalid):
        await do_erase_customer(rt, r.customer_id, agent_id=None, reason="  ")


# --- the subscriber's view ---------------------------------------------------------------------


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    """A subscriber endpoint on 127.0.0.1."""
    rec = Receiver()
    server = await aiohttp_server(rec.app())
    rec.url = str(server.make_url("")).rstrip("/")
    return rec


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """An HTTP client session for the deliverer."""
    async with ClientSession() as session:
        yield session


async def test_the_subscriber_gets_customer_erased_and_nothing_personal(
    rt: Runtime, receiver: Receiver, http: ClientSession
) -> None:
    """Events owed but not yet sent are dropped; ``customer.erased`` arrives, signed, clean."""
    sub = await do_create_subscription(rt, f"{receiver.url}/events", ["*"])
    receiver.secrets["events"] = sub.secret
    r = await actions.do_ingest(
        rt, InboundMessage("webhook", EMAIL, "w-1", WORDS, NAME, sender_profile={"email": EMAIL})
    )
    await relay_outbox(rt)  # owed, not sent yet
    await do_erase_customer(rt, r.customer_id, agent_id=None, reason="GDPR request #7")
    await relay_outbox(rt)
    await drain(rt, http)
    hits = receiver.ok("events")
    assert all(h.verified for h in hits)
    bodies = [h.body.decode() for h in hits]
    assert not [b for b in bodies if any(s in b for s in (WORDS, NAME, EMAIL))]
    (erased,) = [h.json for h in hits if h.json["event"] == ev.CUSTOMER_ERASED]
    assert erased["data"]["customer_id"] == r.customer_id
    assert erased["data"]["reason"] == "GDPR request #7"
    assert {h.json["event"] for h in hits} >= {"conversation.resolved", "message.created"}


def test_customer_erased_is_subscribable() -> None:
    """The event is on the list subscribers choose from, and public."""
    from core.outbox import SUBSCRIBABLE_EVENTS, deliverable

    assert ev.CUSTOMER_ERASED in SUBSCRIBABLE_EVENTS
    assert deliverable(Event(ev.CUSTOMER_ERASED, {"customer_id": 1}))
