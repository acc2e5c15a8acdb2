"""The workflow's background task: follows the event log, sends reminders, drains the outbox.

It is owned by the app's lifecycle (started in ``cleanup_ctx``, stopped and awaited on
shutdown). Stage changes from the live interview are read from the stored event log (consent,
media started, interview ended), so the live room needs no knowledge of the pipeline and a
restart misses nothing (the read position is stored).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from server.errors import InterviewError
from server.services import Services
from server.storage.models import (
    Application,
    Candidate,
    EventRow,
    Interview,
    Job,
    WorkflowCursor,
)
from server.workflow.invitations import live_invite
from server.workflow.notices import (
    base_url,
    enqueue_candidate_email,
    enqueue_hr_notice,
    local_time,
    reminder_before,
)
from server.workflow.outbox import Outbox
from server.workflow.pipeline import aware, move, try_move
from server.workflow.wecom import WeComAppConfig, WeComClient

log = logging.getLogger(__name__)

FOLLOWED = (
    "consent_recorded",
    "candidate_joined",
    "media_started",
    "interview_ended",
    "transcript_record",
)
CURSOR = "events"
# A score that cannot be made yet (the transcript of record is still being decoded, or the
# interview's row is not marked finished yet) is tried again this much later at the earliest.
SCORE_RETRY = timedelta(seconds=5)
WAIT_CODES = ("transcript_pending", "not_finished")


class WorkflowService:
    """One per app: ``start()`` the loop, ``wake()`` it early, ``aclose()`` on shutdown."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        s = svc.settings
        app_cfg = None
        if s.wecom_corp_id and s.wecom_corp_secret and s.wecom_agent_id is not None:
            app_cfg = WeComAppConfig(
                s.wecom_corp_id, s.wecom_corp_secret.get_secret_value(), s.wecom_agent_id
            )
        robot = s.wecom_robot_key.get_secret_value() if s.wecom_robot_key else None
        self.wecom = WeComClient(s.wecom_api_base, app_cfg, robot, lambda: svc.now())
        self.outbox = Outbox(s, svc.sessions, self.wecom, lambda: svc.now())
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()
        self._score_after: dict[str, datetime] = {}  # interview -> next try at scoring
        self._unscorable: set[str] = set()  # no AI consent, no competency model

    def start(self) -> None:
        """Start the background loop."""
        self._task = asyncio.create_task(self.run(), name="workflow")

    def wake(self) -> None:
        """Run a pass now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Loop: one pass, then wait for the poll interval or a wake-up."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("workflow pass failed; trying again at the next poll")
            try:
                await asyncio.wait_for(self._wake.wait(), self.svc.settings.workflow_poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def aclose(self) -> None:
        """Stop the loop (awaited) and close the WeCom session."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.wecom.aclose()

    async def tick(self) -> None:
        """One pass: new events, due reminders and expiries, due messages."""
        async with self._tick_lock:
            await self.follow_events()
            await self.missing_scores()
            await self.deadlines()
            await self.outbox.send_due()

    # -- the event log -------------------------------------------------------

    async def follow_events(self) -> int:
        """Apply stored interview events after the saved position; the number applied."""
        async with self.svc.sessions() as session:
            cursor = await session.get(WorkflowCursor, CURSOR)
            after = cursor.last_event_id if cursor else 0
            rows = (
                await session.execute(
                    select(EventRow.id, EventRow.interview_id, EventRow.type, EventRow.at)
                    .where(EventRow.id > after, EventRow.type.in_(FOLLOWED))
                    .order_by(EventRow.id)
                    .limit(500)
                )
            ).all()
        ended: list[str] = []
        for row_id, interview_id, kind, at in rows:
            if kind == "transcript_record":
                self._score_after.pop(interview_id, None)  # a record is in: score at once
            async with self.svc.sessions() as session, session.begin():
                if await self._apply(session, interview_id, kind, aware(at) or self.svc.now()):
                    ended.append(interview_id)
                cur = await session.get(WorkflowCursor, CURSOR)
                if cur is None:
                    session.add(WorkflowCursor(name=CURSOR, last_event_id=row_id))
                else:
                    cur.last_event_id = row_id
        for interview_id in ended:
            await self.score(interview_id)
        return len(rows)

    async def _apply(self, session: object, interview_id: str, kind: str, at: datetime) -> bool:
        from sqlalchemy.ext.asyncio import AsyncSession

        assert isinstance(session, AsyncSession)
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview_id)
        )
        if app is None:
            return False
        now = self.svc.now()
        if kind == "consent_recorded":
            app.consent_at = app.consent_at or at
            app.opened_at = app.opened_at or at
        elif kind in ("candidate_joined", "media_started"):
            app.started_at = app.started_at or at
            await try_move(session, app, "interview_started", "system", now)
        elif kind == "interview_ended" and app.finished_at is None:
            app.finished_at = at
            app.started_at = app.started_at or at
            await try_move(session, app, "interview_started", "system", now)
            await try_move(session, app, "interview_done", "system", now)
            await self._completion(session, app, now)
            return True
        return False

    async def _completion(self, session: object, app: Application, now: datetime) -> None:
        from sqlalchemy.ext.asyncio import AsyncSession

        assert isinstance(session, AsyncSession)
        job = await session.get(Job, app.job_id)
        cand = await session.get(Candidate, app.candidate_id)
        if job is None or cand is None:
            return
        s = self.svc.settings
        await enqueue_candidate_email(
            session,
            self.svc.sessions,
            s,
            key="completion",
            job=job,
            cand=cand,
            app=app,
            now=now,
            values={},
        )
        await enqueue_hr_notice(
            session,
            self.svc.sessions,
            s,
            key="hr_completion",
            job=job,
            now=now,
            values={"review_url": f"{base_url(s)}/review/{app.interview_id}"},
            application_id=app.id,
        )

    async def missing_scores(self) -> None:
        """Score finished interviews still waiting for their recommendation.

        Scoring waits while an answer's transcript of record is being decoded; the arrival of
        the record (or the retry time) brings the interview back here, and so does a restart.
        """
        now = self.svc.now()
        async with self.svc.sessions() as session:
            waiting = (
                await session.scalars(
                    select(Application.interview_id).where(
                        Application.stage == "interview_done",
                        Application.recommendation.is_(None),
                        Application.finished_at.is_not(None),
                        Application.interview_id.is_not(None),
                    )
                )
            ).all()
        for interview_id in waiting:
            if interview_id is None or interview_id in self._unscorable:
                continue
            if self._score_after.get(interview_id, now) <= now:
                await self.score(interview_id)

    async def score(self, interview_id: str) -> None:
        """The scorer's recommendation moves the card to recommended or below_threshold.

        Scoring emits ``interview.scored``; a refusal that passes (not finished yet, final
        transcript pending) is tried again at later passes (``missing_scores``).
        """
        from server.reports import store

        svc = self.svc
        self._score_after.pop(interview_id, None)
        async with svc.sessions() as session:
            interview = await session.get(Interview, interview_id)
            job = await session.get(Job, interview.job_id) if interview else None
        if interview is None or job is None or job.competency_model is None:
            self._unscorable.add(interview_id)
            return
        history = await svc.events.history(interview_id)
        try:
            score = await store.ensure_score(svc.sessions, interview, job, history, svc.now())
        except InterviewError as exc:
            if exc.code == "not_finished":
                # The room saves the status just after its ``interview_ended`` event: the
                # next pass will see it (a cheap check, refused before anything is scored).
                self._score_after[interview_id] = svc.now()
            elif exc.code in WAIT_CODES:
                self._score_after[interview_id] = svc.now() + SCORE_RETRY
            else:
                self._unscorable.add(interview_id)  # e.g. no consent to AI analysis
            return
        kind = score.recommendation.kind
        async with svc.sessions() as session, session.begin():
            app = await session.scalar(
                select(Application).where(Application.interview_id == interview_id)
            )
            if app is None:
                return
            app.recommendation = kind
            target = {"advance": "recommended", "no_recommendation": "below_threshold"}.get(kind)
            if target:
                await try_move(session, app, target, "scorer", svc.now())

    # -- deadlines -----------------------------------------------------------

    async def deadlines(self) -> None:
        """Remind non-starters before the deadline; tell them when the link has expired."""
        now = self.svc.now()
        s = self.svc.settings
        async with self.svc.sessions() as session, session.begin():
            apps = (
                await session.scalars(
                    select(Application).where(
                        Application.stage == "invited",
                        Application.started_at.is_(None),
                        Application.expiry_noticed_at.is_(None),
                        Application.interview_id.is_not(None),
                    )
                )
            ).all()
            for app in apps:
                job = await session.get(Job, app.job_id)
                cand = await session.get(Candidate, app.candidate_id)
                if job is None or cand is None or app.interview_id is None:
                    continue
                lang = cand.language or job.language
                inv = await live_invite(session, app.interview_id, now)
                if inv is None:
                    last = await self._last_invite_expiry(session, app.interview_id)
                    if last is not None and last <= now:
                        app.expiry_noticed_at = now
                        await enqueue_candidate_email(
                            session,
                            self.svc.sessions,
                            s,
                            key="expired",
                            job=job,
                            cand=cand,
                            app=app,
                            now=now,
                            values={"deadline": local_time(s, last, lang)},
                        )
                    continue
                deadline = aware(inv.expires_at)
                assert deadline is not None
                if app.reminded_at is None and deadline - reminder_before(s, job) <= now:
                    app.reminded_at = now
                    token = self.svc.invites.issue(inv.id, app.interview_id, deadline - now, now)
                    await enqueue_candidate_email(
                        session,
                        self.svc.sessions,
                        s,
                        key="reminder",
                        job=job,
                        cand=cand,
                        app=app,
                        now=now,
                        values={
                            "deadline": local_time(s, deadline, lang),
                            "url": f"{base_url(s)}/i/{token}",
                        },
                    )

    async def _last_invite_expiry(self, session: object, interview_id: str) -> datetime | None:
        from sqlalchemy.ext.asyncio import AsyncSession

        from server.storage.models import Invite

        assert isinstance(session, AsyncSession)
        inv = await session.scalar(
            select(Invite)
            .where(Invite.interview_id == interview_id, Invite.revoked.is_(False))
            .order_by(Invite.created_at.desc())
        )
        return aware(inv.expires_at) if inv is not None else None


WORKFLOW: web.AppKey[WorkflowService] = web.AppKey("workflow", WorkflowService)


async def track_open(svc: Services, interview_id: str) -> None:
    """The candidate opened the invite link: note the first time."""
    async with svc.sessions() as session, session.begin():
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview_id)
        )
        if app is not None and app.opened_at is None:
            app.opened_at = svc.now()


async def record_decided(svc: Services, interview_id: str, who: str, decision: str) -> None:
    """A person's decision moves the card to ``decided``."""
    async with svc.sessions() as session, session.begin():
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview_id)
        )
        if app is not None and app.stage in (
            "interview_done",
            "recommended",
            "below_threshold",
            "human_interview",
            "decided",
        ):
            await move(session, app, "decided", "person", svc.now(), who, decision)
