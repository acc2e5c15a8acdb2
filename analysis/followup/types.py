"""What a follow-up strategy is asked and what it answers."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import Language


class FollowupRequest(BaseModel):
    """One answer to judge: the machine emits it, the server hands it to a strategy."""

    model_config = ConfigDict(frozen=True)

    parent_id: str = Field(description="The question just answered.")
    main_question_id: str = Field(description="The plan question the follow-ups belong to.")
    language: Language
    competency_id: str | None = None
    competency_name: str | None = None
    indicators: list[str] = Field(default_factory=list)
    probes: list[str] = Field(default_factory=list)
    question: str
    answer: str
    asked_rules: list[str] = Field(
        default_factory=list, description="Rules already used for this main question."
    )
    remaining: int = Field(1, description="Follow-ups still allowed for this main question.")


class FollowupSuggestion(BaseModel):
    """A follow-up question with the reason it is asked (shown to observers, not candidates)."""

    model_config = ConfigDict(frozen=True)

    text: str
    reason: str
    rule: str
    source: Literal["rules", "llm"] = "rules"


class FollowupStrategy(Protocol):
    """Anything that proposes at most one follow-up for an answer."""

    async def propose(self, request: FollowupRequest) -> FollowupSuggestion | None:
        """A follow-up for this answer, or None when the answer needs none."""
        ...

    async def aclose(self) -> None:
        """Release what the strategy holds (an HTTP session); called when the interview closes."""
        ...
