"""Held-out evaluation of the shipped scorer: ``python -m sentiment.report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sentiment.data import LABELS, LANGUAGES, Example, load_heldout
from sentiment.metrics import accuracy, binary_prf, confusion
from sentiment.scorer import Scorer, load_scorer


@dataclass(frozen=True)
class LanguageReport:
    """Held-out figures for one language."""

    lang: str
    size: int
    angry_precision: float
    angry_recall: float
    angry_f1: float
    accuracy: float
    confusion: npt.NDArray[np.int64]


def evaluate(scorer: Scorer, examples: Sequence[Example]) -> list[LanguageReport]:
    """Score every example once and compute per-language figures."""
    verdicts = scorer.score([example.text for example in examples])
    reports = []
    for lang in LANGUAGES:
        rows = [i for i, example in enumerate(examples) if example.lang == lang]
        truth = [examples[i].label for i in rows]
        predicted = [verdicts[i].label.value for i in rows]
        precision, recall, f1 = binary_prf(
            np.array([label == "angry" for label in truth]),
            np.array([verdicts[i].angry for i in rows]),
        )
        reports.append(
            LanguageReport(
                lang=lang,
                size=len(rows),
                angry_precision=precision,
                angry_recall=recall,
                angry_f1=f1,
                accuracy=accuracy(truth, predicted),
                confusion=confusion(truth, predicted, LABELS),
            )
        )
    return reports


def render(reports: Sequence[LanguageReport], model: str) -> str:
    """A plain-text report: the angry table, then a confusion matrix per language."""
    lines = [
        f"model: {model}",
        "held-out split (sentiment/data/heldout.jsonl)",
        "",
        "lang      n  angry-P  angry-R  angry-F1  accuracy(4 labels)",
    ]
    for report in reports:
        lines.append(
            f"{report.lang:<4} {report.size:>6}  {report.angry_precision:7.3f}  "
            f"{report.angry_recall:7.3f}  {report.angry_f1:8.3f}  {report.accuracy:8.3f}"
        )
    width = max(len(label) for label in LABELS) + 1
    for report in reports:
        lines += ["", f"confusion [{report.lang}] rows=true, columns=predicted"]
        lines.append(" " * width + "".join(f"{label:>{width}}" for label in LABELS))
        for label, row in zip(LABELS, report.confusion, strict=True):
            lines.append(f"{label:<{width}}" + "".join(f"{count:>{width}}" for count in row))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="'e5' (default) or a local HF checkpoint")
    args = parser.parse_args(argv)
    scorer = load_scorer(args.model)
    print(render(evaluate(scorer, load_heldout()), scorer.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
