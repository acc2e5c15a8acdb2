"""Shared fixtures: paths to ../shared/data and per-test settings."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def fresh_aioice_mdns() -> Iterator[None]:
    """Each test's event loop gets its own aioice mDNS responder.

    aioice keeps one mDNS protocol per thread, created on the loop that first resolved a
    browser's ``.local`` candidate and closed only when its last ICE connection closes. pytest
    gives every test a new loop: a connection that a failed or interrupted test left open would
    keep the previous loop's dead protocol, and every later test in the process would then fail
    to resolve Chromium's candidates (observer video never connects). Production runs one loop.
    """
    yield
    from aioice import ice

    state = ice._mdns
    transport = getattr(getattr(state, "protocol", None), "transport", None)
    if transport is not None:
        try:
            transport.close()
        except RuntimeError:  # its loop is already closed: close the socket itself
            sock = transport._sock
            if sock is not None:
                sock.close()
                transport._sock = None
    for name in ("lock", "protocol", "subscribers"):
        if hasattr(state, name):
            delattr(state, name)
