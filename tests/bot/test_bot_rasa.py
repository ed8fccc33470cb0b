"""End to end through the real trained model, Rasa's REST channel and the action server."""

from __future__ import annotations

import uuid

import pytest

from bot.client import RasaClient
from bot.language import has_arabic, normalize_order_number

pytestmark = pytest.mark.rasa


def cid() -> str:
    """A fresh conversation id, so tests never share a tracker."""
    return f"test-{uuid.uuid4().hex[:12]}"


async def test_arabic_order_question_gives_intent_and_number(rasa_stack: str) -> None:
    """«وين طلبي رقم ١٠٢٣٤؟» → order_status with the order number entity."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        parsed = await client.parse("وين طلبي رقم ١٠٢٣٤؟")
    assert parsed["intent"]["name"] == "order_status"
    numbers = [e["value"] for e in parsed["entities"] if e["entity"] == "order_number"]
    assert numbers == ["١٠٢٣٤"]
    assert normalize_order_number(numbers[0]) == "10234"


async def test_english_order_question_with_hash_number(rasa_stack: str) -> None:
    """'#10234' is found once, with its hash."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        parsed = await client.parse("where is my order #10234?")
    assert parsed["intent"]["name"] == "order_status"
    assert [e["value"] for e in parsed["entities"] if e["entity"] == "order_number"] == ["#10234"]


@pytest.mark.parametrize(
    ("text", "arabic"), [("I want to talk to a human", False), ("ابي اكلم موظف", True)]
)
async def test_asking_for_a_person_hands_off(rasa_stack: str, text: str, arabic: bool) -> None:
    """human_handoff → a 'connecting you' text in the customer's language and the marker."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        reply = await client.reply(cid(), text, None)
    assert (reply.handoff, reply.reason) == (True, "customer_request")
    assert len(reply.texts) == 1 and has_arabic(reply.texts[0]) is arabic


async def test_gibberish_twice_hands_off_for_low_confidence(rasa_stack: str) -> None:
    """First miss: please rephrase. Second miss in a row: hand off."""
    conversation = cid()
    async with RasaClient(rasa_stack, timeout=30) as client:
        first = await client.reply(conversation, "xqzj wpvk", "en")
        second = await client.reply(conversation, "blorp fnarg zzxq", "en")
    assert first.handoff is False and first.texts
    assert (second.handoff, second.reason) == (True, "low_confidence")


async def test_arabic_greeting_is_answered_in_arabic(rasa_stack: str) -> None:
    """«السلام عليكم» → an Arabic reply; 'hello' → an English one."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        arabic = await client.reply(cid(), "السلام عليكم", None)
        english = await client.reply(cid(), "hello", None)
    assert arabic.texts and all(has_arabic(t) for t in arabic.texts)
    assert english.texts and not any(has_arabic(t) for t in english.texts)


async def test_order_status_goes_through_the_action_server(rasa_stack: str) -> None:
    """The action calls the orders API and answers in Arabic with the translated status."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        reply = await client.reply(cid(), "وين طلبي A-10234", None)
    assert not reply.handoff
    assert "A-10234" in reply.texts[0] and "تم شحنه" in reply.texts[0]


async def test_missing_number_is_asked_for_then_used(rasa_stack: str) -> None:
    """'where is my order' → which number? → '10234' answers the status (language kept)."""
    conversation = cid()
    async with RasaClient(rasa_stack, timeout=30) as client:
        ask = await client.reply(conversation, "where is my order?", None)
        answer = await client.reply(conversation, "10234", None)
    assert "order number" in ask.texts[0]
    assert answer.texts[0].startswith("Your order 10234 is shipped")


async def test_metadata_language_decides_for_a_bare_number(rasa_stack: str) -> None:
    """A message without letters takes the language from metadata."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        reply = await client.reply(cid(), "A-10234", "ar")
    assert reply.texts and has_arabic(reply.texts[0])


async def test_failing_orders_api_hands_off(rasa_stack: str) -> None:
    """A 500 from the orders API → action_failed handoff, in the customer's language."""
    async with RasaClient(rasa_stack, timeout=30) as client:
        reply = await client.reply(cid(), "where is order A-50000", None)
    assert (reply.handoff, reply.reason) == (True, "action_failed")
    assert reply.texts and not has_arabic(reply.texts[0])
