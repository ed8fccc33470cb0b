"""Tests for sentiment.data: the labelled splits and their hygiene."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sentiment.data import (
    LABELS,
    LANGUAGES,
    Example,
    jaccard,
    load_heldout,
    load_train,
    near_duplicates,
    normalise,
    read_jsonl,
    word_set,
)


@pytest.fixture(scope="module")
def train() -> list[Example]:
    """The training split."""
    return load_train()


@pytest.fixture(scope="module")
def heldout() -> list[Example]:
    """The held-out split."""
    return load_heldout()


def test_at_least_300_messages_per_language(train: list[Example], heldout: list[Example]) -> None:
    """Each language has at least 300 labelled messages across both splits."""
    counts = Counter(example.lang for example in train + heldout)
    for lang in LANGUAGES:
        assert counts[lang] >= 300, counts


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_every_label_in_every_language(split: str, request: pytest.FixtureRequest) -> None:
    """Both splits hold all four labels in both languages."""
    examples: list[Example] = request.getfixturevalue(split)
    present = {(example.lang, example.label) for example in examples}
    assert present == {(lang, label) for lang in LANGUAGES for label in LABELS}


def test_heldout_is_a_stratified_quarter(train: list[Example], heldout: list[Example]) -> None:
    """About 25–30% of each language is held out, and every label gets a similar share."""
    total = Counter((e.lang, e.label) for e in train + heldout)
    held = Counter((e.lang, e.label) for e in heldout)
    for lang in LANGUAGES:
        lang_total = sum(n for (la, _), n in total.items() if la == lang)
        lang_held = sum(n for (la, _), n in held.items() if la == lang)
        assert 0.25 <= lang_held / lang_total <= 0.30
        for label in LABELS:
            assert 0.20 <= held[(lang, label)] / total[(lang, label)] <= 0.35


def test_no_normalised_duplicates_anywhere(train: list[Example], heldout: list[Example]) -> None:
    """No two messages are equal after normalising case, letters, repeats and punctuation."""
    counts = Counter(normalise(example.text) for example in train + heldout)
    repeated = [text for text, n in counts.items() if n > 1]
    assert repeated == []
    assert "" not in counts


def test_no_near_duplicates_across_splits(train: list[Example], heldout: list[Example]) -> None:
    """No held-out message shares 80% or more of its words with a training message."""
    pairs = list(near_duplicates(heldout, train, threshold=0.8))
    assert pairs == []


def test_normalise_folds_spelling_variants() -> None:
    """Hamza forms, taa marbuta, Arabic digits, elongation and punctuation do not hide copies."""
    assert normalise("إلغاء الطلب ٣ مرات!!!") == normalise("الغاء الطلببب 3 مرات")
    assert normalise("THANK   you!!") == normalise("thank you")
    assert normalise("مدرسة") == normalise("مدرسه")


def test_near_duplicates_finds_a_reworded_copy() -> None:
    """A copy with one word changed is reported; an unrelated message is not."""
    base = Example("where is my order I have been waiting for a week", "negative", "en")
    copy = Example("where is my order I have been waiting for a month", "negative", "en")
    other = Example("thank you for the quick refund", "positive", "en")
    assert list(near_duplicates([copy, other], [base], threshold=0.7)) == [(copy, base)]
    assert jaccard(word_set(base.text), word_set(other.text)) < 0.2


def test_read_jsonl_rejects_unknown_labels(tmp_path: Path) -> None:
    """A row with a label outside our four is an error, not silently kept."""
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "hi", "label": "furious", "lang": "en"}) + "\n")
    with pytest.raises(ValueError, match="bad label"):
        read_jsonl(path)
