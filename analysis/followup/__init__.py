"""Follow-up strategies: transparent rules by default, an optional LLM endpoint."""

from analysis.followup.types import FollowupRequest, FollowupStrategy, FollowupSuggestion

__all__ = ["FollowupRequest", "FollowupStrategy", "FollowupSuggestion"]
