"""The right to erasure (GDPR art. 17, Saudi PDPL): a customer's personal data goes, facts stay.

One transaction erases everything the database holds about the person (every customer merged
into them included) and writes one activity line; the files only they sent or received are
removed from the stores after the commit. What is erased, what is kept and why:
docs/privacy.md.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import events as ev
from core.actions import ACTIVE, emit, surviving_customer
from core.db import in_transaction
from core.errors import ConflictError, Invalid
from core.events import Event
from core.inbox_tables import CsatRating
from core.models import Agent, Conversation, Customer, Identity, Message, Order, utcnow
from core.privacy import (
    ERASED_TEXT,
    IDENTITY,
    MESSAGE,
    erased_name,
    is_pseudonym,
    pseudonym,
)
from core.runtime import Runtime
from core.serialize import conversation_dict, message_dict
from core.types import Author, ConversationStatus, DeliveryStatus, MessageKind
from core.webhook_models import OutboxEvent, WebhookDelivery
from core.webhooks import DELIVERED

log = logging.getLogger(__name__)

ERASED = "erased"  # the activity line's action
MAX_REASON = 500
NOT_SENT = "not sent: the customer's data was erased"
REDACTED = {"redacted": "customer data erased"}
# Activity lines whose text we write from ids, statuses, reasons and agents' names only.
SAFE_ACTIVITY = frozenset(
    {
        "alert",
        "assigned",
        "customer_updated",
        "escalated",
        "handed_to_bot",
        "labelled",
        "merged",
        "merged_into",
        "priority",
        "reopened",
        "resolved",
        "taken_over",
        "team",
        "unassigned",
        ERASED,
    }
)
# Keys of an activity line's meta that carry the customer's words or contact details.
PERSONAL_META = frozenset({"excerpt", "email", "known_customer_id", "raw", "edits", "recipient"})
# Of an erased message's meta, only what the pipeline and metrics read stays.
KEPT_MESSAGE_META = frozenset({"angry", "in_reply_to", "notice", "sentiment_model", "truncated"})
_BLOB = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_BATCH = 50


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure did.

    Args:
        customer_id: the surviving customer whose data was erased.
        erased: False when the customer had been erased before (nothing changed).
        erased_at: when the data was erased.
        counts: rows and files changed, by kind (none on a repeat).
        files_pending: files still to remove (a store failed; the next call retries).
        other_customers: customers not erased who share an email address or phone number
            with the erased one: perhaps the same person, for an admin to check and erase.
    """

    customer_id: int
    erased: bool
    erased_at: datetime
    counts: dict[str, int]
    files_pending: int
    other_customers: list[int]

    def to_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "customer_id": self.customer_id,
            "erased": self.erased,
            "erased_at": self.erased_at.isoformat(),
            "counts": self.counts,
            "files_pending": self.files_pending,
            "other_customers": self.other_customers,
        }


async def _merge_tree(session: AsyncSession, survivor_id: int) -> list[int]:
    """The survivor and every customer merged into it, directly or through others."""
    ids = [survivor_id]
    frontier = [survivor_id]
    while frontier:
        frontier = list(
            (
                await session.execute(
                    select(Customer.id).where(Customer.merged_into_id.in_(frontier))
                )
            )
            .scalars()
            .all()
        )
        frontier = [i for i in frontier if i not in ids]
        ids.extend(frontier)
    return sorted(ids)


def _digests(attachments: Iterable[dict[str, Any]] | None) -> set[str]:
    """The sha256 digests of the stored files a message's attachments name."""
    found = set()
    for attachment in attachments or []:
        for field in ("key", "external_id"):
            match = _BLOB.match(str(attachment.get(field) or ""))
            if match:
                found.add(match.group(1))
    return found


