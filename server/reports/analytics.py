"""Analytics for one job or the organisation, read from stored rows (no personal data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from analysis.scoring.analytics import (
    MIN_GROUP,
    AgreementCI,
    FunnelStage,
    InterviewFacts,
    Satisfaction,
    Touch,
    agreement_with_ci,
    funnel,
    pipeline_funnel,
    review_sittings,
    satisfaction,
)
from analysis.scoring.fairness import (
    SET_ASIDE_OFF_TOPIC,
    AttributeFairness,
    FairnessFacts,
    group_fairness,
)
from analysis.scoring.report import human_scores
from analysis.scoring.scorer import InterviewScore
from server.reports.store import Sessions, current_ratings
from server.self_identification import CATEGORIES, groups_for_analytics
from server.storage.models import (
    Application,
    AuditEntry,
    HumanDecisionRow,
    HumanRatingRow,
    Interview,
    Job,
    ScoreRow,
    StageChangeRow,
    SurveyResponseRow,
)


class AgreementRow(BaseModel):
    """Agreement of one scorer version on one competency ("all" pools them)."""

    model_config = ConfigDict(frozen=True)

    scorer_version: str
    competency_id: str
    agreement: AgreementCI


class TimeSaved(BaseModel):
    """Interview minutes the AI ran against the human minutes spent reviewing.

    ``human_review_minutes``: review-page sittings, from opening the review to the last
    rating or decision of that sitting (``review_sittings``); ``observer_minutes``: people
    watching interviews live. ``minutes_saved_per_interview`` is the mean AI interview
    length minus the mean human minutes per reviewed interview.
    """

    model_config = ConfigDict(frozen=True)

    interviews: int
    ai_interview_minutes: float
    mean_interview_minutes: float | None = None
    human_measured_interviews: int = 0
    human_review_minutes: float | None = None
    observer_minutes: float = 0.0
    mean_human_minutes_per_interview: float | None = None
    unmeasured_reviews: int = 0
    minutes_saved_per_interview: float | None = None


class JobSatisfaction(BaseModel):
    """One job's survey ratings."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    title: str
    satisfaction: Satisfaction


class SatisfactionSummary(BaseModel):
    """Candidates' ratings of the experience, for the scope and per job."""

    model_config = ConfigDict(frozen=True)

    overall: Satisfaction
    by_job: list[JobSatisfaction]


class Fairness(BaseModel):
    """Per voluntarily self-identified group: four-fifths ratios, ASR confidence, set-asides.

    ``responses`` counts the interviews whose candidates gave the form (with its consent)
    and have a stored score; no person's answers are ever listed.
    """

    model_config = ConfigDict(frozen=True)

    collected: bool
    responses: int
    min_group: int
    attributes: list[AttributeFairness] = []


class Analytics(BaseModel):
    """Everything the analytics page shows for one scope (a job or the organisation)."""

    model_config = ConfigDict(frozen=True)

    scope: str
    job_ids: list[str]
    funnel: list[FunnelStage]
    pipeline: list[FunnelStage]
    time_saved: TimeSaved
    agreement: list[AgreementRow]
    satisfaction: SatisfactionSummary
    fairness: Fairness


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


REVIEW_ACTIONS = ("view_interview", "rate_interview", "observe_start", "observe_stop")


async def analytics(sessions: Sessions, scope: str, job_ids: Sequence[str]) -> Analytics:
    """Funnel (interviews and the job pipeline), time, satisfaction, agreement, fairness."""
    async with sessions() as session:
        interviews = list(
            (await session.scalars(select(Interview).where(Interview.job_id.in_(job_ids)))).all()
        )
        ids = [i.id for i in interviews]
        ratings = list(
            (
                await session.scalars(
                    select(HumanRatingRow)
                    .where(HumanRatingRow.interview_id.in_(ids))
                    .order_by(HumanRatingRow.id)
                )
            ).all()
        )
        decisions = list(
            (
                await session.scalars(
                    select(HumanDecisionRow)
                    .where(HumanDecisionRow.interview_id.in_(ids))
                    .order_by(HumanDecisionRow.id)
                )
            ).all()
        )
        scores = list(
            (
                await session.scalars(
                    select(ScoreRow).where(ScoreRow.interview_id.in_(ids)).order_by(ScoreRow.id)
                )
            ).all()
        )
        surveys = [
            (job_id, rating)
            for job_id, rating in await session.execute(
                select(SurveyResponseRow.job_id, SurveyResponseRow.rating).where(
                    SurveyResponseRow.job_id.in_(job_ids)
                )
            )
        ]
        stages: dict[str, set[str]] = defaultdict(set)
        for app_id, stage in await session.execute(
            select(Application.id, Application.stage).where(Application.job_id.in_(job_ids))
        ):
            stages[app_id].add(stage)
        for app_id, stage in await session.execute(
            select(StageChangeRow.application_id, StageChangeRow.to_stage)
            .join(Application, Application.id == StageChangeRow.application_id)
            .where(Application.job_id.in_(job_ids))
        ):
            stages[app_id].add(stage)
        titles = {
            job_id: title
            for job_id, title in await session.execute(
                select(Job.id, Job.title).where(Job.id.in_(job_ids))
            )
        }
        trail = [
            (user_id or "", target, action, detail, _aware(at))
            for user_id, target, action, detail, at in await session.execute(
                select(
                    AuditEntry.user_id,
                    AuditEntry.target,
                    AuditEntry.action,
                    AuditEntry.detail,
                    AuditEntry.at,
                ).where(
                    AuditEntry.target.in_(ids),
                    AuditEntry.action.in_(REVIEW_ACTIONS) | AuditEntry.action.like("decision_%"),
                )
            )
        ]
    rated: dict[str, list[HumanRatingRow]] = defaultdict(list)
    for r in ratings:
        rated[r.interview_id].append(r)
    decided = {d.interview_id: d.decision for d in decisions}  # newest last wins
    facts = [
        InterviewFacts(
            started=i.started_at is not None,
            finished=i.status == "finished",
            reviewed=bool(rated.get(i.id)),
            decision=decided.get(i.id),
        )
        for i in interviews
    ]
    latest = {row.interview_id: row for row in scores}  # ordered by id: the newest wins
    return Analytics(
        scope=scope,
        job_ids=list(job_ids),
        funnel=funnel(facts),
        pipeline=pipeline_funnel(list(stages.values())),
        time_saved=_time_saved(interviews, trail),
        agreement=_agreement(scores, rated),
        satisfaction=_satisfaction(surveys, titles),
        fairness=await _fairness(sessions, latest),
    )


