"""The default scorer: deterministic, offline, and every point traceable to a sentence.

An answer's score for a competency is ``100 * (intercept + sum(weight * feature))``,
clipped to 0-100, from the features in analysis/scoring/features.py. When the job enables
delivery signals, they take ``delivery_weight`` (5 % by default) of the score and are
labelled as such. A competency's score is the mean over its scored answers; the total is
the job-weighted mean over the competencies that have a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import Competency, CompetencyModel, Language
from analysis.events import utcnow
from analysis.scoring import features as feat
from analysis.scoring.decisions import Recommendation, recommend
from analysis.scoring.delivery import delivery_feature
from analysis.scoring.meaning import OFF_TOPIC_SIMILARITY, AnswerMeaning, indicator_matches
from analysis.scoring.meaning import understand as understand_meaning
from analysis.scoring.semantic import SentenceEncoder, bundled_encoder
from analysis.scoring.structure import narrative as narrative_share
from analysis.scoring.transcript import AnswerInput
from analysis.scoring.version import (
    DELIVERY_FEATURE,
    FEATURES,
    NARRATIVE,
    ScorerVersion,
    default_version,
)

ReasonCode = Literal[
    "empty", "low_asr_confidence", "too_short", "off_topic", "off_competency", "no_answers"
]
Status = Literal["scored", "insufficient_evidence"]

_REASONS: dict[ReasonCode, dict[Language, str]] = {
    "empty": {"en": "No transcript for this answer.", "zh": "这个回答没有转写文本。"},
    "low_asr_confidence": {
        "en": "The transcript is unreliable (speech recognition confidence {value:.2f}).",
        "zh": "转写不可靠（语音识别置信度 {value:.2f}）。",
    },
    "too_short": {
        "en": "The answer is too short to judge ({value:.0f} words).",
        "zh": "回答太短，无法判断（{value:.0f} 个字）。",
    },
    "off_topic": {
        "en": "The answer shares almost no terms with the question or the competency "
        "({value:.0f} shared terms).",
        "zh": "回答与问题和该能力几乎没有共同的词语（{value:.0f} 个）。",
    },
    "off_competency": {
        "en": "The answer tells a story about another competency ({shown}), not this one; "
        "it counts there only if that question is asked.",
        "zh": "这个回答讲的是另一项能力（{shown}），而不是这一项；请用针对这项能力的问题再问。",
    },
    "no_answers": {
        "en": "No answer in this interview targeted this competency.",
        "zh": "本次面试没有针对这项能力的回答。",
    },
}

LABELS: dict[str, dict[Language, str]] = {
    "story": {"en": "Story completeness (STAR)", "zh": "经历完整度（STAR）"},
    "specificity": {"en": "Specificity and numbers", "zh": "具体程度与数据"},
    "ownership": {"en": "Personal ownership", "zh": "个人角色"},
    "relevance": {"en": "Relevance to the question", "zh": "与问题的相关度"},
    "indicators": {"en": "Match with behavioural indicators", "zh": "与行为指标的匹配"},
    "length": {"en": "Length", "zh": "长度"},
    "vagueness": {"en": "Hedged or hypothetical statements", "zh": "含糊或假设性的表述"},
    "actions": {"en": "Sequence of own actions", "zh": "亲自采取的一系列行动"},
    NARRATIVE: {
        "en": "Told as a story (a list of terms scores like a weak answer)",
        "zh": "是否在讲经历（罗列术语按弱回答计分）",
    },
    DELIVERY_FEATURE: {
        "en": "Delivery signals (low weight, enabled for this job)",
        "zh": "表达信号（低权重，本岗位已启用）",
    },
}


class JobScoring(BaseModel):
    """Per-job scoring options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(70.0, ge=0, le=100, description="Total at which to recommend.")
    delivery_enabled: bool = False
    min_scored_weight: int = Field(
        50, ge=0, le=100, description="Job weight that must be scored for a recommendation."
    )


class Quote(BaseModel):
    """An exact substring of an answer's transcript, with its times on the interview clock."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    text: str
    offset: int
    start: float
    end: float
    cues: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list)


class Reason(BaseModel):
    """Why something was not scored."""

    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    message: str
    question_id: str | None = None


class Contribution(BaseModel):
    """One feature's value, weight and the points it added (or removed)."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    value: float
    weight: float
    points: float
    low_weight: bool = False
    quotes: list[Quote] = Field(default_factory=list)


class IndicatorEvidence(BaseModel):
    """Sentences that support or count against one behavioural indicator."""

    model_config = ConfigDict(frozen=True)

    index: int
    indicator: str
    match: float = 0.0
    status: Literal["supported", "mixed", "against", "not_addressed"] = "not_addressed"
    support: list[Quote] = Field(default_factory=list)
    against: list[Quote] = Field(default_factory=list)