def _erase_message(m: Message, secret: str, counts: Counter[str]) -> None:
    """A message in or out, or a note: the words, files and channel ids go."""
    m.text = ERASED_TEXT
    m.attachments = []
    meta = {k: v for k, v in (m.meta or {}).items() if k in KEPT_MESSAGE_META}
    m.meta = {**meta, "erased": True}
    channel = m.channel or ""
    if m.channel_message_id and not is_pseudonym(m.channel_message_id):
        m.channel_message_id = pseudonym(secret, MESSAGE, channel, m.channel_message_id)
    if m.reply_to_channel_id and not is_pseudonym(m.reply_to_channel_id):
        m.reply_to_channel_id = pseudonym(secret, MESSAGE, channel, m.reply_to_channel_id)
    if m.delivery_status == DeliveryStatus.QUEUED:
        m.delivery_status = DeliveryStatus.FAILED
        m.delivery_error = NOT_SENT
        m.deliver_after = None
        counts["replies_cancelled"] += 1
    elif m.delivery_error:
        m.delivery_error = None  # a bounce names the address
    if m.pipeline_state == "pending":
        m.pipeline_state = "done"
        m.pipeline_lease_until = None
    counts["messages"] += 1


def _erase_activity(m: Message, counts: Counter[str]) -> None:
    """An activity line stays (metrics read it) without the customer's words or address."""
    meta = {k: v for k, v in (m.meta or {}).items() if k not in PERSONAL_META}
    if meta.get("action") not in SAFE_ACTIVITY:
        m.text = ERASED_TEXT
        meta["erased"] = True
    m.meta = meta
    counts["activity_lines"] += 1


# Where an event payload names a customer: messages and conversations (``customer_id``),
# merges (``source_id``/``target_id``), profile edits (``customer.id``), alerts.
_PERSON_PATHS: tuple[str | tuple[str, str], ...] = (
    "customer_id",
    "source_id",
    "target_id",
    ("customer", "id"),
    ("conversation", "customer_id"),
    ("activity", "customer_id"),
    ("meta", "known_customer_id"),
)


def _about(payload: Any, customer_ids: list[int], conversation_ids: list[int], dialect: str) -> Any:
    """SQL: an event payload that names one of the customers or their conversations."""

    def among(path: str | tuple[str, str], ids: list[int]) -> Any:
        # PostgreSQL compares the text (a cast would fail on a value that is not a number);
        # SQLite's json_extract gives the number itself.
        if dialect == "postgresql":
            return payload[path].as_string().in_([str(i) for i in ids])
        return payload[path].as_integer().in_(ids)

    clauses = [among(path, customer_ids) for path in _PERSON_PATHS]
    if conversation_ids:
        clauses.append(among("conversation_id", conversation_ids))
    return or_(*clauses)


async def _scrub_webhooks(
    session: AsyncSession, customer_ids: list[int], conversation_ids: list[int]
) -> tuple[int, int, int]:
    """Events about the person: unsent ones are dropped, sent ones keep only their log line.

    Returns (outbox rows dropped, undelivered deliveries dropped, delivered ones redacted).
    """

    dialect = session.get_bind().dialect.name

    def about(model: type[OutboxEvent] | type[WebhookDelivery]) -> ColumnElement[bool]:
        return and_(
            model.event != ev.CUSTOMER_ERASED,
            _about(model.payload, customer_ids, conversation_ids, dialect),
        )

    fast = {"synchronize_session": False}
    outbox = await session.execute(
        delete(OutboxEvent).where(about(OutboxEvent)).execution_options(**fast)
    )
    dropped = await session.execute(
        delete(WebhookDelivery)
        .where(about(WebhookDelivery), WebhookDelivery.status != DELIVERED)
        .execution_options(**fast)
    )
    redacted = await session.execute(
        update(WebhookDelivery)
        .where(about(WebhookDelivery), WebhookDelivery.status == DELIVERED)
        .values(payload=REDACTED, last_error=None)
        .execution_options(**fast)
    )
    return (
        int(outbox.rowcount),  # type: ignore[attr-defined]
        int(dropped.rowcount),  # type: ignore[attr-defined]
        int(redacted.rowcount),  # type: ignore[attr-defined]
    )


