"""The OpenAPI description: every route, valid OpenAPI 3.1, one error shape, the docs page."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from server.integrations.openapi import _route_path
from tests.server.helpers import AppClient


async def spec_of(client: AppClient) -> dict[str, Any]:
    """The served description."""
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    return dict(await resp.json())


async def test_every_registered_route_is_described_and_the_description_validates(
    client: AppClient,
) -> None:
    spec = await spec_of(client)
    validate(spec)  # raises on an invalid OpenAPI 3.1 document
    assert spec["openapi"] == "3.1.0"
    missing = []
    for route in client.app.router.routes():
        if route.method == "HEAD":
            continue
        ops = spec["paths"].get(_route_path(route), {})
        if route.method.lower() not in ops:
            missing.append(f"{route.method} {_route_path(route)}")
    assert not missing, missing
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["summary"], f"{method} {path} has no summary"
            assert "401" in op["responses"] and "403" in op["responses"], (method, path)


async def test_request_and_answer_shapes_come_from_the_handlers_models(client: AppClient) -> None:
    spec = await spec_of(client)
    schemas = spec["components"]["schemas"]
    keys = spec["paths"]["/api/keys"]["post"]
    assert keys["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ApiKeyIn")
    assert set(schemas["ApiKeyIn"]["properties"]) == {"name", "scopes", "job_ids", "expires_at"}
    assert "key" in schemas["ApiKeyCreated"]["properties"]
    # found in the handler's own read_json call, without a decorator
    interview = spec["paths"]["/api/interviews"]["post"]["requestBody"]
    assert interview["content"]["application/json"]["schema"]["$ref"].endswith("InterviewIn")
    assert set(schemas["ErrorBody"]["required"]) >= {"code", "message"}


async def test_errors_have_one_shape_in_the_callers_language(client: AppClient) -> None:
    en = await client.post("/api/keys", json={"name": "x"}, headers={"Accept-Language": "en"})
    body = await en.json()
    assert en.status == 401 and body["code"] == "not_signed_in"
    assert set(body) >= {"code", "message", "details"}
    zh = await client.get("/api/keys", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    body = await zh.json()
    assert body["message"] == "请先登录。" and body["details"]["message_en"]
    await client.post("/api/login", json={"email": "nobody@example.com", "password": "x"})
    bad = await client.post("/api/login", json={"email": "", "password": ""})
    fields = (await bad.json())["details"]["fields"]
    assert [f["field"] for f in fields] == ["email", "password"]


async def test_the_docs_page_is_served_without_third_party_scripts(client: AppClient) -> None:
    resp = await client.get("/api/docs")
    html = await resp.text()
    assert (
        resp.status == 200
        and "/static/api_docs.js" in html
        and "http" not in html.split("<body>")[1].replace("/api/openapi.json", "")
    )
    js = await (await client.get("/static/api_docs.js")).text()
    assert "openapi.json" in js and "https://" not in js
