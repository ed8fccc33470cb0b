"""Tests for sentiment.score: the stdin → JSON lines command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence

from core.types import Sentiment
from sentiment.score import chunks, run
from sentiment.scorer import make_sentiment


class EchoScorer:
    """Calls a text angry when it contains '!'; records batch sizes."""

    name = "echo"

    def __init__(self) -> None:
        """Start with no calls."""
        self.batches: list[int] = []

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Angry iff the text has an exclamation mark."""
        self.batches.append(len(texts))
        return [
            make_sentiment(
                {"angry": 0.9 if "!" in t else 0.1, "neutral": 0.9 if "!" not in t else 0.1},
                0.5,
                self.name,
            )
            for t in texts
        ]


def test_cli_prints_one_json_object_per_line() -> None:
    """The real command reads lines from stdin and prints readable Arabic JSON per line."""
    lines = ["THANK YOU SO MUCH!!!", "ثالث مرة أكلمكم وما أحد يرد، بشتكي عليكم 😡", ""]
    result = subprocess.run(
        [sys.executable, "-m", "sentiment.score"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    out = result.stdout.splitlines()
    assert len(out) == 3
    assert "ثالث مرة" in out[1]  # ensure_ascii=False keeps Arabic readable
    records = [json.loads(line) for line in out]
    assert [r["text"] for r in records] == lines
    for record in records:
        assert {"text", "label", "anger", "angry"} <= set(record)
        assert 0.0 <= record["anger"] <= 1.0
        assert record["angry"] is (record["label"] == "angry")
    assert records[1]["angry"] and not records[0]["angry"]


def test_run_batches_lines() -> None:
    """run() scores in batches of the requested size and keeps line order."""
    scorer = EchoScorer()
    sink = io.StringIO()
    count = run(scorer, io.StringIO("a\nb!\nc\nd\ne!\n"), sink, batch=2)
    assert count == 5
    assert scorer.batches == [2, 2, 1]
    records = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [r["angry"] for r in records] == [False, True, False, False, True]


def test_chunks_strip_newlines() -> None:
    """Line endings are removed and the last short chunk is kept."""
    assert list(chunks(["x\r\n", "y\n", "z"], 2)) == [["x", "y"], ["z"]]
