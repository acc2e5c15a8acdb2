"""YAML import and export of competency models (the format is in docs/interviewer.md)."""

from __future__ import annotations

from typing import Any

import yaml

from analysis.competency.model import CompetencyModel, CompetencyModelError, parse_competency_model


def from_yaml(text: str) -> CompetencyModel:
    """Parse and validate a competency model from YAML text."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        detail = f": {problem}" if problem else ""
        raise CompetencyModelError([f"not valid YAML{where}{detail}"]) from None
    if not isinstance(data, dict):
        raise CompetencyModelError(["the YAML document must be a mapping with id, language, ..."])
    return parse_competency_model(data)


def to_yaml(model: CompetencyModel) -> str:
    """Export a model as YAML that from_yaml reads back to an equal model."""
    data = model.model_dump(mode="json")
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
