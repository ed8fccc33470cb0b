"""The database schema: customers, identities, conversations, messages, agents, orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.types import Author, ConversationStatus, MessageKind, Priority, Role

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer, "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive values are taken as UTC already."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return UTC-aware values."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    """A person, whatever channels they write on."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once the person's data was erased (core.erasure): the row stays, anonymous.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Identity(Base):
    """A customer on one channel: (channel, external id) belongs to exactly one customer."""

    __tablename__ = "identities"
    __table_args__ = (
        Index("uq_identities_channel_external", "channel", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    profile: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Agent(Base):
    """A support person who logs in to the inbox."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    login: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16), default=Role.AGENT)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(16), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Session(Base):
    """A login session; only the token's hash is stored, so a database leak yields no logins."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(Id, ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Team(Base):
    """A group of agents that conversations can be routed to (billing, shipping…)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    """An agent's membership of a team (many-to-many)."""

    __tablename__ = "team_members"
    __table_args__ = (PrimaryKeyConstraint("team_id", "agent_id"),)

    team_id: Mapped[int] = mapped_column(Id, ForeignKey("teams.id"))
    # The "my teams" view looks memberships up by agent.
    agent_id: Mapped[int] = mapped_column(Id, ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    """A customer's conversation across every channel; ownership is its status."""

    __tablename__ = "conversations"
    __table_args__ = (
        # One unresolved conversation per customer: concurrent first messages cannot fork it.
        Index(
            "uq_conversations_one_active",
            "customer_id",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_conversations_status_waiting", "status", "waiting_since"),
        Index("ix_conversations_assignee_status", "assignee_id", "status", "last_message_at"),
        Index("ix_conversations_last_message", "last_message_at"),
        Index("ix_conversations_team_last_message", "team_id", "last_message_at"),
        # Supervisor metrics select conversations created in a period (bench/metrics_bench.py).
        Index("ix_conversations_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    status: Mapped[ConversationStatus] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Id, ForeignKey("agents.id"))
    team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id"))
    # Loaded with the conversation (one extra IN query per batch), so every serialised
    # conversation can name its team without a lazy load.
    team: Mapped[Team | None] = relationship(lazy="selectin")
    priority: Mapped[Priority] = mapped_column(String(16), default=Priority.NORMAL)
    escalation_reason: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    last_channel: Mapped[str | None] = mapped_column(String(32))
    labels: Mapped[list[str]] = mapped_column(Json, default=list)
    bot_state: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    preview: Mapped[str | None] = mapped_column(String(280))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A merge's "merged_into" activity line, written as each database stores an index predicate
# (queries use the same text so the planner can match ix_messages_merged_into).
MERGED_INTO_LINE = {
    "postgresql": "kind = 'activity' AND (meta ->> 'action') = 'merged_into'",
    "sqlite": "kind = 'activity' AND json_extract(meta, '$.action') = 'merged_into'",
}


class Message(Base):
    """One timeline entry: a message in or out, a private note, or an activity line."""

    __tablename__ = "messages"
    __table_args__ = (
        # The dedupe key: the same inbound message delivered twice is stored once.
        Index(
            "uq_messages_inbound_channel_id",
            "channel",
            "channel_message_id",
            unique=True,
            sqlite_where=text("kind = 'incoming'"),
            postgresql_where=text("kind = 'incoming'"),
        ),
        Index("ix_messages_customer_timeline", "customer_id", "created_at", "id"),
        Index("ix_messages_conversation_timeline", "conversation_id", "id"),
        Index(
            "ix_messages_pipeline_unfinished",
            "pipeline_state",
            sqlite_where=text("pipeline_state = 'pending'"),
            postgresql_where=text("pipeline_state = 'pending'"),
        ),
        # Metrics and alert checks read a conversation's activity lines (escalated, assigned,
        # merged, alerts): ~6% of messages, found without walking the rest.
        Index(
            "ix_messages_activity_conversation",
            "conversation_id",
            sqlite_where=text("kind = 'activity'"),
            postgresql_where=text("kind = 'activity'"),
        ),
        # A customer merge's merged_into lines (rare): the metrics read them all at once to
        # leave folded conversations out of the resolved ones.
        Index(
            "ix_messages_merged_into",
            "conversation_id",
            sqlite_where=text(MERGED_INTO_LINE["sqlite"]),
            postgresql_where=text(MERGED_INTO_LINE["postgresql"]),
        ),
        # The metrics' sentiment trend counts the period's customer messages by day and label
        # for the period's conversations: a range of this index alone, never the table.
        Index(
            "ix_messages_mood",
            "created_at",
            "conversation_id",
            "sentiment_label",
            sqlite_where=text("kind = 'incoming' AND sentiment_label IS NOT NULL"),
            postgresql_where=text("kind = 'incoming' AND sentiment_label IS NOT NULL"),
        ),
        Index(
            "ix_messages_delivery_queued",
            "delivery_status",
            sqlite_where=text("delivery_status = 'queued'"),
            postgresql_where=text("delivery_status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"))
    conversation_id: Mapped[int | None] = mapped_column(Id, ForeignKey("conversations.id"))
    kind: Mapped[MessageKind] = mapped_column(String(16))
    author: Mapped[Author] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("agents.id"))
    channel: Mapped[str | None] = mapped_column(String(32))
    channel_message_id: Mapped[str | None] = mapped_column(String(255))
    reply_to_channel_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A channel asked us to wait (flood control): still queued, not sent before this time.
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    sentiment_anger: Mapped[float | None] = mapped_column(Float)
    sentiment_scores: Mapped[dict[str, float] | None] = mapped_column(Json)
    pipeline_state: Mapped[str | None] = mapped_column(String(16))
    pipeline_steps: Mapped[list[str]] = mapped_column(Json, default=list)
    pipeline_attempts: Mapped[int] = mapped_column(Integer, default=0)
    pipeline_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationRead(Base):
    """How far an agent has read a conversation: the last message id they saw."""

    __tablename__ = "conversation_reads"
    __table_args__ = (PrimaryKeyConstraint("agent_id", "conversation_id"),)

    agent_id: Mapped[int] = mapped_column(Id, ForeignKey("agents.id"))
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"))
    last_read_message_id: Mapped[int] = mapped_column(Id)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    """A shop order the bot can look up for its customer."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # None once the customer's data was erased: the order stays as a business record.
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="SAR")
    carrier: Mapped[str | None] = mapped_column(String(80))
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Tables owned by other modules register on the same metadata (imported last: they build on these).
from core import inbox_tables  # noqa: E402, F401
from core.webhook_models import WebhookDelivery, WebhookSubscription  # noqa: E402, F401
