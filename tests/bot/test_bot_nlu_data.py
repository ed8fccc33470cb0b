"""Training data hygiene: intents, examples per language, and a held-out set kept apart."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bot.nlu_data import (
    HELDOUT_FILES,
    NEAR_DUPLICATE,
    REPO,
    heldout_examples,
    near_duplicates,
    normalize,
    read_all,
    similarity,
    training_examples,
)

REQUIRED = [
    "greet",
    "goodbye",
    "thank_you",
    "order_status",
    "cancel_order",
    "shipping_info",
    "return_refund",
    "payment_methods",
    "opening_hours",
    "account_access",
    "human_handoff",
    "out_of_scope",
    "complaint",
]
MIN_PER_LANGUAGE = 25
MIN_OUT_OF_SCOPE = 50
MIN_HELDOUT = 8
# Customers mix scripts: Arabic with English words, and Arabic in Latin letters ("Arabizi").
MIN_MIXED_TRAINING = 5
MIN_MIXED_HELDOUT = 4


def domain_intents() -> list[str]:
    """The intents listed in bot/domain.yml."""
    text = (REPO / "bot" / "domain.yml").read_text(encoding="utf-8")
    block = text.split("\nintents:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\s+- (\w+)$", block, flags=re.M)


def test_every_required_intent_is_trained_and_declared() -> None:
    """Each required intent has training examples and is declared in the domain."""
    trained = {e.intent for e in training_examples()}
    assert set(REQUIRED) <= trained
    assert set(REQUIRED) <= set(domain_intents())
    assert trained <= set(domain_intents())


@pytest.mark.parametrize("intent", REQUIRED)
def test_enough_examples_per_language(intent: str) -> None:
    """At least 25 Arabic-script and 25 English examples per intent (50 for out_of_scope)."""
    counts = Counter(e.script for e in training_examples() if e.intent == intent)
    minimum = MIN_OUT_OF_SCOPE if intent == "out_of_scope" else MIN_PER_LANGUAGE
    assert counts["ar"] >= minimum, counts
    assert counts["en"] >= minimum, counts


@pytest.mark.parametrize("intent", REQUIRED)
def test_enough_code_switched_and_arabizi_examples(intent: str) -> None:
    """At least 5 code-switched and 5 Arabizi training examples per intent."""
    examples = [e for e in training_examples() if e.intent == intent]
    assert sum(e.code_switched for e in examples) >= MIN_MIXED_TRAINING
    assert sum(e.script == "arabizi" for e in examples) >= MIN_MIXED_TRAINING


@pytest.mark.parametrize("intent", REQUIRED)
def test_heldout_covers_code_switched_and_arabizi(intent: str) -> None:
    """The held-out sets test each intent with code-switched and Arabizi sentences too."""
    examples = [e for e in heldout_examples() if e.intent == intent]
    assert sum(e.code_switched for e in examples) >= MIN_MIXED_HELDOUT
    assert sum(e.script == "arabizi" for e in examples) >= MIN_MIXED_HELDOUT


@pytest.mark.parametrize("intent", REQUIRED)
def test_heldout_covers_each_intent_in_both_languages(intent: str) -> None:
    """The held-out sets have at least 8 examples per language for every intent."""
    counts = Counter(e.script for e in heldout_examples() if e.intent == intent)
    assert counts["ar"] >= MIN_HELDOUT, counts
    assert counts["en"] >= MIN_HELDOUT, counts


def test_heldout_never_duplicates_training_exactly() -> None:
    """No held-out sentence appears verbatim in the training data."""
    training = {e.text.strip().lower() for e in training_examples()}
    assert [e.text for e in heldout_examples() if e.text.strip().lower() in training] == []


def test_heldout_never_duplicates_training_after_normalisation() -> None:
    """No held-out sentence equals a training one up to digits, alef forms, marks, punctuation."""
    training = {normalize(e.text): e.text for e in training_examples()}
    clashes = [
        (e.text, training[normalize(e.text)])
        for e in heldout_examples()
        if normalize(e.text) in training
    ]
    assert clashes == []


def test_heldout_is_no_small_edit_of_training() -> None:
    """No held-out sentence is a word or two away from a training one (token similarity < 0.8).

    A one-word edit ("are you open right now" / "are you open now") tests memory, not
    generalisation, and makes held-out scores look better than new customers' messages would.
    """
    pairs = near_duplicates(heldout_examples(), training_examples())
    assert [(h.text, t.text, round(r, 2)) for h, t, r in pairs] == []


def test_heldout_sets_are_no_small_edits_of_each_other() -> None:
    """Set B is an independent second sample: none of it is a small edit of set A."""
    set_a, set_b = (read_all([path]) for path in HELDOUT_FILES)
    assert [(b.text, a.text, round(r, 2)) for b, a, r in near_duplicates(set_b, set_a)] == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("are you open right now", "are you open now?"),
        ("i forgot my login password", "i forgot my password"),
        ("where is my order A-20345?", "where is my order [A-10234](order_number)?"),
        ("وين طلبي رقم ١٢٣٤٥", "وين طلبي رقم 10234"),
    ],
)
def test_similarity_flags_small_edits(a: str, b: str) -> None:
    """Word insertions, another order number, other digits: all near duplicates."""
    assert similarity(a, b) >= NEAR_DUPLICATE


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("is the shop taking messages at this hour", "are you open now?"),
        ("i can't get into my account", "i forgot my password"),
        ("any news on the parcel I ordered last week", "where is my order A-10234?"),
    ],
)
def test_similarity_passes_real_paraphrases(a: str, b: str) -> None:
    """Same meaning in other words is what a held-out example should be."""
    assert similarity(a, b) < NEAR_DUPLICATE


def test_heldout_has_no_internal_duplicates() -> None:
    """Each held-out sentence is counted once."""
    counts = Counter(normalize(e.text) for e in heldout_examples())
    assert [t for t, n in counts.items() if n > 1] == []


def test_heldout_is_outside_the_training_paths() -> None:
    """`make train` reads nlu_data/ and bot/data/; the held-out files must live elsewhere."""
    for heldout in HELDOUT_FILES:
        assert heldout.exists()
        for folder in (REPO / "nlu_data", REPO / "bot" / "data"):
            assert folder.resolve() not in heldout.resolve().parents


def test_normalize_folds_spelling_variants() -> None:
    """The duplicate check sees through tashkeel, alef/yeh/teh forms and digits."""
    assert normalize("مرحبًا بكم!") == normalize("مرحبا بكم")
    assert normalize("إلى اللقاء") == normalize("الى اللقاء")
    assert normalize("طلب [١٠٢٣٤](order_number)") == normalize("طلب 10234")


def test_every_intent_has_a_rule() -> None:
    """Each declared intent is answered by a rule (the bot has no ML dialogue policy)."""
    rules = (REPO / "bot" / "data" / "rules.yml").read_text(encoding="utf-8")
    ruled = set(re.findall(r"- intent: (\w+)", rules))
    assert set(domain_intents()) <= ruled


def test_order_number_examples_are_annotated() -> None:
    """Examples with an order number annotate it (RegexEntityExtractor needs the entity)."""
    pattern = re.compile(r"(?<![\w#\[-])(?:[A-Za-z]-?|#)?[0-9٠-٩]{4,8}(?![\w\]])")
    bare = [e.annotated for e in training_examples() if pattern.search(e.annotated)]
    assert bare == []
