"""The report of one interview as the page, the PDF and the JSON export show it.

The scoring package's InterviewReport (scores with evidence, human ratings beside the AI
scores, focus points, status) plus what the event log tells about the interview itself:
the questions asked, the follow-ups and why, observers' questions and the delivery
summary of each answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.events import (
    Event,
    FaceDeliverySummarized,
    FollowupApproved,
    FollowupSkipped,
    FollowupSuggested,
    LiveRatingGiven,
    ObserverNoteAdded,
    QuestionAnswered,
    QuestionInjected,
    QuestionShown,
    TranscriptRecord,
    VoiceDeliverySummarized,
)
from analysis.scoring import CandidateStatus, HumanDecision, HumanRating, InterviewReport


class InterviewInfo(BaseModel):
    """Who, for which job, when."""

    model_config = ConfigDict(frozen=True)

    id: str
    candidate: str
    job_id: str
    job_title: str
    language: str
    started_at: datetime | None = None
    ended_at: datetime | None = None


class AskedQuestion(BaseModel):
    """One question as shown to the candidate."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    text: str
    source: str
    t: float
    competency_id: str | None = None
    answered_from: float | None = None
    answered_to: float | None = None
    transcript_status: Literal["ready", "pending", "failed", "live"] = "live"
    """Whether the answer's transcript of record is ready (``live``: none was made)."""
    transcript: str = ""
    """The transcript of record when ready (what the scores and quotes read)."""


FollowupOutcome = Literal["asked", "approved", "skipped", "suggested"]
"""What became of a suggested follow-up (approved but not yet asked is "approved")."""


class FollowupItem(BaseModel):
    """A suggested follow-up, why, and what became of it."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    parent_id: str
    text: str
    reason: str
    rule: str
    source: str
    outcome: FollowupOutcome
    by: str | None = None
    t: float


class InjectedItem(BaseModel):
    """A question an observer asked for."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    text: str
    by: str
    position: str
    t: float


CONFIRMED_LIVE_NOTE = "Confirmed live rating"


class LiveItem(BaseModel):
    """A live rating or a private note made on the observer page during the interview."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["rating", "note"]
    by: str
    t: float
    question_id: str | None = None
    competency_id: str | None = None
    score: int | None = None
    text: str = ""
    confirmed: bool = Field(
        False, description="The observer confirmed it as their rating (counts in calibration)."
    )


def live_of(events: Sequence[Event], ratings: Sequence[HumanRating]) -> list[LiveItem]:
    """Live ratings (the newest per observer and competency) and notes, in time order."""
    confirmed = {
        (r.rater, r.competency_id, round(r.value))
        for r in ratings
        if r.note.startswith(CONFIRMED_LIVE_NOTE)
    }
    newest: dict[tuple[str, str], LiveRatingGiven] = {}
    notes: list[LiveItem] = []
    for e in events:
        if isinstance(e, LiveRatingGiven):
            newest[(e.by, e.competency)] = e
        elif isinstance(e, ObserverNoteAdded):
            notes.append(
                LiveItem(kind="note", by=e.by, t=e.t, question_id=e.question_id, text=e.text)
            )
    rated = [
        LiveItem(
            kind="rating",
            by=e.by,
            t=e.t,
            question_id=e.question_id,
            competency_id=e.competency,
            score=e.score,
            confirmed=(e.by, e.competency, e.score) in confirmed,
        )
        for e in newest.values()
    ]
    return sorted(rated + notes, key=lambda item: item.t)


class DeliveryItem(BaseModel):
    """The delivery summary of one answer (observable measures only, no emotions)."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    start: float
    end: float
    unit: str | None = None
    speaking_rate: float | None = None
    pause_ratio: float | None = None
    long_pauses: int | None = None
    fillers: int | None = None
    share_present: float | None = None
    share_facing: float | None = None


class ScoreVersionItem(BaseModel):
    """One stored, dated score of this interview."""

    model_config = ConfigDict(frozen=True)

    id: str
    scorer_version: str
    created_at: datetime
    total: float | None
    supersedes: str | None


