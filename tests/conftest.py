"""Shared fixtures: paths to ../shared/data and per-test settings."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared real-media folder; skips the test cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (only CI and developers have it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Prepared model files, shared across tests (same folder the install script fills)."""
    return ROOT / "models"
