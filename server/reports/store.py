"""Stored scores, scorer versions, human ratings and decisions.

A stored score is never changed: scoring again with the same scorer version returns the
stored row, and a new scorer version (after calibration) adds a new, dated row that
references the one it supersedes. The candidate's status comes only from the newest
recorded human decision (``status_from_decision``); without one it is awaiting review.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analysis.competency import CompetencyModel, CompetencyModelError, parse_competency_model
from analysis.events import (
    Event,
    FaceDeliverySummarized,
    QuestionAnswered,
    QuestionShown,
    TranscriptFinal,
    TranscriptRecord,
    VoiceDeliverySummarized,
)
from analysis.scoring import (
    AnswerInput,
    CandidateStatus,
    HumanDecision,
    HumanRating,
    InterviewScore,
    JobScoring,
    Recommendation,
    ScorerVersion,
    answer_from_events,
    awaiting_review,
    default_version,
    score_interview,
    status_from_decision,
)
from analysis.scoring.llm_judge import LlmJudgement, judge_interview
from config.scoring_llm import LlmJudgeSettings
from server.errors import Conflict
from server.integrations.webhooks.hooks import interview_payload
from server.integrations.webhooks.outbox import emit_webhook
from server.storage.models import (
    Consent,
    HumanDecisionRow,
    HumanRatingRow,
    Interview,
    Job,
    JobScoringRow,
    ScoreRow,
    ScorerVersionRow,
)

Sessions = async_sessionmaker[AsyncSession]


class JobScoringOptions(BaseModel):
    """What a job sets for scoring; stored per job, defaults when never set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(70.0, ge=0, le=100, description="Total at which to recommend.")
    delivery_enabled: bool = Field(False, description="Use delivery signals (low weight).")
    min_scored_weight: int = Field(50, ge=0, le=100)
    candidate_feedback: bool = Field(
        False, description="Reserved: a short non-score message to the candidate (not built)."
    )

    def job_scoring(self) -> JobScoring:
        """The scorer's view of these options."""
        return JobScoring(
            threshold=self.threshold,
            delivery_enabled=self.delivery_enabled,
            min_scored_weight=self.min_scored_weight,
        )


def competency_model(job: Job) -> CompetencyModel:
    """The job's competency model, or 409 when it has none (nothing to score against)."""
    if job.competency_model is None:
        raise Conflict(
            "This job has no competency model, so its interviews cannot be scored.",
            code="no_competency_model",
        )
    try:
        return parse_competency_model(job.competency_model)
    except CompetencyModelError as exc:
        raise Conflict(f"The job's competency model is not valid: {exc}") from exc


async def job_options(sessions: Sessions, job_id: str) -> JobScoringOptions:
    """The job's scoring options (defaults when never set)."""
    async with sessions() as session:
        row = await session.get(JobScoringRow, job_id)
    return JobScoringOptions() if row is None else JobScoringOptions(**row.options)


async def save_job_options(sessions: Sessions, job_id: str, options: JobScoringOptions) -> None:
    """Store the job's scoring options."""
    async with sessions() as session, session.begin():
        row = await session.get(JobScoringRow, job_id)
        if row is None:
            session.add(JobScoringRow(job_id=job_id, options=options.model_dump()))
        else:
            row.options = options.model_dump()
            row.updated_at = datetime.now(UTC)


