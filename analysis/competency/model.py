"""The competency model of one job, validated with messages a recruiter can act on."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
TOTAL_WEIGHT = 100
ANCHOR_LEVELS: tuple[int, ...] = (1, 3, 5)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


MAX_ERROR_CHARS = 200  # an error message quotes at most this much of the input
MAX_ERRORS = 20


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(value: object) -> str:
    # repr of a clipped value: huge inputs are never copied whole into a message.
    return repr(clip(value, 60) if isinstance(value, str) else clip(repr(value), 60))


class CompetencyModelError(ValueError):
    """A competency model is invalid; ``errors`` lists every problem found (each clipped)."""

    def __init__(self, errors: list[str]) -> None:
        clipped = [clip(e) for e in errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            clipped.append(f"and {len(errors) - MAX_ERRORS} more problems")
        super().__init__("invalid competency model: " + "; ".join(clipped))
        self.errors = clipped


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{what} id {_quote(value)} must be 1-64 lowercase letters, digits, '_' or '-'"
        )
    return value


def _non_blank(items: list[str], what: str) -> list[str]:
    cleaned = [item.strip() for item in items]
    if any(not item for item in cleaned):
        raise ValueError(f"{what} must not contain empty text")
    return cleaned


class Question(BaseModel):
    """A main question with the follow-up probes an interviewer may use after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str = Field(min_length=1)
    probes: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value, "question")

    @field_validator("probes")
    @classmethod
    def _valid_probes(cls, value: list[str]) -> list[str]:
        return _non_blank(value, "probes")


class Competency(BaseModel):
    """One weighted competency: what good looks like and how to ask about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    weight: int = Field(gt=0, le=TOTAL_WEIGHT)
    description: str = ""
    indicators: list[str] = Field(default_factory=list)
    anchors: dict[int, str] = Field(
        default_factory=dict,
        description="Behavioural anchors: what a level 1, 3 and 5 answer shows.",
    )
    questions: list[Question] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value, "competency")

    @field_validator("anchors")
    @classmethod
    def _valid_anchors(cls, value: dict[int, str]) -> dict[int, str]:
        unknown = sorted(k for k in value if k not in ANCHOR_LEVELS)
        if unknown:
            raise ValueError(
                f"anchors are given for levels 1, 3 and 5 only, not {unknown}"
            )
        cleaned = {k: v.strip() for k, v in sorted(value.items())}
        if any(not v for v in cleaned.values()):
            raise ValueError("anchors must not contain empty text")
        return cleaned

    @field_validator("indicators")
    @classmethod
    def _valid_indicators(cls, value: list[str]) -> list[str]:
        return _non_blank(value, "indicators")


class CompetencyModel(BaseModel):
    """Everything the interviewer needs to know about one job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    job_title: str = Field(min_length=1)
    language: Language
    description: str = ""
    version: int = 1
    competencies: list[Competency] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value, "model")

    @field_validator("language", mode="before")
    @classmethod
    def _known_language(cls, value: object) -> object:
        if value not in LANGUAGES:
            raise ValueError(
                f"unknown language {_quote(value)}: use 'zh' (Mandarin) or 'en' (English)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CompetencyModel:
        problems: list[str] = []
        total = sum(c.weight for c in self.competencies)
        if total != TOTAL_WEIGHT:
            parts = ", ".join(f"{c.id} {c.weight}" for c in self.competencies)
            problems.append(
                f"competency weights must sum to {TOTAL_WEIGHT}, but they sum to {total} ({parts})"
            )
        for competency in self.competencies:
            if not competency.questions:
                problems.append(
                    f"competency {competency.id!r} ({clip(competency.name, 60)}) "
                    "has no main questions"
                )
        problems += _duplicates([c.id for c in self.competencies], "competency")
        problems += _duplicates([q.id for c in self.competencies for q in c.questions], "question")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def competency(self, competency_id: str) -> Competency:
        """The competency with this id (KeyError when absent)."""
        for competency in self.competencies:
            if competency.id == competency_id:
                return competency
        raise KeyError(competency_id)


def _duplicates(ids: list[str], what: str) -> list[str]:
    counts = Counter(ids)
    return [f"{what} id {i!r} is used more than once" for i in sorted(counts) if counts[i] > 1]


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: Mapping[str, Any]) -> str:
    text = str(error["msg"])
    if text.startswith("Value error, "):
        text = text[len("Value error, ") :]
    where = _location(cast(tuple[int | str, ...], error.get("loc", ())))
    return clip(f"{where}: {text}" if where else text)


def parse_competency_model(data: Mapping[str, Any]) -> CompetencyModel:
    """Validate a plain mapping; raise CompetencyModelError listing every problem."""
    try:
        return CompetencyModel.model_validate(dict(data))
    except ValidationError as exc:
        raise CompetencyModelError([_message(e) for e in exc.errors()]) from None
