"""Tests for sentiment.scorer: the verdict rule, settings and the factory."""

from __future__ import annotations

import pytest

from core.types import SentimentLabel
from sentiment.e5 import E5Scorer
from sentiment.scorer import (
    Scorer,
    ScorerSettings,
    blank_sentiment,
    load_scorer,
    make_sentiment,
    truncate,
)


def test_angry_label_follows_the_threshold() -> None:
    """Anger above the threshold makes the label angry; below it the best calm label wins."""
    probs = {"angry": 0.45, "negative": 0.3, "neutral": 0.2, "positive": 0.05}
    hot = make_sentiment(probs, 0.4, "m")
    cool = make_sentiment(probs, 0.5, "m")
    assert hot.angry and hot.label is SentimentLabel.ANGRY
    assert not cool.angry and cool.label is SentimentLabel.NEGATIVE
    assert cool.anger == pytest.approx(0.45)


def test_probabilities_are_renormalised_over_our_labels() -> None:
    """Missing labels become zero and the four probabilities sum to one."""
    verdict = make_sentiment({"angry": 1.0, "positive": 3.0}, 0.5, "m")
    assert verdict.probabilities == {
        "angry": 0.25,
        "negative": 0.0,
        "neutral": 0.0,
        "positive": 0.75,
    }
    assert verdict.label is SentimentLabel.POSITIVE


def test_blank_is_certain_neutral() -> None:
    """An empty message is neutral with probability one and no anger."""
    verdict = blank_sentiment("m")
    assert verdict.label is SentimentLabel.NEUTRAL
    assert verdict.probabilities["neutral"] == 1.0
    assert not verdict.angry


def test_truncate_keeps_start_and_end() -> None:
    """Over-long text keeps its beginning and its end within the character budget."""
    text = "start " + "x" * 5000 + " end"
    cut = truncate(text, 300)
    assert len(cut) == 300
    assert cut.startswith("start") and cut.endswith("end")
    assert truncate("short", 300) == "short"


def test_settings_from_env() -> None:
    """SENTIMENT_* variables are parsed once into typed settings."""
    settings = ScorerSettings.from_env(
        {
            "SENTIMENT_MODEL": "/models/big",
            "SENTIMENT_THRESHOLD": "0.7",
            "SENTIMENT_LABEL_MAP": '{"LABEL_0": "angry"}',
            "SENTIMENT_THREADS": "2",
        }
    )
    assert settings == ScorerSettings("/models/big", 0.7, {"LABEL_0": "angry"}, 2)
    assert ScorerSettings.from_env({}) == ScorerSettings()


def test_settings_reject_a_non_object_label_map() -> None:
    """A label map that is not a JSON object is refused."""
    with pytest.raises(ValueError, match="JSON object"):
        ScorerSettings.from_env({"SENTIMENT_LABEL_MAP": '["angry"]'})


def test_default_factory_gives_the_e5_scorer() -> None:
    """load_scorer() and load_scorer('e5') build the e5 scorer, honouring a threshold override."""
    scorer = load_scorer(threshold=0.9)
    assert isinstance(scorer, E5Scorer)
    assert isinstance(scorer, Scorer)
    assert scorer.threshold == 0.9
    assert isinstance(load_scorer("e5"), E5Scorer)


def test_factory_refuses_a_directory_without_a_checkpoint(tmp_path: object) -> None:
    """Any other model name is a local checkpoint directory, and a missing one fails clearly."""
    pytest.importorskip("transformers")
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_scorer(str(tmp_path))
