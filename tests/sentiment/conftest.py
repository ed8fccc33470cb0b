"""Shared fixtures for the sentiment tests."""

from __future__ import annotations

import pytest

from sentiment.e5 import E5Scorer


@pytest.fixture(scope="session")
def e5_scorer() -> E5Scorer:
    """The shipped default scorer, loaded once for the whole session."""
    return E5Scorer()
