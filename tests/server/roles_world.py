"""A seeded world for role tests: one user per role, each with an "own" job and interview.

"Own" means: the recruiter created (owns) the job; the hiring manager is a member of a job an
admin created; the interviewer is assigned one interview of a job an admin created; the
admin created its own. A second recruiter (the stranger) owns the "other" job, which nobody
else is a member of. The auditor stands in no relation to anything, so its "own" is the
admin's job. Everyone signs in with a bearer token (no cookie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.server.helpers import ADMIN_PASSWORD, sign_in

ROLES = ("admin", "recruiter", "hiring_manager", "interviewer", "auditor")
PASSWORD = "a long password for roles"
Client = TestClient[web.Request, web.Application]
TEMPLATE = "software_engineer"


@dataclass
class Seed:
    """One job, candidate and interview (with its invite token)."""

    job: str
    candidate: str
    interview: str
    token: str


@dataclass
class World:
    """Tokens and ids of the seeded users and records."""

    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    own: dict[str, Seed] = field(default_factory=dict)
    other: Seed | None = None

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of ``role``'s user."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def call(
    client: Client, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """One request with a bearer token; (status, JSON body or text)."""
    headers = {"Authorization": f"Bearer {token}"}
    resp = await client.request(method, path, json=body, headers=headers)
    raw = await resp.read()
    if "json" in resp.content_type:
        return resp.status, await resp.json()
    return resp.status, raw.decode("utf-8", "replace")


async def _ok(client: Client, token: str, method: str, path: str, body: Any = None) -> Any:
    status, data = await call(client, token, method, path, body)
    assert status in (200, 201), (method, path, status, data)
    return data


async def seed(client: Client, token: str, job: str | None = None) -> Seed:
    """A job (unless given), a candidate and an interview, made by ``token``'s user."""
    if job is None:
        made = await _ok(
            client, token, "POST", "/api/jobs", {"title": "Engineer", "template": TEMPLATE}
        )
        job = str(made["id"])
    cand = await _ok(client, token, "POST", "/api/candidates", {"name": "Wang Fang"})
    iv = await _ok(
        client, token, "POST", "/api/interviews", {"job_id": job, "candidate_id": cand["id"]}
    )
    return Seed(job=job, candidate=cand["id"], interview=iv["id"], token=iv["invite_token"])


async def add_user(client: Client, admin: str, email: str, role: str) -> tuple[str, str]:
    """Create a user with ``role``; (user id, bearer token)."""
    user = await _ok(
        client, admin, "POST", "/api/users", {"email": email, "password": PASSWORD, "role": role}
    )
    token = await sign_in(client, email, PASSWORD)
    client.session.cookie_jar.clear()
    return str(user["id"]), token


async def seed_world(client: Client) -> World:
    """Users for every role plus a stranger and a spare, and their jobs and interviews."""
    w = World()
    admin = await sign_in(client, "admin@example.com", ADMIN_PASSWORD)
    client.session.cookie_jar.clear()
    w.tokens["admin"] = admin
    me = await _ok(client, admin, "GET", "/api/me")
    w.users["admin"] = me["id"]
    for role in ROLES[1:]:
        w.users[role], w.tokens[role] = await add_user(client, admin, f"{role}@example.com", role)
    w.users["stranger"], w.tokens["stranger"] = await add_user(
        client, admin, "stranger@example.com", "recruiter"
    )
    w.users["spare"], _ = await add_user(client, admin, "spare@example.com", "hiring_manager")

    w.own["admin"] = await seed(client, admin)
    w.own["recruiter"] = await seed(client, w.tokens["recruiter"])
    hm = await seed(client, admin)
    await _ok(
        client,
        admin,
        "POST",
        f"/api/jobs/{hm.job}/members",
        {"user_id": w.users["hiring_manager"], "role": "member"},
    )
    w.own["hiring_manager"] = hm
    iv = await seed(client, admin)
    await _ok(
        client,
        admin,
        "POST",
        f"/api/interviews/{iv.interview}/access",
        {"user_id": w.users["interviewer"]},
    )
    w.own["interviewer"] = iv
    w.own["auditor"] = w.own["admin"]
    w.other = await seed(client, w.tokens["stranger"])
    return w
