"""Outbound webhooks against real local receivers that verify Standard Webhooks signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update
from standardwebhooks import Webhook

from analysis.events import CandidateJoined, InterviewEnded
from server.app import create_app
from server.integrations.webhooks.signing import SignatureError, headers, new_secret, verify
from server.services import SERVICES, Services
from server.storage.models import Interview, WebhookMessage
from server.workflow.service import WORKFLOW
from tests.server.helpers import AppClient, log_answer, make_settings, sign_in
from tests.server.webhook_receiver import Receiver, start_receiver

FAST = {"retry_delays_s": [0.05] * 4, "poll_s": 0.02, "timeout_s": 2.0}


@pytest.fixture
async def fast_admin(tmp_path: Path) -> AsyncIterator[AppClient]:
    """A signed-in admin on an app whose webhook retries come within milliseconds."""
    app = create_app(make_settings(tmp_path, webhooks=FAST))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client)
        yield client


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    """Wait (up to 20 s) until ``check`` holds."""
    for _ in range(1000):
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def subscribe(client: AppClient, server: TestServer, **body: Any) -> dict[str, Any]:
    """Subscribe a receiver; returns {id, secret}."""
    resp = await client.post("/api/webhooks", json={"url": str(server.make_url("/hook")), **body})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def new_interview(client: AppClient, job: str) -> str:
    """A candidate and an interview on ``job``."""
    cand = await (
        await client.post("/api/candidates", json={"name": "Zhang Wei", "email": "zw@example.com"})
    ).json()
    resp = await client.post("/api/interviews", json={"job_id": job, "candidate_id": cand["id"]})
    return str((await resp.json())["id"])


async def run_interview(client: AppClient, iid: str) -> None:
    """What the live room records when a candidate joins, rejoins and finishes."""
    svc = client.app[SERVICES]
    await svc.events.append(CandidateJoined(interview_id=iid, segment=1))
    await svc.events.append(CandidateJoined(interview_id=iid, segment=2))  # a rejoin
    await svc.events.append(InterviewEnded(interview_id=iid, reason="completed"))
    async with svc.sessions() as session, session.begin():
        await session.execute(
            update(Interview).where(Interview.id == iid).values(status="finished")
        )


LIFECYCLE = [
    "interview.started",
    "interview.completed",
    "interview.scored",
    "decision.recorded",
    "candidate.deleted",
]


async def test_every_event_arrives_once_in_order_after_retries(fast_admin: AppClient) -> None:
    client = fast_admin
    flaky, personal = Receiver(fail_first=3), Receiver()
    servers = [await start_receiver(flaky), await start_receiver(personal)]
    try:
        flaky.secret = (await subscribe(client, servers[0], events=["*"]))["secret"]
        personal.secret = (
            await subscribe(
                client, servers[1], events=["interview.completed"], scopes=["candidates:read"]
            )
        )["secret"]
        assert flaky.secret.startswith("whsec_")
        job = await (
            await client.post(
                "/api/jobs", json={"title": "Engineer", "template": "software_engineer"}
            )
        ).json()
        first, second = (
            await new_interview(client, job["id"]),
            await new_interview(client, job["id"]),
        )
        for iid in (first, second):  # the two interviews' events interleave
            await run_interview(client, iid)
        for iid in (first, second):
            assert (await client.get(f"/api/interviews/{iid}/score")).status == 200
            resp = await client.post(f"/api/interviews/{iid}/decision", json={"decision": "hold"})
            assert resp.status in (200, 201), await resp.text()
            assert (await client.delete(f"/api/interviews/{iid}")).status == 200

        await eventually(lambda: len(flaky.accepted) == 10, "ten events at the flaky receiver")
        await eventually(lambda: len(personal.accepted) == 2, "two at the personal one")
        await asyncio.sleep(0.2)  # nothing more comes
        assert len(flaky.accepted) == 10 and len(set(flaky.ids)) == 10, "each event once"
        assert flaky.seen == 13 and flaky.bad_signatures == 0
        for iid in (first, second):
            mine = [e for e in flaky.accepted if e["data"]["interview_id"] == iid]
            assert [e["type"] for e in mine] == LIFECYCLE
        # ids and links always; personal data only with candidates:read, scores with results:read
        completed = next(e for e in flaky.accepted if e["type"] == "interview.completed")
        assert "candidate" not in completed["data"]
        assert (
            completed["data"]["links"]["report"] == f"/report/{completed['data']['interview_id']}"
        )
        scored = next(e for e in flaky.accepted if e["type"] == "interview.scored")
        assert "scores" in scored["data"] and "recommendation" in scored["data"]
        assert personal.accepted[0]["data"]["candidate"]["name"] == "Zhang Wei"
        assert personal.bad_signatures == 0

        hooks = await (await client.get("/api/webhooks")).json()
        flaky_id = next(h["id"] for h in hooks if h["events"] == ["*"])
        log = await (await client.get(f"/api/webhooks/{flaky_id}/deliveries")).json()
        assert sorted(a["response_code"] for a in log) == [204] * 10 + [500] * 3
        assert all(a["latency_ms"] >= 0 for a in log)
    finally:
        for server in servers:
            await server.close()


async def test_a_receiver_that_never_answers_well_is_disabled_and_admins_are_told(
    fast_admin: AppClient,
) -> None:
    client = fast_admin
    down = Receiver(fail_first=10_000)
    server = await start_receiver(down)
    try:
        made = await subscribe(client, server, events=["interview.started"])
        down.secret = made["secret"]
        job = await (await client.post("/api/jobs", json={"title": "Engineer"})).json()
        iid = await new_interview(client, job["id"])
        await client.app[SERVICES].events.append(CandidateJoined(interview_id=iid, segment=1))
        await eventually(lambda: down.seen == 5, "first try and four retries")

        async def disabled() -> bool:
            hooks = await (await client.get("/api/webhooks")).json()
            return bool(hooks[0]["disabled_at"])

        await eventually(disabled, "the endpoint is disabled")
        audit = await (await client.get("/api/audit")).json()
        assert any(a["action"] == "webhook_disabled" for a in audit)

        async def noticed() -> bool:
            notices = await (await client.get("/api/admin/notices")).json()
            return any(n["kind"] == "webhook_disabled" for n in notices)

        await eventually(noticed, "the admins are told")
        # fixed receiver, enabled again: the failed message goes out
        down.fail_first = 0
        assert (await client.post(f"/api/webhooks/{made['id']}/enable")).status == 200
        await eventually(lambda: len(down.accepted) == 1, "delivered after enabling")
        # manual redelivery sends the same message id again
        log = await (await client.get(f"/api/webhooks/{made['id']}/deliveries")).json()
        mid = log[0]["message_id"]
        resp = await client.post(f"/api/webhooks/{made['id']}/messages/{mid}/redeliver")
        assert resp.status == 200
        await eventually(lambda: len(down.accepted) == 2, "redelivered")
        assert down.ids[0] == down.ids[1]
    finally:
        await server.close()


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    fast_admin: AppClient,
) -> None:
    client = fast_admin
    receiver = Receiver()
    server = await start_receiver(receiver)
    svc = client.app[SERVICES]
    try:
        made = await subscribe(client, server, events=["interview.started"])
        receiver.secret = made["secret"]
        rotated = await (await client.post(f"/api/webhooks/{made['id']}/rotate", json={})).json()
        assert rotated["secret"] != made["secret"]
        job = await (await client.post("/api/jobs", json={"title": "Engineer"})).json()
        iid = await new_interview(client, job["id"])
        await svc.events.append(CandidateJoined(interview_id=iid, segment=1))
        await eventually(lambda: len(receiver.accepted) == 1, "the old secret still verifies")
        sent_headers, body = receiver.raw[-1]
        assert len(sent_headers["webhook-signature"].split()) == 2
        Webhook(rotated["secret"]).verify(body, sent_headers)  # and so does the new one
        # no grace: the old secret stops at once
        await client.post(f"/api/webhooks/{made['id']}/rotate", json={"grace_hours": 0})
        other = await new_interview(client, job["id"])
        await svc.events.append(CandidateJoined(interview_id=other, segment=1))
        await eventually(lambda: receiver.bad_signatures == 1, "refused with the old secret")
    finally:
        await server.close()


def test_the_verification_helper_refuses_replays_and_forgeries() -> None:
    secret, body = new_secret(), b'{"type":"interview.started"}'
    sent = headers([secret], "msg_1", 1_700_000_000, body)
    verify(secret, sent, body, now=1_700_000_100)
    for bad_secret, bad_body, now in (
        (new_secret(), body, 1_700_000_100),  # another secret
        (secret, body + b" ", 1_700_000_100),  # changed body
        (secret, body, 1_700_000_000 + 301),  # too old: a replay
    ):
        with pytest.raises(SignatureError):
            verify(bad_secret, sent, bad_body, now=now)


async def test_keys_manage_webhooks_only_with_their_scope_and_never_widen_it(
    admin: AppClient,
) -> None:
    made = await (
        await admin.post(
            "/api/keys", json={"name": "ATS", "scopes": ["webhooks:manage", "results:read"]}
        )
    ).json()
    weak = await (
        await admin.post("/api/keys", json={"name": "R", "scopes": ["results:read"]})
    ).json()
    admin.session.cookie_jar.clear()
    url = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    auth = {"Authorization": f"Bearer {made['key']}"}
    resp = await admin.post("/api/webhooks", json=url, headers=auth)
    assert resp.status == 201
    wider = await admin.post(
        "/api/webhooks", json={**url, "scopes": ["candidates:read"]}, headers=auth
    )
    assert wider.status == 400
    refused = await admin.post(
        "/api/webhooks", json=url, headers={"Authorization": f"Bearer {weak['key']}"}
    )
    assert refused.status == 403
    listed = await (await admin.get("/api/webhooks", headers=auth)).json()
    assert listed[0]["scopes"] == ["results:read", "webhooks:manage"]
    bad = await admin.post(
        "/api/webhooks", json={"url": "not a url", "events": ["nope"]}, headers=auth
    )
    fields = {f["field"] for f in (await bad.json())["details"]["fields"]}
    assert bad.status == 400 and "url" in fields


ANSWERS = [
    (
        "logical_thinking",
        "Tell me about the hardest bug you have tracked down.",
        "I found the root cause of the bug by testing two hypotheses with a reproduction "
        "script. I wrote a design note about the root cause so the team could unblock similar "
        "bugs, and as a result the error rate fell to 0.2 percent.",
    ),
    (
        "code_quality",
        "Tell me about a time you improved the quality of code.",
        "I added 15 automated tests and kept the build green for 3 months. I reviewed the code "
        "with a teammate and we improved the design of the cache module; latency dropped by 40 "
        "percent.",
    ),
    (
        "collaboration",
        "Describe a time you helped a teammate who was stuck.",
        "I helped a stuck teammate the same day by pairing on the failing tests for an hour, "
        "then we wrote down what we learned for the rest of the team.",
    ),
]


async def answer_questions(svc: Services, iid: str) -> None:
    """What the room logs while the candidate answers three questions."""
    for k, (competency, question, said) in enumerate(ANSWERS):
        await log_answer(
            svc,
            iid,
            t=5.0 + 60 * k,
            question_id=f"q{k}",
            competency_id=competency,
            question=question,
            said=said,
        )


def stage_moves(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(from, to, actor) of each stage change, in arrival order."""
    return [
        (e["data"]["from_stage"], e["data"]["to_stage"], e["data"]["actor"])
        for e in events
        if e["type"] == "candidate.stage_changed"
    ]


