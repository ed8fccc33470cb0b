"""Rasa sender ids per bot session, and the conversation id the actions read back from them."""

from __future__ import annotations

from bot.sender import conversation_id_of, sender_id


def test_session_sender_id_round_trips_to_the_conversation() -> None:
    """'12-<hex token>' names conversation 12."""
    sender = sender_id(12, "0123456789abcdef")
    assert sender == "12-0123456789abcdef"
    assert conversation_id_of(sender) == "12"


def test_other_sender_ids_pass_through() -> None:
    """A plain id, or one whose suffix is not a session token, is kept as it is."""
    for sender in ("12", "conv-1", "test-3f2a", "12-XYZ12345", "a-0123456789abcdef"):
        assert conversation_id_of(sender) == sender
