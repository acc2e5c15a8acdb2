"""A server that dies mid-interview loses nothing already written: the next start recovers it."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import av
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from server.app import create_app
from server.services import SERVICES
from server.storage.models import Recording
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import consent, make_settings, new_interview, sign_in
from tests.server.test_live_media import wait_for_event


async def test_a_recording_cut_off_by_a_crash_is_recovered_on_the_next_start(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    snapshot = tmp_path / "on-disk-at-crash.cnd"
    async with TestClient(TestServer(create_app(settings))) as api:
        await sign_in(api)
        iv = await new_interview(api)
        await consent(api, iv["invite_token"])
        async with ClientSession() as http:
            cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
            await cand.join(video=PatternVideoTrack())
            await wait_for_event(api, iv["id"], "media_started")
            await asyncio.sleep(4.0)
            rec_path = next((settings.recordings_dir / iv["id"]).glob("*.cnd"))
            # What a power cut leaves behind: the file as it is on disk right now.
            shutil.copy(rec_path, snapshot)
            await cand.leave()
        await wait_for_event(api, iv["id"], "recording_finalized")
        svc = api.app[SERVICES]
        async with svc.sessions() as session, session.begin():
            rec = await session.scalar(select(Recording))
            assert rec is not None
            rec.status = "recording"  # the process never got to finalize it
    shutil.copy(snapshot, rec_path)

    async with TestClient(TestServer(create_app(settings))) as api2:
        await sign_in(api2)
        segs = await (await api2.get(f"/api/interviews/{iv['id']}/recordings")).json()
        assert [s["status"] for s in segs] == ["final"]
        data = await (await api2.get(segs[0]["url"])).read()
    with av.open(io.BytesIO(data), "r") as c:
        frames = sum(1 for _ in c.decode(c.streams.video[0]))
    assert frames >= 15 * 2  # at least two of the four seconds survived
    assert segs[0]["duration"] > 2.0
