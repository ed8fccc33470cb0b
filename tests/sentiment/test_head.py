"""Tests for sentiment.head: the numpy softmax head and its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentiment.data import LABELS
from sentiment.head import HEAD_PATH, Head


def random_head(ngram_dim: int = 0) -> Head:
    """A head with random weights over 8-d embeddings (plus n-grams when asked)."""
    rng = np.random.default_rng(0)
    width = 8 + ngram_dim
    return Head(
        labels=LABELS,
        weights=rng.normal(size=(4, width)).astype(np.float32),
        bias=rng.normal(size=4).astype(np.float32),
        threshold=0.4,
        ngram_dim=ngram_dim,
        ngram_weight=0.5 if ngram_dim else 0.0,
        meta={"C": 1.0},
    )


def test_probabilities_are_a_distribution() -> None:
    """Rows are non-negative and sum to one, even for large logits."""
    head = random_head()
    features = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32) * 100
    probs = head.predict_proba(features)
    assert probs.shape == (5, 4)
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_features_append_the_ngram_block() -> None:
    """With n-grams on, the head's input is the embedding followed by the weighted n-gram block."""
    head = random_head(ngram_dim=32)
    embeddings = np.ones((2, 8), dtype=np.float32)
    features = head.features(embeddings, ["hello!!", "مرحبا"])
    assert features.shape == (2, 40)
    np.testing.assert_array_equal(features[:, :8], embeddings)
    np.testing.assert_allclose(np.linalg.norm(features[:, 8:], axis=1), 0.5, rtol=1e-5)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """A saved head loads back with the same labels, threshold, metadata and predictions."""
    head = random_head(ngram_dim=16)
    path = tmp_path / "head.npz"
    head.save(path)
    loaded = Head.load(path)
    assert loaded.labels == head.labels
    assert loaded.threshold == head.threshold
    assert loaded.meta == head.meta
    features = head.features(np.ones((1, 8), np.float32), ["x"])
    np.testing.assert_allclose(
        loaded.predict_proba(features), head.predict_proba(features), atol=1e-3
    )


def test_shipped_head_is_small_and_complete() -> None:
    """The committed head is under 1 MB, knows all four labels and has a threshold in (0, 1)."""
    assert HEAD_PATH.stat().st_size < 1_000_000
    head = Head.load()
    assert set(head.labels) == set(LABELS)
    assert 0.0 < head.threshold < 1.0
    assert head.weights.shape == (4, 384 + head.ngram_dim)