async def job_versions(sessions: Sessions, job_id: str) -> list[ScorerVersionRow]:
    """The job's calibrated versions, newest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(ScorerVersionRow)
            .where(ScorerVersionRow.job_id == job_id)
            .order_by(ScorerVersionRow.created_at.desc(), ScorerVersionRow.id.desc())
        )
        return list(rows.all())


async def current_version(sessions: Sessions, job_id: str) -> ScorerVersion:
    """The newest calibrated version of the job, else the documented default."""
    rows = await job_versions(sessions, job_id)
    return ScorerVersion.model_validate(rows[0].version) if rows else default_version()


async def save_version(
    sessions: Sessions, version: ScorerVersion, report: dict[str, Any], created_by: str
) -> ScorerVersion:
    """Store a new calibrated version (a second one in the same second gets a suffix)."""
    assert version.job_id is not None
    async with sessions() as session, session.begin():
        vid, n = version.id, 1
        while await session.get(ScorerVersionRow, vid) is not None:
            n += 1
            vid = f"{version.id}-{n}"
        if vid != version.id:
            version = version.model_copy(update={"id": vid})
            report = {**report, "version_id": vid}
        session.add(
            ScorerVersionRow(
                id=vid,
                job_id=version.job_id,
                parent_id=version.parent_id or "",
                created_at=version.created_at,
                created_by=created_by,
                version=version.model_dump(mode="json"),
                report=report,
            )
        )
    return version


# How long after an answer's record pass was queued scoring waits for it; past that the
# answer is scored from its live finals (and says so: transcript_source "live").
RECORD_WAIT_S = 300.0


def latest_records(events: Sequence[Event]) -> dict[str, TranscriptRecord]:
    """The newest transcript-of-record event of each answer (pending, ready or failed)."""
    out: dict[str, TranscriptRecord] = {}
    for e in events:
        if isinstance(e, TranscriptRecord):
            if e.status == "pending" and out.get(e.question_id) is not None:
                continue  # a late duplicate "pending" never hides a result
            out[e.question_id] = e
    return out


def records_outstanding(
    events: Sequence[Event], now: datetime, wait_s: float | None = None
) -> float:
    """Seconds scoring should still wait for a pending record pass (0: score now)."""
    bound = RECORD_WAIT_S if wait_s is None else wait_s
    left = 0.0
    for record in latest_records(events).values():
        if record.status == "pending":
            at = record.at if record.at.tzinfo else record.at.replace(tzinfo=UTC)
            left = max(left, bound - (now - at).total_seconds())
    return left


def answers_from_history(events: Sequence[Event], language: str) -> list[AnswerInput]:
    """Scorable answers (main, follow-up, observer questions with a competency) from the log.

    Each answer's transcript is its ready transcript of record when there is one, else its
    live finals.
    """
    records = latest_records(events)
    shown: dict[str, str] = {}
    finals: list[TranscriptFinal] = []
    voice: dict[str, VoiceDeliverySummarized] = {}
    face: dict[str, FaceDeliverySummarized] = {}
    answered: list[QuestionAnswered] = []
    for e in events:
        if isinstance(e, QuestionShown):
            shown[e.question_id] = e.text
        elif isinstance(e, TranscriptFinal):
            finals.append(e)
        elif isinstance(e, VoiceDeliverySummarized):
            voice[e.question_id] = e
        elif isinstance(e, FaceDeliverySummarized):
            face[e.question_id] = e
        elif isinstance(e, QuestionAnswered):
            answered.append(e)
    return [
        answer_from_events(
            a,
            finals,
            "zh" if language == "zh" else "en",
            question_text=shown.get(a.question_id, ""),
            voice=voice.get(a.question_id),
            face=face.get(a.question_id),
            record=records.get(a.question_id),
        )
        for a in answered
        if a.kind != "practice" and a.competency_id
    ]


def _score_of(row: ScoreRow) -> InterviewScore:
    return InterviewScore.model_validate(row.score)


async def score_rows(sessions: Sessions, interview_id: str) -> list[ScoreRow]:
    """Every stored score of an interview, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(ScoreRow).where(ScoreRow.interview_id == interview_id).order_by(ScoreRow.id)
        )
        return list(rows.all())


async def ensure_score(
    sessions: Sessions,
    interview: Interview,
    job: Job,
    events: Sequence[Event],
    now: datetime,
    llm: LlmJudgeSettings | None = None,
) -> InterviewScore:
    """The stored score for the job's current version, computed and stored on first use."""
    if interview.status != "finished":
        raise Conflict(
            "The interview has not finished; it is scored once it ends.", code="not_finished"
        )
    model = competency_model(job)
    if not await ai_analysis_allowed(sessions, interview.id):
        raise Conflict(
            "The candidate did not agree to AI analysis or withdrew it, so there is no AI "
            "score. Review the recording and rate each competency yourself.",
            code="no_ai_consent",
        )
    version = await current_version(sessions, job.id)
    rows = await score_rows(sessions, interview.id)
    for row in rows:
        if row.scorer_version == version.id:
            return _score_of(row)
    wait = records_outstanding(events, now)
    if wait > 0:
        raise Conflict(
            "The final transcript of this interview is still being made; the score is ready "
            f"within {wait:.0f} s. Reload the page then.",
            code="transcript_pending",
        )
    options = await job_options(sessions, job.id)
    previous = rows[-1] if rows else None
    # Measuring meaning is CPU work (sentence encoder): off the event loop.
    answers = answers_from_history(events, model.language)
    computed = await asyncio.to_thread(
        score_interview,
        interview.id,
        answers,
        model,
        version,
        options.job_scoring(),
        supersedes=_score_of(previous).id if previous else None,
    )
    score = computed.model_copy(update={"created_at": now})
    stored = score.model_dump(mode="json")
    if llm is not None and llm.enabled:
        judged = await judge_interview(
            llm,
            answers,
            {c.id: c for c in model.competencies},
            {(a.question_id, a.competency_id): a for c in score.competencies for a in c.answers},
        )
        stored[LLM_KEY] = [j.model_dump(mode="json") for j in judged]
    try:
        async with sessions() as session, session.begin():
            session.add(
                ScoreRow(
                    interview_id=interview.id,
                    scorer_version=version.id,
                    created_at=now,
                    supersedes=previous.id if previous else None,
                    total=score.total,
                    score=stored,
                )
            )
            payload = await interview_payload(session, interview)
            payload.update(scored_at=now.isoformat(), **score_summary(score))
            await emit_webhook(session, "interview.scored", payload)
    except IntegrityError:
        # Scored at the same time by another request: keep the row that was stored first.
        for row in await score_rows(sessions, interview.id):
            if row.scorer_version == version.id:
                return _score_of(row)
        raise
    return score


