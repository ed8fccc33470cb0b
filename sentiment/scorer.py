"""The scorer interface, the shared verdict rule and the factory that picks a model."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.types import Sentiment, SentimentLabel

DEFAULT_MODEL = "e5"
# Support messages rarely need more than this; longer ones are cut so latency stays bounded.
MAX_CHARS = 1500


@runtime_checkable
class Scorer(Protocol):
    """Scores customer messages; synchronous and CPU-bound, so async callers use an executor."""

    name: str

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """One verdict per text, in order."""
        ...


def truncate(text: str, max_chars: int = MAX_CHARS) -> str:
    """Keep the start and the end of an over-long message, where greetings and demands sit."""
    if len(text) <= max_chars:
        return text
    head = (max_chars * 2) // 3
    tail = max_chars - head - 1
    return text[:head] + "…" + text[-tail:]


def is_blank(text: str) -> bool:
    """Whether a message has nothing to score (empty or whitespace only)."""
    return not text.strip()


def blank_sentiment(model: str) -> Sentiment:
    """The verdict for an empty message: neutral with certainty."""
    probabilities = {label.value: 0.0 for label in SentimentLabel}
    probabilities[SentimentLabel.NEUTRAL.value] = 1.0
    return Sentiment(
        label=SentimentLabel.NEUTRAL,
        probabilities=probabilities,
        anger=0.0,
        angry=False,
        model=model,
    )


def make_sentiment(probabilities: Mapping[str, float], threshold: float, model: str) -> Sentiment:
    """Turn per-label probabilities into a verdict; ``angry`` decides the label when it fires."""
    # The label is angry exactly when anger reaches the threshold, otherwise the likeliest calm
    # mood: a label of "angry" with angry=False (or the reverse) would confuse every consumer.
    probs = {label.value: float(probabilities.get(label.value, 0.0)) for label in SentimentLabel}
    total = sum(probs.values())
    if total > 0:
        probs = {key: value / total for key, value in probs.items()}
    anger = probs[SentimentLabel.ANGRY.value]
    angry = anger >= threshold
    if angry:
        label = SentimentLabel.ANGRY
    else:
        calm = [label for label in SentimentLabel if label is not SentimentLabel.ANGRY]
        label = max(calm, key=lambda candidate: probs[candidate.value])
    return Sentiment(label=label, probabilities=probs, anger=anger, angry=angry, model=model)


@dataclass(frozen=True)
class ScorerSettings:
    """How to build the scorer, read once from the environment."""

    model: str = DEFAULT_MODEL
    threshold: float | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    threads: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScorerSettings:
        """Read the ``SENTIMENT_MODEL/THRESHOLD/LABEL_MAP/THREADS`` variables."""
        env = os.environ if environ is None else environ
        raw_threshold = env.get("SENTIMENT_THRESHOLD", "").strip()
        raw_map = env.get("SENTIMENT_LABEL_MAP", "").strip()
        label_map = json.loads(raw_map) if raw_map else {}
        if not isinstance(label_map, dict):
            raise ValueError("SENTIMENT_LABEL_MAP must be a JSON object")
        return cls(
            model=env.get("SENTIMENT_MODEL", "").strip() or DEFAULT_MODEL,
            threshold=float(raw_threshold) if raw_threshold else None,
            label_map={str(key): str(value) for key, value in label_map.items()},
            threads=int(env.get("SENTIMENT_THREADS", "1") or 1),
        )


def load_scorer(
    model: str | None = None,
    *,
    threshold: float | None = None,
    label_map: Mapping[str, str] | None = None,
    threads: int = 1,
) -> Scorer:
    """Build a scorer.

    Args:
        model: ``None`` or ``"e5"`` for the bundled multilingual-e5-small encoder with our trained
            head; otherwise a local directory holding a Hugging Face sequence-classification
            checkpoint.
        threshold: anger probability at which ``angry`` fires; ``None`` uses the head's tuned
            value (0.5 for Hugging Face checkpoints).
        label_map: checkpoint label → our label, for Hugging Face checkpoints whose labels are not
            self-explanatory (``{"LABEL_0": "negative", ...}``).
        threads: CPU threads for inference; keep 1 per worker process.

    Returns:
        A ready scorer.
    """
    if model is None or model == DEFAULT_MODEL:
        from sentiment.e5 import E5Scorer

        return E5Scorer(threshold=threshold, threads=threads)
    from sentiment.hf import HFScorer

    return HFScorer(model, threshold=threshold, label_map=label_map, threads=threads)


def scorer_from_settings(settings: ScorerSettings) -> Scorer:
    """Build the scorer that ``settings`` describe."""
    return load_scorer(
        settings.model,
        threshold=settings.threshold,
        label_map=settings.label_map,
        threads=settings.threads,
    )
