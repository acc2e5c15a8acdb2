"""Single sign-on against a local OIDC provider and a fake WeCom server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.server.helpers import AppClient, make_settings, sign_in
from tests.server.sso_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeWecom,
    Provider,
    start_provider,
    start_wecom,
)

PERSON = {"sub": "u-42", "email": "li.na@corp.example", "name": "Li Na", "candor_role": "hr"}


async def app_with(tmp_path: Path, **sso: Any) -> TestClient[Any, Any]:
    """A started app with these SSO settings (close it when done)."""
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(make_settings(tmp_path, sso=sso)))
    )
    await client.start_server()
    return client


@pytest.fixture
async def oidc(tmp_path: Path) -> AsyncIterator[tuple[AppClient, Provider]]:
    """An app wired to a fresh in-process provider."""
    provider = Provider(user=dict(PERSON))
    server = await start_provider(provider)
    client = await app_with(
        tmp_path,
        oidc_discovery_url=f"{provider.base}/.well-known/openid-configuration",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_allowed_domains=["corp.example"],
        oidc_role_map={"hr": "recruiter", "boss": "hiring_manager"},
    )
    try:
        yield client, provider
    finally:
        await client.close()
        await server.close()


async def sign_in_with_provider(client: AppClient) -> tuple[int, str, str]:
    """Start at Candor, let the provider sign in, come back: (status, location, body)."""
    start = await client.get("/sso/oidc/start", allow_redirects=False)
    assert start.status == 302, await start.text()
    async with ClientSession() as browser:
        at_provider = await browser.get(start.headers["Location"], allow_redirects=False)
        back = urlsplit(at_provider.headers["Location"])
    resp = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    return resp.status, resp.headers.get("Location", ""), await resp.text()


async def test_oidc_sign_in_creates_a_session_with_the_mapped_role(
    oidc: tuple[AppClient, Provider],
) -> None:
    client, _provider = oidc
    status, location, _ = await sign_in_with_provider(client)
    assert (status, location) == (302, "/")
    me = await (await client.get("/api/me")).json()
    assert me["email"] == "li.na@corp.example" and me["role"] == "recruiter"
    # the second time the same user is found by their provider identity
    client.session.cookie_jar.clear()
    assert (await sign_in_with_provider(client))[0] == 302
    assert (await (await client.get("/api/me")).json())["id"] == me["id"]


async def test_state_mismatch_reused_codes_and_wrong_nonces_are_refused_clearly(
    oidc: tuple[AppClient, Provider],
) -> None:
    client, provider = oidc
    start = await client.get("/sso/oidc/start", allow_redirects=False)
    async with ClientSession() as browser:
        at_provider = await browser.get(start.headers["Location"], allow_redirects=False)
    back = urlsplit(at_provider.headers["Location"])
    code = parse_qs(back.query)["code"][0]
    forged = await client.get(f"/sso/oidc/callback?code={code}&state=forged")
    assert forged.status == 401 and "sso_state_mismatch" in await forged.text()
    assert "登录" in await forged.text() and 'href="/login"' in await forged.text()
    ok = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert ok.status == 302
    # the same code again (a replay, or an expired code): refused by the provider
    client.session.cookie_jar.clear()
    again_start = await client.get("/sso/oidc/start", allow_redirects=False)
    state = parse_qs(urlsplit(again_start.headers["Location"]).query)["state"][0]
    replay = await client.get(f"/sso/oidc/callback?code={code}&state={state}")
    assert replay.status == 401 and "sso_code_refused" in await replay.text()
    provider.wrong_nonce = True
    status, _, body = await sign_in_with_provider(client)
    assert status == 401 and "sso_token_invalid" in body
    assert (await client.get("/api/me")).status == 401


async def test_unknown_domains_are_refused_and_jit_can_be_switched_off(
    tmp_path: Path,
) -> None:
    provider = Provider(user={**PERSON, "email": "someone@gmail.com"})
    server = await start_provider(provider)
    base = {
        "oidc_discovery_url": f"{provider.base}/.well-known/openid-configuration",
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
    }
    client = await app_with(tmp_path / "a", **base, oidc_allowed_domains=["corp.example"])
    strict = await app_with(tmp_path / "b", **base, jit_create=False, password_signin=False)
    try:
        status, _, body = await sign_in_with_provider(client)
        assert status == 403 and "sso_domain_refused" in body and "域名" in body
        provider.user = dict(PERSON)
        status, _, body = await sign_in_with_provider(strict)
        assert status == 403 and "sso_no_account" in body
        login = await strict.post("/api/login", json={"email": "a@b.c", "password": "x"})
        assert login.status == 403 and (await login.json())["code"] == "password_signin_off"
        offered = await (await strict.get("/api/sso/providers")).json()
        assert offered == {"password": False, "oidc": True, "wecom": False}
    finally:
        await client.close()
        await strict.close()
        await server.close()


async def test_wecom_qr_sign_in_maps_the_member_to_a_candor_user(tmp_path: Path) -> None:
    wecom = FakeWecom(
        members={"zhangwei": {"userid": "zhangwei", "name": "张伟", "email": "zw@corp.example"}}
    )
    server = await start_wecom(wecom)
    client = await app_with(
        tmp_path,
        wecom_corp_id="wwcorp",
        wecom_agent_id="1000002",
        wecom_secret="appsecret",
        wecom_api_base=str(server.make_url("")),
        wecom_qr_url="https://wecom.invalid/wwopen/sso/qrConnect",
    )
    try:
        await sign_in(client)
        made = await client.post(
            "/api/users",
            json={
                "email": "zw@corp.example",
                "password": "a long password 1",
                "role": "hiring_manager",
            },
        )
        assert made.status == 201
        client.session.cookie_jar.clear()

        async def scan(code: str) -> tuple[int, str]:
            start = await client.get("/sso/wecom/start", allow_redirects=False)
            qr = urlsplit(start.headers["Location"])
            query = parse_qs(qr.query)
            assert qr.path == "/wwopen/sso/qrConnect" and query["appid"] == ["wwcorp"]
            assert query["agentid"] == ["1000002"]
            wecom.codes[code] = "zhangwei"
            resp = await client.get(
                f"/sso/wecom/callback?code={code}&state={query['state'][0]}", allow_redirects=False
            )
            return resp.status, await resp.text()

        assert (await scan("CODE1"))[0] == 302
        me = await (await client.get("/api/me")).json()
        assert me["email"] == "zw@corp.example" and me["role"] == "hiring_manager"
        # an expired or used code
        client.session.cookie_jar.clear()
        start = await client.get("/sso/wecom/start", allow_redirects=False)
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        expired = await client.get(f"/sso/wecom/callback?code=OLD&state={state}")
        assert expired.status == 401 and "sso_code_refused" in await expired.text()
        # the second scan finds the member by their WeCom userid
        assert (await scan("CODE2"))[0] == 302
    finally:
        await client.close()
        await server.close()
