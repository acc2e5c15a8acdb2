"""Regenerate the README screenshots: a real server, headless Chromium, generated media.

The candidate's camera is scikit-image's astronaut photo (public domain, NASA) and the
microphone speaks a sentence made with espeak-ng, so no personal recording is used.
Usage: .venv/bin/python scripts/screenshots.py  (needs chromium and espeak-ng)
       .venv/bin/python scripts/screenshots.py --workflow  (job page, board, templates, phone page)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import create_app  # noqa: E402
from tests.browser.conftest import BASE_ARGS, CHROMIUM  # noqa: E402
from tests.media_files import to_wav  # noqa: E402
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings, sign_in  # noqa: E402

OUT = ROOT / "docs" / "img"


def astronaut_y4m(path: Path, seconds: int = 4) -> Path:
    from skimage import data

    img = data.astronaut()[:, 56:456]  # 512x400, head and shoulders
    with av.open(str(path), "w", format="yuv4mpegpipe") as dst:
        stream = dst.add_stream("rawvideo", rate=15)
        stream.width, stream.height, stream.pix_fmt = 400, 512, "yuv420p"
        for i in range(seconds * 15):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = i
            for p in stream.encode(frame):
                dst.mux(p)
    return path


async def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    speech = tmp / "speech.wav"
    text = (
        "In my last project our checkout failed twice a week. I added tracing, found a "
        "race in the payment queue, and cut failures by ninety percent in a month."
    )
    subprocess.run(  # noqa: ASYNC221 - a one-off script
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech), text], check=True
    )
    padded = tmp / "padded.wav"  # a pause after the sentence ends the utterance
    subprocess.run(  # noqa: ASYNC221
        ["sox", str(speech), str(padded), "pad", "0.5", "2.5"], check=True
    )
    wav = to_wav(padded, tmp / "mic.wav")
    y4m = astronaut_y4m(tmp / "cam.y4m")
    app = create_app(make_settings(tmp, asr={"enabled": True}, facial_analysis="integrity_only"))
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        base = str(server.make_url("")).rstrip("/")
        job = await (
            await api.post(
                "/api/jobs",
                json={
                    "title": "Software Engineer",
                    "language": "en",
                    "template": "software_engineer",
                },
            )
        ).json()
        cand = await (await api.post("/api/candidates", json={"name": "Sam Doe"})).json()
        iv = await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
        async with async_playwright() as pw:
            media = [
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}",
                f"--use-file-for-fake-video-capture={y4m}",
            ]
            cctx = await pw.chromium.launch_persistent_context(
                str(tmp / "p1"),
                executable_path=CHROMIUM,
                args=BASE_ARGS + media,
                viewport={"width": 1100, "height": 800},
            )
            page = await cctx.new_page()
            await page.goto(f"{base}/i/{iv['invite_token']}?lang=en")
            await page.wait_for_selector("#consent:not(.hidden)")
            await page.screenshot(path=str(OUT / "consent.png"))
            await page.check("#agree-recording")
            await page.check("#agree-ai")
            await page.click("#consent-continue")
            await page.wait_for_selector("#join:not([disabled])")
            await page.click("#join")
            await page.wait_for_selector("#ready:not(.hidden)", timeout=30000)
            await page.click("#ready")
            octx = await pw.chromium.launch_persistent_context(
                str(tmp / "p2"),
                executable_path=CHROMIUM,
                args=BASE_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            obs = await octx.new_page()
            await obs.goto(f"{base}/login?next=/observe/{iv['id']}")
            await obs.fill("#email", ADMIN_EMAIL)
            await obs.fill("#password", ADMIN_PASSWORD)
            await obs.click("button[type=submit]")
            await obs.wait_for_url(lambda u: "/login" not in u and "/observe/" in u)
            await obs.wait_for_function(
                "document.getElementById('remote').videoWidth > 0", timeout=30000
            )
            await obs.wait_for_selector("#transcript p.final", timeout=60000)
            await page.screenshot(path=str(OUT / "candidate.png"))
            await obs.evaluate("window.scrollTo(0, 0)")
            await asyncio.sleep(1.0)
            await obs.screenshot(path=str(OUT / "observer.png"))
            await cctx.close()
            await octx.close()
    print(f"screenshots written to {OUT}")


WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) "
    "NetType/WIFI Language/zh_CN"
)


async def workflow() -> None:
    """The job page, the pipeline board, the template editor and the candidate page on a phone."""
    tmp = Path(tempfile.mkdtemp())
    app = create_app(make_settings(tmp))
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        base = str(server.make_url("")).rstrip("/")
        job = await (
            await api.post(
                "/api/jobs",
                json={"title": "后端工程师", "language": "zh", "template": "software_engineer"},
            )
        ).json()
        names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]
        rows = ["name,email,phone,tags"] + [
            f"{n},c{i}@example.com,+86139{i:08d},{'校招' if i % 2 else '社招'}"
            for i, n in enumerate(names)
        ]
        await api.post(
            f"/api/jobs/{job['id']}/candidates/import",
            data="\n".join(rows).encode(),
            headers={"Content-Type": "text/csv"},
        )
        board = await (await api.get(f"/api/jobs/{job['id']}/pipeline")).json()
        ids = [c["candidate_id"] for c in board["stages"]["screened"]]
        await api.post(f"/api/jobs/{job['id']}/invitations", json={"candidate_ids": ids[:5]})
        invited = await (await api.get(f"/api/jobs/{job['id']}/pipeline")).json()
        link = None
        for card in invited["stages"]["invited"][:1]:
            result = await (
                await api.post(
                    f"/api/jobs/{job['id']}/invitations",
                    json={"candidate_ids": [card["candidate_id"]], "reinvite": True},
                )
            ).json()
            link = result["results"][0]["invite_url"]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BASE_ARGS)
            ctx = await browser.new_context(viewport={"width": 1400, "height": 900})
            page = await ctx.new_page()
            await page.goto(f"{base}/login?next=/jobs/{job['id']}?lang=zh")
            await page.fill("#email", ADMIN_EMAIL)
            await page.fill("#password", ADMIN_PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(lambda u: "/jobs/" in u)
            await page.wait_for_selector(".wf-col .wf-card")
            await page.screenshot(path=str(OUT / "job_page.png"))
            board_el = await page.query_selector("#board")
            assert board_el is not None
            await board_el.screenshot(path=str(OUT / "board.png"))
            await page.goto(f"{base}/message-templates?lang=zh")
            await page.click("#tpl-list tr[data-key=invite] .tpl-edit[data-lang=zh]")
            await page.click("#tpl-preview")
            await page.wait_for_selector("#preview:not(.hidden)")
            await page.set_viewport_size({"width": 1100, "height": 900})
            await page.screenshot(path=str(OUT / "templates.png"), full_page=True)
            phone = await browser.new_context(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                device_scale_factor=2,
                user_agent=WECHAT_UA,
            )
            mobile = await phone.new_page()
            await mobile.goto(f"{link}?lang=zh")
            await mobile.wait_for_selector("#consent:not(.hidden)")
            await mobile.screenshot(path=str(OUT / "phone_consent.png"))
            await browser.close()
    print(f"workflow screenshots written to {OUT}")


if __name__ == "__main__":
    asyncio.run(workflow() if "--workflow" in sys.argv else main())
