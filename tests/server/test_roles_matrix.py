"""Every route × every role × own/other job, against the real app and database.

The list of routes comes from the app's router: a route added without an entry in EXPECTED
fails ``test_every_route_has_an_expectation``. Each entry says which roles may call the route
on their own job (or interview) and which on another's; everyone else must get 403, and every
403 must leave an ``access_refused`` audit entry. "Allowed" means the access check passed: any
answer but 401, 403 or a server error (a 400 for a body the route did not like is fine).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from server.app import create_app
from server.rights import RIGHTS_LINKS
from server.self_identification import CONSENT_VERSION as SELFID_VERSION
from server.services import SERVICES
from server.storage.models import AuditEntry
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings
from tests.server.roles_world import ROLES, TEMPLATE, Client, Seed, World, call, seed, seed_world

A, R, H, IV, U = "admin", "recruiter", "hiring_manager", "interviewer", "auditor"
ALL = frozenset(ROLES)


@dataclass(frozen=True)
class Rule:
    """Who may call a route on their own job/interview and on another's."""

    own: frozenset[str]
    other: frozenset[str]
    body: Any = None
    fresh: bool = False  # the call destroys its target: use a new interview each time


def job(*roles: str, body: Any = None, fresh: bool = False) -> Rule:
    """Scoped to a job or interview: ``roles`` on their own; only admins on another's."""
    return Rule(frozenset(roles), frozenset({A}), body, fresh)


def anyone(*roles: str, body: Any = None) -> Rule:
    """Not about a job: ``roles`` may call it whichever job is in question."""
    return Rule(frozenset(roles), frozenset(roles), body)


PUBLIC = Rule(ALL, ALL)  # no sign-in needed (pages' shells, invite links, sign-in itself)

