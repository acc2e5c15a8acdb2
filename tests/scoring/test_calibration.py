"""Calibration on synthetic rater data generated here, with noise."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from analysis.competency import load_template
from analysis.scoring.calibration import (
    CalibrationError,
    CalibrationReport,
    CalibrationSample,
    calibrate,
    predict,
    samples_from_score,
)
from analysis.scoring.report import HumanRating
from analysis.scoring.scorer import rescore, score_interview
from analysis.scoring.transcript import answer_from_text
from analysis.scoring.version import FEATURES, default_version
from tests.scoring import answers as A

TRUE_WEIGHTS = {
    "story": 0.10,
    "specificity": 0.35,
    "ownership": 0.05,
    "relevance": 0.05,
    "indicators": 0.30,
    "length": 0.0,
    "vagueness": -0.25,
    "actions": 0.15,
}
TRUE_INTERCEPT = 0.15
COMPETENCIES = ("logical_thinking", "code_quality", "collaboration")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def synthetic(
    interviews: int, seed: int, prefix: str, noise: float = 4.0
) -> list[CalibrationSample]:
    """Raters who weigh the features by TRUE_WEIGHTS, plus Gaussian noise (0-100 points)."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(interviews):
        for cid in COMPETENCIES:
            x = {f: float(rng.uniform(0, 1)) for f in FEATURES}
            clean = TRUE_INTERCEPT + sum(TRUE_WEIGHTS[f] * x[f] for f in FEATURES)
            human = float(np.clip(100 * clean + rng.normal(0, noise), 0, 100))
            samples.append(
                CalibrationSample(
                    interview_id=f"{prefix}{i}", competency_id=cid, features=x, human=human
                )
            )
    return samples


def test_calibration_recovers_known_weights() -> None:
    samples = synthetic(120, seed=1, prefix="t")
    result = calibrate(samples, default_version(), "software_engineer", now=NOW)
    for feature, weight in TRUE_WEIGHTS.items():
        assert result.version.weights[feature] == pytest.approx(weight, abs=0.04), feature
    assert result.version.intercept == pytest.approx(TRUE_INTERCEPT, abs=0.04)
    assert result.report.ridge_lambda <= 0.1


def test_calibration_improves_agreement_on_held_out_interviews() -> None:
    base = default_version()
    result = calibrate(synthetic(60, seed=2, prefix="t"), base, "software_engineer", now=NOW)
    held_out = synthetic(40, seed=3, prefix="h")
    human = [s.human for s in held_out]
    before = [predict(base, s.features) for s in held_out]
    after = [predict(result.version, s.features) for s in held_out]
    r_before = float(np.corrcoef(before, human)[0, 1])
    r_after = float(np.corrcoef(after, human)[0, 1])
    assert r_after > r_before + 0.1
    assert r_after > 0.9
    mae_before = np.mean(np.abs(np.subtract(before, human)))
    assert np.mean(np.abs(np.subtract(after, human))) < mae_before
    # The report's cross-validated "after" agreement also beats "before", per competency.
    for row in result.report.agreement:
        assert row.after is not None and row.after.pearson is not None
        assert row.before.pearson is not None and row.after.pearson > row.before.pearson
        assert row.before.n == (60 if row.competency_id != "all" else 180)


def test_minimum_sample_guard_refuses_with_a_clear_message() -> None:
    with pytest.raises(CalibrationError, match=r"at least 8 interviews .* it has 7"):
        calibrate(synthetic(7, seed=4, prefix="t"), default_version(), "software_engineer")


def test_a_calibration_is_a_new_dated_version_and_past_scores_stay() -> None:
    base = default_version()
    result = calibrate(synthetic(20, seed=5, prefix="t"), base, "software_engineer", now=NOW)
    version = result.version
    assert version.id != base.id and version.parent_id == base.id
    assert version.created_at == NOW and version.metrics is not None
    assert base.weights == default_version().weights  # the base is untouched
    report = CalibrationReport.model_validate_json(result.report.model_dump_json())
    assert report.version_id == version.id and {a.competency_id for a in report.agreement} == {
        *COMPETENCIES,
        "all",
    }

    m = load_template("software_engineer", "en")
    answers = [
        answer_from_text(
            "lt-1",
            A.SPECIFIC_EN,
            "en",
            question_text=A.QUESTION_EN,
            competency_ids=["logical_thinking"],
            asr_confidence=0.9,
        )
    ]
    old = score_interview("i1", answers, m, base)
    frozen = old.model_dump_json()
    new = rescore(old, answers, m, version)
    assert old.model_dump_json() == frozen
    assert new is not old and new.id != old.id
    assert new.scorer_version == version.id and new.supersedes == old.id
    assert all(a.scorer_version == version.id for c in new.competencies for a in c.answers)


def test_samples_come_from_scores_and_ratings() -> None:
    m = load_template("software_engineer", "en")
    answers = [
        answer_from_text(
            "lt-1",
            A.SPECIFIC_EN,
            "en",
            question_text=A.QUESTION_EN,
            competency_ids=["logical_thinking"],
            asr_confidence=0.9,
        )
    ]
    score = score_interview("i1", answers, m)
    ratings = [
        HumanRating(competency_id="logical_thinking", value=4, rater="ana"),
        HumanRating(competency_id="logical_thinking", value=80, scale="0-100", rater="bo"),
        HumanRating(competency_id="collaboration", value=2, rater="ana"),
    ]
    samples = samples_from_score(score, ratings)
    assert len(samples) == 1  # collaboration has no AI score
    sample = samples[0]
    assert sample.human == pytest.approx(77.5)
    assert sample.ai == score.competency("logical_thinking").score
    assert set(sample.features) == set(FEATURES)
    assert predict(default_version(), sample.features) == pytest.approx(sample.ai, abs=0.01)
