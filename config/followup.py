"""Settings of the optional LLM follow-up strategy (analysis/followup/llm.py)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Whole-request ceiling: the rules answer after it, so a decision is back in under 2 s.
MAX_TIMEOUT = 1.9


class LlmFollowupSettings(BaseSettings):
    """Where the optional LLM lives (environment: CANDOR_FOLLOWUP_LLM_*)."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_FOLLOWUP_LLM_", extra="ignore")

    enabled: bool = False
    base_url: str = Field(
        default="http://127.0.0.1:11434/v1",
        description="OpenAI-compatible API root; /chat/completions is appended.",
    )
    model: str = Field(default="", description="Model name the endpoint expects.")
    api_key: SecretStr | None = None
    timeout: float = Field(
        default=1.5,
        gt=0,
        le=MAX_TIMEOUT,
        description="Seconds for the whole request; the rules answer after that (< 2 s total).",
    )
    temperature: float = 0.2
    max_tokens: int = 200
