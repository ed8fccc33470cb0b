"""The labelled messages we own: loading them and normalising text for duplicate checks."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.types import SentimentLabel

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_PATH = DATA_DIR / "train.jsonl"
HELDOUT_PATH = DATA_DIR / "heldout.jsonl"
LANGUAGES = ("ar", "en")
LABELS = tuple(label.value for label in SentimentLabel)

# Arabic letters that writers use interchangeably; folded so "إلغاء" and "الغاء" compare equal.
ARABIC_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        "ـ": None,
    }
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_REPEATS = re.compile(r"(.)\1{2,}")
DIACRITICS = re.compile(r"[\u064b-\u0652\u0670]")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled customer message."""

    text: str
    label: str
    lang: str


def read_jsonl(path: Path) -> list[Example]:
    """Read examples from a JSONL file with ``text``, ``label`` and ``lang`` fields."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in LABELS or row["lang"] not in LANGUAGES:
                raise ValueError(f"{path}:{number}: bad label or lang in {row!r}")
            examples.append(Example(text=row["text"], label=row["label"], lang=row["lang"]))
    return examples


def write_jsonl(path: Path, examples: Iterable[Example]) -> None:
    """Write examples as JSONL, keeping Arabic readable."""
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            row = {"text": example.text, "label": example.label, "lang": example.lang}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_train() -> list[Example]:
    """The training split."""
    return read_jsonl(TRAIN_PATH)


def load_heldout() -> list[Example]:
    """The fixed held-out split that training never reads."""
    return read_jsonl(HELDOUT_PATH)


def normalise(text: str) -> str:
    """Fold case, Arabic letter variants, diacritics, digits, repeats and punctuation away."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = DIACRITICS.sub("", text).translate(ARABIC_FOLD)
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    text = _REPEATS.sub(r"\1", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def word_set(text: str) -> frozenset[str]:
    """The set of normalised words of a text, for near-duplicate checks."""
    return frozenset(normalise(text).split())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(
    left: Iterable[Example], right: Iterable[Example], *, threshold: float = 0.8
) -> Iterator[tuple[Example, Example]]:
    """Pairs across two collections whose normalised word sets overlap at least ``threshold``."""
    right_sets = [(example, word_set(example.text)) for example in right]
    for example in left:
        words = word_set(example.text)
        for other, other_words in right_sets:
            if jaccard(words, other_words) >= threshold:
                yield example, other