LLM_KEY = "llm"


def llm_judgements(row: ScoreRow) -> list[LlmJudgement]:
    """The LLM judge's results stored with a score (none when it was not configured)."""
    return [LlmJudgement.model_validate(j) for j in row.score.get(LLM_KEY, [])]


async def stored_llm(sessions: Sessions, interview_id: str, version_id: str) -> list[LlmJudgement]:
    """The LLM judgements stored with the interview's score of ``version_id``."""
    for row in await score_rows(sessions, interview_id):
        if row.scorer_version == version_id:
            return llm_judgements(row)
    return []


async def ai_analysis_allowed(sessions: Sessions, interview_id: str) -> bool:
    """False when the newest consent of the interview declines (or withdrew) AI analysis."""
    async with sessions() as session:
        latest = await session.scalar(
            select(Consent.ai_analysis)
            .where(Consent.interview_id == interview_id)
            .order_by(Consent.agreed_at.desc())
            .limit(1)
        )
    return latest is None or bool(latest)


def score_summary(score: InterviewScore) -> dict[str, Any]:
    """Total, recommendation and per-competency scores, for results consumers."""
    return {
        "scorer_version": score.scorer_version,
        "total": score.total,
        "recommendation": score.recommendation.model_dump(mode="json"),
        "scores": {c.competency_id: c.score for c in score.competencies},
    }


async def ratings(sessions: Sessions, interview_id: str) -> list[HumanRatingRow]:
    """Every rating ever given on this interview, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(HumanRatingRow)
            .where(HumanRatingRow.interview_id == interview_id)
            .order_by(HumanRatingRow.id)
        )
        return list(rows.all())


def current_ratings(rows: Sequence[HumanRatingRow]) -> list[HumanRating]:
    """Each reviewer's newest rating per competency (older ones stay in the history)."""
    latest: dict[tuple[str, str], HumanRatingRow] = {}
    for row in rows:
        latest[(row.rater_id, row.competency_id)] = row
    return [
        HumanRating(
            competency_id=r.competency_id,
            value=r.value,
            scale="1-5",
            rater=r.rater,
            at=_aware(r.at),
            note=r.note,
        )
        for r in latest.values()
    ]


async def add_rating(sessions: Sessions, row: HumanRatingRow) -> None:
    """Record one rating."""
    async with sessions() as session, session.begin():
        session.add(row)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def decision_of(row: HumanDecisionRow) -> HumanDecision:
    """A stored decision as the scoring package's HumanDecision."""
    return HumanDecision(
        interview_id=row.interview_id,
        person=row.person,
        at=_aware(row.at),
        decision=row.decision,
        note=row.note,
    )


async def decisions(sessions: Sessions, interview_id: str) -> list[HumanDecision]:
    """Every recorded decision on this interview, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(HumanDecisionRow)
            .where(HumanDecisionRow.interview_id == interview_id)
            .order_by(HumanDecisionRow.id)
        )
        return [decision_of(r) for r in rows.all()]


async def record_decision(
    sessions: Sessions, decision: HumanDecision, person_id: str
) -> HumanDecision:
    """Append a decision (person and time); the status follows from it."""
    async with sessions() as session, session.begin():
        session.add(
            HumanDecisionRow(
                interview_id=decision.interview_id,
                person_id=person_id,
                person=decision.person,
                decision=decision.decision,
                note=decision.note,
                at=decision.at,
            )
        )
        interview = await session.get(Interview, decision.interview_id)
        if interview is not None:
            payload = await interview_payload(session, interview)
            # The person's name stays out: receivers get the decision and when it was made.
            payload.update(decision=decision.decision, decided_at=decision.at.isoformat())
            await emit_webhook(session, "decision.recorded", payload)
    return decision


def candidate_status(
    interview_id: str,
    history: Sequence[HumanDecision],
    recommendation: Recommendation | None = None,
) -> CandidateStatus:
    """Awaiting review, or what the newest recorded human decision says."""
    if not history:
        return awaiting_review(interview_id, recommendation)
    return status_from_decision(history[-1], recommendation)