class AnswerScore(BaseModel):
    """One answer scored for one competency, or marked insufficient evidence."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    competency_id: str
    scorer_version: str
    status: Status
    score: float | None = None
    reasons: list[Reason] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)
    contributions: list[Contribution] = Field(default_factory=list)
    indicators: list[IndicatorEvidence] = Field(default_factory=list)
    asr_confidence: float | None = None
    size: int = 0
    relevant_terms: list[str] = Field(default_factory=list)
    shown_competency: str | None = Field(
        None, description="With off_competency: the competency the answer shows instead."
    )
    judge: str = Field("lexical", description="How relevance was measured: meaning or terms.")
    transcript_source: Literal["record", "live"] = Field(
        default="live", description="Which transcript was scored (see AnswerInput)."
    )


class _AnswerCommon(TypedDict):
    """The fields an answer's score has whether or not it could be scored."""

    question_id: str
    competency_id: str
    scorer_version: str
    asr_confidence: float | None
    transcript_source: Literal["record", "live"]
    size: int
    relevant_terms: list[str]
    judge: str
    shown_competency: NotRequired[str]


class CompetencyScore(BaseModel):
    """A competency's score: the mean of its scored answers, with their evidence."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    name: str
    weight: int
    status: Status
    score: float | None = None
    reasons: list[Reason] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)
    indicators: list[IndicatorEvidence] = Field(default_factory=list)
    answers: list[AnswerScore] = Field(default_factory=list)
    anchors: dict[int, str] = Field(default_factory=dict)


class _CompetencyCommon(TypedDict):
    """The fields a competency's score has whether or not it could be scored."""

    competency_id: str
    name: str
    weight: int
    answers: list[AnswerScore]
    anchors: dict[int, str]


class InterviewScore(BaseModel):
    """Every competency of one interview scored with one scorer version."""

    model_config = ConfigDict(frozen=True)

    id: str
    interview_id: str
    job_id: str
    language: Language
    scorer_version: str
    created_at: datetime = Field(default_factory=utcnow)
    supersedes: str | None = None
    competencies: list[CompetencyScore]
    total: float | None = None
    scored_weight: int = 0
    excluded: list[str] = Field(default_factory=list)
    delivery_enabled: bool = False
    recommendation: Recommendation

    def competency(self, competency_id: str) -> CompetencyScore:
        """The score of one competency (KeyError when absent)."""
        for score in self.competencies:
            if score.competency_id == competency_id:
                return score
        raise KeyError(competency_id)


def _quote(
    s: feat.AnalysedSentence, question_id: str, terms: frozenset[str] = frozenset()
) -> Quote:
    return Quote(
        question_id=question_id,
        text=s.sentence.text,
        offset=s.sentence.offset,
        start=s.sentence.start,
        end=s.sentence.end,
        cues=sorted(s.cues),
        terms=sorted(terms),
    )


def _reason(
    code: ReasonCode, language: Language, value: float, qid: str | None, shown: str = ""
) -> Reason:
    message = _REASONS[code][language].format(value=value, shown=shown)
    return Reason(code=code, message=message, question_id=qid)


def _insufficient(
    analysis: feat.AnswerAnalysis,
    relevant: int,
    version: ScorerVersion,
    language: Language,
    on_topic: bool = False,
) -> list[Reason]:
    answer, settings = analysis.answer, version.settings
    qid = answer.question_id
    if not analysis.sentences or analysis.size == 0:
        return [_reason("empty", language, 0, qid)]
    reasons: list[Reason] = []
    confidence = answer.asr_confidence
    if confidence is not None and confidence < settings.min_asr_confidence:
        reasons.append(_reason("low_asr_confidence", language, confidence, qid))
    minimum = settings.min_chars if analysis.chinese else settings.min_words
    if analysis.size < minimum:
        reasons.append(_reason("too_short", language, analysis.size, qid))
    if relevant < settings.min_relevant_terms and not on_topic:
        reasons.append(_reason("off_topic", language, relevant, qid))
    return reasons


def _indicator_evidence(
    analysis: feat.AnswerAnalysis, competency: Competency
) -> list[IndicatorEvidence]:
    from analysis.scoring.text import terms as content_terms

    qid = analysis.answer.question_id
    result: list[IndicatorEvidence] = []
    for index, indicator in enumerate(competency.indicators):
        wanted = frozenset(content_terms(indicator))
        support: list[Quote] = []
        against: list[Quote] = []
        for s in analysis.sentences:
            shared = s.terms & wanted
            if not shared:
                continue
            if "vague" in s.cues or s.we_only:
                against.append(_quote(s, qid, shared))
            elif s.cues & set(feat.BEHAVIOUR) or "i" in s.cues:
                support.append(_quote(s, qid, shared))
        result.append(
            IndicatorEvidence(
                index=index,
                indicator=indicator,
                match=round(feat.indicator_match(analysis, indicator), 4),
                status=_indicator_status(support, against),
                support=support,
                against=against,
            )
        )
    return result


