"""Real Chromium: a page on another port of the same host cannot act with the admin's cookie."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.browser.conftest import LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.server.helpers import new_interview

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><html><body><p>cute cats</p><script>
const target = %(target)s, iid = %(iid)s;
window.result = { done: false };
async function attack() {
  const user = JSON.stringify({ email: "evil@example.com", password: "evil-password-123",
                                role: "admin" });
  // A "simple" request: no preflight, the same-site cookie goes along.
  try { await fetch(target + "/api/users", { method: "POST", mode: "no-cors",
          credentials: "include", headers: { "Content-Type": "text/plain" }, body: user }); }
  catch (e) { window.result.postError = String(e); }
  try { const r = await fetch(target + "/api/csrf", { credentials: "include" });
        window.result.csrfRead = (await r.json()).token || null; }
  catch (e) { window.result.csrfRead = null; }
  try { await fetch(target + "/api/users", { method: "POST", mode: "no-cors",
          credentials: "include", headers: { "Content-Type": "text/plain",
          "X-CSRF-Token": window.result.csrfRead || document.cookie }, body: user }); }
  catch (e) { window.result.postError2 = String(e); }
  await new Promise((resolve) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/ws/observer/" + iid);
    ws.onopen = () => { window.result.wsOpened = true;
      ws.send(JSON.stringify({ type: "inject_question", text: "What is your bank PIN?" }));
      ws.send(JSON.stringify({ type: "add_observer_note", text: "forged note" }));
      setTimeout(resolve, 1000); };
    ws.onclose = (ev) => { window.result.wsClose = ev.code; resolve(); };
  });
  window.result.done = true;
}
attack();
</script></body></html>"""


@pytest.fixture
async def evil_site(live_server: LiveServer) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Another app on another port of 127.0.0.1 that serves the attack page."""
    state: dict[str, Any] = {}

    async def attack_page(_request: web.Request) -> web.Response:
        body = ATTACK % {"target": json.dumps(live_server.url), "iid": json.dumps(state["iid"])}
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", attack_page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/")), state
    finally:
        await server.close()


async def test_a_page_on_another_port_cannot_create_a_user_or_inject_a_question(
    live_server: LiveServer,
    evil_site: tuple[str, dict[str, Any]],
    browser_factory: Any,
) -> None:
    evil_url, state = evil_site
    iv = await new_interview(live_server.api)
    state["iid"] = iv["id"]
    ctx = await browser_factory("victim")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, "/")  # the admin is signed in in this browser
    assert live_server.url.split(":")[-1] != evil_url.rstrip("/").split(":")[-1]
    await page.goto(evil_url)
    await page.wait_for_function("() => window.result && window.result.done", timeout=20_000)
    result = await page.evaluate("window.result")
    assert not result.get("wsOpened"), result
    assert result.get("csrfRead") is None
    # No account was created: the forged credentials do not sign in.
    login = await live_server.api.post(
        "/api/login", json={"email": "evil@example.com", "password": "evil-password-123"}
    )
    assert login.status == 401
    events = await (await live_server.api.get(f"/api/interviews/{iv['id']}/events")).json()
    kinds = {e["type"] for e in (events if isinstance(events, list) else events["events"])}
    assert "question_injected" not in kinds and "observer_note_added" not in kinds
    # The same browser on the real origin still works: the admin page creates a user.
    await page.goto(f"{live_server.url}/")
    status = await page.evaluate(
        """async () => { const { sendJson } = await import("/static/http.js");
        const r = await sendJson("/api/users", { email: "new@example.com",
            password: "a long enough password", role: "recruiter" });
        return r.status; }"""
    )
    assert status == 201


async def test_sign_in_never_redirects_off_site(
    live_server: LiveServer,
    browser_factory: Any,
) -> None:
    from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

    ctx = await browser_factory("next")
    page = await ctx.new_page()
    for nxt, landing in (
        ("//evil.example/steal", "/"),
        ("/%5Cevil.example", "/"),  # "/\\evil.example": browsers read it as //evil.example
        ("https://evil.example/", "/"),
        ("/jobs", "/jobs"),
    ):
        await page.goto(f"{live_server.url}/login?next={nxt}")
        await page.fill("#email", ADMIN_EMAIL)
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(lambda url: "/login" not in url)
        assert page.url.startswith(live_server.url + "/"), (nxt, page.url)
        assert page.url == live_server.url + landing, (nxt, page.url)
