"""YAML import and export of competency models (the format is in docs/interviewer.md)."""

from __future__ import annotations

from typing import Any

import yaml

from analysis.competency.model import (
    CompetencyModel,
    CompetencyModelError,
    clip,
    parse_competency_model,
)

MAX_YAML_CHARS = 256 * 1024
MAX_YAML_DEPTH = 32


class _PlainLoader(yaml.SafeLoader):
    """The safe loader without aliases (no expansion bombs) and with bounded nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not accepted; write the value out",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the document nests deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def from_yaml(text: str) -> CompetencyModel:
    """Parse and validate a competency model from YAML text (size, alias and depth limits)."""
    if len(text) > MAX_YAML_CHARS:
        raise CompetencyModelError([f"the YAML file is larger than {MAX_YAML_CHARS // 1024} KiB"])
    try:
        data: Any = yaml.load(text, Loader=_PlainLoader)
    except RecursionError:
        raise CompetencyModelError(["the YAML document nests too deeply"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        detail = f": {clip(str(problem))}" if problem else ""
        raise CompetencyModelError([f"not valid YAML{where}{detail}"]) from None
    if not isinstance(data, dict):
        raise CompetencyModelError(["the YAML document must be a mapping with id, language, ..."])
    return parse_competency_model(data)


def to_yaml(model: CompetencyModel) -> str:
    """Export a model as YAML that from_yaml reads back to an equal model."""
    data = model.model_dump(mode="json")
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
