"""A real aiortc peer streams to the app; recordings are encrypted, finalized and playable."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import av
from aiohttp import ClientSession
from aiortc import VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from server.services import SERVICES
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.media_files import duration_of, speech_file
from tests.server.helpers import AppClient, consent, new_interview


async def wait_for_event(
    admin: AppClient, iid: str, kind: str, count: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            events = await (await admin.get(f"/api/interviews/{iid}/events")).json()
            found = [e for e in events if e["type"] == kind]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)


async def fetch_recording(admin: AppClient, iid: str) -> list[tuple[dict[str, Any], bytes]]:
    segs = await (await admin.get(f"/api/interviews/{iid}/recordings")).json()
    out = []
    for seg in segs:
        resp = await admin.get(seg["url"])
        assert resp.status == 200
        out.append((seg, await resp.read()))
    return out


def audio_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as c:
        stream = c.streams.audio[0]
        return sum(f.samples / f.sample_rate for f in c.decode(stream))


async def test_streamed_audio_and_video_are_recorded_encrypted_and_playable(
    admin: AppClient, tmp_path: Path
) -> None:
    audio = speech_file(tmp_path)
    streamed = duration_of(audio)
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await cand.join(audio_file=audio, video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started", 2)
        await asyncio.sleep(streamed + 1.0)
        await cand.leave()
    await wait_for_event(admin, iv["id"], "recording_finalized")
    [(seg, data)] = await fetch_recording(admin, iv["id"])
    assert seg["status"] == "final" and seg["segment"] == 1
    got = audio_seconds(data)
    assert abs(got - streamed) <= 0.1 * streamed, (got, streamed)
    with av.open(io.BytesIO(data), "r") as c:
        video = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video))
    assert frames > 5 * streamed  # about 15 fps were sent
    # At rest the file is encrypted: the MP4 signature is not on disk.
    svc = admin.app[SERVICES]
    on_disk = next((svc.settings.recordings_dir / iv["id"]).glob("*.cnd")).read_bytes()
    assert b"ftyp" not in on_disk[:4096] and b"ftyp" in data[:64]


async def test_range_requests_let_the_player_seek(admin: AppClient, tmp_path: Path) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started")
        await asyncio.sleep(2.0)
        await cand.leave()
    await wait_for_event(admin, iv["id"], "recording_finalized")
    [(seg, whole)] = await fetch_recording(admin, iv["id"])
    resp = await admin.get(seg["url"], headers={"Range": "bytes=100-1099"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert await resp.read() == whole[100:1100]
    tail = await admin.get(seg["url"], headers={"Range": "bytes=-50"})
    assert await tail.read() == whole[-50:]
    bad = await admin.get(seg["url"], headers={"Range": f"bytes={len(whole) + 10}-"})
    assert bad.status == 416


async def test_rejoin_after_a_drop_continues_as_a_new_segment(
    admin: AppClient, tmp_path: Path
) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        first = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await first.join(video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started")
        await asyncio.sleep(1.5)
        await first.leave(vanish=True)  # media gone, no goodbye
        await wait_for_event(admin, iv["id"], "recording_finalized")
        second = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await second.join(video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started", 2)
        await asyncio.sleep(1.5)
        await second.leave()
    finals = await wait_for_event(admin, iv["id"], "recording_finalized", 2)
    assert [f["segment"] for f in finals] == [1, 2]
    assert finals[1]["start"] > finals[0]["start"]
    segs = await fetch_recording(admin, iv["id"])
    assert [s["segment"] for s, _ in segs] == [1, 2]
    for _seg, data in segs:
        with av.open(io.BytesIO(data), "r") as c:
            assert sum(1 for _ in c.decode(c.streams.video[0])) > 10


async def test_a_candidate_whose_media_drops_is_told_to_join_again(admin: AppClient) -> None:
    """The socket outlives the peer connection: the server closes it with 1012, not final,
    so the page (which rejoins when its socket closes) comes back with a new segment."""
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started")
        assert cand.pc is not None and cand.ws is not None
        await cand.pc.close()  # the media connection ends; the socket stays open
        async with asyncio.timeout(20):
            while (msg := await cand.messages.get())["type"] != "_closed":
                pass
        assert msg["code"] == 1012
        left = await wait_for_event(admin, iv["id"], "candidate_left")
        assert left[0]["reason"] == "connection lost"
        again = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await again.join(video=PatternVideoTrack())
        assert again.segment == 2
        await again.leave()


async def test_questions_from_observers_reach_the_candidate(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        obs = await admin.ws_connect(f"/ws/observer/{iv['id']}")
        history = await obs.receive_json()
        assert history["type"] == "history"
        await obs.send_json({"type": "inject_question", "text": "What did you learn?"})
        q = await cand.next_message("show_question")
        assert q["text"] == "What did you learn?"
        assert "by" not in q  # the candidate never learns who asked
        await cand.send({"type": "answer_done", "question_id": q["question_id"]})
        kinds = []
        async with asyncio.timeout(10):
            while "answer_done" not in kinds:
                msg = await obs.receive_json()
                if msg["type"] == "event":
                    kinds.append(msg["event"]["type"])
        assert (
            kinds.index("question_injected")
            < kinds.index("question_shown")
            < kinds.index("answer_done")
        )
        await obs.close()
        await cand.leave()


class NoFramesTrack(VideoStreamTrack):
    """A camera that never delivers a frame (the peer goes away before the first one)."""

    async def recv(self) -> av.VideoFrame:
        await asyncio.Event().wait()
        raise MediaStreamError


async def test_a_segment_that_got_no_media_is_listed_as_empty_and_never_offered_for_playback(
    admin: AppClient,
) -> None:
    """In the full-scale cluster run 3 of 75 segments were rejoins whose peer failed before
    the first frame: they stay numbered (``empty``) but have no media URL, and the review
    page plays only ``final`` segments (web_client/review.js)."""
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    async with ClientSession() as http:
        first = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await first.join(video=NoFramesTrack())
        await wait_for_event(admin, iv["id"], "candidate_joined")
        await first.leave()
        await wait_for_event(admin, iv["id"], "candidate_left")
        second = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await second.join(video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started")
        await asyncio.sleep(1.0)
        await second.leave()
    finals = await wait_for_event(admin, iv["id"], "recording_finalized")
    assert [f["segment"] for f in finals] == [2]  # nothing to play for segment 1
    segs = await (await admin.get(f"/api/interviews/{iv['id']}/recordings")).json()
    assert [(s["segment"], s["status"], "url" in s) for s in segs] == [
        (1, "empty", False),
        (2, "final", True),
    ]
    media = await admin.get(f"/api/interviews/{iv['id']}/recordings/{segs[0]['id']}/media")
    assert media.status == 404
    played = await admin.get(segs[1]["url"])
    assert played.status == 200
    with av.open(io.BytesIO(await played.read()), "r") as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) > 5
