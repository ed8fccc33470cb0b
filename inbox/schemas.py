"""Request bodies and query strings the API accepts; unknown fields are refused."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.types import ConversationStatus, Priority, Role

Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Strict(BaseModel):
    """Refuses fields it does not know, so typos are errors, not silent no-ops."""

    model_config = ConfigDict(extra="forbid")


class LoginBody(Strict):
    """Credentials."""

    login: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AgentBody(Strict):
    """A new agent."""

    login: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
    display_name: Name
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    role: Role = Role.AGENT
    language: Literal["en", "ar"] = "en"


Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]


class AgentPatch(Strict):
    """An agent's new name, role or state (admins)."""

    display_name: Name | None = None
    role: Role | None = None
    active: bool | None = None


class AgentQuery(Strict):
    """Which agents to list."""

    include_inactive: bool = Field(
        default=False,
        description="supervisors and admins: deactivated agents too, each with `online`",
    )


class PasswordBody(Strict):
    """A new password an admin sets for an agent."""

    password: Password


class PasswordChangeBody(Strict):
    """My current password and the new one."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    new_password: Password


class ConversationQuery(Strict):
    """Filters and paging for the conversation list."""

    status: ConversationStatus | None = None
    assignee: str | None = Field(default=None, description="'me', 'none' or an agent id")
    channel: Annotated[str, StringConstraints(max_length=32)] | None = None
    label: Annotated[str, StringConstraints(max_length=40)] | None = None
    language: Annotated[str, StringConstraints(max_length=16)] | None = None
    sentiment: Literal["angry", "negative", "neutral", "positive"] | None = None
    team: str | None = Field(default=None, description="'mine', 'none' or a team id")
    active: bool = Field(default=False, description="only conversations not resolved")
    sort: Literal["recent", "waiting"] = "recent"
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class TimelineQuery(Strict):
    """Paging for a customer's timeline (oldest first)."""

    limit: int = Field(default=200, ge=1, le=1000)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class MessagePageQuery(Strict):
    """A page of one conversation's timeline: the newest ``limit`` entries before a message."""

    before: int | None = Field(default=None, ge=1, description="a message id; default: newest")
    limit: int = Field(default=100, ge=1, le=500)


class CustomerQuery(Strict):
    """Search customers by name, email, phone or identity."""

    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    channel: Annotated[str, StringConstraints(max_length=32)] | None = None
    external_id: Annotated[str, StringConstraints(max_length=320)] | None = None
    limit: int = Field(default=25, ge=1, le=100)


class ReplyBody(Strict):
    """A reply to the customer: text, files uploaded through ``/uploads``, or both."""

    text: Annotated[str, StringConstraints(max_length=10_000)] = ""
    channel: Annotated[str, StringConstraints(max_length=32)] | None = None
    attachments: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=10, description="upload ids"
    )

    @model_validator(mode="after")
    def _text_or_files(self) -> ReplyBody:
        """Text may be left out only when files are attached; then it is a missing field."""
        if not self.text.strip() and not self.attachments:
            error = {"type": "missing", "loc": ("text",), "input": {}}
            raise ValidationError.from_exception_data("ReplyBody", [error])  # type: ignore[list-item]
        return self


class NoteBody(Strict):
    """A private note."""

    text: Text


class AssignBody(Strict):
    """Who should own the conversation (null returns it to the queue)."""

    agent_id: int | None


class TeamAssignBody(Strict):
    """The team the conversation goes to (null: no team)."""

    team_id: int | None


class ReadBody(Strict):
    """The last message the agent has seen (default: the latest one)."""

    message_id: int | None = None


class TeamBody(Strict):
    """A new team."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class TeamPatch(Strict):
    """A team's new name or description."""

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class MemberBody(Strict):
    """The agent to add to a team."""

    agent_id: int


class EscalateBody(Strict):
    """Why the conversation needs a human."""

    reason: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,64}$")]
    priority: Priority | None = None


class LabelsBody(Strict):
    """The conversation's labels."""

    labels: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        max_length=20
    )


def _email(value: str) -> str:
    """A plausible address (one @, a dot in the domain), lower-cased."""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not an email address")
    return value.lower()


def _phone(value: str) -> str:
    """Digits with an optional leading + and spaces, dashes, dots or brackets between."""
    if not re.fullmatch(r"\+?[0-9][0-9 ().-]{3,38}", value) or sum(c.isdigit() for c in value) < 4:
        raise ValueError("not a phone number")
    return value


Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(_email)
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_phone)
]
AttributeKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
AttributeValue = Annotated[str, StringConstraints(max_length=500)] | int | float | bool | None


class CustomerPatch(Strict):
    """Profile fields to change; left out stays, email or phone null clears it."""

    display_name: Name | None = None
    language: (
        Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] | None
    ) = None
    email: Email | None = None
    phone: Phone | None = None
    attributes: dict[AttributeKey, AttributeValue] | None = Field(
        default=None, max_length=50, description="merged key by key; a null value removes the key"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> CustomerPatch:
        """At least one field, and null only where it means 'clear'."""
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        errors: list[InitErrorDetails] = [
            {
                "type": PydanticCustomError("not_null", "cannot be null; leave it out to keep it"),
                "loc": (name,),
                "input": None,
            }
            for name in ("display_name", "language", "attributes")
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if errors:
            raise ValidationError.from_exception_data("CustomerPatch", errors)
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client sent, as ``do_update_customer`` takes them."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class MergeBody(Strict):
    """The customer to fold into this one."""

    source_id: int


class EraseBody(Strict):
    """Why the customer's data is erased, and their id typed again to confirm."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ] = Field(
        description="for the record, e.g. the request's reference; no personal data: it is kept"
    )
    confirm: int = Field(
        description="the customer's id (the one in the path), typed again: erasure is final"
    )


class OrderQuery(Strict):
    """Whose order is asked about."""

    conversation_id: int | None = None


class CancelOrderBody(Strict):
    """The conversation that asks to cancel."""

    conversation_id: int
