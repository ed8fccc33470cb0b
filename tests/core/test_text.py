"""Language guessing and Arabic-aware search normalisation."""

from __future__ import annotations

from core.text import detect_language, matches_search, normalize_for_search, search_groups


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


def test_search_terms_lose_attached_prefixes_and_match_word_beginnings() -> None:
    """طلب finds الطلب/طلبي/بالطلبات, الطلب finds طلبي; short words and roots keep their letters."""
    for query in ("طلب", "الطلب", "والطلب", "بالطلب"):
        groups = search_groups(query)
        for text in ("وين الطلب؟", "طلبي ما وصل", "بخصوص بالطلبات", "للطلب رقم"):
            assert matches_search(text, groups), (query, text)
        assert not matches_search("هذا مطلوب", groups), query
    # Under 4 letters nothing is stripped: ولد is a word, not و + لد.
    assert not matches_search("لدي سؤال", search_groups("ولد"))
    # A one-letter prefix may be the word's own: برنامج still finds البرنامج.
    assert matches_search("عن البرنامج", search_groups("برنامج"))
    # Every word must match; Latin words and numbers match as prefixes; punctuation is trimmed.
    assert matches_search("Where is my parcel?", search_groups("PARC my"))
    assert not matches_search("Where is my parcel?", search_groups("parcel box"))
    assert matches_search("خصم 50% اليوم", search_groups("50%"))
    assert search_groups("%% ؟") == []
