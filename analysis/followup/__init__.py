"""Follow-up strategies: transparent rules by default, an optional LLM endpoint."""

from analysis.followup.llm import LlmFollowups, make_strategy
from analysis.followup.rules import RuleFollowups, evaluate, suggest
from analysis.followup.types import FollowupRequest, FollowupStrategy, FollowupSuggestion
from config.followup import LlmFollowupSettings

__all__ = [
    "FollowupRequest",
    "FollowupStrategy",
    "FollowupSuggestion",
    "LlmFollowupSettings",
    "LlmFollowups",
    "RuleFollowups",
    "evaluate",
    "make_strategy",
    "suggest",
]
