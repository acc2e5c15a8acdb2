"""Built-in competency-model templates shipped as package data in config/templates/."""

from __future__ import annotations

from importlib import resources

from pydantic import BaseModel, ConfigDict

from analysis.competency.model import LANGUAGES, CompetencyModel, CompetencyModelError, Language
from analysis.competency.yaml_io import from_yaml

_PACKAGE = "config"
_FOLDER = "templates"


class TemplateInfo(BaseModel):
    """A template as listed for the admin page: one key, one file per language."""

    model_config = ConfigDict(frozen=True)

    key: str
    languages: tuple[Language, ...]
    titles: dict[str, str]


def _files() -> dict[tuple[str, Language], str]:
    found: dict[tuple[str, Language], str] = {}
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".yaml"):
            continue
        stem = name[: -len(".yaml")]
        key, _, language = stem.rpartition(".")
        if key and language in LANGUAGES:
            found[(key, language)] = entry.read_text(encoding="utf-8")
    return found


def list_templates() -> list[TemplateInfo]:
    """Every built-in template with the languages it is available in."""
    by_key: dict[str, dict[str, str]] = {}
    for key, language in sorted(_files()):
        by_key.setdefault(key, {})[language] = load_template(key, language).job_title
    return [
        TemplateInfo(
            key=key,
            languages=tuple(lang for lang in LANGUAGES if lang in titles),
            titles=titles,
        )
        for key, titles in sorted(by_key.items())
    ]


def load_template(key: str, language: Language) -> CompetencyModel:
    """The built-in template ``key`` in ``language`` (KeyError names the known keys)."""
    files = _files()
    try:
        text = files[(key, language)]
    except KeyError:
        known = sorted({k for k, _ in files})
        raise KeyError(f"no template {key!r} in {language!r}; known templates: {known}") from None
    try:
        return from_yaml(text)
    except CompetencyModelError as exc:
        where = f"template {key}.{language}.yaml"
        raise CompetencyModelError([f"{where}: {e}" for e in exc.errors]) from None
