"""Tests for sentiment.metrics: precision, recall, F1, confusion and accuracy."""

from __future__ import annotations

import numpy as np

from sentiment.metrics import accuracy, binary_prf, confusion


def test_binary_prf_counts_hits_and_misses() -> None:
    """Two hits, one false alarm and one miss give P = R = F1 = 2/3."""
    truth = np.array([True, True, True, False, False])
    predicted = np.array([True, True, False, True, False])
    precision, recall, f1 = binary_prf(truth, predicted)
    assert (precision, recall) == (2 / 3, 2 / 3)
    assert abs(f1 - 2 / 3) < 1e-12


def test_binary_prf_without_predictions_is_zero() -> None:
    """Predicting nothing positive gives zeros rather than a division error."""
    assert binary_prf(np.array([True, False]), np.array([False, False])) == (0.0, 0.0, 0.0)


def test_confusion_rows_are_truth() -> None:
    """Rows count the true label and columns the predicted one."""
    matrix = confusion(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    assert matrix.tolist() == [[1, 1], [0, 1]]
    assert accuracy(["a", "a", "b"], ["a", "b", "b"]) == 2 / 3
