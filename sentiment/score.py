"""Score messages from stdin: ``python -m sentiment.score`` prints one JSON object per line.

The model comes from ``SENTIMENT_MODEL`` (default: the bundled e5 scorer); see
``sentiment.scorer.ScorerSettings``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from core.types import Sentiment
from sentiment.scorer import Scorer, ScorerSettings, scorer_from_settings


def to_json(text: str, verdict: Sentiment, digits: int = 3) -> dict[str, Any]:
    """The printed record of one scored line."""
    return {
        "text": text,
        "label": verdict.label.value,
        "anger": round(verdict.anger, digits),
        "angry": verdict.angry,
        "probabilities": {
            key: round(value, digits) for key, value in verdict.probabilities.items()
        },
        "model": verdict.model,
    }


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Group lines (newline stripped) into lists of at most ``size``."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run(scorer: Scorer, source: IO[str], sink: IO[str], batch: int) -> int:
    """Score every line of ``source`` and write JSON lines to ``sink``; returns the count."""
    count = 0
    for chunk in chunks(source, batch):
        for text, verdict in zip(chunk, scorer.score(chunk), strict=True):
            sink.write(json.dumps(to_json(text, verdict), ensure_ascii=False) + "\n")
        sink.flush()
        count += len(chunk)
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="lines per model call (default: 1 on a terminal, 32 for piped input)",
    )
    args = parser.parse_args(argv)
    batch = args.batch or (1 if sys.stdin.isatty() else 32)
    # Arabic must come out as Arabic whatever the locale says.
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    sys.stdin.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    scorer = scorer_from_settings(ScorerSettings.from_env())
    run(scorer, sys.stdin, sys.stdout, batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
