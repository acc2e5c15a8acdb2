"""Optional LLM judge through an OpenAI-compatible chat endpoint (vLLM, Ollama, ...).

Off unless an admin configures an endpoint (environment CANDOR_SCORING_LLM_*): no transcript
leaves the deployment otherwise. The model is given the question, the competencies with
their indicators and anchors, and the transcript, and must answer JSON: a level 1-5 per
competency with verbatim quotes and a reason. The reply is validated against a schema;
every quote is looked up verbatim in the transcript and dropped (and counted) when it is
not there. Temperature 0, a time bound per attempt, a few retries; when every attempt fails
the deterministic judge stands alone (``status == "fallback"``). When both ran, answers
where they differ by 2 levels or more are flagged for a person.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.competency.model import Competency
from analysis.http_client import LentHttpSession
from analysis.scoring.scorer import AnswerScore, Quote
from analysis.scoring.transcript import AnswerInput
from config.scoring_llm import LlmJudgeSettings

log = logging.getLogger(__name__)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_QUOTE_MARKS = "\"'“”‘’「」『』 "
DIFFERENCE_FLAG = 2

SYSTEM_PROMPT = (
    "You rate one interview answer against behaviourally anchored rating scales. For each "
    "competency given, decide the level 1-5 that the answer shows (1, 3 and 5 are described "
    "by the anchors; 2 and 4 lie between). Judge only what the candidate says they did; a "
    "list of terms without a story is level 1 or 2; a story about another competency does "
    "not count for this one. Quote the candidate's exact words (copied verbatim from the "
    "transcript, no paraphrase) that support your level. Reply with JSON only: "
    '{"competencies": [{"competency_id": "...", "level": 1-5, "quotes": ["..."], '
    '"reason": "<one sentence for the recruiter>"}]}. Write the reason in the language '
    'named by "language" (zh: Simplified Chinese, en: English).'
)


class LlmCompetencyVerdictIn(BaseModel):
    """One competency as the model must return it (the schema the reply is validated with)."""

    model_config = ConfigDict(extra="ignore")

    competency_id: str
    level: int = Field(ge=1, le=5)
    quotes: list[str] = Field(default_factory=list)
    reason: str = ""


class LlmReplyIn(BaseModel):
    """The whole reply."""

    model_config = ConfigDict(extra="ignore")

    competencies: list[LlmCompetencyVerdictIn]


class LlmVerdict(BaseModel):
    """The LLM's level for one competency, with the quotes that were found verbatim."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    level: int
    reason: str
    quotes: list[Quote] = Field(default_factory=list)
    dropped_quotes: int = 0
    deterministic_level: int | None = None
    differs: bool = False


class LlmJudgement(BaseModel):
    """The LLM judge's result for one answer, or why it fell back."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    status: Literal["judged", "fallback"]
    model: str = ""
    attempts: int = 0
    error: str | None = None
    verdicts: list[LlmVerdict] = Field(default_factory=list)
    dropped_quotes: int = 0


def level_of(score: float) -> int:
    """The 1-5 level of a 0-100 score (the inverse of ``(level - 1) * 25``)."""
    return max(1, min(5, 1 + round(score / 25)))


def verify_quote(answer: AnswerInput, text: str) -> Quote | None:
    """The quote as an exact substring of the transcript with its times, or None."""
    wanted = text.strip().strip(_QUOTE_MARKS).strip()
    if len(wanted) < 2:
        return None
    offset = answer.transcript.find(wanted)
    if offset < 0:
        return None
    end = offset + len(wanted)
    start_time, end_time = answer.started, answer.ended
    for sentence in answer.sentences:
        if sentence.offset <= offset < sentence.offset + len(sentence.text):
            start_time = sentence.start
        if sentence.offset < end <= sentence.offset + len(sentence.text):
            end_time = sentence.end
    return Quote(
        question_id=answer.question_id, text=wanted, offset=offset, start=start_time, end=end_time
    )


def user_message(answer: AnswerInput, competencies: list[Competency]) -> str:
    """The JSON the model is given: question, competencies with indicators and anchors."""
    return json.dumps(
        {
            "language": answer.language,
            "question": answer.question_text,
            "competencies": [
                {
                    "competency_id": c.id,
                    "name": c.name,
                    "description": c.description,
                    "indicators": c.indicators,
                    "anchors": {str(k): v for k, v in sorted(c.anchors.items())},
                }
                for c in competencies
            ],
            "transcript": answer.transcript,
        },
        ensure_ascii=False,
    )


def parse_reply(content: str) -> LlmReplyIn:
    """Validate the model's JSON reply (ValueError when it is not the agreed shape)."""
    try:
        data: Any = json.loads(_FENCE.sub("", content.strip()))
        return LlmReplyIn.model_validate(data)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"reply is not the agreed JSON: {type(exc).__name__}") from None


