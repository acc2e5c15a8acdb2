"""Relevance by meaning: how close an answer's sentences are to the question, to each
indicator, and to every competency of the model (for ``off_competency``).

Each competency is described by its prototype texts: indicators, level-5 and level-3
anchors, description and questions. A sentence's closeness to a competency is its best
cosine similarity with those texts (sentence encoder in analysis/scoring/semantic.py).
Similarities are mapped to 0-1 with fixed ramps (documented in docs/scoring.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.competency.model import Competency, CompetencyModel
from analysis.scoring.semantic import SentenceEncoder, Vectors

# Cosine similarity ramps (USE multilingual v3): at or below the first value counts 0,
# at or above the second counts 1.
RELEVANCE_RAMP = (0.12, 0.40)
INDICATOR_RAMP = (0.12, 0.45)
# Off-topic only when no sentence comes this close to the question or the competency.
OFF_TOPIC_SIMILARITY = 0.18
# Off-competency: on average, the sentences sit this much closer to another competency,
# and at most this share of them is closest to the scored one.
OFF_COMPETENCY_MARGIN = 0.08
OFF_COMPETENCY_SHARE = 0.34


def ramp(value: float, bounds: tuple[float, float]) -> float:
    """Map ``value`` linearly from ``bounds`` onto 0-1, clipped."""
    low, high = bounds
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def prototypes(competency: Competency) -> list[str]:
    """The texts that describe what this competency looks like in an answer."""
    anchors = [competency.anchors[k] for k in (5, 3) if k in competency.anchors]
    texts = [*competency.indicators, *anchors, competency.description, competency.name]
    texts += [q.text for q in competency.questions]
    return [t for t in texts if t.strip()]


@dataclass(frozen=True)
class CompetencyFit:
    """How an answer's sentences sit between the competencies of the model."""

    mean: dict[str, float]
    share: dict[str, float]

    def off_competency(self, competency_id: str) -> str | None:
        """The competency this answer shows instead of ``competency_id``, if clearly so."""
        if competency_id not in self.mean or len(self.mean) < 2:
            return None
        others = {k: v for k, v in self.mean.items() if k != competency_id}
        best = max(others, key=lambda k: others[k])
        margin = others[best] - self.mean[competency_id]
        if margin >= OFF_COMPETENCY_MARGIN and self.share[competency_id] <= OFF_COMPETENCY_SHARE:
            return best
        return None


@dataclass(frozen=True)
class AnswerMeaning:
    """Similarities of one answer's sentences to its question and to the model."""

    sentences: Vectors
    question_sim: list[float]
    fit: CompetencyFit
    by_competency: dict[str, Vectors]

    def relevance(self, competency_id: str) -> float:
        """0-1: mean of the two closest sentences to the question and the competency."""
        own = self.by_competency[competency_id].max(axis=1)
        best = np.maximum(own, np.asarray(self.question_sim, dtype=np.float32))
        top = np.sort(best)[-2:]
        return ramp(float(top.mean()), RELEVANCE_RAMP) if top.size else 0.0

    def closest(self, competency_id: str) -> float:
        """The best similarity of any sentence to the question or the competency."""
        own = float(self.by_competency[competency_id].max()) if self.sentences.size else 0.0
        return max([own, *self.question_sim])


def _sims(vectors: Vectors, others: Vectors) -> Vectors:
    if vectors.size == 0 or others.size == 0:
        return np.zeros((len(vectors), max(1, len(others))), dtype=np.float32)
    return np.asarray(vectors @ others.T, dtype=np.float32)


def understand(
    encoder: SentenceEncoder, sentences: list[str], question: str, model: CompetencyModel
) -> AnswerMeaning:
    """Encode an answer's sentences and compare them with the question and every competency."""
    vectors = encoder.encode(sentences)
    question_sim = (
        [float(v) for v in _sims(vectors, encoder.encode([question]))[:, 0]]
        if question.strip()
        else [0.0] * len(sentences)
    )
    by_competency: dict[str, Vectors] = {}
    for competency in model.competencies:
        by_competency[competency.id] = _sims(vectors, encoder.encode(prototypes(competency)))
    ids = list(by_competency)
    per_sentence = np.stack([by_competency[k].max(axis=1) for k in ids])
    winners = per_sentence.argmax(axis=0) if len(sentences) else np.zeros(0, dtype=int)
    fit = CompetencyFit(
        mean={
            k: float(per_sentence[i].mean()) if len(sentences) else 0.0
            for i, k in enumerate(ids)
        },
        share={
            k: float(np.mean(winners == i)) if len(sentences) else 0.0 for i, k in enumerate(ids)
        },
    )
    return AnswerMeaning(vectors, question_sim, fit, by_competency)


def indicator_matches(
    meaning: AnswerMeaning, encoder: SentenceEncoder, competency: Competency
) -> list[float]:
    """0-1 per indicator: how close the closest sentence comes to it."""
    if not competency.indicators or meaning.sentences.size == 0:
        return [0.0 for _ in competency.indicators]
    sims = _sims(meaning.sentences, encoder.encode(competency.indicators))
    return [ramp(float(s), INDICATOR_RAMP) for s in sims.max(axis=0)]