EXPECTED: dict[tuple[str, str], Rule] = {
    # sign-in, users, jobs, candidates
    ("POST", "/api/login"): Rule(ALL, ALL, body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    ("POST", "/api/logout"): PUBLIC,
    ("GET", "/api/csrf"): PUBLIC,  # the token of the caller's cookie, null without one
    ("GET", "/api/me"): anyone(*ALL),
    ("POST", "/api/users"): anyone(
        A, body={"email": "new{n}@example.com", "password": "a long password 1", "role": R}
    ),
    ("GET", "/api/users"): anyone(A),
    ("POST", "/api/users/{uid}/disable"): anyone(A),
    ("POST", "/api/users/{uid}/enable"): anyone(A),
    ("POST", "/api/users/{uid}/password-link"): anyone(A),
    ("DELETE", "/api/users/{uid}"): anyone(A),
    ("GET", "/api/admin/notices"): anyone(A),
    ("POST", "/api/me/password"): anyone(
        *ALL, body={"current_password": "not it at all", "new_password": "unused password 1"}
    ),
    ("POST", "/api/password-links/check"): PUBLIC,  # the one-time link is the credential
    ("POST", "/api/password-links/use"): PUBLIC,
    ("POST", "/api/jobs"): anyone(A, R, body={"title": "Analyst"}),
    ("GET", "/api/jobs"): anyone(A, R, H),
    ("POST", "/api/candidates"): anyone(A, R, body={"name": "Zhang Wei"}),
    ("GET", "/api/candidates"): anyone(A, R),  # 400 without ?email= or ?phone=: allowed
    ("GET", "/api/metrics"): anyone(A),
    ("GET", "/api/audit"): anyone(A, U),
    ("GET", "/api/audit.csv"): anyone(A, U),
    ("GET", "/api/audit/verify"): anyone(A, U),
    ("GET", "/audit"): anyone(A, U),
    # data rights (docs/security.md): candidates, legal holds, deletion requests
    ("GET", "/api/candidates/{cid}"): job(A, R, H),
    ("DELETE", "/api/candidates/{cid}"): job(A, fresh=True),
    ("GET", "/api/interviews/{iid}/legal-hold"): job(A, R, H, IV),
    ("POST", "/api/interviews/{iid}/legal-hold"): job(A, body={}),
    ("DELETE", "/api/interviews/{iid}/legal-hold"): job(A),
    ("GET", "/api/erasure-requests"): anyone(A),
    ("POST", "/api/erasure-requests/{rid}/confirm"): anyone(A),
    # interviews
    ("POST", "/api/interviews"): job(A, R, body={"job_id": "{jid}", "candidate_id": "{cid}"}),
    ("GET", "/api/interviews"): anyone(A, R, H, IV),
    ("GET", "/api/interviews/{iid}"): job(A, R, H, IV),
    ("POST", "/api/interviews/{iid}/invite"): job(A, R),
    ("POST", "/api/interviews/{iid}/access"): job(A, R, body={"user_id": "{spare}"}),
    ("GET", "/api/interviews/{iid}/events"): job(A, R, H, IV),
    ("POST", "/api/interviews/{iid}/end"): job(A, R),
    ("DELETE", "/api/interviews/{iid}"): job(A, R, fresh=True),
    ("GET", "/api/interviews/{iid}/recordings"): job(A, R, H),
    ("GET", "/api/interviews/{iid}/recordings/{rid}/media"): job(A, R, H),
    # pages about one interview or job
    ("GET", "/observe/{iid}"): job(A, R, H, IV),
    ("GET", "/review/{iid}"): job(A, R, H),
    ("GET", "/ws/observer/{iid}"): job(A, R, H, IV),
    ("GET", "/api/interviews/{iid}/ice"): job(A, R, H, IV),  # watchers' ICE servers
    ("GET", "/api/join/{token}/ice"): PUBLIC,  # the invite token is the credential
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # loopback or a metrics token: tests/server/test_health_metrics
    ("GET", "/report/{iid}"): job(A, R, H),
    ("GET", "/calibration/{jid}"): job(A, R),
    # scores, reports, ratings, decisions, feedback
    ("GET", "/api/interviews/{iid}/score"): job(A, R, H),
    ("GET", "/api/interviews/{iid}/scores"): job(A, R, H),
    ("GET", "/api/interviews/{iid}/report"): job(A, R, H),
    ("GET", "/api/interviews/{iid}/report.json"): job(A, R, H),
    ("GET", "/api/interviews/{iid}/report.pdf"): job(A, R),  # an export
    ("GET", "/api/interviews/{iid}/ratings"): job(A, R, H),
    ("POST", "/api/interviews/{iid}/ratings"): job(
        A, R, H, IV, body={"competency_id": "code_quality", "score": 4}
    ),
    ("GET", "/api/interviews/{iid}/decision"): job(A, R, H),
    ("POST", "/api/interviews/{iid}/decision"): job(A, R, H, body={"decision": "hold"}),
    ("GET", "/api/interviews/{iid}/feedback"): job(A, R),
    ("POST", "/api/interviews/{iid}/feedback"): job(A, R, body={"text": "Thanks", "send": True}),
    # jobs: competency model, scoring settings, calibration, members
    ("GET", "/api/templates"): anyone(A, R, H),
    ("GET", "/api/templates/{key}"): anyone(A, R, H),
    ("GET", "/api/jobs/{jid}/competency-model"): job(A, R, H),
    ("GET", "/api/jobs/{jid}/competency-model.yaml"): job(A, R, H),
    ("PUT", "/api/jobs/{jid}/competency-model"): job(A, R, body={"id": "x"}),
    ("GET", "/api/jobs/{jid}/vocabulary"): job(A, R, H),
    ("PUT", "/api/jobs/{jid}/vocabulary"): job(A, R, body={"terms": ["Kubernetes"]}),
    ("PUT", "/api/jobs/{jid}/competency-model.yaml"): job(A, R, body="id: x"),
    ("POST", "/api/jobs/{jid}/competency-model/from-template"): job(A, R, body={"key": TEMPLATE}),
    ("GET", "/api/jobs/{jid}/analytics"): job(A, R, H),
    ("GET", "/api/analytics"): anyone(A),
    ("GET", "/analytics"): PUBLIC,  # the page shell; its data calls are checked
    ("POST", "/api/jobs/{jid}/score-preview"): job(
        A, R, body={"question_id": "lt-1", "text": "I read the logs and found the cause."}
    ),
    ("GET", "/api/jobs/{jid}/scoring"): job(A, R),
    ("PUT", "/api/jobs/{jid}/scoring"): job(A, R, body={"threshold": 60}),
    ("POST", "/api/jobs/{jid}/calibrate"): job(A, R),
    ("GET", "/api/jobs/{jid}/calibration"): job(A, R),
    ("GET", "/api/jobs/{jid}/calibration.json"): job(A, R),
    ("GET", "/api/jobs/{jid}/members"): job(A, R, H),
    ("POST", "/api/jobs/{jid}/members"): job(A, R, body={"user_id": "{spare}"}),
    ("DELETE", "/api/jobs/{jid}/members/{uid}"): job(A, R),
    # integrations: API keys (admins only; keys never manage keys)
    ("POST", "/api/keys"): anyone(A, body={"name": "HRMS", "scopes": ["results:read"]}),
    ("GET", "/api/keys"): anyone(A),
    ("DELETE", "/api/keys/{kid}"): anyone(A),
    # integrations: webhook endpoints (admins; keys with webhooks:manage)
    ("POST", "/api/webhooks"): anyone(A, body={"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
    ("GET", "/api/webhooks"): anyone(A),
    ("DELETE", "/api/webhooks/{wid}"): anyone(A),
    ("POST", "/api/webhooks/{wid}/rotate"): anyone(A, body={}),
    ("POST", "/api/webhooks/{wid}/enable"): anyone(A),
    ("GET", "/api/webhooks/{wid}/deliveries"): anyone(A),
    ("POST", "/api/webhooks/{wid}/messages/{mid}/redeliver"): anyone(A),
    # integrations: results export for HRMS imports
    ("GET", "/api/jobs/{jid}/results.json"): job(A, R),
    ("GET", "/api/jobs/{jid}/results.csv"): job(A, R),
    # integrations: the ATS assessment-partner API
    ("GET", "/api/partner/list_tests"): anyone(A, R, H),
    ("POST", "/api/partner/send_test"): job(
        A,
        R,
        body={
            "partner_test_id": "{jid}",
            "candidate": {"first_name": "Wei", "email": "wei@example.com"},
            "application_id": "app-{n}",
        },
    ),
    ("GET", "/api/partner/test_status"): anyone(A, R, H, IV),  # 400 without the id: allowed
    # recruiting workflow (docs/workflow.md)
    ("POST", "/api/jobs/{jid}/candidates/import"): job(A, R, body="name,email,phone\n"),
    ("POST", "/api/jobs/{jid}/candidates"): job(
        A, R, body={"name": "Zhao Min", "email": "zm{n}@example.com"}
    ),
    ("POST", "/api/jobs/{jid}/invitations"): job(A, R, body={"candidate_ids": ["{cid}"]}),
    ("POST", "/api/jobs/{jid}/reminders"): job(A, R, body={"candidate_ids": ["{cid}"]}),
    ("POST", "/api/jobs/{jid}/moves"): job(
        A, R, body={"candidate_ids": ["{cid}"], "stage": "invited"}
    ),
    ("GET", "/api/jobs/{jid}/pipeline"): job(A, R, H),
    ("GET", "/api/jobs/{jid}/applications/{aid}"): job(A, R, H),
    ("GET", "/api/jobs/{jid}/messages"): job(A, R, H),
    ("GET", "/api/jobs/{jid}/tracking"): job(A, R, H),
    ("GET", "/api/jobs/{jid}/settings"): job(A, R),
    ("PUT", "/api/jobs/{jid}/settings"): job(A, R, body={"title": "Engineer"}),
    ("GET", "/api/message-templates"): anyone(A),
    ("PUT", "/api/message-templates/{key}/{lang}"): anyone(
        A, body={"subject": "Hi", "text": "Hello"}
    ),
    ("DELETE", "/api/message-templates/{key}/{lang}"): anyone(A),
    ("POST", "/api/message-templates/{key}/{lang}/preview"): anyone(
        A, body={"subject": "Hi", "text": "Hello"}
    ),
    ("GET", "/message-templates"): PUBLIC,
    ("POST", "/api/jobs/{jid}/applications/{aid}/human-interview"): job(
        A, R, body={"starts_at": "2026-12-01T10:00:00+08:00"}
    ),
    ("DELETE", "/api/jobs/{jid}/applications/{aid}/human-interview"): job(A, R),
    ("GET", "/jobs/{jid}"): PUBLIC,
    ("GET", "/api/join/{token}/slots"): PUBLIC,
    ("POST", "/api/join/{token}/slot"): Rule(ALL, ALL, body={"start": "x"}),
    ("POST", "/api/join/{token}/survey"): Rule(ALL, ALL, body={"rating": 5}),
    # the candidate's voluntary self-identification: only their own links, no signed-in role
    ("POST", "/api/join/{token}/self-id"): Rule(
        ALL, ALL, body={"consent": True, "consent_version": "{selfid}", "gender": "female"}
    ),
    ("DELETE", "/api/join/{token}/self-id"): PUBLIC,
    ("DELETE", "/api/my/{token}/self-id"): PUBLIC,
    # public: page shells (their data comes from the API above) and the candidate's invite
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/jobs"): PUBLIC,
    ("GET", "/users"): PUBLIC,
    ("GET", "/account"): PUBLIC,
    ("GET", "/set-password"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/i/{token}"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/sso/providers"): PUBLIC,
    ("GET", "/sso/oidc/start"): PUBLIC,  # 404 when not configured
    ("GET", "/sso/oidc/callback"): PUBLIC,
    ("GET", "/sso/wecom/start"): PUBLIC,
    ("GET", "/sso/wecom/callback"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/join/{token}"): PUBLIC,
    ("POST", "/api/join/{token}/consent"): Rule(
        ALL, ALL, body={"recording": True, "ai_analysis": True, "notice_version": "{notice}"}
    ),
    ("GET", "/ws/candidate/{token}"): PUBLIC,
    # the candidate's self-service link (its own signed token, tested with one)
    ("GET", "/my/{token}"): PUBLIC,
    ("GET", "/api/my/{token}"): PUBLIC,
    ("GET", "/api/my/{token}/export.json"): PUBLIC,
    ("GET", "/api/my/{token}/recordings/{rid}"): PUBLIC,
    ("POST", "/api/my/{token}/withdraw-ai"): PUBLIC,
    ("POST", "/api/my/{token}/erasure"): PUBLIC,
}


def registered_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, HEAD left out (it mirrors GET)."""
    out = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        out.append((route.method, route.resource.canonical if route.resource else ""))
    return sorted(set(out))


def test_every_route_has_an_expectation(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    routes = registered_routes(app)
    missing = [r for r in routes if r not in EXPECTED]
    assert not missing, f"routes without an entry in EXPECTED (say who may call them): {missing}"
    stale = [r for r in EXPECTED if r not in routes]
    assert not stale, f"EXPECTED names routes the app no longer has: {stale}"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Client, World]]:
    app = create_app(make_settings(tmp_path))
    async with TestClient(TestServer(app)) as client:
        yield client, await seed_world(client)


def fill(template: Any, values: dict[str, str]) -> Any:
    """Put ids into a path or body template."""
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


async def refusals(client: Client) -> int:
    """How many refused accesses the audit log holds."""
    svc = client.app[SERVICES]
    async with svc.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "access_refused")
        )
    return int(count or 0)


async def test_every_route_every_role_own_and_other_job(
    world: tuple[Client, World],
) -> None:
    client, w = world
    assert w.other is not None
    notice = (await (await client.get(f"/api/join/{w.own['admin'].token}")).json())[
        "notice_version"
    ]
    svc = client.app[SERVICES]
    rights = client.app[RIGHTS_LINKS].issue(w.own["admin"].candidate, svc.now())
    failures: list[str] = []
    refused = 0
    for (method, path), rule in sorted(EXPECTED.items(), key=lambda kv: kv[1].fresh):
        if rule is PUBLIC or path in (
            "/api/login",
            "/api/join/{token}/consent",
            "/api/join/{token}/survey",
            "/api/join/{token}/slot",
            "/api/join/{token}/self-id",
        ):
            target = "/static/style.css" if path == "/static" else path
            token = rights if "/my/" in path else w.own["admin"].token
            values = {"token": token, "notice": notice, "rid": "no-such-recording",
                      "selfid": SELFID_VERSION}
            client.session.cookie_jar.clear()  # anonymous: no cookie (roles use bearer tokens)
            resp = await client.request(method, fill(target, values), json=fill(rule.body, values))
            if resp.status in (401, 403) or resp.status >= 500:
                failures.append(
                    f"{method} {path} anonymous: {resp.status} {await resp.text()}, expected public"
                )
            continue
        for role, scope in itertools.product(ROLES, ("own", "other")):
            target_seed: Seed = w.own[role] if scope == "own" else w.other
            if rule.fresh:
                owner = "stranger" if scope == "other" else ("admin" if role != R else R)
                target_seed = await seed(client, w.tokens[owner], target_seed.job)
            values = {
                "iid": target_seed.interview,
                "jid": target_seed.job,
                "cid": target_seed.candidate,
                "rid": "no-such-recording",
                "uid": "no-such-user",
                "kid": "no-such-key",
                "wid": "no-such-webhook",
                "mid": "1",
                "aid": target_seed.candidate,
                "lang": "en",
                "key": TEMPLATE,
                "spare": w.users["spare"],
                "n": str(len(failures)) + role + scope,
            }
            status, data = await call(
                client, w.tokens[role], method, fill(path, values), fill(rule.body, values)
            )
            allowed = role in (rule.own if scope == "own" else rule.other)
            where = f"{method} {path} as {role} on {scope} job"
            if status >= 500 or status == 401:
                failures.append(f"{where}: {status} {data}")
            elif allowed and status == 403:
                failures.append(f"{where}: refused (403 {data}) but should be allowed")
            elif not allowed and status != 403:
                failures.append(f"{where}: {status}, should be refused with 403")
            elif status == 403:
                refused += 1
                message = data.get("message", "") if isinstance(data, dict) else str(data)
                if "ask" not in message and "ask" not in str(data):
                    failures.append(f"{where}: 403 without a next step: {message!r}")
    assert not failures, "\n".join(failures)
    assert await refusals(client) == refused, "every refusal is audited"
