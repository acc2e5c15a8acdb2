"""Analytics for one job or the organisation, read from stored rows (no personal data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from analysis.scoring.analytics import (
    AgreementCI,
    FunnelStage,
    GroupRate,
    InterviewFacts,
    agreement_with_ci,
    funnel,
)
from analysis.scoring.report import human_scores
from analysis.scoring.scorer import InterviewScore
from server.reports.store import Sessions, current_ratings
from server.storage.models import HumanDecisionRow, HumanRatingRow, Interview, ScoreRow


class AgreementRow(BaseModel):
    """Agreement of one scorer version on one competency ("all" pools them)."""

    model_config = ConfigDict(frozen=True)

    scorer_version: str
    competency_id: str
    agreement: AgreementCI


class TimeSaved(BaseModel):
    """Interview minutes the AI ran; human review minutes when they are measured."""

    model_config = ConfigDict(frozen=True)

    interviews: int
    ai_interview_minutes: float
    human_review_minutes: float | None = None


class Fairness(BaseModel):
    """Four-fifths impact ratios by voluntarily self-identified group."""

    model_config = ConfigDict(frozen=True)

    collected: bool
    note: str
    groups: dict[str, list[GroupRate]] = {}


class Analytics(BaseModel):
    """Everything the analytics page shows for one scope (a job or the organisation)."""

    model_config = ConfigDict(frozen=True)

    scope: str
    job_ids: list[str]
    funnel: list[FunnelStage]
    time_saved: TimeSaved
    agreement: list[AgreementRow]
    fairness: Fairness


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def analytics(sessions: Sessions, scope: str, job_ids: Sequence[str]) -> Analytics:
    """Funnel, time, AI-human agreement by scorer version and competency, fairness."""
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
            (await session.scalars(select(ScoreRow).where(ScoreRow.interview_id.in_(ids)))).all()
        )
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
    minutes = sum(
        (_aware(i.ended_at) - _aware(i.started_at)).total_seconds() / 60
        for i in interviews
        if i.started_at is not None and i.ended_at is not None
    )
    return Analytics(
        scope=scope,
        job_ids=list(job_ids),
        funnel=funnel(facts),
        time_saved=TimeSaved(
            interviews=sum(f.finished for f in facts), ai_interview_minutes=round(minutes, 1)
        ),
        agreement=_agreement(scores, rated),
        fairness=Fairness(
            collected=False,
            note="No self-identification data is collected yet; impact ratios need it.",
        ),
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


def csv_table(data: Analytics, table: str) -> str:
    """One table of the analytics as CSV (funnel, agreement or fairness)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    if table == "funnel":
        writer.writerow(["stage", "count", "conversion"])
        for stage in data.funnel:
            conversion = "" if stage.conversion is None else stage.conversion
            writer.writerow([stage.stage, stage.count, conversion])
    elif table == "agreement":
        writer.writerow(["scorer_version", "competency_id", "n", "pearson", "pearson_low",
                         "pearson_high", "spearman", "spearman_low", "spearman_high"])
        for a in data.agreement:
            p, r = a.agreement.pearson, a.agreement.spearman
            writer.writerow([a.scorer_version, a.competency_id, a.agreement.n, p.value, p.low,
                             p.high, r.value, r.low, r.high])
    elif table == "fairness":
        writer.writerow(["attribute", "group", "n", "rate", "impact_ratio", "flagged",
                         "suppressed"])
        for attribute, rows in data.fairness.groups.items():
            for g in rows:
                writer.writerow([attribute, g.group, g.n, g.rate, g.impact_ratio, g.flagged,
                                 g.suppressed])
    else:
        raise ValueError(table)
    return out.getvalue()
