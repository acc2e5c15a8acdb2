"""The optional LLM judge against a fake OpenAI-compatible server (real HTTP on loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from analysis.competency.templates import load_template
from analysis.scoring import answer_from_text, score_interview
from analysis.scoring.llm_judge import LlmJudge, level_of, verify_quote
from config.scoring_llm import LlmJudgeSettings
from tests.scoring.answers import SPECIFIC_EN

MODEL = load_template("software_engineer", "en")
COMPETENCY = MODEL.competency("logical_thinking")
ANSWER = answer_from_text(
    "lt-1", SPECIFIC_EN, "en", question_text=COMPETENCY.questions[0].text,
    competency_ids=["logical_thinking"],
)
REAL_QUOTE = "I tested each hypothesis with a load test and ruled out memory within two days."


@dataclass
class FakeLlm:
    """Replies in turn with the given behaviours: a dict (JSON), a string, or a delay."""

    replies: list[Any]
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            reply = good(2)
        if isinstance(reply, int):
            return web.Response(status=reply, text="overloaded")
        content = reply if isinstance(reply, str) else json.dumps(reply)
        return web.json_response({"choices": [{"message": {"content": content}}]})


def good(level: int, quotes: list[str] | None = None) -> dict[str, Any]:
    return {
        "competencies": [
            {
                "competency_id": "logical_thinking",
                "level": level,
                "quotes": quotes if quotes is not None else [REAL_QUOTE],
                "reason": "Tests hypotheses with evidence.",
            }
        ]
    }


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeLlm, str]]:
    llm = FakeLlm(replies=[])
    app = web.Application()
    app.router.add_post("/v1/chat/completions", llm.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield llm, str(server.make_url("/v1"))
    await server.close()


def settings(url: str, **extra: Any) -> LlmJudgeSettings:
    values: dict[str, Any] = {"timeout": 2.0, **extra}
    return LlmJudgeSettings(enabled=True, base_url=url, model="fake", **values)


def deterministic() -> dict[str, Any]:
    score = score_interview("i", [ANSWER], MODEL).competency("logical_thinking").answers[0]
    return {"logical_thinking": score}


async def test_good_json_is_verified_and_compared_with_the_deterministic_judge(
    fake: tuple[FakeLlm, str],
) -> None:
    llm, url = fake
    llm.replies = [good(5)]
    async with LlmJudge(settings(url)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY], deterministic())
    assert result.status == "judged" and result.attempts == 1
    [verdict] = result.verdicts
    assert verdict.level == 5 and verdict.dropped_quotes == 0
    quote = verdict.quotes[0]
    assert SPECIFIC_EN[quote.offset : quote.offset + len(quote.text)] == REAL_QUOTE
    sent = llm.requests[0]
    assert sent["temperature"] == 0
    user = json.loads(sent["messages"][1]["content"])
    assert user["competencies"][0]["anchors"]["5"] == COMPETENCY.anchors[5]
    assert user["transcript"] == SPECIFIC_EN
    assert verdict.deterministic_level is not None and not verdict.differs


async def test_a_level_two_apart_from_the_deterministic_judge_is_flagged(
    fake: tuple[FakeLlm, str],
) -> None:
    llm, url = fake
    llm.replies = [good(1)]
    async with LlmJudge(settings(url)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY], deterministic())
    [verdict] = result.verdicts
    assert verdict.deterministic_level is not None and verdict.deterministic_level >= 3
    assert verdict.differs


async def test_invented_quotes_are_dropped_and_counted(fake: tuple[FakeLlm, str]) -> None:
    llm, url = fake
    llm.replies = [good(4, [REAL_QUOTE, "I rewrote the whole system in Rust overnight."])]
    async with LlmJudge(settings(url)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY])
    assert result.dropped_quotes == 1
    assert [q.text for q in result.verdicts[0].quotes] == [REAL_QUOTE]


async def test_malformed_json_is_retried_then_accepted(fake: tuple[FakeLlm, str]) -> None:
    llm, url = fake
    llm.replies = ["{not json", {"competencies": [{"competency_id": "logical_thinking"}]}, good(3)]
    async with LlmJudge(settings(url, retries=2)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY])
    assert result.status == "judged" and result.attempts == 3


async def test_slow_or_failing_endpoints_fall_back_within_the_bound(
    fake: tuple[FakeLlm, str],
) -> None:
    llm, url = fake
    llm.replies = [1.0]
    async with LlmJudge(settings(url, timeout=0.2, retries=1)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY])
    assert result.status == "fallback" and result.error == "timeout" and result.attempts == 2
    llm.replies = [503]
    llm.requests.clear()
    async with LlmJudge(settings(url, retries=0)) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY])
    assert result.status == "fallback" and result.error is not None
    assert result.error.startswith("http")


async def test_without_an_endpoint_nothing_is_sent() -> None:
    async with LlmJudge(LlmJudgeSettings()) as judge:
        result = await judge.judge(ANSWER, [COMPETENCY])
    assert result.status == "fallback" and result.error == "not_configured"


def test_quote_verification_is_verbatim_and_levels_map_back() -> None:
    assert verify_quote(ANSWER, f"“{REAL_QUOTE}”") is not None
    assert verify_quote(ANSWER, REAL_QUOTE.lower()) is None
    assert [level_of(s) for s in (0, 25, 50, 74, 100)] == [1, 2, 3, 4, 5]
