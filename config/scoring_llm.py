"""Settings of the optional LLM judge (analysis/scoring/llm_judge.py)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LlmJudgeSettings(BaseSettings):
    """Where the optional LLM judge lives (environment: CANDOR_SCORING_LLM_*)."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_SCORING_LLM_", extra="ignore")

    enabled: bool = False
    base_url: str = Field(
        default="http://127.0.0.1:11434/v1",
        description="OpenAI-compatible API root (the follow-ups' endpoint works).",
    )
    model: str = Field(default="", description="Model name the endpoint expects.")
    api_key: SecretStr | None = None
    timeout: float = Field(default=20.0, gt=0, le=120, description="Seconds per attempt.")
    retries: int = Field(default=2, ge=0, le=5, description="Attempts after the first.")
    max_tokens: int = Field(default=800, gt=0)