async def test_a_card_moving_through_the_pipeline_is_announced_once_in_order(
    fast_admin: AppClient,
) -> None:
    client = fast_admin
    svc = client.app[SERVICES]
    workflow = client.app[WORKFLOW]
    everything = Receiver(fail_first=2)  # the admin's default scopes: no personal data
    people = Receiver()  # stage changes with the person, without results
    servers = [await start_receiver(everything), await start_receiver(people)]
    try:
        everything.secret = (await subscribe(client, servers[0], events=["*"]))["secret"]
        people.secret = (
            await subscribe(
                client,
                servers[1],
                events=["candidate.stage_changed"],
                scopes=["interviews:read", "candidates:read"],
            )
        )["secret"]
        job = (
            await (
                await client.post(
                    "/api/jobs",
                    json={"title": "Engineer", "language": "en", "template": "software_engineer"},
                )
            ).json()
        )["id"]
        card = await (
            await client.post(
                f"/api/jobs/{job}/candidates",
                json={"name": "Zhang Wei", "email": "zw@example.com", "external_id": "hr-77"},
            )
        ).json()
        invited = await client.post(
            f"/api/jobs/{job}/invitations", json={"candidate_ids": [card["id"]]}
        )
        iid = (await invited.json())["results"][0]["interview_id"]

        # the live room's log; the workflow follows it (its pass run here, not on a timer)
        await svc.events.append(CandidateJoined(interview_id=iid, segment=1))
        await workflow.tick()
        await answer_questions(svc, iid)
        await svc.events.append(InterviewEnded(interview_id=iid, t=200.0, reason="completed"))
        await workflow.tick()  # done; too early to score: the status is not saved yet
        async with svc.sessions() as session, session.begin():
            await session.execute(
                update(Interview).where(Interview.id == iid).values(status="finished")
            )
        await workflow.tick()  # the retry scores it and the scorer moves the card
        decided = await client.post(f"/api/interviews/{iid}/decision", json={"decision": "advance"})
        assert decided.status in (200, 201), await decided.text()
        moved = await client.post(
            f"/api/jobs/{job}/moves",
            json={"candidate_ids": [card["id"]], "stage": "human_interview"},
        )
        assert (await moved.json())["results"][0]["status"] == "moved", await moved.text()
        await eventually(lambda: len(everything.accepted) == 10, "ten events, after retries")
        await eventually(lambda: len(people.accepted) == 6, "six stage changes")
        assert (await client.delete(f"/api/interviews/{iid}")).status == 200
        await eventually(lambda: len(everything.accepted) == 11, "and the deletion")

        async def all_delivered() -> bool:
            async with svc.sessions() as session:
                states = (await session.scalars(select(WebhookMessage.status))).all()
            return list(states) == ["delivered"] * 17

        # every message recorded as delivered, nothing left to send: no event comes twice
        await eventually(all_delivered, "the outbox holds 17 delivered messages, nothing else")
        assert len(set(everything.ids)) == 11 and len(set(people.ids)) == 6
        assert everything.seen == 13 and everything.bad_signatures == people.bad_signatures == 0

        scored = next(e for e in everything.accepted if e["type"] == "interview.scored")
        kind = scored["data"]["recommendation"]["kind"]
        verdict = {"advance": "recommended", "no_recommendation": "below_threshold"}[kind]
        assert [e["type"] for e in everything.accepted] == [
            "candidate.stage_changed",
            "interview.started",
            "candidate.stage_changed",
            "interview.completed",
            "candidate.stage_changed",
            "interview.scored",
            "candidate.stage_changed",
            "decision.recorded",
            "candidate.stage_changed",
            "candidate.stage_changed",
            "candidate.deleted",
        ]
        assert stage_moves(everything.accepted) == [
            ("screened", "invited", "person"),
            ("invited", "interview_started", "system"),
            ("interview_started", "interview_done", "system"),
            ("interview_done", verdict, "scorer"),
            (verdict, "decided", "person"),
            ("decided", "human_interview", "person"),
        ]
        changes = [e["data"] for e in everything.accepted if e["type"] == "candidate.stage_changed"]
        for data in changes:
            assert (data["interview_id"], data["job_id"], data["external_id"]) == (
                iid,
                job,
                "hr-77",
            )
            assert data["application_id"] == card["id"]
            assert data["links"]["report"] == f"/report/{iid}"
            assert "candidate" not in data, "no candidates:read, no name or email"
        assert changes[3]["recommendation"] == {"kind": kind}, "results:read: the scorer's verdict"

        # candidates:read without results:read: the person, and only that the card was scored
        assert stage_moves(people.accepted) == [
            ("screened", "invited", "person"),
            ("invited", "interview_started", "system"),
            ("interview_started", "interview_done", "system"),
            ("interview_done", "scored", "scorer"),
            ("scored", "decided", "person"),
            ("decided", "human_interview", "person"),
        ]
        for event in people.accepted:
            assert event["data"]["candidate"]["name"] == "Zhang Wei"
            assert event["data"]["candidate"]["email"] == "zw@example.com"
            assert "recommendation" not in event["data"]
    finally:
        for server in servers:
            await server.close()


