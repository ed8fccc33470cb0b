"""Language detection, order-number normalisation and the order-number regex."""

from __future__ import annotations

import re

import pytest

from bot.language import detect_language, is_arabizi, normalize_order_number
from bot.nlu_data import REPO


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("where is my order", None, "en"),
        ("وين طلبي", None, "ar"),
        ("وين طلبي A-10234", "en", "ar"),  # the text wins over the hint
        ("ابي cancel للاوردر", None, "ar"),  # code-switching counts as Arabic
        ("3ayez a3raf el order fen", None, "ar"),  # Arabizi
        ("the 3rd item is broken", None, "en"),  # an ordinal is not Arabizi
        ("١٠٢٣٤", None, "ar"),  # Arabic-Indic digits
        ("10234", "ar", "ar"),  # no letters: the metadata hint decides
        ("10234", None, None),
        ("A-10234", "ar", "ar"),  # an order number's letter is not English
        ("order A-10234", "ar", "en"),
        ("👍", "fr", None),  # unknown hints are ignored
    ],
)
def test_detect_language(text: str, hint: str | None, expected: str | None) -> None:
    """Script first, then Arabizi, then the metadata hint."""
    assert detect_language(text, hint) == expected


def test_arabizi_needs_digits_inside_words() -> None:
    """Plain English with numbers is not mistaken for Arabizi."""
    assert is_arabizi("ma3a el salama")
    assert not is_arabizi("i ordered 2 items at 5pm")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A-10234", "A-10234"),
        ("a10234", "A-10234"),
        ("#10234", "10234"),
        ("#١٠٢٣٤", "10234"),
        ("١٠٢٣٤", "10234"),
        ("B - 77120", "B-77120"),
        ("123", None),
        ("hello", None),
    ],
)
def test_normalize_order_number(raw: str, expected: str | None) -> None:
    """Order numbers reach the API in one canonical form."""
    assert normalize_order_number(raw) == expected


def order_regex() -> re.Pattern[str]:
    """The order_number regex exactly as nlu_data/regex.yml gives it to Rasa."""
    text = (REPO / "nlu_data" / "regex.yml").read_text(encoding="utf-8")
    return re.compile(text.rsplit("    - ", 1)[1].strip(), re.IGNORECASE)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("where is A-10234?", ["A-10234"]),
        ("order #10234 please", ["#10234"]),
        ("طلبي ١٠٢٣٤ فين", ["١٠٢٣٤"]),
        ("a10234", ["a10234"]),
        ("call me at 123", []),
    ],
)
def test_order_regex_finds_each_number_once(text: str, found: list[str]) -> None:
    """One match per number (overlapping patterns would duplicate the entity)."""
    assert [m.group(0) for m in order_regex().finditer(text)] == found
