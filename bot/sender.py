"""Rasa sender ids: one per bot session of a conversation (stdlib only; the actions import it)."""

from __future__ import annotations

import re

# "<conversation id>-<session token>": the token is hex, so the last "-" splits them.
_SESSION_SENDER = re.compile(r"^(\d+)-[0-9a-f]{8,}$")


def sender_id(conversation_id: int, session: str) -> str:
    """Rasa's sender id for one bot session: a new session starts an empty tracker."""
    return f"{conversation_id}-{session}"


def conversation_id_of(sender: str) -> str:
    """The conversation id inside a session sender id; any other sender id unchanged."""
    match = _SESSION_SENDER.match(sender)
    return match.group(1) if match else sender
