"""Signing-key rotation: old tokens verify during the grace period, API keys survive it."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from run import rotate_secret
from server.app import create_app
from server.auth import COOKIE, SessionCodec
from server.keys import KeyFileError, previous_secret_file, secret_key_bytes
from server.secret_rotation import rotate_secret_key
from server.signing import BadSignature, Signer
from tests.server.helpers import AppClient, make_settings, new_interview, sign_in


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AppClient]:
    """A fresh app process on ``settings`` (keys are read at start, as after a restart)."""
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


def as_browser(cookie: str, csrf: str) -> dict[str, str]:
    """The headers a signed-in page sends: its session cookie and its CSRF token."""
    return {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf}


async def issued_before_rotation(client: AppClient) -> dict[str, Any]:
    """Sign in, make an API key and an interview; return every token a user holds."""
    bearer_token = await sign_in(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    csrf = str(client.session.headers["X-CSRF-Token"])
    made = await client.post("/api/keys", json={"name": "HRMS", "scopes": ["results:read"]})
    assert made.status == 201, await made.text()
    iv = await new_interview(client)
    notice = await (await client.get(f"/api/join/{iv['invite_token']}")).json()
    return {
        "bearer": bearer_token,
        "cookie": cookie,
        "csrf": csrf,
        "api_key": (await made.json())["key"],
        "invite": iv["invite_token"],
        "rights": notice["rights_url"].split("/my/")[1],
    }


async def test_old_tokens_verify_during_the_grace_period_and_fail_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, secret_key=None)  # data/secret.key, as in production
    async with running(settings) as client:
        old = await issued_before_rotation(client)
    old_secret = secret_key_bytes(settings)

    assert rotate_secret(settings, drop_previous=False) == 0
    assert "1 previous key(s) still accepted" in capsys.readouterr().out
    new_secret = secret_key_bytes(settings)
    assert new_secret != old_secret and len(new_secret) == 32
    line = previous_secret_file(settings).read_text().split()
    assert base64.b64decode(line[0]) == old_secret
    assert datetime.strptime(line[1], "%Y-%m-%dT%H:%M:%SZ").year >= 2026  # dated
    assert previous_secret_file(settings).stat().st_mode & 0o777 == 0o600

    async with running(settings) as client:  # grace period: everything issued before works
        browser = as_browser(old["cookie"], old["csrf"])
        assert (await client.get("/api/me", headers=browser)).status == 200
        resp = await client.post("/api/jobs", json={"title": "After rotation"}, headers=browser)
        assert resp.status == 201, await resp.text()  # old session cookie + old CSRF token
        bearer = {"Authorization": f"Bearer {old['bearer']}"}
        assert (await client.get("/api/me", headers=bearer)).status == 200
        assert (await client.get(f"/api/join/{old['invite']}")).status == 200
        assert (await client.get(f"/api/my/{old['rights']}")).status == 200
        api_key = {"Authorization": f"Bearer {old['api_key']}"}
        assert (await client.get("/api/jobs", headers=api_key)).status == 200

        new_token = await sign_in(client)  # new tokens are signed with the new key only
        now = datetime.now(UTC)
        assert SessionCodec(new_secret, timedelta(hours=1)).session_id(new_token, now)
        with pytest.raises(BadSignature):
            Signer(old_secret, "session").unsign(new_token)

    assert rotate_secret(settings, drop_previous=True) == 0
    assert "Dropped 1 previous" in capsys.readouterr().out
    assert not previous_secret_file(settings).exists()

    async with running(settings) as client:  # grace period over
        browser = as_browser(old["cookie"], old["csrf"])
        assert (await client.get("/api/me", headers=browser)).status == 401
        bearer = {"Authorization": f"Bearer {old['bearer']}"}
        assert (await client.get("/api/me", headers=bearer)).status == 401
        resp = await client.get(f"/api/join/{old['invite']}")
        assert resp.status == 401 and (await resp.json())["error"] == "invalid_invite"
        assert (await client.get(f"/api/my/{old['rights']}")).status == 401
        api_key = {"Authorization": f"Bearer {old['api_key']}"}  # API keys outlive rotations
        assert (await client.get("/api/jobs", headers=api_key)).status == 200
        assert (
            await client.get("/api/me", headers={"Authorization": f"Bearer {new_token}"})
        ).status == 200


async def test_a_csrf_token_of_a_retired_key_is_refused_once_the_key_is_dropped(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, secret_key=None)
    async with running(settings) as client:
        old = await issued_before_rotation(client)
    rotate_secret_key(settings)
    async with running(settings) as client:
        fresh = await sign_in(client)  # new session; the old key's CSRF token for it is wrong
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
        assert fresh and cookie != old["cookie"]
        resp = await client.post(
            "/api/jobs", json={"title": "x"}, headers=as_browser(cookie, old["csrf"])
        )
        assert resp.status == 403 and (await resp.json())["error"] == "csrf"


async def test_keys_from_the_environment_use_candor_previous_secret_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = base64.b64encode(os.urandom(32)).decode()
    settings = make_settings(tmp_path, secret_key=first)
    async with running(settings) as client:
        old = await issued_before_rotation(client)
    with pytest.raises(KeyFileError, match="CANDOR_PREVIOUS_SECRET_KEYS"):
        rotate_secret_key(settings)  # the command cannot rewrite an environment variable

    monkeypatch.setenv("CANDOR_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("CANDOR_PREVIOUS_SECRET_KEYS", f'["{first}"]')
    from_env = Settings()  # the operator's new environment, parsed as at start
    assert [k.get_secret_value() for k in from_env.previous_secret_keys] == [first]
    env_settings = settings.model_copy(
        update={
            "secret_key": from_env.secret_key,
            "previous_secret_keys": from_env.previous_secret_keys,
        }
    )
    async with running(env_settings) as client:
        bearer = {"Authorization": f"Bearer {old['bearer']}"}
        assert (await client.get("/api/me", headers=bearer)).status == 200
        assert (await client.get(f"/api/join/{old['invite']}")).status == 200
        api_key = {"Authorization": f"Bearer {old['api_key']}"}
        assert (await client.get("/api/jobs", headers=api_key)).status == 200
    dropped = env_settings.model_copy(update={"previous_secret_keys": []})
    async with running(dropped) as client:
        bearer = {"Authorization": f"Bearer {old['bearer']}"}
        assert (await client.get("/api/me", headers=bearer)).status == 401
        api_key = {"Authorization": f"Bearer {old['api_key']}"}
        assert (await client.get("/api/jobs", headers=api_key)).status == 200
