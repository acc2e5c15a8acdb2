"""Headless Debian Chromium driven by Playwright, against a real server on a loopback port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from server.app import create_app
from tests.server.helpers import AppClient, make_settings, sign_in

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


class BrowserFactory(Protocol):
    """Launches a Chromium context with a fresh profile named ``name`` (the fixture's value)."""

    async def __call__(self, name: str, extra_args: list[str] | None = None) -> BrowserContext: ...


@dataclass
class LiveServer:
    """A running app and an API client signed in as admin."""

    url: str
    api: AppClient


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[LiveServer]:
    """The app on a loopback port (browsers need a real address), an admin signed in."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        yield LiveServer(url=str(server.make_url("")).rstrip("/"), api=api)


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app with live transcription on a loopback port."""
    async with serving(make_settings(tmp_path, asr={"enabled": True})) as live:
        yield live


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium with a fake camera and microphone (contexts are the test's)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *BASE_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def browser_factory(tmp_path: Path) -> AsyncIterator[BrowserFactory]:
    """Launch Chromium contexts with fresh profiles; extra args per context (fake devices)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/install.sh --test installs it)")
    from playwright.async_api import async_playwright

    contexts: list[BrowserContext] = []
    async with async_playwright() as pw:

        async def launch(name: str, extra_args: list[str] | None = None) -> BrowserContext:
            profile = tmp_path / f"profile-{name}"
            ctx = await pw.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=BASE_ARGS + (extra_args or []),
                viewport={"width": 1280, "height": 860},
            )
            contexts.append(ctx)
            return ctx

        yield launch
        for ctx in contexts:
            await ctx.close()
    for ctx_dir in tmp_path.glob("profile-*"):
        shutil.rmtree(ctx_dir, ignore_errors=True)
