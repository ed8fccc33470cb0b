"""Tables and indexes the inbox adds beside the foundation's: canned responses, CSAT, search."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, Conversation, Id, Message, UTCDateTime, utcnow


class CannedResponse(Base):
    """A saved reply agents insert with a shortcut such as ``/refund``."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(Id, ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CsatRating(Base):
    """A customer's 1–5 satisfaction score for one conversation (latest rating wins)."""

    __tablename__ = "csat_ratings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# The inbox's "bot" and "resolved" views read one status newest first; without this the
# planner walks ix_conversations_last_message and filters (see bench/list_bench.py).
Index(
    "ix_conversations_status_last_message",
    Conversation.status,
    Conversation.last_message_at,
    Conversation.id,
)


# Arabic-aware full-text document of a message: diacritics and tatweel dropped, alef/ya/ta
# marbuta/hamza seats folded, lower-cased; the 'simple' config keeps every word. The search
# endpoint queries this exact expression so PostgreSQL can use the GIN index below.
SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple'::regconfig, lower(translate(regexp_replace(messages.text, "
    "'[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]', '', 'g'), "
    "'أإآٱىةؤئ', 'اااايهوي')))"
)
Index(
    "ix_messages_search_document",
    text(SEARCH_DOCUMENT_SQL),
    postgresql_using="gin",
    _table=cast(Table, Message.__table__),
).ddl_if(dialect="postgresql")