async def test_a_receiver_that_times_out_gets_retries_and_pages_never_wait(
    tmp_path: Path,
) -> None:
    """Deliveries the receiver leaves unanswered time out, are retried, and arrive once, in
    order; meanwhile the API answers at once (delivery is off the request path)."""
    slow = {**FAST, "timeout_s": 0.3}
    app = create_app(make_settings(tmp_path, webhooks=slow))
    hanging = Receiver(hang_first=2)
    server = await start_receiver(hanging)
    try:
        async with TestClient(TestServer(app)) as client:
            await sign_in(client)
            hanging.secret = (await subscribe(client, server, events=["*"]))["secret"]
            job = await (
                await client.post(
                    "/api/jobs", json={"title": "Engineer", "template": "software_engineer"}
                )
            ).json()
            iid = await new_interview(client, job["id"])
            await run_interview(client, iid)
            await eventually(lambda: hanging.seen >= 1, "the first delivery reached the receiver")
            assert hanging.seen <= 2 and not hanging.accepted  # it is hanging right now
            # The receiver hangs, the pages do not.
            resp = await asyncio.wait_for(client.get(f"/api/interviews/{iid}"), 5)
            assert resp.status == 200
            await eventually(lambda: len(hanging.accepted) == 2, "both events after retries")
            assert [e["type"] for e in hanging.accepted] == [
                "interview.started",
                "interview.completed",
            ]
            assert len(set(hanging.ids)) == 2 and hanging.bad_signatures == 0
            hooks = await (await client.get("/api/webhooks")).json()
            log = await (await client.get(f"/api/webhooks/{hooks[0]['id']}/deliveries")).json()
            timed_out = [a for a in log if a["response_code"] is None]
            assert len(timed_out) == 2 and all(a["error"] for a in timed_out)
            assert sorted(a["response_code"] for a in log if a["response_code"]) == [204, 204]
    finally:
        hanging.release.set()
        await server.close()
