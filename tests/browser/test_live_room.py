"""Real Chromium: a candidate streams fake devices, an observer watches and asks, review plays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.conftest import BrowserFactory, LiveServer
from tests.media_files import fake_camera_y4m, speech_file, to_wav
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, new_interview
from tests.server.test_live_media import wait_for_event

pytestmark = pytest.mark.browser

# Resolves with the video's width once a decoded frame of the observer's video is presented.
FIRST_FRAME = """() => new Promise((resolve) => {
  const video = document.getElementById("remote");
  if (video.videoWidth > 0) return resolve(video.videoWidth);
  video.requestVideoFrameCallback(() => resolve(video.videoWidth));
})"""
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


async def sign_in_page(page: Page, base: str, next_path: str) -> None:
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("#email", ADMIN_EMAIL)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url and url.endswith(next_path))


async def test_candidate_observer_and_review_in_real_chromium(
    live_server: LiveServer,
    browser_factory: BrowserFactory,
    tmp_path: Path,
) -> None:
    wav = to_wav(speech_file(tmp_path), tmp_path / "mic.wav")
    y4m = fake_camera_y4m(tmp_path)
    iv = await new_interview(live_server.api)
    invite = f"{live_server.url}/i/{iv['invite_token']}?lang=en"

    cand_ctx = await browser_factory(
        "candidate",
        [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            f"--use-file-for-fake-video-capture={y4m}",
        ],
    )
    cand = await cand_ctx.new_page()
    await cand.goto(invite)
    await cand.wait_for_selector("#consent:not(.hidden)")
    await cand.check("#agree-recording")
    await cand.check("#agree-ai")
    await cand.click("#consent-continue")
    await cand.wait_for_selector("#join:not([disabled])", timeout=15000)
    await cand.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    await cand.click("#join")
    await cand.wait_for_function(
        "() => document.getElementById('room-status').textContent.includes('connected')",
        timeout=20000,
    )

    obs_ctx = await browser_factory("observer")
    obs = await obs_ctx.new_page()
    await sign_in_page(obs, live_server.url, f"/observe/{iv['id']}")
    # The observer's video, signal by signal (a slow machine only waits longer, nothing races):
    # the server receives the candidate's video, the observer's connection is up, a frame shows.
    await wait_for_event(live_server.api, iv["id"], "media_started", count=2, timeout=60)
    await obs.wait_for_selector("#remote[data-connection=connected]", timeout=60000)
    async with asyncio.timeout(60):
        width = await obs.evaluate(FIRST_FRAME)
    assert width > 0
    t1 = await obs.evaluate("document.getElementById('remote').currentTime")
    await asyncio.sleep(1.5)
    t2 = await obs.evaluate("document.getElementById('remote').currentTime")
    assert t2 > t1, (t1, t2)

    await obs.fill("#inject-text", "Tell me about a project that failed.")
    await obs.click("#inject-form button[type=submit]")
    question = "Tell me about a project that failed."
    await cand.wait_for_function(
        f"() => document.getElementById('question').textContent === '{question}'", timeout=5000
    )
    await obs.wait_for_selector("#timeline li[data-type=question_shown]")
    # The candidate's speech (the fake microphone) is transcribed while they are connected.
    await obs.wait_for_selector("#transcript p.final", timeout=40000)
    assert await cand.evaluate("document.getElementById('ended').classList.contains('hidden')")
    ARTIFACTS.mkdir(exist_ok=True)
    await obs.screenshot(path=str(ARTIFACTS / "observer.png"))

    await asyncio.sleep(1.0)
    cand.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await cand.click("#finish")
    await cand.wait_for_selector("#ended:not(.hidden)", timeout=20000)

    review = await obs_ctx.new_page()
    await review.goto(f"{live_server.url}/review/{iv['id']}")
    await review.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=20000
    )
    await review.evaluate("document.getElementById('player').play()")
    await review.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.5", timeout=15000
    )
    duration = await review.evaluate("document.getElementById('player').duration")
    assert duration > 1.0
    await review.evaluate("document.getElementById('player').currentTime = 0.2")
    await review.wait_for_function("() => document.getElementById('player').currentTime < 1.0")
    await review.screenshot(path=str(ARTIFACTS / "review.png"))
