"""The trained classification head: a softmax layer over embedding + n-gram features, numpy only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sentiment.features import ngram_features

HEAD_PATH = Path(__file__).resolve().parent / "head.npz"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Head:
    """Multinomial logistic regression weights plus how to build its input features."""

    labels: tuple[str, ...]
    weights: FloatArray
    bias: FloatArray
    threshold: float
    ngram_dim: int = 0
    ngram_weight: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def features(self, embeddings: FloatArray, texts: list[str]) -> FloatArray:
        """Join sentence embeddings with the weighted n-gram block the head was trained on."""
        if self.ngram_dim == 0:
            return embeddings
        grams = ngram_features(texts, self.ngram_dim) * np.float32(self.ngram_weight)
        return np.hstack([embeddings, grams]).astype(np.float32, copy=False)

    def predict_proba(self, features: FloatArray) -> FloatArray:
        """Softmax probabilities, one row per input and one column per label."""
        logits = features @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: FloatArray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return probs

    def save(self, path: Path) -> None:
        """Write the head as a small compressed ``.npz`` (float16 weights)."""
        np.savez_compressed(
            path,
            labels=np.array(self.labels),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            threshold=np.float64(self.threshold),
            ngram_dim=np.int64(self.ngram_dim),
            ngram_weight=np.float64(self.ngram_weight),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: Path = HEAD_PATH) -> Head:
        """Read a head written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                labels=tuple(str(label) for label in data["labels"]),
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                threshold=float(data["threshold"]),
                ngram_dim=int(data["ngram_dim"]),
                ngram_weight=float(data["ngram_weight"]),
                meta=json.loads(str(data["meta"])),
            )
