"""`make nlu-report`: intent accuracy and macro-F1 per language on the held-out sets."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from bot.client import RasaClient
from bot.nlu_data import HELDOUT_FILES, Example, read_all
from bot.server import running_rasa

# Both lead to the same dialogue turn (ask to rephrase, then hand off), so a fallback on an
# out-of-scope message is right; on any other message it is a miss.
EQUIVALENT = {"nlu_fallback": "out_of_scope"}
# Arabic-script sentences with English words: also inside "ar", shown apart because the
# character n-grams see two alphabets at once.
CODE_SWITCHED = "ar+en"


@dataclass(frozen=True)
class Scores:
    """Accuracy and macro-F1 over one slice of the held-out set."""

    n: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, tuple[float, float, float, int]]


def score(gold: list[str], pred: list[str]) -> Scores:
    """Accuracy, and macro-F1 over the labels seen in gold or predictions (as scikit-learn)."""
    labels = sorted(set(gold) | set(pred))
    per: dict[str, tuple[float, float, float, int]] = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = (precision, recall, f1, gold.count(label))
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0
    macro = sum(f for _, _, f, _ in per.values()) / len(per) if per else 0.0
    return Scores(len(gold), accuracy, macro, per)


async def predict(url: str, examples: list[Example]) -> list[tuple[str, float]]:
    """The served model's intent and confidence for each example."""
    async with RasaClient(url, timeout=30) as client:
        out = []
        for example in examples:
            intent = (await client.parse(example.text)).get("intent") or {}
            out.append((str(intent.get("name")), float(intent.get("confidence") or 0.0)))
        return out


def report(examples: list[Example], predictions: list[tuple[str, float]]) -> dict[str, Scores]:
    """Print the tables and return the scores per language (and overall)."""
    by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    confusions: Counter[tuple[str, str, str]] = Counter()
    misses: list[str] = []
    fallbacks = 0
    for example, (raw, confidence) in zip(examples, predictions, strict=True):
        fallbacks += raw == "nlu_fallback"
        pred = EQUIVALENT.get(raw, raw)
        slices = [example.script, "all"] + ([CODE_SWITCHED] if example.code_switched else [])
        for lang in slices:
            by_lang[lang].append((example.intent, pred))
        if pred != example.intent:
            confusions[(example.script, example.intent, raw)] += 1
            misses.append(
                f"  [{example.script}] {example.text!r}: "
                f"{example.intent} → {raw} ({confidence:.2f})"
            )
    results = {
        lang: score([g for g, _ in pairs], [p for _, p in pairs]) for lang, pairs in by_lang.items()
    }
    print(f"{'language':<10}{'n':>5}{'accuracy':>10}{'macro-F1':>10}")
    for lang in sorted(results, key=lambda k: (k == "all", k == CODE_SWITCHED, k)):
        s = results[lang]
        note = "  (code-switched; also counted in ar)" if lang == CODE_SWITCHED else ""
        print(f"{lang:<10}{s.n:>5}{s.accuracy:>10.3f}{s.macro_f1:>10.3f}{note}")
    print(f"\n(nlu_fallback predictions: {fallbacks}; counted as out_of_scope)")
    for lang in ("ar", "arabizi", "en"):
        if lang not in results:
            continue
        print(f"\nper intent, {lang}:  precision  recall  f1  n")
        for label, (p, r, f, n) in results[lang].per_intent.items():
            print(f"  {label:<22}{p:>8.2f}{r:>8.2f}{f:>6.2f}{n:>4}")
    print("\nconfusions (language, gold → predicted, count):")
    for (lang, gold, pred), count in confusions.most_common() or [(("-", "none", "-"), 0)]:
        print(f"  [{lang}] {gold} → {pred}: {count}")
    if misses:
        print("\nmisclassified:")
        print("\n".join(misses))
    return results


def main() -> None:
    """Entry point: score the served model on each held-out set."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="held-out files (default: both sets)")
    parser.add_argument("--json", help="also write the scores to this JSON file")
    args = parser.parse_args()
    summary: dict[str, dict[str, dict[str, float]]] = {}
    with running_rasa() as url:
        for path in args.files or HELDOUT_FILES:
            examples = read_all([path])
            predictions = asyncio.run(predict(url, examples))
            print(f"=== {path.name} ===")
            results = report(examples, predictions)
            print()
            summary[path.name] = {
                k: {"n": v.n, "accuracy": v.accuracy, "macro_f1": v.macro_f1}
                for k, v in results.items()
            }
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
