"""What the service itself says to a customer, in their language."""

from __future__ import annotations

# Said when a conversation leaves the bot for a person: the customer never meets silence.
HANDOFF = {
    "ar": "لحظات من فضلك، جاري تحويلك إلى أحد موظفي خدمة العملاء.",
    "en": "One moment please, I'm connecting you to a person from our support team.",
}


def handoff_notice(language: str | None) -> str:
    """The "connecting you to a person" line in the customer's language (English otherwise)."""
    return HANDOFF.get(language or "en", HANDOFF["en"])
