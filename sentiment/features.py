"""Hashed character n-grams: a cheap lexical signal beside the sentence embedding."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sentiment.data import ARABIC_FOLD, DIACRITICS

NGRAM_SIZES = (2, 3, 4)
_LONG_REPEATS = re.compile(r"(.)\1{2,}")


def prepare(text: str) -> str:
    """Fold case and Arabic letter variants but keep punctuation and emoji, which carry mood."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = DIACRITICS.sub("", text).translate(ARABIC_FOLD)
    # "!!!!!!" and "!!!" should share n-grams; two characters keep "repeated" as a signal.
    text = _LONG_REPEATS.sub(r"\1\1", text)
    return " " + " ".join(text.split()) + " "


def ngram_features(
    texts: Sequence[str], dim: int, sizes: Sequence[int] = NGRAM_SIZES
) -> npt.NDArray[np.float32]:
    """L2-normalised counts of character n-grams hashed into ``dim`` buckets (crc32, stable)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        prepared = prepare(text)
        for size in sizes:
            for start in range(len(prepared) - size + 1):
                gram = prepared[start : start + size].encode("utf-8")
                out[row, zlib.crc32(gram) % dim] += 1.0
        norm = float(np.linalg.norm(out[row]))
        if norm > 0.0:
            out[row] /= norm
    return out