async def _unshared(session: AsyncSession, digests: set[str]) -> list[str]:
    """Of the files, those no remaining message names (call after the person's are cleared)."""
    ordered = sorted(digests)
    shared: set[str] = set()
    as_text = cast(Message.attachments, Text)
    for start in range(0, len(ordered), _BATCH):
        batch = ordered[start : start + _BATCH]
        rows = await session.execute(
            select(Message.attachments).where(or_(*(as_text.contains(d) for d in batch)))
        )
        for (attachments,) in rows:
            shared |= _digests(attachments) & set(batch)
    return [d for d in ordered if d not in shared]


def _contacts(
    people: Iterable[Customer], identities: Iterable[Identity]
) -> tuple[set[str], set[str]]:
    """The person's email addresses (lower-cased) and phone numbers, from every record."""
    addresses = {p.email.lower() for p in people if p.email}
    phones = {p.phone for p in people if p.phone}
    for identity in identities:
        profile = identity.profile or {}
        if identity.channel == "email":
            addresses.add(identity.external_id.lower())
        for key in ("email", "contact_email"):
            if isinstance(profile.get(key), str):
                addresses.add(profile[key].lower())
        if isinstance(profile.get("phone"), str):
            phones.add(profile["phone"])
    return addresses, phones


async def _others(
    session: AsyncSession, ids: list[int], addresses: set[str], phones: set[str]
) -> list[int]:
    """Customers not being erased who are known by one of these addresses or numbers."""
    by_profile = select(Customer.id).where(
        or_(func.lower(Customer.email).in_(addresses), Customer.phone.in_(phones))
    )
    by_identity = select(Identity.customer_id).where(
        or_(
            and_(Identity.channel == "email", func.lower(Identity.external_id).in_(addresses)),
            func.lower(Identity.profile["email"].as_string()).in_(addresses),
            func.lower(Identity.profile["contact_email"].as_string()).in_(addresses),
            Identity.profile["phone"].as_string().in_(phones),
        )
    )
    found = set((await session.execute(by_profile)).scalars().all())
    found |= set((await session.execute(by_identity)).scalars().all())
    survivors = set()
    for customer_id in found - set(ids):
        customer = await surviving_customer(session, customer_id)
        if customer.erased_at is None and customer.id not in ids:
            survivors.add(customer.id)
    return sorted(survivors)


@dataclass(slots=True)
class _Done:
    customer_id: int
    erased: bool
    erased_at: datetime
    counts: dict[str, int]
    line_id: int | None
    files: list[str]
    others: list[int]


