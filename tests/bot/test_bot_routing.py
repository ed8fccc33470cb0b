"""The routing policy over a bot turn."""

from __future__ import annotations

from bot.routing import BOT_SILENT, BOT_UNAVAILABLE, decide
from core.types import ConversationStatus as S


def test_plain_reply_keeps_the_bot_in_charge() -> None:
    """Texts go out and the bot keeps the conversation."""
    d = decide(S.BOT, ["hello"])
    assert (d.send, d.escalate, d.reason, d.status) == (("hello",), False, None, S.BOT)


def test_handoff_sends_the_goodbye_and_escalates() -> None:
    """The bot's 'connecting you' text still goes out, then people take over."""
    d = decide(S.BOT, ["connecting you"], handoff=True, reason="customer_request")
    assert (d.send, d.escalate, d.reason, d.status) == (
        ("connecting you",),
        True,
        "customer_request",
        S.PENDING,
    )


def test_unreachable_bot_escalates() -> None:
    """texts=None (BotUnavailable) → escalate with reason bot_unavailable."""
    d = decide(S.BOT, None)
    assert (d.escalate, d.reason, d.status) == (True, BOT_UNAVAILABLE, S.PENDING)


def test_silent_bot_escalates() -> None:
    """An empty answer without a marker is never left unseen."""
    d = decide(S.BOT, [])
    assert (d.escalate, d.reason) == (True, BOT_SILENT)


def test_bot_stays_quiet_once_people_own_the_conversation() -> None:
    """After handoff nothing the bot says is sent."""
    for status in (S.PENDING, S.OPEN, S.RESOLVED):
        d = decide(status, ["hello"])
        assert (d.send, d.escalate, d.status) == ((), False, status)
