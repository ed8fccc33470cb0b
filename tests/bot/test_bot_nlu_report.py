"""The NLU report's metrics: accuracy, macro-F1 as scikit-learn computes it, language slices."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bot.nlu_data import Example
from bot.nlu_report import report, score

LABELS = ["greet", "goodbye", "order_status", "out_of_scope", "complaint"]


@pytest.mark.parametrize("seed", range(5))
def test_score_matches_scikit_learn(seed: int) -> None:
    """Accuracy, macro-F1 and per-label figures equal scikit-learn's on random predictions."""
    rng = random.Random(seed)
    gold = [rng.choice(LABELS) for _ in range(60)]
    # Half right, half random, and one label only ever predicted (not in gold).
    pred = [g if rng.random() < 0.5 else rng.choice([*LABELS, "thank_you"]) for g in gold]
    scores = score(gold, pred)
    labels = sorted(set(gold) | set(pred))
    assert scores.n == len(gold)
    assert scores.accuracy == pytest.approx(accuracy_score(gold, pred))
    assert scores.macro_f1 == pytest.approx(
        f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
    )
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        assert scores.per_intent[label] == pytest.approx((p[i], r[i], f[i], n[i]))


def test_score_of_nothing_is_zero() -> None:
    """An empty slice scores 0, not a division error."""
    assert (score([], []).n, score([], []).accuracy, score([], []).macro_f1) == (0, 0.0, 0.0)


def example(intent: str, text: str) -> Example:
    """A held-out example."""
    return Example(intent, text, text, Path("heldout.yml"))


def test_report_slices_by_language_and_counts_fallback_as_out_of_scope(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Arabic, Arabizi, English and code-switched slices; nlu_fallback is right on out_of_scope."""
    examples = [
        example("greet", "hello"),
        example("out_of_scope", "asdfgh"),
        example("greet", "مرحبا"),
        example("order_status", "وين طلبي"),
        example("cancel_order", "ابي cancel للطلب"),
        example("order_status", "wen el order beta3y"),
    ]
    predictions = [
        ("greet", 0.99),
        ("nlu_fallback", 0.4),
        ("greet", 0.98),
        ("greet", 0.9),  # wrong
        ("cancel_order", 0.97),
        ("order_status", 0.95),
    ]
    results = report(examples, predictions)
    assert {k: v.n for k, v in results.items()} == {
        "en": 2,
        "ar": 3,
        "arabizi": 1,
        "ar+en": 1,
        "all": 6,
    }
    assert results["en"].accuracy == 1.0
    assert results["ar"].accuracy == pytest.approx(2 / 3)
    assert results["ar+en"].accuracy == results["arabizi"].accuracy == 1.0
    assert results["all"].accuracy == pytest.approx(5 / 6)
    out = capsys.readouterr().out
    assert "[ar] order_status → greet: 1" in out
    assert "nlu_fallback predictions: 1" in out
