"""Prometheus metrics of one app: its own registry, hooks for the room, scrape-time gauges.

Each app owns a ``CollectorRegistry`` (no global registry state, so several apps in one
process do not collide). The event log calls ``observe_event`` for every event appended;
gauges that describe current state are read when /metrics is scraped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from analysis.events import (
    AnalyzerFailed,
    CandidateJoined,
    Event,
    InterviewEnded,
    MediaStarted,
    TranscriptFinal,
)
from server.storage.models import OutboxRow, WebhookMessage

if TYPE_CHECKING:
    from server.services import Services
    from server.session import InterviewSession

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# join: ICE + DTLS + the first packet; final latency: end of speech to the final transcript
JOIN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)
FINAL_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
# how late a timer fires: live media starts to fail past about 0.5 s (aioice counts a consent
# answer later than 0.5 s as missing; six misses in a row close the connection)
LOOP_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LOOP_LAG_PROBE_S = 0.5
# a transcription event's wait in its session's reader queue plus the write to the log
STORE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STORE_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_MAX_PENDING_JOINS = 10_000

# The outboxes: the workflow's messages by channel (both WeCom channels are "wecom") and the
# webhook deliveries. "pending" waits to be sent or retried; "failed" was given up on.
OUTBOXES = ("email", "wecom", "webhook")
OUTBOX_STATES = ("pending", "failed")
_CHANNEL_OUTBOX = {"email": "email", "wecom_app": "wecom", "wecom_robot": "wecom"}


@dataclass
class OutboxDepth:
    """Rows per (outbox, state) and the age of each outbox's oldest pending row."""

    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest_pending_s: dict[str, float] = field(default_factory=dict)
    ok: bool = False


async def read_outbox_depth(sessions: async_sessionmaker[Any], now: datetime) -> OutboxDepth:
    """Two grouped counts over the ``status``-indexed outbox tables (sent rows are skipped)."""
    depth = OutboxDepth(rows={(o, s): 0 for o in OUTBOXES for s in OUTBOX_STATES}, ok=True)
    wanted = list(OUTBOX_STATES)
    async with sessions() as session:
        workflow = await session.execute(
            select(
                OutboxRow.channel, OutboxRow.status, func.count(), func.min(OutboxRow.created_at)
            )
            .where(OutboxRow.status.in_(wanted))
            .group_by(OutboxRow.channel, OutboxRow.status)
        )
        hooks = await session.execute(
            select(WebhookMessage.status, func.count(), func.min(WebhookMessage.created_at))
            .where(WebhookMessage.status.in_(wanted))
            .group_by(WebhookMessage.status)
        )
        counted = [(_CHANNEL_OUTBOX.get(c, c), s, n, at) for c, s, n, at in workflow.all()]
        counted += [("webhook", s, n, at) for s, n, at in hooks.all()]
    for outbox, state, n, oldest in counted:
        depth.rows[(outbox, state)] = depth.rows.get((outbox, state), 0) + int(n)
        if state == "pending" and oldest is not None:
            at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (now - at).total_seconds())
            depth.oldest_pending_s[outbox] = max(depth.oldest_pending_s.get(outbox, 0.0), age)
    return depth


