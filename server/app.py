"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from analysis.bus import make_bus
from config.settings import Settings
from media.crypto import MasterKey
from media.udp_ports import install as install_media_sockets
from media.udp_ports import uninstall as uninstall_media_sockets
from server.abandon import run_abandon_watch
from server.audit import audit_refusals
from server.auth import SessionCodec
from server.bootstrap import ensure_admin
from server.cluster import Cluster
from server.encryption.keyring import KeyRing
from server.encryption.running import RunningLock
from server.encryption.shred import check_master_key
from server.errors import error_middleware
from server.event_log import EventLog, StoreHookFor
from server.ice import observer_peer
from server.integrations.api_keys import KeyHasher, api_key_middleware
from server.integrations.webhooks.delivery import WebhookDelivery
from server.integrations.webhooks.hooks import (
    INTERVIEW_EVENT_TYPES,
    interview_events,
    webhook_disabled_notice,
)
from server.invites import InviteCodec
from server.keys import (
    api_key_hash_key,
    master_key_bytes,
    previous_secret_keys,
    private_dir,
    secret_key_bytes,
)
from server.metrics import Metrics
from server.pages import WEB_CLIENT, page
from server.retention import run_sweeper
from server.rights import RIGHTS_LINKS, RightsLinks
from server.routes import (
    accounts,
    analytics,
    api,
    candidate,
    competency,
    docs,
    export,
    feedback,
    health,
    ice,
    job_settings,
    keys,
    members,
    observer,
    partner,
    recordings,
    reports,
    score_preview,
    self_identification,
    self_service,
    sso,
    vocabulary,
    webhooks,
    workflow,
)
from server.routes import audit as audit_routes
from server.routes import rights as rights_routes
from server.security import forgery_middleware, setup_security
from server.segments import recover_segments
from server.services import SERVICES, Services
from server.session import InterviewSession
from server.sessions import SessionRegistry
from server.signin.middleware import session_middleware
from server.signin.throttle import BackOff, CounterStore, MemoryCounters, RedisCounters, Throttle
from server.storage.db import check_schema, make_engine, migrate, sessionmaker
from server.storage.models import Interview

log = logging.getLogger(__name__)

FIRST_ADMIN_PASSWORD: web.AppKey[str | None] = web.AppKey("first_admin_password", str)


async def start_cluster(settings: Settings) -> Cluster | None:
    """This node's lease and command channel, when it is one of several (else None)."""
    if not settings.cluster:
        return None
    if settings.bus != "redis":
        raise SystemExit(
            "CANDOR_CLUSTER needs CANDOR_BUS=redis: the nodes share events and leases in Redis."
        )
    node = settings.node_id or f"{socket.gethostname()}-{os.getpid()}"
    cluster = Cluster(settings.redis_url, node, settings.lease_seconds)
    await cluster.start()
    return cluster


async def interview_is_live(svc: Services, interview_id: str) -> bool:
    """Whether the interview's stored status says its candidate is connected somewhere."""
    async with svc.sessions() as session:
        status = await session.scalar(select(Interview.status).where(Interview.id == interview_id))
    return status == "live"


