"""Domain value types shared by the pipeline, connectors and the service."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ConversationStatus(enum.StrEnum):
    """Who owns a conversation right now."""

    BOT = "bot"
    PENDING = "pending"
    OPEN = "open"
    RESOLVED = "resolved"


class MessageKind(enum.StrEnum):
    """What a timeline entry is."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    ACTIVITY = "activity"
    NOTE = "note"


class Author(enum.StrEnum):
    """Who wrote a timeline entry."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Role(enum.StrEnum):
    """What an agent may do; each role includes the ones before it."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Order of privilege, lowest first."""
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role has at least the privileges of ``needed``."""
        return self.rank >= needed.rank


class DeliveryStatus(enum.StrEnum):
    """Where an outgoing message is on its way to the customer."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Priority(enum.StrEnum):
    """How urgently a conversation needs a human."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of a file carried by a message; the bytes stay with the channel or store."""

    kind: str
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    url: str | None = None
    external_id: str | None = None
    key: str | None = None  # the file store's content key, for files agents uploaded

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "mime_type": self.mime_type,
            "size": self.size,
            "url": self.url,
            "external_id": self.external_id,
        }
        if self.key is not None:
            data["key"] = self.key
        return data


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message as a connector understood it, before it is stored.

    Args:
        channel: registry name of the connector (``telegram``, ``email``…).
        external_sender_id: the sender's id on that channel.
        external_message_id: the channel's id for this message; the dedupe key.
        text: the customer's text (already stripped of quoted replies where the channel has them).
        sender_name: display name the channel gave, if any.
        attachments: file metadata.
        sent_at: when the channel says it was sent.
        language: a language hint from the channel, if any.
        reply_to_external_id: the channel id of the message this one answers (email threading).
        raw: the original payload, kept for audit.
        sender_profile: verified contact details (``email``, ``phone``) used to link identities.
        edited: the customer edited an earlier message with this ``external_message_id``.
    """

    channel: str
    external_sender_id: str
    external_message_id: str
    text: str
    sender_name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    language: str | None = None
    reply_to_external_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    sender_profile: dict[str, str] = field(default_factory=dict)
    edited: bool = False


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A stored outgoing message on its way out through one connector.

    Args:
        message_id: our id for the message.
        channel: registry name of the connector to send through.
        recipient_id: the customer's id on that channel.
        text: what to send.
        attachments: files to send.
        private: a private note; connectors must never send these.
        external_message_id: set once a channel accepted it; sending again is refused.
        reply_to_external_id: the customer's message to thread under, where the channel can.
        language: the customer's language, for channels that render direction.
        meta: channel-specific extras (subject line, thread references…).
    """

    message_id: int
    channel: str
    recipient_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    private: bool = False
    external_message_id: str | None = None
    reply_to_external_id: str | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a channel answered when it accepted a message."""

    external_message_id: str
    meta: dict[str, Any] = field(default_factory=dict)


class SentimentLabel(enum.StrEnum):
    """The four moods a customer message is scored into."""

    ANGRY = "angry"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A scorer's verdict on one message.

    Args:
        label: the most likely mood.
        probabilities: probability per label, summing to 1.
        anger: probability of ``angry`` (0–1).
        angry: whether ``anger`` crossed the scorer's threshold.
        model: name of the model that scored it.
    """

    label: SentimentLabel
    probabilities: dict[str, float]
    anger: float
    angry: bool
    model: str = ""
