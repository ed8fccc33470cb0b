"""Tests for sentiment.features: hashed character n-grams."""

from __future__ import annotations

import numpy as np

from sentiment.features import ngram_features, prepare


def test_rows_are_unit_length_and_deterministic() -> None:
    """Each non-empty text gives an L2-normalised row, identical on every call."""
    texts = ["Where is my order?!", "وين طلبي؟", "😡😡"]
    first = ngram_features(texts, 512)
    assert first.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(first, ngram_features(texts, 512))


def test_empty_text_gives_a_zero_row() -> None:
    """An empty text has no n-grams and stays all zeros instead of dividing by zero."""
    row = ngram_features([""], 64)
    assert not np.isnan(row).any()
    assert float(np.abs(row).sum()) <= 1.0


def test_prepare_keeps_mood_markers_but_folds_spelling() -> None:
    """Exclamation marks and emoji survive; long repeats and Arabic letter variants fold."""
    assert prepare("THANKS!!!!!! 😊") == " thanks!! 😊 "
    assert prepare("أنا") == prepare("انا")


def test_similar_texts_share_more_ngrams_than_unrelated_ones() -> None:
    """Spelling variants of one complaint are closer than two unrelated messages."""
    a, b, c = ngram_features(["refund me now!!", "refund me NOW!!!!", "what are your hours"], 4096)
    assert float(a @ b) > float(a @ c)
