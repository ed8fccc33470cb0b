"""Classification metrics in plain numpy, so the report needs no scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def binary_prf(
    truth: npt.NDArray[np.bool_], predicted: npt.NDArray[np.bool_]
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class (0.0 where undefined)."""
    true_pos = float(np.sum(truth & predicted))
    precision = true_pos / float(np.sum(predicted)) if np.any(predicted) else 0.0
    recall = true_pos / float(np.sum(truth)) if np.any(truth) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def confusion(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> npt.NDArray[np.int64]:
    """Counts with true labels as rows and predicted labels as columns."""
    index = {label: position for position, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for true_label, predicted_label in zip(truth, predicted, strict=True):
        matrix[index[true_label], index[predicted_label]] += 1
    return matrix


def accuracy(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Share of exact matches (0.0 for no items)."""
    if not truth:
        return 0.0
    hits = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    return hits / len(truth)
