"""Real Chromium: sign-in redirects stay on the site; an admin invites a user who sets a
password with the one-time link, signs in and changes it (issue 11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.browser.conftest import LiveServer
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app on a loopback port, without speech recognition (not needed here)."""
    app = create_app(make_settings(tmp_path))
    test_server = TestServer(app, host="127.0.0.1")
    async with TestClient(test_server) as api:
        await sign_in(api)
        yield LiveServer(url=str(test_server.make_url("")).rstrip("/"), api=api)


async def sign_in_as(page: Any, base: str, query: str, email: str, password: str) -> None:
    await page.goto(f"{base}/login{query}")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/x", "/\\evil.example", "/%09/evil.example", "https://evil.example"],
)
async def test_sign_in_never_redirects_off_the_site(
    server: LiveServer, browser_factory: Any, next_path: str
) -> None:
    ctx = await browser_factory("redirect")
    page = await ctx.new_page()
    await sign_in_as(page, server.url, f"?next={next_path}", ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.wait_for_url(lambda url: "/login" not in url)
    assert page.url.startswith(server.url + "/"), page.url


async def test_an_invited_user_sets_a_password_signs_in_and_changes_it(
    server: LiveServer, browser_factory: Any
) -> None:
    admin_ctx = await browser_factory("admin")
    admin = await admin_ctx.new_page()
    await sign_in_as(admin, server.url, "?next=/users", ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.wait_for_url(f"{server.url}/users")
    await admin.fill("#email", "wang@example.com")
    await admin.fill("#name", "Wang Fang")
    await admin.click("#invite button[type=submit]")
    await admin.wait_for_selector("#link:not(.hidden)")
    link = await admin.input_value("#link-url")
    assert "/set-password#" in link
    await admin.wait_for_selector("tr[data-email='wang@example.com']")

    user_ctx = await browser_factory("user")
    user = await user_ctx.new_page()
    await user.goto(link)
    await user.wait_for_function("() => document.getElementById('who').textContent.length > 0")
    assert "wang@example.com" in await user.text_content("#who")
    await user.fill("#new", "password1234")
    await user.fill("#again", "password1234")
    await user.click("#submit")
    await user.wait_for_function("() => document.getElementById('error').textContent.length > 0")
    assert "common" in await user.text_content("#error")
    await user.click("#lang")  # the reason reads in Chinese too
    await user.click("#submit")
    await user.wait_for_function(
        "() => document.getElementById('error').textContent.includes('常见')"
    )
    await user.fill("#new", "blue river lantern 12")
    await user.fill("#again", "blue river lantern 12")
    await user.click("#submit")
    await user.wait_for_selector("#done:not(.hidden)")

    await sign_in_as(
        user, server.url, "?next=/account", "wang@example.com", "blue river lantern 12"
    )
    await user.wait_for_url(f"{server.url}/account")
    await user.fill("#current", "blue river lantern 12")
    await user.fill("#new", "green hill teapot 34")
    await user.fill("#again", "green hill teapot 34")
    await user.click("button[type=submit]")
    await user.wait_for_selector("#done:not(.hidden)")
    api: TestClient[web.Request, web.Application] = server.api
    resp = await api.post(
        "/api/login", json={"email": "wang@example.com", "password": "green hill teapot 34"}
    )
    assert resp.status == 200