class Metrics:
    """The app's collectors and the hooks that feed them (no I/O in the constructor)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.join_seconds = Histogram(
            "candor_join_seconds",
            "From the server's answer to a candidate's first media frame on the server.",
            buckets=JOIN_BUCKETS,
            registry=self.registry,
        )
        self.final_latency_seconds = Histogram(
            "candor_transcript_final_latency_seconds",
            "From the end of an utterance to its final transcript.",
            buckets=FINAL_BUCKETS,
            registry=self.registry,
        )
        self.transcript_store_wait_seconds = Histogram(
            "candor_transcript_store_wait_seconds",
            "From a transcription event leaving the transcriber to its storage in the log.",
            buckets=STORE_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.transcript_store_batch_events = Histogram(
            "candor_transcript_store_batch_events",
            "Transcription events stored in one transaction by a session's reader.",
            buckets=STORE_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "candor_http_request_duration_seconds",
            "HTTP requests by method, route pattern and status (WebSockets excluded).",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag_seconds = Histogram(
            "candor_event_loop_lag_seconds",
            f"How late the event loop ran a timer due every {LOOP_LAG_PROBE_S} s (CPU starvation).",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )
        self.analyzer_failures: dict[str, int] = {}
        self.outbox_depth = OutboxDepth()
        self._joined_at: dict[tuple[str, int], float] = {}
        self._state = _StateCollector()
        self.registry.register(self._state)

    def attach(self, services: Services) -> None:
        """Read current state (rooms, transcription, bus) from ``services`` at scrape time."""
        self._state.services = services

    def detach(self) -> None:
        """Stop reading state (the services are closing)."""
        self._state.services = None

    async def watch_loop_lag(self, every: float = LOOP_LAG_PROBE_S) -> None:
        """Observe, for ever, how late a timer due every ``every`` seconds fires (cancel to stop).

        A starved process (CPU saturated, or a blocking call on the loop) shows here before
        its candidates' media connections fail: see docs/operations.md.
        """
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + every
            await asyncio.sleep(every)
            self.loop_lag_seconds.observe(max(0.0, loop.time() - due))

    def observe_event(self, event: Event) -> None:
        """Called by the event log for every event appended (cheap, never raises)."""
        if isinstance(event, AnalyzerFailed):
            self.analyzer_failures[event.analyzer] = (
                self.analyzer_failures.get(event.analyzer, 0) + 1
            )
        elif isinstance(event, TranscriptFinal):
            if event.t >= event.end > 0:
                self.final_latency_seconds.observe(event.t - event.end)
        elif isinstance(event, CandidateJoined):
            if len(self._joined_at) < _MAX_PENDING_JOINS:
                self._joined_at[(event.interview_id, event.segment)] = event.t
        elif isinstance(event, MediaStarted):
            joined = self._joined_at.pop((event.interview_id, event.segment), None)
            if joined is not None:
                self.join_seconds.observe(max(0.0, event.t - joined))
        elif isinstance(event, InterviewEnded):
            for key in [k for k in self._joined_at if k[0] == event.interview_id]:
                del self._joined_at[key]

    def render(self) -> bytes:
        """The Prometheus text exposition of every collector."""
        return bytes(generate_latest(self.registry))

    async def scrape(self) -> bytes:
        """Read what needs the database (the outbox depth), then render."""
        svc = self._state.services
        if svc is not None:
            try:
                self.outbox_depth = await read_outbox_depth(svc.sessions, svc.now())
            except Exception:
                # A scrape still answers; candor_outbox_depth_ok says the depth is unknown.
                log.warning("could not read the outbox depth", exc_info=True)
                self.outbox_depth = OutboxDepth()
        self._state.outbox_depth = self.outbox_depth
        return self.render()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Time each request under its route's pattern (never the raw path: ids, tokens)."""
        began = time.perf_counter()
        status = 500
        websocket = False
        try:
            response = await handler(request)
            status = response.status
            websocket = isinstance(response, web.WebSocketResponse)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if not websocket:
                method = request.method if request.method in _METHODS else "other"
                self.http_seconds.labels(method, route_pattern(request), str(status)).observe(
                    time.perf_counter() - began
                )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_pattern(request: web.Request) -> str:
    """The matched route's pattern, e.g. ``/api/interviews/{iid}``; unmatched: ``<unmatched>``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


def live_counts(sessions: Iterable[InterviewSession]) -> tuple[int, int]:
    """(interviews with a connected candidate, observers watching) from the running sessions."""
    interviews = observers = 0
    for session in sessions:
        interviews += int(session.candidate_connected)
        observers += session.observer_count
    return interviews, observers


class _StateCollector:
    """Gauges and counters read from the services when scraped."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.outbox_depth = OutboxDepth()

    def describe(self) -> list[Metric]:
        """Names only (the registry checks them for duplicates)."""
        return [
            GaugeMetricFamily("candor_live_interviews", ""),
            GaugeMetricFamily("candor_live_observers", ""),
            GaugeMetricFamily("candor_transcription_queue_depth", ""),
            GaugeMetricFamily("candor_transcription_backlog_seconds", ""),
            GaugeMetricFamily("candor_transcription_model_loaded", ""),
            GaugeMetricFamily("candor_transcript_reader_queue_events", ""),
            CounterMetricFamily("candor_transcription_passes", ""),
            CounterMetricFamily("candor_analyzer_failures", ""),
            CounterMetricFamily("candor_bus_dropped_events", ""),
            GaugeMetricFamily("candor_outbox_depth", ""),
            GaugeMetricFamily("candor_outbox_oldest_pending_seconds", ""),
            GaugeMetricFamily("candor_outbox_depth_ok", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        """Current values; empty families when the services are not running."""
        svc = self.services
        interviews, observers = live_counts(svc.live.running()) if svc is not None else (0, 0)
        yield GaugeMetricFamily(
            "candor_live_interviews", "Interviews with a connected candidate.", value=interviews
        )
        yield GaugeMetricFamily(
            "candor_live_observers", "Observers watching live interviews.", value=observers
        )
        scheduler = getattr(svc.transcribers, "scheduler", None) if svc is not None else None
        asr = scheduler.metrics if scheduler is not None else None
        yield GaugeMetricFamily(
            "candor_transcription_queue_depth",
            "Transcription passes waiting to start.",
            value=asr.queue_depth if asr is not None else 0,
        )
        yield GaugeMetricFamily(
            "candor_transcription_backlog_seconds",
            "Estimated seconds of queued transcription work.",
            value=scheduler.backlog_seconds() if scheduler is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "candor_transcription_model_loaded",
            "1 when the speech model (or the Redis worker connection) is ready.",
            value=1 if scheduler is not None else 0,
        )
        yield GaugeMetricFamily(
            "candor_transcript_reader_queue_events",
            "Transcription events waiting to be stored, over this node's live interviews.",
            value=sum(s.transcript_queue for s in svc.live.running()) if svc is not None else 0,
        )
        passes = CounterMetricFamily(
            "candor_transcription_passes",
            "Transcription passes run, by priority.",
            labels=["priority"],
        )
        passes.add_metric(["final"], asr.final_passes if asr is not None else 0)
        passes.add_metric(["partial"], asr.partial_passes if asr is not None else 0)
        yield passes
        yield CounterMetricFamily(
            "candor_transcription_finals",
            "Live transcript finals emitted.",
            value=asr.finals_emitted if asr is not None else 0,
        )
        shed = CounterMetricFamily(
            "candor_transcription_load_shedding",
            "What the live transcription gave up to keep finals on time, by action: "
            "partial_skipped (a tentative update not run), pause_pass_dropped (a queued pass "
            "overtaken by speech), final_shortened (a final on a shortened window, a little "
            "less accurate), final_degraded (a final from the last hypothesis: the final "
            "queue was full).",
            labels=["action"],
        )
        for action, value in (
            ("partial_skipped", asr.partials_skipped if asr is not None else 0),
            ("pause_pass_dropped", asr.pause_passes_dropped if asr is not None else 0),
            ("final_shortened", asr.finals_shortened if asr is not None else 0),
            ("final_degraded", asr.finals_degraded if asr is not None else 0),
        ):
            shed.add_metric([action], value)
        yield shed
        failures = CounterMetricFamily(
            "candor_analyzer_failures", "Analyzer failures, by analyzer.", labels=["analyzer"]
        )
        if svc is not None:
            for name, count in sorted(svc.metrics.analyzer_failures.items()):
                failures.add_metric([name], count)
        yield failures
        dropped = CounterMetricFamily(
            "candor_bus_dropped_events",
            "Events the bus could not deliver, by cause.",
            labels=["cause"],
        )
        if svc is not None:
            for cause, count in sorted(svc.bus.metrics.snapshot().items()):
                dropped.add_metric([cause], count)
        yield dropped
        yield from outbox_families(self.outbox_depth)


def outbox_families(depth: OutboxDepth) -> Iterable[Metric]:
    """``candor_outbox_depth{outbox,state}``, the oldest pending row's age, and whether the
    depth could be read at this scrape."""
    rows = GaugeMetricFamily(
        "candor_outbox_depth",
        "Outbound messages waiting (pending) or given up on (failed), by outbox: email and "
        "wecom (the workflow's messages) and webhook (deliveries).",
        labels=["outbox", "state"],
    )
    oldest = GaugeMetricFamily(
        "candor_outbox_oldest_pending_seconds",
        "Age of the oldest pending message, by outbox (0 when none is pending).",
        labels=["outbox"],
    )
    if depth.ok:
        for (outbox, state), n in sorted(depth.rows.items()):
            rows.add_metric([outbox, state], n)
        for outbox in OUTBOXES:
            oldest.add_metric([outbox], depth.oldest_pending_s.get(outbox, 0.0))
    yield rows
    yield oldest
    yield GaugeMetricFamily(
        "candor_outbox_depth_ok",
        "1 when this scrape could read the outbox tables.",
        value=1 if depth.ok else 0,
    )
