"""Editing message templates through the API: checks in zh and en, preview, reset, use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.workflow.messages import LANGUAGES, TEMPLATE_KEYS, check_template, default_template
from tests.server.helpers import AppClient, make_settings, sign_in

GOOD = {
    "subject": "Interview for $job",
    "text": "Dear $name, the link: $url (by $deadline, about $minutes min). It costs $$0.",
    "html": "<p>Dear $name, <a href='$url'>start</a></p>",
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[AppClient]:
    async with TestClient(TestServer(create_app(make_settings(tmp_path)))) as client:
        await sign_in(client)
        yield client


async def put(api: AppClient, body: dict[str, str], lang: str = "en", accept: str = "en") -> Any:
    resp = await api.put(
        f"/api/message-templates/invite/{lang}", json=body, headers={"Accept-Language": accept}
    )
    return resp.status, await resp.json()


def test_every_built_in_template_passes_the_checks_an_edit_must_pass() -> None:
    for key in TEMPLATE_KEYS:
        for lang in LANGUAGES:
            check_template(key, default_template(key, lang))


@pytest.mark.parametrize(
    ("change", "code", "field", "zh"),
    [
        ({"text": "Hi $name, your pay: $salary. $url"}, "unknown_placeholder", "text", "$salary"),
        ({"text": "Hi $name, please come."}, "missing_placeholder", "text", "$url"),
        ({"subject": "Costs $ 5"}, "bad_placeholder", "subject", "$$"),
        ({"subject": "   "}, "empty_field", "subject", "主题不能为空"),
        ({"html": "<p onclick='x()'>$name</p>"}, "unsafe_html", "html", "脚本"),
        ({"html": "<script src=x></script>"}, "unsafe_html", "html", "脚本"),
        ({"text": "x" * 20_001 + "$url"}, "too_long", "text", "20000"),
    ],
)
async def test_a_broken_template_is_refused_naming_the_field_in_the_callers_language(
    api: AppClient, change: dict[str, str], code: str, field: str, zh: str
) -> None:
    status, body = await put(api, {**GOOD, **change})
    assert status == 400 and body["code"] == code and body["details"]["field"] == field
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    status, body = await put(api, {**GOOD, **change}, accept="zh-CN,zh;q=0.9")
    assert status == 400 and zh in body["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    listed = await (await api.get("/api/message-templates")).json()
    assert not any(t["edited"] for t in listed)  # nothing was stored


async def test_preview_save_and_reset(api: AppClient) -> None:
    listed = await (await api.get("/api/message-templates")).json()
    assert len(listed) == len(TEMPLATE_KEYS) * 2
    invite_zh = next(t for t in listed if t["key"] == "invite" and t["language"] == "zh")
    assert invite_zh["placeholders"] == ["name", "job", "url", "deadline", "minutes", "privacy_url"]
    assert invite_zh["required"] == ["url"] and invite_zh["channels"] == ["email"]
    hr = next(t for t in listed if t["key"] == "hr_completion")
    assert hr["channels"] == ["email", "wecom"]

    draft = {**GOOD, "html": "<p>Dear $name, <a href='$url'>start</a> <b>$job</b></p>"}
    resp = await api.post("/api/message-templates/invite/zh/preview", json=draft)
    shown = await resp.json()
    assert resp.status == 200 and shown["subject"] == "Interview for 后端工程师"
    assert "Dear 张伟, the link: https://candor.example.com/i/SAMPLE-TOKEN" in shown["text"]
    assert "It costs $0." in shown["text"] and shown["wecom"] is None
    notice = await (
        await api.post(
            "/api/message-templates/hr_completion/en/preview",
            json={"subject": "Done: $job", "text": "See $review_url"},
        )
    ).json()
    assert (
        notice["wecom"].startswith("**Done: Backend engineer**") and "Alex" not in notice["wecom"]
    )
    listed = await (await api.get("/api/message-templates")).json()
    assert not any(t["edited"] for t in listed)  # a preview stores nothing

    status, _ = await put(api, draft, lang="zh")
    assert status == 200
    listed = await (await api.get("/api/message-templates")).json()
    edited = [(t["key"], t["language"]) for t in listed if t["edited"]]
    assert edited == [("invite", "zh")]
    assert next(t for t in listed if t["edited"])["subject"] == "Interview for $job"

    resp = await api.delete("/api/message-templates/invite/zh")
    assert resp.status == 200
    assert (await resp.json())["subject"] == default_template("invite", "zh").subject
    listed = await (await api.get("/api/message-templates")).json()
    assert not any(t["edited"] for t in listed)
    assert (await api.delete("/api/message-templates/nope/zh")).status == 404
