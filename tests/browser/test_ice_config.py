"""Real Chromium: both pages build their peer with the ICE servers the server configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.browser.conftest import LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.server.helpers import consent, make_settings, new_interview, sign_in

pytestmark = pytest.mark.browser

STUN = "stun:127.0.0.1:3479"
TURN = "turn:127.0.0.1:3479?transport=udp"
# records the configuration of every RTCPeerConnection the page makes
RECORD = """(() => {
  const Native = window.RTCPeerConnection;
  window.__iceConfigs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__iceConfigs.push(pc.getConfiguration().iceServers);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();"""


@pytest.fixture
async def ice_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app with a STUN and a TURN server configured (neither needs to answer here)."""
    settings = make_settings(tmp_path, ice_servers=[STUN, TURN], turn_secret="s3cret")
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        yield LiveServer(url=str(server.make_url("")).rstrip("/"), api=api)


async def _configs(page: Any) -> list[Any]:
    await page.wait_for_function(
        "() => window.__iceConfigs && window.__iceConfigs.length > 0", timeout=20000
    )
    return list(await page.evaluate("window.__iceConfigs"))


def _check(servers: list[dict[str, Any]], suffix: str) -> None:
    urls = [u for s in servers for u in (s["urls"] if isinstance(s["urls"], list) else [s["urls"]])]
    assert sorted(urls) == sorted([STUN, TURN]), servers
    [turn] = [s for s in servers if TURN in s["urls"]]
    assert turn["username"].endswith(suffix) and turn["credential"], turn
    assert not any("google" in u for u in urls)


async def test_candidate_and_observer_pages_use_the_configured_ice_servers(
    ice_server: LiveServer, browser_factory: Any
) -> None:
    iv = await new_interview(ice_server.api)
    await consent(ice_server.api, iv["invite_token"], ai=False)
    cand_ctx = await browser_factory(
        "candidate", ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    )
    await cand_ctx.add_init_script(RECORD)
    cand = await cand_ctx.new_page()
    await cand.goto(f"{ice_server.url}/i/{iv['invite_token']}?lang=en")
    await cand.wait_for_selector("#join:not([disabled])", timeout=15000)
    await cand.click("#join")
    [cand_servers, *_] = await _configs(cand)
    _check(cand_servers, "-c")
    await cand.wait_for_function(
        "() => document.getElementById('room-status').textContent.includes('connected')",
        timeout=20000,
    )

    obs_ctx = await browser_factory("observer")
    await obs_ctx.add_init_script(RECORD)
    obs = await obs_ctx.new_page()
    await sign_in_page(obs, ice_server.url, f"/observe/{iv['id']}")
    [obs_servers, *_] = await _configs(obs)
    # let the observer's negotiation finish: a peer still negotiating when the app stops is
    # not closed by the room (a leak of the room code, reported separately)
    await obs.wait_for_selector("#remote[data-connection=connected]", timeout=60000)
    _check(obs_servers, "-o")