async def _erased_line(session: AsyncSession, customer_id: int) -> Message | None:
    """The erasure's activity line."""
    return (
        (
            await session.execute(
                select(Message)
                .where(
                    Message.customer_id == customer_id,
                    Message.kind == MessageKind.ACTIVITY,
                    Message.meta["action"].as_string() == ERASED,
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )


async def do_erase_customer(
    rt: Runtime, customer_id: int, *, agent_id: int | None, reason: str
) -> ErasureResult:
    """Erase a customer's personal data; a repeat changes nothing (it only retries files).

    In one transaction, for the customer and everyone merged into them: the text, files and
    raw payload of every message they wrote or were sent (notes included) become the erased
    marker; channel ids and identities' external ids become keyed pseudonyms (a new message
    from the same sender starts a new customer); the profile, identities' names and profiles,
    conversation previews, bot state, alert excerpts, CSAT comments go; orders lose their link
    to the person; events about them not yet sent to subscribers are dropped and sent ones
    redacted; an active conversation is resolved. One activity line records who erased it and
    why; ``customer.erased`` is emitted. After the commit the files only they used are removed.

    Args:
        rt: the runtime.
        customer_id: the customer (a merged-away id erases the customer it was merged into).
        agent_id: the admin who erased it (None for the system).
        reason: why, for the record (a request reference, not personal data).

    Returns:
        What was done.
    """
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise Invalid("say why the data is erased", code="reason_required")
    secret = rt.settings.secret_key.get_secret_value()
    out: list[Event] = []

    async def work(session: AsyncSession) -> _Done:
        out.clear()
        found = await surviving_customer(session, customer_id)
        ids = await _merge_tree(session, found.id)
        # Identities first, then customers, then conversations: the order ingest takes its
        # locks in (identity, conversation, customer), so the two never wait on each other in a
        # cycle. A message racing the erasure lands before it (and is erased with the rest) or
        # finds no identity and starts a new customer.
        identities = (
            (
                await session.execute(
                    select(Identity)
                    .where(Identity.customer_id.in_(ids))
                    .order_by(Identity.id)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        people = (
            (
                await session.execute(
                    select(Customer)
                    .where(Customer.id.in_(ids))
                    .order_by(Customer.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
            .scalars()
            .all()
        )
        survivor = next(p for p in people if p.id == found.id)
        if survivor.merged_into_id is not None or await _merge_tree(session, found.id) != ids:
            raise ConflictError("the customer is being merged; try again", code="merging")
        if survivor.erased_at is not None:
            line = await _erased_line(session, survivor.id)
            pending = list((line.meta or {}).get("files_pending", [])) if line else []
            line_id = line.id if line is not None else None
            return _Done(survivor.id, False, survivor.erased_at, {}, line_id, pending, [])
        now = utcnow()
        counts: Counter[str] = Counter()
        addresses, phones = _contacts(people, identities)
        others = await _others(session, ids, addresses, phones)
        # A visitor who typed this address keeps no copy of it in their profile.
        typed = func.lower(Identity.profile["contact_email"].as_string())
        for identity in (
            await session.execute(
                select(Identity).where(Identity.customer_id.not_in(ids), typed.in_(addresses))
            )
        ).scalars():
            identity.profile = {
                k: v for k, v in (identity.profile or {}).items() if k != "contact_email"
            }
            counts["other_profiles_scrubbed"] += 1
        for person in people:
            person.display_name = erased_name(person.id)
            person.email = None
            person.phone = None
            person.attributes = {}
            person.erased_at = now
        counts["customers"] = len(people)
        for identity in identities:
            if not is_pseudonym(identity.external_id):
                # The identity's id keeps it unique when the same sender, back as a new
                # customer, is erased again.
                mark = pseudonym(secret, IDENTITY, identity.channel, identity.external_id)
                identity.external_id = f"{mark}.{identity.id}"
            identity.display_name = None
            identity.profile = {}
        counts["identities"] = len(identities)
        convs = (
            (
                await session.execute(
                    select(Conversation)
                    .where(Conversation.customer_id.in_(ids))
                    .order_by(Conversation.id)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        conv_ids = [c.id for c in convs]
        closed: list[Conversation] = []
        for conv in convs:
            conv.preview = None
            conv.bot_state = {}
            conv.updated_at = now
            if conv.status in ACTIVE:
                conv.status = ConversationStatus.RESOLVED
                conv.resolved_at = now
                conv.waiting_since = None
                closed.append(conv)
        counts["conversations"] = len(convs)
        counts["conversations_resolved"] = len(closed)
        # Another customer's line naming this person's address (a visitor typed it) too.
        where = or_(
            Message.customer_id.in_(ids),
            and_(
                Message.kind == MessageKind.ACTIVITY,
                Message.meta["known_customer_id"].as_integer().in_(ids),
            ),
        )
        if conv_ids:
            where = or_(where, Message.conversation_id.in_(conv_ids))
        digests: set[str] = set()
        for m in (await session.execute(select(Message).where(where))).scalars():
            digests |= _digests(m.attachments)
            if m.kind == MessageKind.ACTIVITY:
                _erase_activity(m, counts)
            else:
                _erase_message(m, secret, counts)
        csat = or_(CsatRating.customer_id.in_(ids), CsatRating.conversation_id.in_(conv_ids))
        rated = await session.execute(
            update(CsatRating)
            .where(csat, CsatRating.comment.is_not(None))
            .values(comment=None)
            .execution_options(synchronize_session=False)
        )
        counts["csat_comments"] = int(rated.rowcount)  # type: ignore[attr-defined]
        orders = await session.execute(
            update(Order)
            .where(Order.customer_id.in_(ids))
            .values(customer_id=None)
            .execution_options(synchronize_session=False)
        )
        counts["orders_unlinked"] = int(orders.rowcount)  # type: ignore[attr-defined]
        await session.flush()
        files = await _unshared(session, digests)
        counts["files_kept_shared"] = len(digests) - len(files)
        outbox, dropped, redacted = await _scrub_webhooks(session, ids, conv_ids)
        counts["webhook_events_dropped"] = outbox + dropped
        counts["webhook_deliveries_redacted"] = redacted

        agent = await session.get(Agent, agent_id) if agent_id is not None else None
        who = agent.display_name if agent is not None else "the system"
        anchor = closed[-1] if closed else (convs[-1] if convs else None)
        line = Message(
            customer_id=survivor.id,
            conversation_id=anchor.id if anchor else None,
            kind=MessageKind.ACTIVITY,
            author=Author.AGENT if agent_id else Author.SYSTEM,
            agent_id=agent_id,
            text=f"Customer data erased by {who} ({reason})",
            meta={
                "action": ERASED,
                "reason": reason,
                "customer_ids": ids,
                "counts": dict(sorted(counts.items())),
                "files_pending": files,
            },
        )
        session.add(line)
        await session.flush()
        out.append(Event(ev.MESSAGE_CREATED, message_dict(line)))
        for conv in convs:
            out.append(Event(ev.CONVERSATION_UPDATED, conversation_dict(conv)))
        for conv in closed:
            out.append(
                Event(
                    ev.CONVERSATION_RESOLVED,
                    {**conversation_dict(conv), "activity": message_dict(line)},
                )
            )
        out.append(
            Event(
                ev.CUSTOMER_ERASED,
                {
                    "customer_id": survivor.id,
                    "customer_ids": ids,
                    "conversation_ids": conv_ids,
                    "erased_at": now.isoformat(),
                    "agent_id": agent_id,
                    "reason": reason,
                },
            )
        )
        return _Done(survivor.id, True, now, dict(sorted(counts.items())), line.id, files, others)

    done = await in_transaction(rt.sessions, work, events=out)
    await emit(rt, out)
    pending, removed = done.files, 0
    if done.line_id is not None and done.files:
        pending, removed = await _remove_files(rt, done.line_id, done.files)
    counts = dict(done.counts)
    if done.erased:
        counts["files_removed"] = removed
    return ErasureResult(
        done.customer_id, done.erased, done.erased_at, counts, len(pending), done.others
    )


async def _remove_files(rt: Runtime, line_id: int, digests: list[str]) -> tuple[list[str], int]:
    """Remove the files from every store; record on the erasure line which are still there.

    Returns the digests still pending and how many files (blobs, upload records) went.
    """
    left: list[str] = []
    removed = 0
    for digest in digests:
        try:
            for erase in rt.file_erasers:
                removed += await erase(digest)
        except Exception:
            log.exception("could not remove an erased customer's file; the next erase retries")
            left.append(digest)

    async def work(session: AsyncSession) -> None:
        line = await session.get(Message, line_id, with_for_update=True)
        if line is None:
            return
        meta = dict(line.meta or {})
        meta["files_pending"] = left
        meta["files_removed"] = int(meta.get("files_removed", 0)) + len(digests) - len(left)
        if not left:
            meta.pop("files_pending")
        line.meta = meta

    await in_transaction(rt.sessions, work)
    return left, removed
