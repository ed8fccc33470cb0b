"""Read the Rasa NLU YAML files we write (stdlib only: the app venv has no YAML parser)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
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
_ORDER_NUMBER = re.compile(r"(?:[A-Za-z]-?|#)?[0-9\u0660-\u0669\u06f0-\u06f9]{3,}")
# Token similarity (difflib ratio) from which a held-out sentence counts as a small edit of
# another: "are you open right now" vs "are you open now" is 0.89, a one-word change of a
# three-word sentence 0.8.
NEAR_DUPLICATE = 0.8


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


def tokens(text: str) -> tuple[str, ...]:
    """Normalised words with every order number as one token (another number is no new text)."""
    return tuple(normalize(_ORDER_NUMBER.sub(" ordernumber ", strip_annotations(text))).split())


def similarity(a: str, b: str) -> float:
    """Token-level similarity of two sentences, 0..1 (difflib's ratio over normalised words)."""
    return difflib.SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()


def near_duplicates(
    examples: Sequence[Example],
    others: Sequence[Example],
    threshold: float = NEAR_DUPLICATE,
) -> list[tuple[Example, Example, float]]:
    """Every (example, other, similarity) pair at or above the threshold."""
    found = []
    matcher: difflib.SequenceMatcher[str] = difflib.SequenceMatcher(autojunk=False)
    keys = [(tokens(e.text), e) for e in examples]
    for other in others:
        matcher.set_seq2(list(tokens(other.text)))  # difflib caches facts about seq2
        for key, example in keys:
            matcher.set_seq1(list(key))
            # The cheap upper bounds first: most pairs are rejected without the full ratio.
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            ratio = matcher.ratio()
            if ratio >= threshold:
                found.append((example, other, ratio))
    return found


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
