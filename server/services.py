"""Everything a request handler needs, built once per app and kept in typed app state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analysis.bus import EventBus
from config.settings import Settings
from media.crypto import MasterKey
from server.audit import AuditTrail
from server.auth import SessionCodec
from server.encryption.keyring import KeyRing
from server.event_log import EventLog
from server.integrations.api_keys_hash import KeyHasher
from server.invites import InviteCodec
from server.metrics import Metrics
from server.passwords import Passwords
from server.signin.sessions import SessionStore
from server.signin.throttle import BackOff, MemoryCounters, Throttle

if TYPE_CHECKING:  # both need Services themselves
    from server.cluster import Cluster
    from server.sessions import SessionRegistry
    from server.transcription import Transcribers


@dataclass
class Services:
    """Shared services of one running app (no module-level state)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    events: EventLog
    master: MasterKey
    keyring: KeyRing  # field data keys (server/encryption)
    invites: InviteCodec
    auth: SessionCodec
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    transcribers: Transcribers | None = None  # when ASR is enabled
    metrics: Metrics = field(default_factory=Metrics)  # the app's Prometheus collectors
    cluster: Cluster | None = None  # several server processes (server/cluster.py)
    live: SessionRegistry = field(init=False)  # the live interviews (server/sessions.py)
    passwords: Passwords = field(default_factory=Passwords)
    throttle: Throttle = field(
        default_factory=lambda: Throttle(MemoryCounters(), BackOff(), BackOff(free=20))
    )
    signin_sessions: SessionStore = field(init=False)
    audit: AuditTrail = field(init=False)

    def __post_init__(self) -> None:
        self.signin_sessions = SessionStore(self.sessions, self.auth)
        self.audit = AuditTrail(self.sessions, lambda: self.now())

    key_hasher: KeyHasher = field(default_factory=lambda: KeyHasher(b""))  # set by create_app
    webhooks: Any = None  # server.integrations.webhooks.delivery.WebhookDelivery
    sso: Any = None  # server.routes.sso.SsoClients when single sign-on is configured

    @property
    def invite_ttl(self) -> timedelta:
        """How long a new invite link stays valid."""
        return timedelta(hours=self.settings.invite_ttl_hours)


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    """The app's services from a request."""
    return request.app[SERVICES]
