"""Forgery protection, security headers and input limits against the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from media.candidate_peer import BadOffer, CandidatePeer
from server.app import create_app
from server.services import SERVICES
from server.storage.models import Recording
from tests.server.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    AppClient,
    consent,
    make_settings,
    new_interview,
)
from tests.server.test_robustness import candidate_ws, closed_with

NEW_USER = {"email": "new@example.com", "password": "a long enough password", "role": "admin"}


async def test_a_cookie_write_without_the_csrf_token_is_refused(admin: AppClient) -> None:
    del admin.session.headers["X-CSRF-Token"]
    resp = await admin.post("/api/users", json=NEW_USER)
    assert resp.status == 403
    assert (await resp.json())["error"] == "csrf"
    resp = await admin.post("/api/users", json=NEW_USER, headers={"X-CSRF-Token": "forged"})
    assert resp.status == 403


async def test_a_cookie_write_with_the_token_from_api_csrf_succeeds(admin: AppClient) -> None:
    resp = await admin.post("/api/users", json=NEW_USER)
    assert resp.status == 201, await resp.text()


async def test_the_token_is_bound_to_the_session(admin: AppClient) -> None:
    from tests.server.helpers import sign_in

    admins_token = admin.session.headers["X-CSRF-Token"]
    recruiter = {**NEW_USER, "role": "recruiter"}
    assert (await admin.post("/api/users", json=recruiter)).status == 201
    admin.session.cookie_jar.clear()
    await sign_in(admin, recruiter["email"], recruiter["password"])
    assert admin.session.headers["X-CSRF-Token"] != admins_token
    job = {"title": "Engineer"}
    resp = await admin.post("/api/jobs", json=job, headers={"X-CSRF-Token": admins_token})
    assert resp.status == 403
    assert (await admin.post("/api/jobs", json=job)).status in (200, 201)


async def test_bearer_clients_need_no_csrf_token(client: AppClient) -> None:
    login = await client.post("/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    token = (await login.json())["token"]
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/api/users", json=NEW_USER, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 201


async def test_a_write_from_another_origin_is_refused_even_with_the_token(
    admin: AppClient,
) -> None:
    other = "http://127.0.0.1:1"
    resp = await admin.post("/api/users", json=NEW_USER, headers={"Origin": other})
    assert resp.status == 403
    body = await resp.json()
    assert body["error"] == "bad_origin" and "Open Candor at" in body["message"]
    resp = await admin.post("/api/users", json=NEW_USER, headers={"Origin": "null"})
    assert resp.status == 403
    resp = await admin.post("/api/users", json=NEW_USER, headers={"Referer": f"{other}/x"})
    assert resp.status == 403
    own = str(admin.make_url("")).rstrip("/")
    resp = await admin.post("/api/users", json=NEW_USER, headers={"Origin": own})
    assert resp.status == 201


async def test_the_public_url_is_the_only_accepted_origin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://interviews.example.com")
    async with TestClient(TestServer(create_app(settings))) as client:
        own = str(client.make_url("")).rstrip("/")
        resp = await client.post(
            "/api/login",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            headers={"Origin": own},
        )
        assert resp.status == 403  # the request's host is not the public URL
        resp = await client.post(
            "/api/login",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            headers={"Origin": "https://interviews.example.com"},
        )
        assert resp.status == 200
        assert "Secure" in resp.headers["Set-Cookie"]
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_sockets_from_another_origin_are_refused(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    other = {"Origin": "http://127.0.0.1:1"}
    for path in (f"/ws/observer/{iv['id']}", f"/ws/candidate/{iv['invite_token']}"):
        try:
            ws = await admin.ws_connect(path, headers=other)
        except WSServerHandshakeError as exc:
            assert exc.status == 403
        else:  # pragma: no cover - the failure being tested
            await ws.close()
            raise AssertionError(f"{path} accepted a socket from another origin")
    own = {"Origin": str(admin.make_url("")).rstrip("/")}
    ws = await admin.ws_connect(f"/ws/observer/{iv['id']}", headers=own)
    assert (await ws.receive_json())["type"] == "history"
    await ws.close()


async def test_candidate_writes_need_the_origin_check_but_no_token(admin: AppClient) -> None:
    iv = await new_interview(admin)
    admin.session.cookie_jar.clear()
    del admin.session.headers["X-CSRF-Token"]
    token = iv["invite_token"]
    notice = await (await admin.get(f"/api/join/{token}")).json()
    body = {"recording": True, "ai_analysis": False, "notice_version": notice["notice_version"]}
    evil = {"Origin": "http://evil.example"}
    assert (await admin.post(f"/api/join/{token}/consent", json=body, headers=evil)).status == 403
    assert (await admin.post(f"/api/join/{token}/consent", json=body)).status == 200


async def test_every_response_carries_the_security_headers(admin: AppClient) -> None:
    iv = await new_interview(admin)
    for path in (
        "/",
        "/login",
        "/static/admin.js",
        "/api/me",
        "/no/such/page",
        f"/i/{iv['invite_token']}",
    ):
        resp = await admin.get(path)
        h = resp.headers
        csp = h["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in h  # plain http here
        devices = "camera=(self), microphone=(self)" if path.startswith("/i/") else "camera=()"
        assert devices in h["Permissions-Policy"], path
    login = await admin.post("/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert "Secure" not in login.headers["Set-Cookie"]


def test_no_page_has_inline_script_style_or_handlers() -> None:
    import re

    from server.pages import WEB_CLIENT

    for page in WEB_CLIENT.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert "<style" not in text and " style=" not in text, page.name
        assert not re.search(r"\son[a-z]+\s*=", text), page.name


async def test_deeply_nested_or_huge_json_bodies_get_400(admin: AppClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    resp = await admin.post("/api/jobs", data=deep, headers={"Content-Type": "application/json"})
    assert resp.status in (400, 413)
    for depth in (33, 900, 5000):
        body = '{"title":' + "[" * depth + "]" * depth + "}"
        resp = await admin.post("/api/jobs", data=body)
        assert resp.status == 400, (depth, await resp.text())
        assert "nests deeper than 32" in (await resp.json())["message"]
    resp = await admin.post("/api/jobs", data='{"title": "x", "pad": "' + "y" * 300_000 + '"}')
    assert resp.status in (400, 413)
    assert (await admin.post("/api/jobs", json={"title": "ok"})).status in (200, 201)


async def test_nested_json_on_sockets_closes_cleanly(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    nested = '{"type":"heartbeat","x":' + "[" * 5000 + "]" * 5000 + "}"
    ws = await candidate_ws(admin, iv["invite_token"])
    await ws.send_str(nested)
    assert await closed_with(ws) == 4400
    ws = await admin.ws_connect(f"/ws/observer/{iv['id']}")
    await ws.receive_json()
    await ws.send_str(nested)
    assert await closed_with(ws) == 4400


async def test_bad_query_parameters_get_400_with_a_message(admin: AppClient) -> None:
    for query in ("abc", "-1", "0", "99999999999999999999", "1.5"):
        resp = await admin.get(f"/api/audit?limit={query}")
        assert resp.status == 400, query
        assert "'limit'" in (await resp.json())["message"]
    assert (await admin.get("/api/audit?limit=5")).status == 200
    iv = await new_interview(admin)
    for after in ("²", "abc", "-1", "9" * 40):
        resp = await admin.get(f"/api/interviews/{iv['id']}/events", params={"after": after})
        assert resp.status == 400, after
    resp = await admin.get("/api/templates/customer_service?language=xx")
    assert resp.status == 400


async def test_a_yaml_alias_bomb_gets_a_short_400(admin: AppClient) -> None:
    job = await (await admin.post("/api/jobs", json={"title": "Engineer"})).json()
    lol = '["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    lines = [f"a0: &a0 {lol}"] + [
        f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
    ]
    bomb = "\n".join(lines) + "\nid: *a8\nlanguage: *a8\njob_title: *a8\n"
    assert len(bomb) < 800
    resp = await admin.put(
        f"/api/jobs/{job['id']}/competency-model.yaml",
        data=bomb.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert resp.status == 400
    text = await resp.text()
    assert len(text) < 2000 and "aliases" in text
    long_id = "id: " + "x" * 100_000 + "\nlanguage: " + "y" * 100_000 + "\n"
    resp = await admin.put(f"/api/jobs/{job['id']}/competency-model.yaml", data=long_id.encode())
    assert resp.status == 400
    assert all(len(e) <= 200 for e in (await resp.json())["errors"])
    assert len(await resp.text()) < 4000


async def test_a_failed_offer_closes_everything_and_marks_the_segment_failed(
    admin: AppClient, tmp_path: Path
) -> None:
    import threading

    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"], ai=False)
    svc = admin.app[SERVICES]
    threads = threading.active_count()
    # An offer that parses but makes aiortc fail later (no usable ICE/DTLS data).
    offer = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
        "a=rtpmap:111 opus/48000/2\r\na=sendonly\r\n"
    )
    for sdp in (offer, offer.replace("a=mid:0", "a=mid:0\r\na=fingerprint:sha-256 zz")):
        ws = await candidate_ws(admin, iv["invite_token"])
        await ws.send_json({"type": "offer", "sdp": sdp})
        err = await ws.receive_json()
        assert err["code"] == "bad_sdp" and len(err["message"]) < 300
        assert await closed_with(ws) == 4400
    async with svc.sessions() as session:
        statuses = (await session.scalars(select(Recording.status))).all()
    assert statuses and set(statuses) == {"failed"}
    folder = svc.settings.recordings_dir / iv["id"]
    assert not folder.exists() or not any(folder.iterdir())
    assert threading.active_count() <= threads


async def test_an_offer_failing_after_the_recorder_started_leaves_nothing(
    admin: AppClient, tmp_path: Path
) -> None:
    import threading

    from aiortc import RTCPeerConnection

    client = RTCPeerConnection()
    client.addTransceiver("audio", direction="sendonly")
    await client.setLocalDescription(await client.createOffer())
    sdp = client.localDescription.sdp
    await client.close()
    threads = {t.name for t in threading.enumerate()}
    path = tmp_path / "segment.cnd"
    peer = CandidatePeer(path, admin.app[SERVICES].master)

    async def broken() -> None:
        raise RuntimeError("aiortc failed while answering")

    peer.pc.createAnswer = broken  # type: ignore[method-assign,assignment]
    with pytest.raises(BadOffer, match="aiortc failed while answering"):
        await peer.accept(sdp)
    assert peer.recorder is not None  # it had started
    assert not path.exists()
    assert not {t.name for t in threading.enumerate()} - threads
    assert peer.pc.connectionState == "closed"
