"""Any local Hugging Face sequence-classification checkpoint as a scorer (fully offline)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.types import Sentiment, SentimentLabel
from sentiment.scorer import MAX_CHARS, blank_sentiment, is_blank, make_sentiment, truncate

DEFAULT_THRESHOLD = 0.5
MAX_TOKENS = 256

# Label names used by common sentiment and emotion checkpoints, mapped onto our four moods.
COMMON_LABELS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "annoyance": "angry",
    "rage": "angry",
    "hate": "angry",
    "offensive": "angry",
    "toxic": "angry",
    "negative": "negative",
    "neg": "negative",
    "sadness": "negative",
    "sad": "negative",
    "disgust": "negative",
    "disappointment": "negative",
    "fear": "negative",
    "1 star": "negative",
    "2 stars": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "none": "neutral",
    "other": "neutral",
    "3 stars": "neutral",
    "positive": "positive",
    "pos": "positive",
    "joy": "positive",
    "love": "positive",
    "happy": "positive",
    "happiness": "positive",
    "gratitude": "positive",
    "admiration": "positive",
    "optimism": "positive",
    "4 stars": "positive",
    "5 stars": "positive",
}


def resolve_label_map(
    id2label: Mapping[int, str], label_map: Mapping[str, str] | None = None
) -> list[str]:
    """Our label for each checkpoint class index, from an explicit map or the common names."""
    ours = {label.value for label in SentimentLabel}
    resolved = []
    for index in sorted(id2label):
        name = str(id2label[index])
        if label_map:
            target = label_map.get(name, label_map.get(str(index)))
        else:
            target = COMMON_LABELS.get(name.strip().lower())
        if target not in ours:
            raise ValueError(
                f"checkpoint label {name!r} (id {index}) has no mapping to one of {sorted(ours)}; "
                'set SENTIMENT_LABEL_MAP, e.g. {"LABEL_0": "negative", "LABEL_1": "positive"}'
            )
        resolved.append(str(target))
    return resolved


class HFScorer:
    """Scores with a local ``AutoModelForSequenceClassification`` checkpoint on CPU."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        threshold: float | None = None,
        label_map: Mapping[str, str] | None = None,
        threads: int = 1,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        """Load tokenizer and model from ``model_dir`` without touching the network."""
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no Hugging Face checkpoint (config.json) in {path}")
        # Never let a missing file turn into a download attempt.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # A progress bar per load would land in the service's stderr on every worker start.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        torch.set_num_threads(threads)
        self._torch: Any = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model: Any = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True
        )
        self.model.eval()
        self.targets = resolve_label_map(self.model.config.id2label, label_map)
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.max_tokens = max_tokens
        self.name = f"hf:{path.name}"
        # torch modules are not safe to call from several executor threads at once.
        self._lock = threading.Lock()

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """One verdict per text; class probabilities are summed into our four labels."""
        results: list[Sentiment | None] = [None] * len(texts)
        todo = [index for index, text in enumerate(texts) if not is_blank(text)]
        if todo:
            batch = [truncate(texts[index], MAX_CHARS) for index in todo]
            encoded = self.tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            with self._lock, self._torch.inference_mode():
                logits = self.model(**encoded).logits
            probs = self._torch.softmax(logits.float(), dim=-1).tolist()
            for row, index in enumerate(todo):
                mapped: dict[str, float] = {}
                for target, value in zip(self.targets, probs[row], strict=True):
                    mapped[target] = mapped.get(target, 0.0) + float(value)
                results[index] = make_sentiment(mapped, self.threshold, self.name)
        return [result or blank_sentiment(self.name) for result in results]
