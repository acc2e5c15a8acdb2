"""Competency models: weighted competencies, behavioural indicators and question banks."""

from analysis.competency.model import (
    LANGUAGES,
    Competency,
    CompetencyModel,
    CompetencyModelError,
    Language,
    Question,
    parse_competency_model,
)
from analysis.competency.templates import TemplateInfo, list_templates, load_template
from analysis.competency.yaml_io import from_yaml, to_yaml

__all__ = [
    "LANGUAGES",
    "Competency",
    "CompetencyModel",
    "CompetencyModelError",
    "Language",
    "Question",
    "TemplateInfo",
    "from_yaml",
    "list_templates",
    "load_template",
    "parse_competency_model",
    "to_yaml",
]
