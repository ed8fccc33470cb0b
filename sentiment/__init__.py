"""Arabic-first sentiment and anger scoring for customer messages."""

from sentiment.batcher import Batcher
from sentiment.scorer import Scorer, ScorerSettings, load_scorer, scorer_from_settings

__all__ = ["Batcher", "Scorer", "ScorerSettings", "load_scorer", "scorer_from_settings"]
