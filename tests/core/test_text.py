"""Language guessing and Arabic-aware search normalisation."""

from __future__ import annotations

from core.text import detect_language, normalize_for_search


def test_detects_arabic_english_and_neither() -> None:
    """Arabic script wins for Arabic, Latin for English, None for digits and emoji."""
    assert detect_language("وين طلبي؟") == "ar"
    assert detect_language("where is my order") == "en"
    assert detect_language("طلبي order A-123 متأخر") == "ar"
    assert detect_language("123 😡") is None


def test_search_normalisation_folds_arabic_variants() -> None:
    """Alef forms, ta marbuta, alef maqsura, diacritics, tatweel and digits fold together."""
    assert normalize_for_search("إستِرجاع") == normalize_for_search("استرجاع")
    assert normalize_for_search("فاتورة") == normalize_for_search("فاتوره")
    assert normalize_for_search("مستشفى") == normalize_for_search("مستشفي")
    assert normalize_for_search("طـــلب ١٢٣") == "طلب 123"
    assert normalize_for_search("ORDER") == "order"
