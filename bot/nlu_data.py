"""Read the Rasa NLU YAML files we write (stdlib only: the app venv has no YAML parser)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.language import has_arabic, is_arabizi, normalize_digits, strip_order_numbers

REPO = Path(__file__).resolve().parent.parent
TRAINING_DIRS = (REPO / "nlu_data", REPO / "bot" / "data")
# Set A was used once to tune the training data; set B was written afterwards and never was.
HELDOUT_FILES = (
    REPO / "bot" / "tests" / "nlu_heldout.yml",
    REPO / "bot" / "tests" / "nlu_heldout_b.yml",
)

_ITEM = re.compile(r"^- (intent|regex|lookup|synonym): *(.+?)\s*$")
_EXAMPLE = re.compile(r"^\s+- (.+?)\s*$")
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")
_DIACRITICS = re.compile(r"[\u064b-\u0652\u0670\u0640]")  # harakat, dagger alef, tatweel
_PUNCT = re.compile(r"[^\w\s]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Example:
    """One annotated training or test sentence."""

    intent: str
    text: str
    annotated: str
    path: Path

    @property
    def script(self) -> str:
        """'ar' for Arabic script, 'arabizi' for Latin-script Arabic, else 'en'."""
        if has_arabic(self.text):
            return "ar"
        return "arabizi" if is_arabizi(self.text) else "en"

    @property
    def code_switched(self) -> bool:
        """Arabic script mixed with Latin-script words ("ابي cancel للطلب"); order numbers aside."""
        return (
            has_arabic(self.text) and _LATIN_WORD.search(strip_order_numbers(self.text)) is not None
        )


def strip_annotations(text: str) -> str:
    """'where is [A-1](order_number)' → 'where is A-1'."""
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), text)


def normalize(text: str) -> str:
    """A key for near-duplicate checks: case, digits, alef/yeh/teh forms, marks, punctuation."""
    text = unicodedata.normalize("NFKC", strip_annotations(text)).lower()
    text = normalize_digits(_DIACRITICS.sub("", text))
    text = text.translate(str.maketrans("أإآٱىة", "اااايه"))
    return " ".join(_PUNCT.sub(" ", text).split())


def read_examples(path: Path) -> Iterator[Example]:
    """Every intent example in one Rasa YAML file (regex and lookup items are skipped)."""
    intent: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        item = _ITEM.match(line)
        if item:
            intent = item.group(2) if item.group(1) == "intent" else None
            continue
        if not line.startswith(" "):
            intent = None
            continue
        example = _EXAMPLE.match(line)
        if intent and example and not line.lstrip().startswith("- intent"):
            annotated = example.group(1)
            yield Example(intent, strip_annotations(annotated), annotated, path)


def read_all(paths: Iterable[Path]) -> list[Example]:
    """Examples from files and (recursively) from directories of .yml files."""
    examples: list[Example] = []
    for path in paths:
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for file in files:
            examples.extend(read_examples(file))
    return examples


def training_examples() -> list[Example]:
    """The examples `make train` learns from."""
    return read_all(TRAINING_DIRS)


def heldout_examples() -> list[Example]:
    """All held-out evaluation examples (both sets)."""
    return read_all(HELDOUT_FILES)
