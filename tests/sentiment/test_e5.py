"""Tests for sentiment.e5: the default scorer with the shipped head."""

from __future__ import annotations

import pytest

from core.types import Sentiment, SentimentLabel
from sentiment.e5 import E5Scorer

# Written for these tests; none of them is in sentiment/data.
UNSEEN_ANGRY = [
    "This is the fourth time I'm writing about the missing refund. Absolutely unacceptable, "
    "I'm calling my bank.",
    "You charged me for a cancelled order AGAIN?! Fix it today or I'm going to the press.",
    "useless company. two weeks and my parcel is still 'on the way' 😡",
    "رابع مرة أكلمكم عن نفس الفلوس وما أحد يرد، والله لأشتكي عليكم في البنك",
    "انتو بجد مش محترمين، الطلب اتلغى والفلوس اتخصمت ومحدش بيرد 😡",
    "سأرفع شكوى رسمية، هذه ثالث مرة يتأخر فيها طلبي دون أي تفسير",
]
UNSEEN_CALM = [
    ("Hi, could you tell me when my parcel will arrive? Thanks.", "neutral"),
    ("THANK YOU!!! The headphones arrived and they sound incredible!", "positive"),
    ("The charger arrived a bit scratched, could I get a replacement please?", "negative"),
    ("مرحبا، متى يوصل طلبي للدمام؟", "neutral"),
    ("شكرا جزيلا!!!! وصل الطلب بسرعة والتغليف رائع", "positive"),
    ("للأسف الكوب وصل فيه كسر بسيط، ممكن تبديله لو سمحتوا؟", "negative"),
]


def check_shape(verdict: Sentiment) -> None:
    """A verdict carries all four probabilities, summing to one, consistent with its flags."""
    assert set(verdict.probabilities) == {label.value for label in SentimentLabel}
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= p <= 1.0 for p in verdict.probabilities.values())
    assert verdict.anger == verdict.probabilities["angry"]
    assert verdict.angry is (verdict.label is SentimentLabel.ANGRY)


def test_one_verdict_per_text_in_order(e5_scorer: E5Scorer) -> None:
    """score() returns one well-formed verdict per input, in input order."""
    texts = ["thanks!", "وين طلبي؟", "refund me NOW"]
    verdicts = e5_scorer.score(texts)
    assert len(verdicts) == 3
    for verdict in verdicts:
        check_shape(verdict)
        assert verdict.model == e5_scorer.name
    assert e5_scorer.score([]) == []
    assert e5_scorer.score(texts[1:2])[0].probabilities == pytest.approx(
        verdicts[1].probabilities, abs=1e-4
    )


@pytest.mark.parametrize("text", UNSEEN_ANGRY)
def test_unseen_angry_messages_are_flagged(e5_scorer: E5Scorer, text: str) -> None:
    """Angry Arabic and English messages the head never saw are flagged angry."""
    verdict = e5_scorer.score([text])[0]
    assert verdict.angry, verdict


@pytest.mark.parametrize(("text", "label"), UNSEEN_CALM)
def test_unseen_calm_messages_are_not_flagged(e5_scorer: E5Scorer, text: str, label: str) -> None:
    """Calm, polite or happily shouting messages are not angry and get their own label."""
    verdict = e5_scorer.score([text])[0]
    assert not verdict.angry, verdict
    assert verdict.label.value == label


def test_awkward_inputs(e5_scorer: E5Scorer) -> None:
    """Empty, whitespace, very long, emoji-only and mixed-script texts all score cleanly."""
    long_text = "My order is late and nobody answers. " * 400
    texts = ["", "   \n", long_text, "😡😡😡", "😊🙏", "my order وصل ناقص قطعة, plz check"]
    verdicts = e5_scorer.score(texts)
    for verdict in verdicts:
        check_shape(verdict)
    assert verdicts[0].label is SentimentLabel.NEUTRAL and verdicts[0].anger == 0.0
    assert verdicts[1].label is SentimentLabel.NEUTRAL


def test_threshold_override_changes_only_the_flag(e5_scorer: E5Scorer) -> None:
    """A stricter threshold keeps the probabilities and only withdraws the angry flag."""
    strict = E5Scorer(threshold=1.01, encoder=e5_scorer.encoder)
    text = UNSEEN_ANGRY[1]
    default, override = e5_scorer.score([text])[0], strict.score([text])[0]
    assert override.probabilities == pytest.approx(default.probabilities, abs=1e-6)
    assert default.angry and not override.angry
    assert override.label is not SentimentLabel.ANGRY