def _report_preload(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("speech model failed to load", exc_info=task.exception())


def make_throttle(settings: Settings, redis: object | None, secret: bytes) -> Throttle:
    """Sign-in back-off from the settings; counters in Redis when a client is given."""
    store: CounterStore = RedisCounters(redis) if redis is not None else MemoryCounters()
    base, cap = settings.signin_lockout_seconds, settings.signin_lockout_max_seconds
    return Throttle(
        store,
        BackOff(free=settings.signin_free_failures, base=base, cap=cap),
        BackOff(free=settings.signin_address_free_failures, base=base, cap=cap),
        secret,
    )


def _page_handler(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return page(name)

    return handler


def create_app(
    settings: Settings,
    *,
    now: Callable[[], datetime] | None = None,
    tick_seconds: float = 1.0,
) -> web.Application:
    """Build the app; services start and stop in cleanup_ctx.

    ``now`` replaces the clock and ``tick_seconds`` the live interviews' timer interval.
    """
    metrics = Metrics()  # this app's own Prometheus registry
    app = web.Application(
        # metrics first (it times everything); audit_refusals sees every 403 answer.
        middlewares=[
            metrics.middleware,
            audit_refusals,
            error_middleware,
            forgery_middleware,
            session_middleware,
            api_key_middleware,
        ],
        client_max_size=1024 * 1024,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        private_dir(settings.data_dir)
        private_dir(settings.recordings_dir)
        master = MasterKey(master_key_bytes(settings))
        keyring = KeyRing(master)
        running = RunningLock(settings.data_dir, exclusive=False)  # no key rotation meanwhile
        engine = make_engine(settings.db_url)
        sessions = sessionmaker(engine, keyring)
        try:
            if settings.auto_migrate:
                await migrate(engine, settings.db_url, keyring)
            else:
                await check_schema(engine)
            await check_master_key(sessions, keyring)
        except BaseException:
            await engine.dispose()
            uninstall_media_sockets(asyncio.get_running_loop())
            running.release()
            raise
        bus = make_bus(settings.bus, settings.redis_url)
        await bus.start()
        secret = secret_key_bytes(settings)
        previous = previous_secret_keys(settings)  # grace period after rotate-secret-key
        redis_client = None
        if settings.bus == "redis":
            from analysis.redis_client import async_redis

            redis_client = async_redis(settings.redis_url)
        svc = Services(
            settings=settings,
            engine=engine,
            sessions=sessions,
            bus=bus,
            events=EventLog(sessions, bus, metrics.observe_event),
            master=master,
            keyring=keyring,
            invites=InviteCodec(secret, previous),
            auth=SessionCodec(secret, timedelta(hours=settings.session_ttl_hours), previous),
            throttle=make_throttle(settings, redis_client, secret),
            key_hasher=KeyHasher.pinned(api_key_hash_key(settings)),
            metrics=metrics,
        )
        metrics.attach(svc)
        if now is not None:
            svc.now = now
        cluster = await start_cluster(settings)
        svc.cluster = cluster
        # server peers' media sockets: in the port range if one is set, and drained on each
        # read (media/udp_ports.py: consent checks must not wait behind seconds of media)
        install_media_sockets(asyncio.get_running_loop())
        registry = SessionRegistry(
            lambda iid: InterviewSession(svc, iid, tick_seconds=tick_seconds),
            cluster,
            observer_peer=lambda iid: observer_peer(settings, iid, svc.now()),
            is_live=lambda iid: interview_is_live(svc, iid),
        )
        svc.live = registry
        if settings.asr.enabled:
            from server.transcription import Transcribers

            svc.transcribers = Transcribers(settings)
            if settings.asr.preload:
                preload = registry.spawn(svc.transcribers.preload(), "asr-preload")
                preload.add_done_callback(_report_preload)
        svc.events.store_hooks.append(
            StoreHookFor(frozenset(INTERVIEW_EVENT_TYPES), interview_events)
        )
        svc.sso = sso.make_clients(settings.sso, secret)
        if settings.webhooks.enabled:
            svc.webhooks = WebhookDelivery(
                sessions,
                settings.webhooks,
                settings.public_url or "",
                now=svc.now,
                on_disabled=lambda endpoint: webhook_disabled_notice(svc, endpoint),
            )
            await svc.webhooks.start()
        app[SERVICES] = svc
        app[RIGHTS_LINKS] = RightsLinks(secret, timedelta(days=settings.rights_link_days), previous)
        from server.workflow.service import WORKFLOW, WorkflowService

        flow = WorkflowService(svc)
        app[WORKFLOW] = flow
        try:
            app[FIRST_ADMIN_PASSWORD] = await ensure_admin(svc, settings)
            flow.start()
            registry.spawn(run_sweeper(svc), "retention-sweeper")
            registry.spawn(run_abandon_watch(svc), "abandon-watch")
            registry.spawn(metrics.watch_loop_lag(), "loop-lag")
            # With several nodes, segments still open may be another node's, being written:
            # a node taking over an interview recovers that interview's segments instead.
            recovered = await recover_segments(svc) if cluster is None else 0
            if recovered:
                log.warning(
                    "recovered recordings left open by a previous run", extra={"count": recovered}
                )
            yield
        finally:
            metrics.detach()
            # Sessions and background tasks end (and are awaited) before what they use closes.
            await flow.aclose()
            await registry.aclose()
            if svc.webhooks is not None:
                await svc.webhooks.aclose()  # after the sessions: what they queued is kept
            if svc.sso is not None:
                await svc.sso.aclose()
            if svc.transcribers is not None:
                await svc.transcribers.aclose()
            if cluster is not None:
                await cluster.aclose()
            await bus.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            await asyncio.to_thread(svc.passwords.close)
            await engine.dispose()
            uninstall_media_sockets(asyncio.get_running_loop())
            running.release()

    app.cleanup_ctx.append(lifecycle)

    async def on_shutdown(app: web.Application) -> None:
        svc = app.get(SERVICES)
        if svc is not None:
            await svc.live.aclose()  # closes candidates' and observers' sockets too

    app.on_shutdown.append(on_shutdown)
    setup_security(app, settings)
    app.add_routes(accounts.routes)
    app.add_routes(api.routes)
    app.add_routes(competency.routes)
    app.add_routes(candidate.routes)
    app.add_routes(observer.routes)
    app.add_routes(recordings.routes)
    app.add_routes(reports.routes)
    app.add_routes(feedback.routes)
    app.add_routes(members.routes)
    app.add_routes(score_preview.routes)
    app.add_routes(analytics.routes)
    app.add_routes(audit_routes.routes)
    app.add_routes(rights_routes.routes)
    app.add_routes(self_service.routes)
    app.add_routes(self_identification.routes)
    app.add_routes(keys.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(partner.routes)
    app.add_routes(export.routes)
    app.add_routes(sso.routes)
    docs.install(app)
    app.add_routes(ice.routes)
    app.add_routes(health.routes)
    app.add_routes(workflow.routes)
    app.add_routes(job_settings.routes)
    app.add_routes(vocabulary.routes)

    async def index(_request: web.Request) -> web.StreamResponse:
        return page("admin.html")

    async def login_page(_request: web.Request) -> web.StreamResponse:
        return page("login.html")

    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    for path, name in (
        ("/users", "users.html"),
        ("/account", "account.html"),
        ("/set-password", "set_password.html"),
    ):
        app.router.add_get(path, _page_handler(name))
    app.router.add_static("/static", WEB_CLIENT, append_version=False)
    return app
