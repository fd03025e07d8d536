"""Shared fixtures: a seeded random generator and the location of the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PITTSBURGH = SHARED_DATA / "pittsburgh-livefire-dev"
SF_ALERTS = SHARED_DATA / "sf-alerts"


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, so every test is deterministic."""
    return np.random.default_rng(20261127)


@pytest.fixture
def pittsburgh() -> Path:
    """The Pittsburgh live-fire dev set; skips the test where it is absent."""
    if not PITTSBURGH.is_dir():
        pytest.skip(f"real data not present at {PITTSBURGH}")
    return PITTSBURGH


@pytest.fixture
def sf_alerts() -> Path:
    """The San Francisco alert release; skips the test where it is absent."""
    if not SF_ALERTS.is_dir():
        pytest.skip(f"real data not present at {SF_ALERTS}")
    return SF_ALERTS