class CompetencyItem(BaseModel):
    """A competency people rate (listed even when there is no AI score), with the
    behavioural anchors the rating form shows beside the 1-5 choice."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    name: str
    anchors: dict[int, str] = {}


class ReportView(BaseModel):
    """Everything the report shows, as JSON; ``report`` is None without AI consent."""

    model_config = ConfigDict(frozen=True)

    interview: InterviewInfo
    report: InterviewReport | None
    ai_scores: bool = True
    competencies: list[CompetencyItem] = []
    status: CandidateStatus | None = None
    score_versions: list[ScoreVersionItem]
    questions: list[AskedQuestion]
    followups: list[FollowupItem]
    injected: list[InjectedItem]
    delivery: list[DeliveryItem]
    delivery_used_in_score: bool
    ratings: list[HumanRating]
    decisions: list[HumanDecision]
    live: list[LiveItem] = []


def questions_of(events: Sequence[Event]) -> list[AskedQuestion]:
    """Questions in the order shown, with the span of their answers."""
    answered = {e.question_id: e for e in events if isinstance(e, QuestionAnswered)}
    records: dict[str, TranscriptRecord] = {}
    for e in events:
        if isinstance(e, TranscriptRecord) and not (
            e.status == "pending" and e.question_id in records
        ):
            records[e.question_id] = e
    out = []
    for e in events:
        if isinstance(e, QuestionShown):
            a = answered.get(e.question_id)
            record = records.get(e.question_id)
            out.append(
                AskedQuestion(
                    question_id=e.question_id,
                    text=e.text,
                    source=e.source,
                    t=e.t,
                    competency_id=a.competency_id if a else None,
                    answered_from=a.started if a else None,
                    answered_to=a.ended if a else None,
                    transcript_status=record.status if record else "live",
                    transcript=record.text if record and record.status == "ready" else "",
                )
            )
    return out


def followups_of(events: Sequence[Event]) -> list[FollowupItem]:
    """Suggested follow-ups with their reason and outcome (asked, skipped, suggested)."""
    asked = {e.question_id for e in events if isinstance(e, QuestionShown)}
    decided: dict[str, tuple[FollowupOutcome, str | None]] = {}
    for e in events:
        if isinstance(e, FollowupApproved):
            decided[e.question_id] = ("approved", e.by)
        elif isinstance(e, FollowupSkipped):
            decided[e.question_id] = ("skipped", e.by)
    out = []
    for e in events:
        if not isinstance(e, FollowupSuggested):
            continue
        outcome, by = decided.get(e.question_id, ("suggested", None))
        if e.question_id in asked:
            outcome = "asked"
        out.append(
            FollowupItem(
                question_id=e.question_id,
                parent_id=e.parent_id,
                text=e.text,
                reason=e.reason,
                rule=e.rule,
                source=e.source,
                outcome=outcome,
                by=by,
                t=e.t,
            )
        )
    return out


def injected_of(events: Sequence[Event]) -> list[InjectedItem]:
    """Observers' questions."""
    return [
        InjectedItem(question_id=e.question_id, text=e.text, by=e.by, position=e.position, t=e.t)
        for e in events
        if isinstance(e, QuestionInjected)
    ]


def delivery_of(events: Sequence[Event]) -> list[DeliveryItem]:
    """Voice and face summaries joined per answer."""
    voice = {e.question_id: e for e in events if isinstance(e, VoiceDeliverySummarized)}
    face = {e.question_id: e for e in events if isinstance(e, FaceDeliverySummarized)}
    out = []
    for qid in sorted(set(voice) | set(face), key=lambda q: _start(voice.get(q), face.get(q))):
        v, f = voice.get(qid), face.get(qid)
        summary = v or f
        out.append(
            DeliveryItem(
                question_id=qid,
                start=_start(v, f),
                end=summary.end if summary else 0.0,
                unit=v.unit if v else None,
                speaking_rate=v.speaking_rate if v else None,
                pause_ratio=v.pause_ratio if v else None,
                long_pauses=v.long_pauses if v else None,
                fillers=v.fillers if v else None,
                share_present=f.share_present if f else None,
                share_facing=f.share_facing if f else None,
            )
        )
    return out


def _start(v: VoiceDeliverySummarized | None, f: FaceDeliverySummarized | None) -> float:
    return v.start if v else f.start if f else 0.0