def _indicator_status(
    support: list[Quote], against: list[Quote]
) -> Literal["supported", "mixed", "against", "not_addressed"]:
    if support and against:
        return "mixed"
    if support:
        return "supported"
    if against:
        return "against"
    return "not_addressed"


def _linear(values: dict[str, float], version: ScorerVersion) -> float:
    return version.intercept + sum(version.weights.get(k, 0.0) * values[k] for k in FEATURES)


def _clip(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 2)


def score_answer(
    answer: AnswerInput,
    competency: Competency,
    version: ScorerVersion | None = None,
    job: JobScoring | None = None,
    *,
    analysis: feat.AnswerAnalysis | None = None,
    model: CompetencyModel | None = None,
    encoder: SentenceEncoder | None = None,
    meaning: AnswerMeaning | None = None,
) -> AnswerScore:
    """Score one answer for one competency, or say why the evidence is insufficient.

    With an ``encoder`` (the default when the version's settings ask for meaning),
    relevance and indicator matches are measured by meaning, and an answer about another
    competency of ``model`` is set aside as ``off_competency``.
    """
    version = version or default_version()
    job = job or JobScoring()
    analysis = analysis or feat.analyse(answer)
    language = answer.language
    relevant = feat.relevant_terms(analysis, competency)
    if meaning is None and encoder is not None and analysis.sentences:
        model = model or _single(competency, language)
        meaning = understand_meaning(
            encoder, [s.sentence.text for s in analysis.sentences], answer.question_text, model
        )
    common: _AnswerCommon = {
        "question_id": answer.question_id,
        "competency_id": competency.id,
        "scorer_version": version.id,
        "asr_confidence": answer.asr_confidence,
        "transcript_source": answer.transcript_source,
        "size": analysis.size,
        "relevant_terms": sorted(relevant),
        "judge": "meaning" if meaning is not None else "lexical",
    }
    on_topic = meaning is not None and meaning.closest(competency.id) >= OFF_TOPIC_SIMILARITY
    reasons = _insufficient(analysis, len(relevant), version, language, on_topic)
    shown = meaning.fit.off_competency(competency.id) if meaning is not None else None
    if shown is not None and all(r.code == "off_topic" for r in reasons):
        # More useful than "off topic": say which competency the story does show.
        name = model.competency(shown).name if model is not None else shown
        reasons = [_reason("off_competency", language, 0, answer.question_id, name)]
        common["shown_competency"] = shown
    if reasons:
        return AnswerScore(status="insufficient_evidence", reasons=reasons, **common)
    measured: dict[str, float] | None = None
    if meaning is not None and encoder is not None:
        matches = sorted(indicator_matches(meaning, encoder, competency), reverse=True)[:2]
        measured = {
            "relevance": meaning.relevance(competency.id),
            "indicators": sum(matches) / len(matches) if matches else 0.0,
        }
    values = feat.compute(analysis, competency, version.settings, measured)
    told = narrative_share([s.sentence.text for s in analysis.sentences])
    delivery = delivery_feature(answer) if job.delivery_enabled else None
    content_share = 1.0 - (version.settings.delivery_weight if delivery is not None else 0.0)
    contributions = [
        Contribution(
            name=name,
            label=LABELS[name][language],
            value=round(values[name], 4),
            weight=version.weights.get(name, 0.0),
            points=round(100 * content_share * version.weights.get(name, 0.0) * values[name], 2),
            quotes=[_quote(s, answer.question_id) for s in feat.feature_sentences(analysis, name)],
        )
        for name in FEATURES
    ]
    linear = 100 * content_share * _linear(values, version)
    gate = version.settings.narrative_floor + (1 - version.settings.narrative_floor) * told
    raw = linear * gate
    contributions.append(
        Contribution(
            name=NARRATIVE,
            label=LABELS[NARRATIVE][language],
            value=round(told, 4),
            weight=round(gate, 4),
            points=round(raw - linear, 2),
        )
    )
    if delivery is not None:
        weight = version.settings.delivery_weight
        contributions.append(
            Contribution(
                name=DELIVERY_FEATURE,
                label=LABELS[DELIVERY_FEATURE][language],
                value=round(delivery, 4),
                weight=weight,
                points=round(100 * weight * delivery, 2),
                low_weight=True,
            )
        )
        values = {**values, DELIVERY_FEATURE: delivery}
        raw += 100 * weight * delivery
    return AnswerScore(
        status="scored",
        score=_clip(raw),
        features={k: round(v, 4) for k, v in {**values, NARRATIVE: told}.items()},
        contributions=contributions,
        indicators=_indicator_evidence(analysis, competency),
        **common,
    )


