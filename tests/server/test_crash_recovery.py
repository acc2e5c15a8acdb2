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
from server.segments import recover_segments
from server.services import SERVICES
from server.storage.models import Recording
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import AppClient, consent, make_settings, new_interview, sign_in
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


async def test_recovering_one_interview_leaves_other_interviews_open_segments_alone(
    admin: AppClient, tmp_path: Path
) -> None:
    """A node taking over one interview must not touch segments other nodes are writing."""
    svc = admin.app[SERVICES]
    mine, theirs = await new_interview(admin), await new_interview(admin)
    garbage = tmp_path / "not-a-recording.cnd"
    garbage.write_bytes(b"\x00" * 64)  # neither encrypted by our key nor a media file
    async with svc.sessions() as session, session.begin():
        session.add_all(
            [
                Recording(interview_id=mine["id"], segment=1, path=str(tmp_path / "gone.cnd")),
                Recording(interview_id=mine["id"], segment=2, path=str(garbage)),
                Recording(interview_id=theirs["id"], segment=1, path=str(tmp_path / "x.cnd")),
            ]
        )

    async def statuses() -> dict[tuple[str, int], str]:
        async with svc.sessions() as session:
            rows = (await session.scalars(select(Recording))).all()
        return {(r.interview_id, r.segment): r.status for r in rows}

    assert await recover_segments(svc, mine["id"]) == 0  # nothing playable was left
    assert await statuses() == {
        (mine["id"], 1): "empty",
        (mine["id"], 2): "damaged",
        (theirs["id"], 1): "recording",
    }
    await recover_segments(svc)  # app startup: every interview's
    assert (await statuses())[(theirs["id"], 1)] == "empty"
