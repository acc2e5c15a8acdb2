"""Shared fixtures: paths to ../shared/data and per-test settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from tests.mail import Inbox, smtp_server
from tests.pg import postgres_database

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared real-media folder; skips the test cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (only CI and developers have it)")
    return SHARED_DATA


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real local SMTP server (aiosmtpd) that keeps what it receives: the inbox and the port."""
    inbox = Inbox()
    with smtp_server(inbox) as port:
        yield inbox, port


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Prepared model files, shared across tests (same folder the install script fills)."""
    return ROOT / "models"


PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item (fixtures ask whether the test failed)."""
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(PHASE_REPORTS, {})
    return any(r.failed for r in reports.values())


@pytest.fixture(autouse=True)
def aioice_mdns_released(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test leaves aioice's mDNS responder behind; if one does, it fails and is cleaned up.

    aioice keeps one mDNS responder per thread, made on the loop that first resolved a
    browser's ``.local`` candidate and closed only when its last ICE connection closes. Every
    peer the server makes is closed when its session ends (server/session.py ``_release``),
    also one still negotiating, so after a test's app has stopped nothing is left. A test that
    passed but left one leaked an ICE connection: it fails here. The responder is then
    removed either way, because pytest gives every test a new loop and a responder bound to
    a closed one would break every later test in the process (observer video never
    connects): one leak (or a failed test that never stopped its app) fails one test, not all
    that follow.
    """
    yield
    from aioice import ice

    state = ice._mdns
    left = set(getattr(state, "subscribers", ()))
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
    if (left or transport is not None) and not _failed(request.node):
        pytest.fail(
            f"the test left {len(left)} ICE connection(s) subscribed to aioice's mDNS "
            "responder: a peer connection was not closed"
        )


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """The root logger's handlers and level as they were before the test.

    Commands run in-process (``run.py``'s ``encrypt-existing``, ``rotate-master-key`` ...)
    install the production setup: a handler on the ``sys.stderr`` of that moment, which in a
    test is pytest's capture, closed after it. Left in place, every later log record goes to a
    closed file ("--- Logging error ---").
    """
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards)."""
    async with postgres_database() as url:
        yield url
