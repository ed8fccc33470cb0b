"""The routing policy for a bot reply, as a pure function (the pipeline wires it in)."""

from __future__ import annotations

from dataclasses import dataclass

from core.types import ConversationStatus

BOT_UNAVAILABLE = "bot_unavailable"
BOT_SILENT = "bot_silent"


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """What to do with the bot's answer.

    Args:
        send: bot texts to send to the customer, in order.
        escalate: whether to hand the conversation to people.
        reason: the handoff reason for the timeline and the agents' alert.
        status: the conversation's status afterwards.
    """

    send: tuple[str, ...]
    escalate: bool
    reason: str | None
    status: ConversationStatus


def decide(
    status: ConversationStatus,
    texts: list[str] | None,
    handoff: bool = False,
    reason: str | None = None,
) -> RoutingDecision:
    """Route one bot turn; ``texts=None`` means the bot could not be reached.

    Only a conversation the bot owns gets bot replies: after a handoff the bot stays quiet
    (the best-known bug in bot handoffs is a bot that keeps talking).
    """
    if status is not ConversationStatus.BOT:
        return RoutingDecision((), False, None, status)
    if texts is None:
        return RoutingDecision((), True, BOT_UNAVAILABLE, ConversationStatus.PENDING)
    if handoff:
        return RoutingDecision(tuple(texts), True, reason, ConversationStatus.PENDING)
    if not texts:
        # Rasa answers [] when a custom action could not even be called: never leave it unseen.
        return RoutingDecision((), True, BOT_SILENT, ConversationStatus.PENDING)
    return RoutingDecision(tuple(texts), False, None, ConversationStatus.BOT)
