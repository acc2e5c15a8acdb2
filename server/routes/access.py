"""Access checks for routes: the signed-in user, their relation to a job or interview, 403s.

Routes call ``require``, ``require_job``, ``require_interview`` or ``require_candidate``; each
asks server.policy.can() and answers 404 (no such record) or 403 (refused; audited).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal
from server.errors import Forbidden, NotFound
from server.policy import Action, Relation, can, refusal
from server.routes.common import principal
from server.services import Services, services
from server.storage.models import Candidate, Interview, InterviewAccess, Job, JobMember


@dataclass(frozen=True)
class InterviewGrant:
    """A user's access to one interview: who, the interview and how they stand to it."""

    who: Principal
    interview: Interview
    relation: Relation

    def can(self, action: Action) -> bool:
        """Whether this user may also take ``action`` on this interview."""
        return can(self.who, action, self.relation)


async def refuse_access(
    request: web.Request, who: Principal, action: Action, target: str
) -> Forbidden:
    """Audit a refused ``action`` and return the 403 to raise."""
    from server.routes.api import audit  # api imports this module

    await audit(request, who.actor_id, "access_refused", f"{action} {target}"[:80])
    return Forbidden(refusal(who, action), code="forbidden")


async def require(request: web.Request, action: Action) -> Principal:
    """The signed-in user (401) if their role may take the global ``action`` (403)."""
    who = principal(request)
    if not can(who, action):
        raise await refuse_access(request, who, action, "")
    return who


async def job_relation(session: AsyncSession, who: Principal, job_id: str) -> Relation:
    """OWNER or MEMBER from ``job_members``, else NONE (an API key: MEMBER of its jobs)."""
    if who.is_key:
        return Relation.MEMBER if who.key_sees_job(job_id) else Relation.NONE
    role = await session.scalar(
        select(JobMember.role).where(JobMember.job_id == job_id, JobMember.user_id == who.user_id)
    )
    return Relation.NONE if role is None else Relation.of_job_role(role)


async def interview_relation(
    session: AsyncSession, who: Principal, interview: Interview
) -> Relation:
    """The relation to the interview's job, or ASSIGNED if the interview is assigned to them."""
    relation = await job_relation(session, who, interview.job_id)
    if relation != Relation.NONE or who.is_key:
        return relation
    assigned = await session.get(InterviewAccess, (interview.id, who.user_id))
    return Relation.NONE if assigned is None else Relation.ASSIGNED


async def require_job(
    request: web.Request, job_id: str, action: Action
) -> tuple[Principal, Job, Services]:
    """The job (404) if the signed-in user (401) may take ``action`` on it (403)."""
    who = principal(request)
    svc = services(request)
    async with svc.sessions() as session:
        job = await session.get(Job, job_id)
        if job is None:
            raise NotFound("No such job.")
        relation = await job_relation(session, who, job.id)
    if not can(who, action, relation):
        raise await refuse_access(request, who, action, job.id)
    return who, job, svc


async def require_interview(
    request: web.Request, interview_id: str, action: Action
) -> InterviewGrant:
    """The interview (404) if the signed-in user (401) may take ``action`` on it (403)."""
    who = principal(request)
    async with services(request).sessions() as session:
        interview = await session.get(Interview, interview_id)
        if interview is None:
            raise NotFound("No such interview.")
        relation = await interview_relation(session, who, interview)
    if not can(who, action, relation):
        raise await refuse_access(request, who, action, interview.id)
    return InterviewGrant(who, interview, relation)


async def interview_and_job(
    request: web.Request, action: Action
) -> tuple[InterviewGrant, Job, Services]:
    """The interview of the ``iid`` route parameter (404/403 first) and its job (404)."""
    grant = await require_interview(request, request.match_info["iid"], action)
    svc = services(request)
    async with svc.sessions() as session:
        job = await session.get(Job, grant.interview.job_id)
    if job is None:
        raise NotFound("The interview's job no longer exists.")
    return grant, job, svc


async def require_candidate(
    request: web.Request, who: Principal, candidate_id: str, action: Action
) -> Candidate:
    """The candidate (404) if ``who`` created them or is a member of one of their jobs (403)."""
    async with services(request).sessions() as session:
        candidate: Candidate | None = await session.get(Candidate, candidate_id)
        if candidate is None:
            raise NotFound("No such candidate.")
        relation = Relation.NONE
        if candidate.created_by == who.actor_id:
            relation = Relation.OWNER
        elif who.is_key:
            jobs = await session.scalars(
                select(Interview.job_id).where(Interview.candidate_id == candidate.id)
            )
            if who.job_ids is None or any(who.key_sees_job(j) for j in jobs):
                relation = Relation.MEMBER
        else:
            roles = await session.scalars(
                select(JobMember.role)
                .join(Interview, Interview.job_id == JobMember.job_id)
                .where(Interview.candidate_id == candidate.id, JobMember.user_id == who.user_id)
            )
            relation = max((Relation.of_job_role(r) for r in roles), default=Relation.NONE)
    if not can(who, action, relation):
        raise await refuse_access(request, who, action, candidate.id)
    return candidate


def _my_jobs(who: Principal) -> Select[str]:
    return select(JobMember.job_id).where(JobMember.user_id == who.user_id)


def member_jobs(who: Principal) -> ColumnElement[bool]:
    """A filter on ``Job`` for the jobs ``who`` may list (all of them for admins)."""
    if who.is_admin or (who.is_key and who.job_ids is None):
        return true()
    if who.is_key:
        return Job.id.in_(sorted(who.job_ids or ()))
    return Job.id.in_(_my_jobs(who))


def visible_interviews(who: Principal) -> ColumnElement[bool]:
    """A filter on ``Interview``: those of ``who``'s jobs and those assigned to them."""
    if who.is_admin or (who.is_key and who.job_ids is None):
        return true()
    if who.is_key:
        return Interview.job_id.in_(sorted(who.job_ids or ()))
    assigned = select(InterviewAccess.interview_id).where(InterviewAccess.user_id == who.user_id)
    return Interview.job_id.in_(_my_jobs(who)) | Interview.id.in_(assigned)


def visible_candidates(who: Principal) -> ColumnElement[bool]:
    """A filter on ``Candidate``: those ``who`` created or who interview for ``who``'s jobs."""
    if who.is_admin or (who.is_key and who.job_ids is None):
        return true()
    if who.is_key:
        keyed = select(Interview.candidate_id).where(
            Interview.job_id.in_(sorted(who.job_ids or ()))
        )
        return (Candidate.created_by == who.key_id) | Candidate.id.in_(keyed)
    in_my_jobs = select(Interview.candidate_id).where(Interview.job_id.in_(_my_jobs(who)))
    return (Candidate.created_by == who.user_id) | Candidate.id.in_(in_my_jobs)
