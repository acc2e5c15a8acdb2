"""Fixtures: a real app on a test server with a fresh SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.server.helpers import AppClient, make_settings, sign_in


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AppClient]:
    """An HTTP client bound to a freshly started app."""
    app = create_app(make_settings(tmp_path))
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def admin(client: AppClient) -> AppClient:
    """The client, signed in as the first admin."""
    await sign_in(client)
    return client
