"""Bad input gets a clear close code or 4xx, and other live interviews keep going."""

from __future__ import annotations

import asyncio
import io

import av
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType

from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import AppClient, consent, new_interview
from tests.server.test_live_media import fetch_recording, wait_for_event


async def candidate_ws(client: AppClient, token: str) -> ClientWebSocketResponse:
    ws = await client.ws_connect(f"/ws/candidate/{token}")
    assert (await ws.receive_json())["type"] == "welcome"
    return ws


async def closed_with(ws: ClientWebSocketResponse) -> int:
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            assert ws.close_code is not None
            return ws.close_code


async def test_join_without_consent_is_refused(admin: AppClient) -> None:
    iv = await new_interview(admin)
    resp = await admin.get(
        f"/ws/candidate/{iv['invite_token']}", headers={"Accept": "application/json"}
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "consent_required"


async def test_join_with_a_forged_link_is_refused(admin: AppClient) -> None:
    resp = await admin.get("/ws/candidate/abc.def", headers={"Accept": "application/json"})
    assert resp.status == 401


async def test_oversized_message_closes_with_1009(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    ws = await candidate_ws(admin, iv["invite_token"])
    await ws.send_str('{"type":"heartbeat","pad":"' + "x" * 70_000 + '"}')
    assert await closed_with(ws) == 1009


async def test_unknown_message_type_closes_with_4404(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    ws = await candidate_ws(admin, iv["invite_token"])
    await ws.send_json({"type": "launch_rockets"})
    err = await ws.receive_json()
    assert err == {"type": "error", "code": "unknown_type", "message": "Unknown message type."}
    assert await closed_with(ws) == 4404


async def test_not_json_closes_with_4400(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    ws = await candidate_ws(admin, iv["invite_token"])
    await ws.send_str("hello?")
    assert await closed_with(ws) == 4400


async def test_malformed_sdp_closes_with_4400(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    for sdp in ("not sdp", "v=0\r\nthis is not an offer\r\n"):
        ws = await candidate_ws(admin, iv["invite_token"])
        await ws.send_json({"type": "offer", "sdp": sdp})
        err = await ws.receive_json()
        assert err["type"] == "error" and err["code"] == "bad_sdp"
        assert await closed_with(ws) == 4400


async def test_oversized_sdp_closes_with_4413(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    ws = await candidate_ws(admin, iv["invite_token"])
    await ws.send_json({"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 8000})
    assert await closed_with(ws) == 4413


async def test_abuse_in_one_interview_does_not_disturb_another(admin: AppClient) -> None:
    good = await new_interview(admin)
    bad = await new_interview(admin)
    await consent(admin, good["invite_token"])
    await consent(admin, bad["invite_token"])
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), good["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        await wait_for_event(admin, good["id"], "media_started")
        for payload in ("junk", '{"type":"offer","sdp":"v=0 nope"}', "x" * 70_000):
            ws = await candidate_ws(admin, bad["invite_token"])
            await ws.send_str(payload)
            await closed_with(ws)
        await asyncio.sleep(1.0)
        await cand.send({"type": "heartbeat"})
        assert (await cand.next_message("heartbeat_ack"))["type"] == "heartbeat_ack"
        await cand.leave()
    await wait_for_event(admin, good["id"], "recording_finalized")
    [(seg, data)] = await fetch_recording(admin, good["id"])
    assert seg["duration"] > 1.0
    with av.open(io.BytesIO(data), "r") as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) > 10