def verdicts_from(
    reply: LlmReplyIn,
    answer: AnswerInput,
    competencies: list[Competency],
    deterministic: dict[str, AnswerScore] | None = None,
) -> list[LlmVerdict]:
    """Keep verdicts about the asked competencies, verify quotes, compare with the scorer."""
    wanted = {c.id for c in competencies}
    out: list[LlmVerdict] = []
    for item in reply.competencies:
        seen = any(v.competency_id == item.competency_id for v in out)
        if item.competency_id not in wanted or seen:
            continue
        quotes = [q for q in (verify_quote(answer, t) for t in item.quotes) if q is not None]
        det = (deterministic or {}).get(item.competency_id)
        det_level = level_of(det.score) if det is not None and det.score is not None else None
        out.append(
            LlmVerdict(
                competency_id=item.competency_id,
                level=item.level,
                reason=item.reason.strip(),
                quotes=quotes,
                dropped_quotes=len(item.quotes) - len(quotes),
                deterministic_level=det_level,
                differs=det_level is not None and abs(det_level - item.level) >= DIFFERENCE_FLAG,
            )
        )
    return out


async def judge_interview(
    settings: LlmJudgeSettings,
    answers: list[AnswerInput],
    competencies: dict[str, Competency],
    deterministic: dict[tuple[str, str], AnswerScore],
) -> list[LlmJudgement]:
    """Judge every scored answer of an interview (one request per answer, in order)."""
    results: list[LlmJudgement] = []
    async with LlmJudge(settings) as judge:
        for answer in answers:
            targets = [competencies[c] for c in answer.competency_ids if c in competencies]
            if not targets or not answer.transcript.strip():
                continue
            mine = {
                c.id: deterministic[(answer.question_id, c.id)]
                for c in targets
                if (answer.question_id, c.id) in deterministic
            }
            results.append(await judge.judge(answer, targets, mine))
    return results


class LlmJudge(LentHttpSession):
    """Calls the configured endpoint; bounded in time, retried, never raises."""

    def __init__(
        self, settings: LlmJudgeSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        super().__init__(session)
        self.settings = settings

    async def judge(
        self,
        answer: AnswerInput,
        competencies: list[Competency],
        deterministic: dict[str, AnswerScore] | None = None,
    ) -> LlmJudgement:
        """The LLM's verdicts for one answer, or a fallback saying why there are none."""
        qid, model = answer.question_id, self.settings.model
        if not self.settings.enabled:
            return LlmJudgement(
                question_id=qid, model=model, status="fallback", error="not_configured"
            )
        error = "no_attempt"
        attempts = 0
        for attempt in range(self.settings.retries + 1):
            attempts = attempt + 1
            try:
                async with asyncio.timeout(self.settings.timeout):
                    content = await self._complete(answer, competencies)
                reply = parse_reply(content)
            except TimeoutError:
                error = "timeout"
            except aiohttp.ClientError as exc:
                error = f"http: {type(exc).__name__}"
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                error = f"bad_reply: {exc}"
            else:
                verdicts = verdicts_from(reply, answer, competencies, deterministic)
                return LlmJudgement(
                    question_id=qid,
                    model=model,
                    status="judged",
                    attempts=attempts,
                    verdicts=verdicts,
                    dropped_quotes=sum(v.dropped_quotes for v in verdicts),
                )
            log.warning(
                "LLM judge attempt failed",
                extra={"error": error.split(":")[0], "attempt": attempts},
            )
        return LlmJudgement(
            question_id=qid, model=model, status="fallback", attempts=attempts, error=error
        )

    async def _complete(self, answer: AnswerInput, competencies: list[Competency]) -> str:
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        body = {
            "model": self.settings.model,
            "temperature": 0,
            "max_tokens": self.settings.max_tokens,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_message(answer, competencies)},
            ],
        }
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        async with self._client().post(url, json=body, headers=headers) as response:
            response.raise_for_status()
            data: Any = await response.json(content_type=None)
        return str(data["choices"][0]["message"]["content"])
