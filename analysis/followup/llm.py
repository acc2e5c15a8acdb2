"""Optional follow-ups from any OpenAI-compatible chat-completions endpoint.

Off by default. The model sees the competency, its indicators, the question and the answer,
and replies with JSON: {"followup": "<question>" or null, "reason": "<why>"}. Any timeout,
HTTP error or unreadable reply falls back to the transparent rules, so a decision is always
back within ``timeout`` (at most 1.9 s) plus the rules' microseconds: under 2 seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import aiohttp

from analysis.followup.rules import RuleFollowups
from analysis.followup.types import FollowupRequest, FollowupStrategy, FollowupSuggestion
from analysis.http_client import LentHttpSession
from config.followup import MAX_TIMEOUT, LlmFollowupSettings

log = logging.getLogger(__name__)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")

SYSTEM_PROMPT = (
    "You are a structured behavioural interviewer. Given one competency, its observable "
    "indicators, the question asked and the candidate's answer, decide whether ONE short "
    "follow-up question is needed to complete a situation-task-action-result story "
    "(missing personal role, missing result or numbers, missing lesson after a failure, "
    "vague answer). Never evaluate or praise the candidate and never reveal a score. "
    'Reply with JSON only: {"followup": "<one question>" or null, "reason": "<short reason '
    'for the recruiter>"}. Write the follow-up in the language named by "language" '
    "(zh: Simplified Chinese, en: English)."
)


def _user_message(request: FollowupRequest) -> str:
    return json.dumps(
        {
            "language": request.language,
            "competency": request.competency_name or request.competency_id,
            "indicators": request.indicators,
            "question": request.question,
            "answer": request.answer,
            "example_probes": request.probes,
            "already_followed_up_on": request.asked_rules,
        },
        ensure_ascii=False,
    )


def parse_reply(content: str) -> FollowupSuggestion | None:
    """Read the model's JSON reply; ValueError when it is not the agreed shape."""
    data: Any = json.loads(_FENCE.sub("", content.strip()))
    if not isinstance(data, dict) or "followup" not in data:
        raise ValueError("reply is not an object with a 'followup' field")
    text = data.get("followup")
    if text is None or not str(text).strip():
        return None
    reason = str(data.get("reason") or "suggested by the language model").strip()
    return FollowupSuggestion(text=str(text).strip(), reason=reason, rule="llm", source="llm")


class LlmFollowups(LentHttpSession):
    """A FollowupStrategy calling a chat endpoint, with the rules as the fallback."""

    def __init__(
        self,
        settings: LlmFollowupSettings,
        *,
        fallback: RuleFollowups | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session)
        self.settings = settings
        self.fallback = fallback or RuleFollowups()

    async def propose(self, request: FollowupRequest) -> FollowupSuggestion | None:
        """The model's follow-up; the rules' answer on timeout or any error."""
        if request.remaining <= 0:
            return None
        if not self.settings.enabled:
            return self.fallback.propose_now(request)
        try:
            async with asyncio.timeout(min(self.settings.timeout, MAX_TIMEOUT)):
                content = await self._complete(request)
            return parse_reply(content)
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "follow-up model failed; using the rules",
                extra={"error": type(exc).__name__, "endpoint": self.settings.base_url},
            )
            return self.fallback.propose_now(request)

    async def _complete(self, request: FollowupRequest) -> str:
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        body = {
            "model": self.settings.model,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": _user_message(request)},
            ],
        }
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        async with self._client().post(url, json=body, headers=headers) as response:
            response.raise_for_status()
            data: Any = await response.json(content_type=None)
        return str(data["choices"][0]["message"]["content"])


def make_strategy(settings: LlmFollowupSettings | None = None) -> FollowupStrategy:
    """The configured strategy: the LLM when enabled, otherwise the rules."""
    if settings is not None and settings.enabled:
        return LlmFollowups(settings)
    return RuleFollowups()
