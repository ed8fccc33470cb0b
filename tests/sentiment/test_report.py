"""Tests for sentiment.report: held-out figures per language."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.types import Sentiment
from sentiment import report
from sentiment.data import Example
from sentiment.scorer import make_sentiment


class KeywordScorer:
    """Angry when 'mad' appears, positive when 'thanks' appears, else neutral."""

    name = "keyword"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score by keywords."""
        out = []
        for text in texts:
            if "mad" in text:
                probs = {"angry": 0.9, "neutral": 0.1}
            elif "thanks" in text:
                probs = {"positive": 0.9, "neutral": 0.1}
            else:
                probs = {"neutral": 1.0}
            out.append(make_sentiment(probs, 0.5, self.name))
        return out


EXAMPLES = [
    Example("so mad", "angry", "en"),
    Example("mad but fine", "negative", "en"),
    Example("thanks", "positive", "en"),
    Example("where is it", "angry", "en"),
    Example("mad ar", "angry", "ar"),
    Example("hello", "neutral", "ar"),
]


def test_evaluate_computes_per_language_figures() -> None:
    """Precision, recall, F1, accuracy and the confusion matrix are computed per language."""
    en, ar = sorted(report.evaluate(KeywordScorer(), EXAMPLES), key=lambda r: r.lang != "en")
    assert (en.lang, en.size, ar.size) == ("en", 4, 2)
    assert en.angry_precision == 0.5 and en.angry_recall == 0.5
    assert en.accuracy == 0.5
    assert int(en.confusion.sum()) == 4
    assert (ar.angry_precision, ar.angry_recall, ar.angry_f1, ar.accuracy) == (1.0, 1.0, 1.0, 1.0)


def test_render_and_main_print_the_tables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints the angry table and a confusion matrix for each language."""
    monkeypatch.setattr(report, "load_scorer", lambda model=None: KeywordScorer())
    monkeypatch.setattr(report, "load_heldout", lambda: EXAMPLES)
    assert report.main([]) == 0
    out = capsys.readouterr().out
    assert "angry-F1" in out and "model: keyword" in out
    assert "confusion [ar]" in out and "confusion [en]" in out