def _single(competency: Competency, language: Language) -> CompetencyModel:
    """A one-competency model, so meaning can be measured without the job's model."""
    return CompetencyModel(
        id="single", job_title=competency.name, language=language,
        competencies=[competency.model_copy(update={"weight": 100})],
    )


def _encoder_for(version: ScorerVersion, encoder: SentenceEncoder | None) -> SentenceEncoder | None:
    if encoder is not None:
        return encoder
    return bundled_encoder() if version.settings.semantic else None


def _merge_indicators(answers: list[AnswerScore]) -> list[IndicatorEvidence]:
    merged: dict[int, IndicatorEvidence] = {}
    for answer in answers:
        for ev in answer.indicators:
            seen = merged.get(ev.index)
            if seen is None:
                merged[ev.index] = ev
                continue
            support, against = seen.support + ev.support, seen.against + ev.against
            merged[ev.index] = seen.model_copy(
                update={
                    "match": max(seen.match, ev.match),
                    "support": support,
                    "against": against,
                    "status": _indicator_status(support, against),
                }
            )
    return [merged[i] for i in sorted(merged)]


def _competency_score(
    competency: Competency, answers: list[AnswerScore], language: Language
) -> CompetencyScore:
    scored = [a for a in answers if a.status == "scored" and a.score is not None]
    base: _CompetencyCommon = {
        "competency_id": competency.id,
        "name": competency.name,
        "weight": competency.weight,
        "answers": answers,
        "anchors": dict(competency.anchors),
    }
    if not scored:
        reasons = [r for a in answers for r in a.reasons] or [
            _reason("no_answers", language, 0, None)
        ]
        return CompetencyScore(status="insufficient_evidence", reasons=reasons, **base)
    names = sorted(set().union(*(a.features for a in scored)))
    means = {n: round(sum(a.features.get(n, 0.0) for a in scored) / len(scored), 4) for n in names}
    score = sum(a.score or 0.0 for a in scored) / len(scored)
    return CompetencyScore(
        status="scored",
        score=round(score, 2),
        features=means,
        indicators=_merge_indicators(scored),
        reasons=[r for a in answers for r in a.reasons],
        **base,
    )


def score_interview(
    interview_id: str,
    answers: Sequence[AnswerInput],
    model: CompetencyModel,
    version: ScorerVersion | None = None,
    job: JobScoring | None = None,
    *,
    supersedes: str | None = None,
    encoder: SentenceEncoder | None = None,
) -> InterviewScore:
    """Score every competency of an interview; answers without a known competency are skipped.

    CPU-bound when relevance is measured by meaning: call it from a worker thread.
    """
    version = version or default_version()
    job = job or JobScoring()
    encoder = _encoder_for(version, encoder)
    language = model.language
    by_competency: dict[str, list[AnswerScore]] = {c.id: [] for c in model.competencies}
    for answer in answers:
        analysis = feat.analyse(answer)
        targets = [cid for cid in answer.competency_ids if cid in by_competency]
        meaning = None
        if encoder is not None and targets and analysis.sentences:
            meaning = understand_meaning(
                encoder, [s.sentence.text for s in analysis.sentences], answer.question_text, model
            )
        for cid in targets:
            by_competency[cid].append(
                score_answer(
                    answer, model.competency(cid), version, job,
                    analysis=analysis, model=model, encoder=encoder, meaning=meaning,
                )
            )
    competencies = [
        _competency_score(c, by_competency[c.id], language) for c in model.competencies
    ]
    scored = [c for c in competencies if c.score is not None]
    weight = sum(c.weight for c in scored)
    total = round(sum(c.weight * (c.score or 0.0) for c in scored) / weight, 2) if weight else None
    return InterviewScore(
        id=f"{interview_id}@{version.id}",
        interview_id=interview_id,
        job_id=model.id,
        language=language,
        scorer_version=version.id,
        supersedes=supersedes,
        competencies=competencies,
        total=total,
        scored_weight=weight,
        excluded=[c.competency_id for c in competencies if c.score is None],
        delivery_enabled=job.delivery_enabled,
        recommendation=recommend(
            total, job.threshold, language, enough_evidence=weight >= job.min_scored_weight
        ),
    )


def rescore(
    previous: InterviewScore,
    answers: Sequence[AnswerInput],
    model: CompetencyModel,
    version: ScorerVersion,
    job: JobScoring | None = None,
    encoder: SentenceEncoder | None = None,
) -> InterviewScore:
    """A new score with another version; ``previous`` is left as it was and referenced."""
    return score_interview(
        previous.interview_id, answers, model, version, job, supersedes=previous.id,
        encoder=encoder,
    )
