"""Language detection and order-number normalisation shared by Rasa, the actions and the app."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["ar", "en"]
LANGUAGES: tuple[Language, ...] = ("ar", "en")

# Arabic letters (basic block, supplement, presentation forms); digits and punctuation excluded.
_ARABIC_LETTER = re.compile(
    r"[\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]"
)
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# Arabizi writes ع ح ء ق خ as 3 7 2 9 5 inside Latin words ("3ayez", "ma3a", "7abibi", "el2").
# Ordinals and units ("3rd", "5th", "2pm", "9kg") are excluded so "the 3rd item" stays English.
_ARABIZI_WORD = re.compile(r"^(?=.*[a-z])(?=.*[23579])[a-z23579']+$")
_NOT_ARABIZI = re.compile(r"^\d+(st|nd|rd|th|am|pm|kg|g|k|m|h|x|s|min|cm|mm|gb|mb)?$")
_ARABIC_INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_INDIC_DIGIT = re.compile(r"[\u0660-\u0669\u06f0-\u06f9]")
_ORDER_TOKEN = re.compile(r"(?<![A-Za-z])[A-Za-z]-?\d{3,}")
_ORDER = re.compile(r"^#?\s*([A-Za-z])?\s*-?\s*(\d{4,8})$")


def has_arabic(text: str) -> bool:
    """Whether the text contains at least one Arabic letter."""
    return _ARABIC_LETTER.search(text) is not None


def is_arabizi(text: str) -> bool:
    """Whether Latin-script text looks like Arabic written with Latin letters and digits."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    return any(_ARABIZI_WORD.match(w) and not _NOT_ARABIZI.match(w) for w in words)


def detect_language(text: str, hint: str | None = None) -> Language | None:
    """The message's language: Arabic script/digits or Arabizi → ar, Latin → en, else the hint.

    The text wins over the hint (metadata) because it is evidence about this very message; the
    hint decides only when the text has no letters (an order number, an emoji).
    """
    if has_arabic(text) or _ARABIC_INDIC_DIGIT.search(text):
        return "ar"
    # "A-10234" is an order number, not evidence of English.
    text = strip_order_numbers(text)
    if _LATIN_LETTER.search(text):
        return "ar" if is_arabizi(text) else "en"
    if hint == "ar":
        return "ar"
    if hint == "en":
        return "en"
    return None


def strip_order_numbers(text: str) -> str:
    """The text with lettered order numbers ("A-10234", "a10234") blanked out."""
    return _ORDER_TOKEN.sub(" ", text)


def normalize_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII digits."""
    return text.translate(_ARABIC_INDIC)


def normalize_order_number(raw: str) -> str | None:
    """'#١٠٢٣٤' → '10234', 'a10234' / 'A - 10234' → 'A-10234'; None if it is not an order number."""
    match = _ORDER.match(normalize_digits(raw.strip()))
    if match is None:
        return None
    prefix, digits = match.groups()
    return f"{prefix.upper()}-{digits}" if prefix else digits
