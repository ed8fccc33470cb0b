"""Text helpers that know Arabic: language guess and search normalisation."""

from __future__ import annotations

import re
import unicodedata
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