def _time_saved(
    interviews: Sequence[Interview], trail: Sequence[tuple[str, str, str, str, datetime]]
) -> TimeSaved:
    lengths = [
        (_aware(i.ended_at) - _aware(i.started_at)).total_seconds() / 60
        for i in interviews
        if i.status == "finished" and i.started_at is not None and i.ended_at is not None
    ]
    touches = [
        Touch(user, target, at.timestamp(), "open" if action == "view_interview" else "submit")
        for user, target, action, detail, at in trail
        if (action == "view_interview" and detail == "review")
        or action == "rate_interview"
        or action.startswith("decision_")
    ]
    review, unmeasured = review_sittings(touches)
    observed = _observer_minutes(
        [(u, t, a, at) for u, t, a, _d, at in trail if a.startswith("observe_")]
    )
    human = {k: review.get(k, 0.0) + observed.get(k, 0.0) for k in {*review, *observed}}
    mean_ai = sum(lengths) / len(lengths) if lengths else None
    mean_human = sum(human.values()) / len(human) if human else None
    return TimeSaved(
        interviews=sum(i.status == "finished" for i in interviews),
        ai_interview_minutes=round(sum(lengths), 1),
        mean_interview_minutes=None if mean_ai is None else round(mean_ai, 1),
        human_measured_interviews=len(human),
        human_review_minutes=round(sum(review.values()), 1) if review else None,
        observer_minutes=round(sum(observed.values()), 1),
        mean_human_minutes_per_interview=None if mean_human is None else round(mean_human, 1),
        unmeasured_reviews=unmeasured,
        minutes_saved_per_interview=None
        if mean_ai is None or mean_human is None
        else round(mean_ai - mean_human, 1),
    )


def _observer_minutes(rows: Sequence[tuple[str, str, str, datetime]]) -> dict[str, float]:
    """Minutes people watched each interview live: each observe_start to its observe_stop."""
    opened: dict[tuple[str, str], datetime] = {}
    out: dict[str, float] = defaultdict(float)
    for user, target, action, at in sorted(rows, key=lambda r: r[3]):
        if action == "observe_start":
            opened.setdefault((user, target), at)
        elif (start := opened.pop((user, target), None)) is not None:
            out[target] += (at - start).total_seconds() / 60
    return dict(out)


def _satisfaction(
    surveys: Sequence[tuple[str, int]], titles: dict[str, str]
) -> SatisfactionSummary:
    per_job: dict[str, list[int]] = defaultdict(list)
    for job_id, rating in surveys:
        per_job[job_id].append(rating)
    return SatisfactionSummary(
        overall=satisfaction([r for _j, r in surveys]),
        by_job=[
            JobSatisfaction(job_id=j, title=titles.get(j, ""), satisfaction=satisfaction(rs))
            for j, rs in sorted(per_job.items(), key=lambda kv: titles.get(kv[0], ""))
        ],
    )


async def _fairness(sessions: Sessions, latest: dict[str, ScoreRow]) -> Fairness:
    """Self-identified groups joined to each interview's newest score, then aggregated."""
    groups = await groups_for_analytics(sessions, list(latest))
    facts: list[FairnessFacts] = []
    for interview_id, chosen in groups.items():
        score = InterviewScore.model_validate(latest[interview_id].score)
        answers = [a for c in score.competencies for a in c.answers]
        confidence = {
            a.question_id: a.asr_confidence for a in answers if a.asr_confidence is not None
        }
        aside = [a for a in answers if a.status == "insufficient_evidence"]
        facts.append(
            FairnessFacts(
                groups=chosen,
                recommendation=score.recommendation.kind,
                confidences=list(confidence.values()),
                judgements=len(answers),
                set_aside=len(aside),
                off_topic=sum(
                    any(r.code in SET_ASIDE_OFF_TOPIC for r in a.reasons) for a in aside
                ),
            )
        )
    return Fairness(
        collected=bool(facts),
        responses=len(facts),
        min_group=MIN_GROUP,
        attributes=group_fairness(facts, CATEGORIES),
    )


def _agreement(
    scores: Sequence[ScoreRow], rated: dict[str, list[HumanRatingRow]]
) -> list[AgreementRow]:
    pairs: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(
        lambda: ([], [])
    )
    for row in scores:
        humans = human_scores(current_ratings(rated.get(row.interview_id, [])))
        if not humans:
            continue
        score = InterviewScore.model_validate(row.score)
        for c in score.competencies:
            human = humans.get(c.competency_id)
            if c.score is None or human is None:
                continue
            for key in ((row.scorer_version, c.competency_id), (row.scorer_version, "all")):
                pairs[key][0].append(c.score)
                pairs[key][1].append(human[0])
    return [
        AgreementRow(scorer_version=v, competency_id=c, agreement=agreement_with_ci(*pairs[(v, c)]))
        for v, c in sorted(pairs)
    ]
