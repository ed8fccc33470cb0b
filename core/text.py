"""Text helpers that know Arabic: language guess and search normalisation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# NUL: PostgreSQL text and jsonb refuse it. Lone surrogates (bytes a decoder kept with
# surrogateescape): no database driver can encode them as UTF-8.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def detect_language(text: str) -> str | None:
    """Guess ``ar`` or ``en`` from the script of the letters; None when there are none."""
    arabic = len(_ARABIC.findall(text))
    latin = len(_LATIN.findall(text))
    if arabic == 0 and latin == 0:
        return None
    return "ar" if arabic >= latin else "en"


def normalize_for_search(text: str) -> str:
    """Fold Arabic letter variants, diacritics, tatweel, digits and case so searches match."""
    text = unicodedata.normalize("NFKC", text)
    text = _DIACRITICS.sub("", text).translate(_FOLD).translate(_DIGITS)
    return text.casefold()


def storable(text: str) -> str:
    """The text without what databases refuse: NUL dropped, lone surrogates as U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def storable_json(value: Any) -> Any:
    """A JSON-ready value with `storable` applied to every string in it, keys included."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    return value


# Attached prefixes stripped from a search term, longest first: conjunctions (و ف), prepositions
# (ب ل ك) and the definite article (ال), alone or combined.
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ف", "ل", "ك")
_ARABIC_WORD = re.compile(r"^[\u0621-\u064A]+$")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_PART = re.compile(r"[^\W_]+")


def search_chunks(text: str) -> list[str]:
    """Folded, whitespace-separated words with punctuation trimmed from their ends."""
    chunks = (_EDGE.sub("", chunk) for chunk in normalize_for_search(text).split())
    return [c for c in chunks if _PART.search(c)]


def _stems(term: str) -> list[str]:
    """What a 4+ letter Arabic term may be built on, its attached prefix stripped."""
    # An article is always a prefix; a one-letter prefix may be the word's own letter
    # (برنامج is not ب + رنامج), so the whole term stays a candidate too.
    if len(term) < 4 or not _ARABIC_WORD.match(term):
        return [term]
    for prefix in ARABIC_PREFIXES:
        rest = term[len(prefix) :]
        if term.startswith(prefix) and len(rest) >= 3:
            return [rest] if len(prefix) > 1 else [term, rest]
        if term.startswith(prefix):
            return [term]  # the longest prefix would leave under 3 letters: not a prefix
    return [term]


def search_groups(query: str) -> list[list[str]]:
    """Each query word as the beginnings a matching word may have; every group must match.

    "طلب" becomes طلب, الطلب, والطلب, بطلب… so it finds الطلب, طلبي and بالطلبات; "الطلب" is
    stripped to طلب first, so it finds the same words. Latin words and numbers match as
    prefixes ("parc" finds "parcel").
    """
    groups: list[list[str]] = []
    for term in dict.fromkeys(search_chunks(query)):
        if not _ARABIC_WORD.match(term):
            groups.append([term])
            continue
        starts = {p + stem for stem in _stems(term) for p in ("", *ARABIC_PREFIXES)}
        # Under prefix matching a start that begins with a shorter one adds nothing.
        groups.append(
            sorted(s for s in starts if not any(s != o and s.startswith(o) for o in starts))
        )
    return groups


def document_words(text: str) -> set[str]:
    """The words of a text as search sees them: whole chunks and their letter/digit parts."""
    words: set[str] = set()
    for chunk in search_chunks(text):
        words.add(chunk)
        words.update(_PART.findall(chunk))
    return words


def matches_search(text: str, groups: Sequence[Sequence[str]]) -> bool:
    """Whether every group has a word of the text starting with one of its beginnings."""
    if not groups:
        return False
    words = document_words(text)
    return all(any(w.startswith(tuple(group)) for w in words) for group in groups)


def first_match_at(text: str, groups: Sequence[Sequence[str]]) -> int:
    """Where in the folded text the first group first matches (-1 if nowhere)."""
    folded = normalize_for_search(text)
    found = [
        at
        for start in (groups[0] if groups else ())
        for at in [m.start() for m in re.finditer(re.escape(start), folded)]
        if at == 0 or not folded[at - 1].isalnum()
    ]
    return min(found, default=-1)
