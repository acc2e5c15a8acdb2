"""Sign-in through the real app: argon2id rehash, throttling, lock-out notices, equal-time
answers, the password policy, server-side sessions and their revocation, one-time links and
user management by admins (issue 11)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from server.app import create_app
from server.keys import secret_key_bytes
from server.passwords import Passwords
from server.services import SERVICES, Services
from server.signin.throttle import RedisCounters, counter_key
from server.storage.models import AdminNoticeRow, AuditEntry, SessionRow, User
from tests.mail import free_port, mail_settings
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings, sign_in
from tests.server.test_invites_and_signing import scrypt_hash

Client = TestClient[web.Request, web.Application]
REC_EMAIL = "rec@example.com"
REC_PASSWORD = "a long password 1"


def svc_of(client: Client) -> Services:
    assert client.app is not None
    return client.app[SERVICES]


async def add_recruiter(admin: Client, email: str = REC_EMAIL) -> str:
    resp = await admin.post(
        "/api/users", json={"email": email, "password": REC_PASSWORD, "role": "recruiter"}
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def login(client: Client, email: str, password: str) -> Any:
    """Sign in from another browser: the client's own cookie (the admin's) is kept."""
    async with ClientSession(cookie_jar=DummyCookieJar()) as other:
        resp = await other.post(
            client.make_url("/api/login"), json={"email": email, "password": password}
        )
        await resp.read()
        return resp


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit_actions(client: Client) -> list[str]:
    async with svc_of(client).sessions() as db:
        rows = (await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    return [r.action for r in rows]


# -- hashing -----------------------------------------------------------------------------


async def test_an_old_scrypt_hash_is_replaced_by_argon2id_at_the_next_sign_in(
    client: Client,
) -> None:
    svc = svc_of(client)
    async with svc.sessions() as db, db.begin():
        await db.execute(
            update(User)
            .where(User.email == ADMIN_EMAIL)
            .values(password_hash=scrypt_hash(ADMIN_PASSWORD))
        )
    assert (await login(client, ADMIN_EMAIL, "wrong password here")).status == 401
    async with svc.sessions() as db:
        before = await db.scalar(select(User.password_hash))
    assert before is not None and before.startswith("scrypt$")
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status == 200
    async with svc.sessions() as db:
        stored = await db.scalar(select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert (await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status == 200


async def test_an_unknown_account_is_checked_against_the_dummy_hash(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = Passwords.dummy_verify

    def spy(self: Passwords, password: str) -> None:
        calls.append(password)
        real(self, password)

    monkeypatch.setattr(Passwords, "dummy_verify", spy)
    resp = await login(client, "nobody@example.com", "some password 123")
    assert resp.status == 401
    assert (await resp.json())["error"] == "bad_credentials"
    assert calls == ["some password 123"]
    resp = await login(client, ADMIN_EMAIL, "some password 123")
    assert (await resp.json())["error"] == "bad_credentials"  # same answer, real hash checked
    assert calls == ["some password 123"]


# -- throttling --------------------------------------------------------------------------


async def test_repeated_failures_get_429_with_retry_after_doubling(admin: Client) -> None:
    svc = svc_of(admin)
    clock = [svc.now()]
    svc.now = lambda: clock[0]
    for _ in range(5):
        assert (await login(admin, ADMIN_EMAIL, "not the password")).status == 401
    resp = await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)  # even the right one waits
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "30"
    assert (await resp.json())["error"] == "too_many_attempts"
    clock[0] += timedelta(seconds=31)
    assert (await login(admin, ADMIN_EMAIL, "not the password")).status == 401
    resp = await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert resp.status == 429 and resp.headers["Retry-After"] == "60"
    clock[0] += timedelta(seconds=61)
    assert (await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status == 200
    # A success resets the account: five more failures are free again.
    for _ in range(4):
        assert (await login(admin, ADMIN_EMAIL, "not the password")).status == 401
    assert (await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status == 200
    actions = await audit_actions(admin)
    assert actions.count("login_failed") == 10 and "login_throttled" in actions


async def test_concurrent_guesses_get_no_more_tries_than_one_by_one(client: Client) -> None:
    svc = svc_of(client)
    frozen = svc.now()
    svc.now = lambda: frozen
    guesses = [login(client, ADMIN_EMAIL, f"guess number {i}") for i in range(20)]
    statuses = sorted(r.status for r in await asyncio.gather(*guesses))
    assert statuses == [401] * 5 + [429] * 15


async def test_one_address_trying_many_accounts_is_throttled(client: Client) -> None:
    svc = svc_of(client)
    frozen = svc.now()
    svc.now = lambda: frozen
    for i in range(20):
        resp = await login(client, f"guess{i}@example.com", "not the password")
        assert resp.status == 401
    resp = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert resp.status == 429 and resp.headers["Retry-After"] == "30"


async def test_a_lockout_is_audited_and_noticed_to_admins(admin: Client, tmp_path: Path) -> None:
    await add_recruiter(admin)
    for _ in range(5):
        await login(admin, REC_EMAIL, "not the password")
    assert "account_locked" in await audit_actions(admin)
    notices = await (await admin.get("/api/admin/notices")).json()
    assert len(notices) == 1
    assert notices[0]["kind"] == "account_locked"
    assert REC_EMAIL in notices[0]["body"]
    assert notices[0]["email_status"] == "not sent: email not configured"


async def test_a_lockout_notice_is_emailed_to_admins_over_smtp(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        settings = make_settings(
            tmp_path,
            **mail_settings(port, "candor@example.com"),
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            for _ in range(5):
                await login(client, ADMIN_EMAIL, "not the password")
            async with svc_of(client).sessions() as db:
                notice = await db.scalar(select(AdminNoticeRow))
    finally:
        smtp.stop()
    assert notice is not None and notice.email_status == "sent to 1 of 1 admins"
    assert [e.rcpt_tos for e in received] == [[ADMIN_EMAIL]]


@pytest.mark.redis
async def test_counters_are_shared_through_redis(tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    settings = make_settings(tmp_path, bus="redis")
    email = f"shared-{tmp_path.name}@example.com"
    async with (
        TestClient(TestServer(create_app(settings))) as one,
        TestClient(TestServer(create_app(settings))) as two,
    ):
        for i in range(5):
            await login(one if i % 2 else two, email, "not the password")
        resp = await login(two, email, "not the password")
        assert resp.status == 429
    secret = secret_key_bytes(settings)
    keys = [
        RedisCounters.PREFIX + counter_key(secret, "account", email),
        RedisCounters.PREFIX + counter_key(secret, "address", "127.0.0.1"),
    ]
    r = aioredis.from_url(settings.redis_url)
    assert await r.delete(*keys) == 2  # the counters were in Redis, under this app's secret
    await r.aclose()


# -- password policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("1234567890", "password_too_short"),
        ("password1234", "password_common"),
        ("rec@example.com-2026", "password_personal"),
        ("Li Lei the great 99", "password_personal"),
    ],
)
async def test_weak_passwords_are_refused_with_a_reason_in_both_languages(
    admin: Client, password: str, code: str
) -> None:
    resp = await admin.post(
        "/api/users", json={"email": REC_EMAIL, "password": password, "name": "Li Lei"}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == code
    assert re.search(r"[a-z]{4}", body["message"]) and re.search(
        r"[\u4e00-\u9fff]", body["message"]
    )


async def test_a_generated_first_admin_password_satisfies_the_policy(tmp_path: Path) -> None:
    from server.app import FIRST_ADMIN_PASSWORD
    from server.signin.password_policy import policy_error

    settings = make_settings(tmp_path, admin_password=None)
    async with TestClient(TestServer(create_app(settings))) as client:
        assert client.app is not None
        password = client.app[FIRST_ADMIN_PASSWORD]
        assert password is not None
        assert policy_error(password, email=settings.admin_email) is None
        assert (await login(client, settings.admin_email, password)).status == 200


# -- server-side sessions ----------------------------------------------------------------


async def test_logout_ends_the_session_and_its_bearer_token_at_once(client: Client) -> None:
    token = await sign_in(client)
    assert (await client.get("/api/me", headers=bearer(token))).status == 200
    async with svc_of(client).sessions() as db:
        row = await db.scalar(select(SessionRow))
    assert row is not None and row.client_address == "127.0.0.1" and row.user_agent
    assert (await client.post("/api/logout")).status == 200
    resp = await client.get("/api/me", headers=bearer(token))
    assert resp.status == 401
    assert "session has ended" in (await resp.json())["message"]


async def test_a_password_change_ends_every_other_session(admin: Client) -> None:
    await add_recruiter(admin)
    other = await (await login(admin, REC_EMAIL, REC_PASSWORD)).json()
    mine = await (await login(admin, REC_EMAIL, REC_PASSWORD)).json()
    resp = await admin.post(
        "/api/me/password",
        json={"current_password": "wrong one entirely", "new_password": "new long secret 42"},
        headers=bearer(mine["token"]),
    )
    assert resp.status == 400 and (await resp.json())["error"] == "bad_current_password"
    resp = await admin.post(
        "/api/me/password",
        json={"current_password": REC_PASSWORD, "new_password": "short"},
        headers=bearer(mine["token"]),
    )
    assert (await resp.json())["error"] == "password_too_short"
    resp = await admin.post(
        "/api/me/password",
        json={"current_password": REC_PASSWORD, "new_password": "new long secret 42"},
        headers=bearer(mine["token"]),
    )
    assert resp.status == 200, await resp.text()
    assert (await admin.get("/api/me", headers=bearer(other["token"]))).status == 401
    assert (await admin.get("/api/me", headers=bearer(mine["token"]))).status == 200
    assert (await login(admin, REC_EMAIL, REC_PASSWORD)).status == 401
    assert (await login(admin, REC_EMAIL, "new long secret 42")).status == 200


async def test_disabling_a_user_ends_their_sessions_and_refuses_sign_in(admin: Client) -> None:
    uid = await add_recruiter(admin)
    token = (await (await login(admin, REC_EMAIL, REC_PASSWORD)).json())["token"]
    assert (await admin.get("/api/interviews", headers=bearer(token))).status == 200
    assert (await admin.post(f"/api/users/{uid}/disable")).status == 200
    assert (await admin.get("/api/interviews", headers=bearer(token))).status == 401
    resp = await login(admin, REC_EMAIL, REC_PASSWORD)
    assert resp.status == 401 and (await resp.json())["error"] == "account_disabled"
    assert (await admin.post(f"/api/users/{uid}/enable")).status == 200
    assert (await login(admin, REC_EMAIL, REC_PASSWORD)).status == 200


async def test_an_expired_session_row_is_refused_and_later_pruned(admin: Client) -> None:
    token = await sign_in(admin)
    svc = svc_of(admin)
    async with svc.sessions() as db, db.begin():
        await db.execute(update(SessionRow).values(expires_at=svc.now() - timedelta(seconds=1)))
    resp = await admin.get("/api/me", headers=bearer(token))
    assert resp.status == 401 and "expired" in (await resp.json())["message"]
    async with svc.sessions() as db, db.begin():
        await db.execute(update(SessionRow).values(expires_at=svc.now() - timedelta(days=31)))
    await sign_in(admin)  # a sign-in drops the user's sessions that ended a month ago
    async with svc.sessions() as db:
        assert len((await db.scalars(select(SessionRow))).all()) == 1


# -- one-time links and user management --------------------------------------------------


async def test_an_invited_user_sets_a_password_once_with_the_link(admin: Client) -> None:
    resp = await admin.post("/api/users", json={"email": "new@example.com", "name": "Wang Fang"})
    assert resp.status == 201
    url = (await resp.json())["link_url"]
    assert "/set-password#" in url
    token = url.split("#", 1)[1]
    # No password yet: sign-in fails like any wrong password.
    assert (await login(admin, "new@example.com", "anything at all 1")).status == 401
    check = await admin.post("/api/password-links/check", json={"token": token})
    assert (await check.json())["email"] == "new@example.com"
    weak = await admin.post(
        "/api/password-links/use", json={"token": token, "password": "wangfang-2026-x"}
    )
    assert (await weak.json())["error"] == "password_personal"
    ok = await admin.post(
        "/api/password-links/use", json={"token": token, "password": "tea kettle orbit 7"}
    )
    assert ok.status == 200
    again = await admin.post(
        "/api/password-links/use", json={"token": token, "password": "another one here 8"}
    )
    assert again.status == 410 and "already been used" in (await again.json())["message"]
    assert (await login(admin, "new@example.com", "tea kettle orbit 7")).status == 200
    forged = await admin.post("/api/password-links/check", json={"token": token[:-4] + "AAAA"})
    assert forged.status == 404


async def test_a_reset_link_expires_and_ends_sessions_when_used(admin: Client) -> None:
    uid = await add_recruiter(admin)
    token = (await (await login(admin, REC_EMAIL, REC_PASSWORD)).json())["token"]
    svc = svc_of(admin)
    first = await (await admin.post(f"/api/users/{uid}/password-link")).json()
    second = await (await admin.post(f"/api/users/{uid}/password-link")).json()
    old = first["link_url"].split("#", 1)[1]
    new = second["link_url"].split("#", 1)[1]
    resp = await admin.post("/api/password-links/check", json={"token": old})
    assert resp.status == 410  # a newer link replaced it
    real_now = svc.now
    svc.now = lambda: real_now() + timedelta(hours=73)
    resp = await admin.post("/api/password-links/use", json={"token": new, "password": "x" * 20})
    assert resp.status == 410 and "expired" in (await resp.json())["message"]
    svc.now = real_now
    resp = await admin.post(
        "/api/password-links/use", json={"token": new, "password": "fresh start pass 5"}
    )
    assert resp.status == 200
    assert (await admin.get("/api/me", headers=bearer(token))).status == 401
    assert (await login(admin, REC_EMAIL, "fresh start pass 5")).status == 200


async def test_only_admins_manage_users(admin: Client) -> None:
    uid = await add_recruiter(admin)
    admin_id = (await (await admin.get("/api/me")).json())["id"]
    rec = bearer((await (await login(admin, REC_EMAIL, REC_PASSWORD)).json())["token"])
    for method, path in [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("POST", f"/api/users/{admin_id}/disable"),
        ("POST", f"/api/users/{admin_id}/enable"),
        ("POST", f"/api/users/{admin_id}/password-link"),
        ("DELETE", f"/api/users/{admin_id}"),
        ("GET", "/api/admin/notices"),
    ]:
        body = {"email": "x@example.com"} if method == "POST" else None
        resp = await admin.request(method, path, json=body, headers=rec)
        assert resp.status == 403, (method, path, resp.status)
        anon = await admin.request(method, path, json=body, cookies={}, headers=bearer("x.y"))
        assert anon.status == 401, (method, path)
    users = await (await admin.get("/api/users")).json()
    assert {u["email"] for u in users} == {ADMIN_EMAIL, REC_EMAIL}
    assert all("password_hash" not in u for u in users)
    # An admin cannot lock themselves out, nor remove the last admin.
    assert (await admin.post(f"/api/users/{admin_id}/disable")).status == 403
    assert (await admin.delete(f"/api/users/{admin_id}")).status == 403
    assert (await admin.delete(f"/api/users/{uid}")).status == 200
    assert (await admin.get("/api/interviews", headers=rec)).status == 401
    assert (await login(admin, REC_EMAIL, REC_PASSWORD)).status == 401


async def test_deleting_a_user_keeps_their_interviews(admin: Client) -> None:
    uid = await add_recruiter(admin)
    rec = bearer((await (await login(admin, REC_EMAIL, REC_PASSWORD)).json())["token"])
    job = await (await admin.post("/api/jobs", json={"title": "Engineer"}, headers=rec)).json()
    cand = await (await admin.post("/api/candidates", json={"name": "Li Lei"}, headers=rec)).json()
    resp = await admin.post(
        "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}, headers=rec
    )
    iv = await resp.json()
    assert (await admin.delete(f"/api/users/{uid}")).status == 200
    listed = await (await admin.get("/api/interviews")).json()
    assert [i["id"] for i in listed] == [iv["id"]]
    assert listed[0]["created_by"] is None


async def test_an_open_observer_socket_stops_taking_commands_after_logout(
    admin: Client,
) -> None:
    from tests.server.helpers import new_interview

    iv = await new_interview(admin)
    token = (await (await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).json())["token"]
    ws = await admin.ws_connect(f"/ws/observer/{iv['id']}", headers=bearer(token))
    assert (await ws.receive_json())["type"] == "history"
    await admin.post("/api/logout", headers=bearer(token))
    await ws.send_json({"type": "inject_question", "text": "What did you learn?"})
    async with asyncio.timeout(10):
        while not ws.closed:
            await ws.receive()
    assert ws.close_code == 4401
    await sign_in(admin)  # the logout answer cleared the client's cookie too
    events = await (await admin.get(f"/api/interviews/{iv['id']}/events")).json()
    assert "question_injected" not in [e["type"] for e in events]


async def test_a_database_from_before_sessions_upgrades_and_its_scrypt_users_sign_in(
    tmp_path: Path,
) -> None:
    from alembic import command
    from sqlalchemy import text

    from server.storage.db import alembic_config, make_engine

    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.db_url)
    cfg = alembic_config(settings.db_url)

    def to_0003(conn: Any) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")

    async with engine.begin() as conn:
        await conn.run_sync(to_0003)
        await conn.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, role, created_at) "
                "VALUES ('u1', :email, 'Admin', :hash, 'admin', CURRENT_TIMESTAMP)"
            ),
            {"email": ADMIN_EMAIL, "hash": scrypt_hash(ADMIN_PASSWORD)},
        )
    await engine.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        token = await sign_in(client)
        assert (await client.get("/api/me", headers=bearer(token))).status == 200
        async with svc_of(client).sessions() as db:
            user = await db.get(User, "u1")
        assert user is not None and not user.disabled
        assert user.password_hash.startswith("$argon2id$")
    # The migration steps down and up again with the data in place.
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(cfg).get_revision("0004_signin")
    assert revision is not None
    before_signin = revision.down_revision
    engine = make_engine(settings.db_url)

    def down_and_up(conn: Any) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before_signin))
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(down_and_up)
        assert (await conn.execute(text("SELECT count(*) FROM users"))).scalar() == 1
    await engine.dispose()


@pytest.mark.postgres
async def test_sessions_links_and_user_management_on_postgresql(
    tmp_path: Path,
    pg_url: str,
) -> None:
    settings = make_settings(tmp_path, database_url=pg_url)
    async with TestClient(TestServer(create_app(settings))) as admin:
        await sign_in(admin)
        created = await (await admin.post("/api/users", json={"email": REC_EMAIL})).json()
        token = created["link_url"].split("#", 1)[1]
        use = {"token": token, "password": REC_PASSWORD}
        assert (await admin.post("/api/password-links/use", json=use)).status == 200
        rec = bearer((await (await login(admin, REC_EMAIL, REC_PASSWORD)).json())["token"])
        assert (await admin.get("/api/me", headers=rec)).status == 200
        assert (await admin.post(f"/api/users/{created['id']}/disable")).status == 200
        assert (await admin.get("/api/me", headers=rec)).status == 401
        for _ in range(5):
            await login(admin, ADMIN_EMAIL, "not the password")
        notices = await (await admin.get("/api/admin/notices")).json()
        assert [n["kind"] for n in notices] == ["account_locked"]
        assert (await admin.delete(f"/api/users/{created['id']}")).status == 200
