"""The LLM strategy against a local stub speaking /v1/chat/completions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from analysis.followup.llm import LlmFollowups, make_strategy, parse_reply
from analysis.followup.rules import RuleFollowups
from analysis.followup.types import FollowupRequest
from config.followup import LlmFollowupSettings

WE_EN = (
    "At my last company the checkout page was slow. We analysed the logs, we found a slow "
    "query, we rewrote it and we added caching. In the end the page load time dropped from "
    "4 seconds to 1.2 seconds and conversion went up 8 percent."
)
REQUEST = FollowupRequest(
    parent_id="lt-1",
    main_question_id="lt-1",
    language="en",
    competency_id="logical_thinking",
    competency_name="Logical thinking",
    indicators=["Finds root causes by testing hypotheses."],
    question="Tell me about the hardest bug you have tracked down.",
    answer=WE_EN,
)


class Stub:
    """An OpenAI-compatible chat endpoint whose behaviour each test chooses."""

    def __init__(self) -> None:
        self.mode = "answer"
        self.reply: dict[str, Any] = {
            "followup": "Which hypothesis did you test first?",
            "reason": "No hypotheses named.",
        }
        self.received: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        self.headers.append(request.headers.get("Authorization"))
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "error":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        content = json.dumps(self.reply) if self.mode == "answer" else "not json at all"
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@pytest.fixture
async def stub() -> AsyncIterator[tuple[Stub, str]]:
    stub = Stub()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", stub.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield stub, str(server.make_url("/v1"))
    finally:
        stub.release.set()
        await server.close()


def settings_for(base_url: str, timeout: float = 1.5) -> LlmFollowupSettings:
    return LlmFollowupSettings(
        enabled=True,
        base_url=base_url,
        model="stub-model",
        api_key=SecretStr("k-123"),
        timeout=timeout,
    )


async def test_a_normal_reply_becomes_a_follow_up(stub: tuple[Stub, str]) -> None:
    server, url = stub
    async with LlmFollowups(settings_for(url)) as strategy:
        found = await strategy.propose(REQUEST)
    assert found is not None
    assert (found.text, found.source, found.rule) == (
        "Which hypothesis did you test first?",
        "llm",
        "llm",
    )
    assert found.reason == "No hypotheses named."
    (body,) = server.received
    assert body["model"] == "stub-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    sent = json.loads(body["messages"][1]["content"])
    assert sent["competency"] == "Logical thinking" and sent["answer"] == WE_EN
    assert server.headers == ["Bearer k-123"]


async def test_the_model_may_decide_no_follow_up_is_needed(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.reply = {"followup": None, "reason": "complete"}
    async with LlmFollowups(settings_for(url)) as strategy:
        assert await strategy.propose(REQUEST) is None


async def test_a_hanging_endpoint_falls_back_to_the_rules_within_2_seconds(
    stub: tuple[Stub, str],
) -> None:
    server, url = stub
    server.mode = "hang"
    loop = asyncio.get_running_loop()
    async with LlmFollowups(settings_for(url, timeout=0.3)) as strategy:
        began = loop.time()
        found = await strategy.propose(REQUEST)
        elapsed = loop.time() - began
    assert found == RuleFollowups().propose_now(REQUEST)
    assert found is not None and found.rule == "personal_role"
    assert elapsed < 2.0


async def test_a_500_error_falls_back_to_the_rules(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.mode = "error"
    async with LlmFollowups(settings_for(url)) as strategy:
        found = await strategy.propose(REQUEST)
    assert found is not None and (found.rule, found.source) == ("personal_role", "rules")


async def test_an_unreadable_reply_falls_back_to_the_rules(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.mode = "garbage"
    async with LlmFollowups(settings_for(url)) as strategy:
        found = await strategy.propose(REQUEST)
    assert found is not None and found.source == "rules"


async def test_nothing_listening_falls_back_to_the_rules() -> None:
    async with LlmFollowups(settings_for("http://127.0.0.1:9/v1")) as strategy:
        found = await strategy.propose(REQUEST)
    assert found is not None and found.source == "rules"


def test_off_by_default_and_timeouts_capped_under_two_seconds() -> None:
    assert LlmFollowupSettings().enabled is False
    assert isinstance(make_strategy(LlmFollowupSettings()), RuleFollowups)
    with pytest.raises(ValueError, match=r"less than or equal to 1\.9"):
        LlmFollowupSettings(timeout=5)


def test_replies_in_code_fences_are_read() -> None:
    found = parse_reply('```json\n{"followup": "你本人做了什么？", "reason": "只说了我们"}\n```')
    assert found is not None and found.text == "你本人做了什么？"
    with pytest.raises(ValueError):
        parse_reply('{"question": "x"}')
