"""Who works on a job: list, add (or change the role of) and remove job members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.auth import Principal
from server.errors import BadInput, Conflict, NotFound
from server.policy import JOB_MEMBER_ROLES, JobRole
from server.routes.access import require_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import Services
from server.storage.models import JobMember, User

routes = web.RouteTableDef()


class MemberIn(BaseModel):
    user_id: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=255)
    role: JobRole = "member"

    @model_validator(mode="after")
    def _one_user(self) -> MemberIn:
        if not (self.user_id or self.email):
            raise ValueError("give the member's user_id or email")
        return self


def _member_json(member: JobMember, user: User) -> dict[str, Any]:
    added: datetime = member.added_at
    return {
        "user_id": user.id,
        "email": user.email,
        "name": user.name,
        "user_role": user.role,
        "role": member.role,
        "added_at": added.isoformat(),
    }


@routes.get("/api/jobs/{jid}/members")
async def list_members(request: web.Request) -> web.Response:
    """The job's owners and members with their user roles, owners first."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.read")
    async with svc.sessions() as session:
        rows = (
            await session.execute(
                select(JobMember, User)
                .join(User, User.id == JobMember.user_id)
                .where(JobMember.job_id == job.id)
                .order_by(JobMember.role.desc(), User.email)
            )
        ).all()
    return web.json_response([_member_json(m, u) for m, u in rows])


@routes.post("/api/jobs/{jid}/members")
async def add_member(request: web.Request) -> web.Response:
    """Add a recruiter or hiring manager to the job, or change their role in it."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.members.edit")
    body = await read_json(request, MemberIn)
    try:
        member, user = await _upsert(svc, who, job.id, body)
    except IntegrityError:
        raise Conflict(
            "Someone changed this job's members at the same time; reload and try again."
        ) from None
    await audit(request, who.user_id, f"job_member_{body.role}", job.id)
    return web.json_response(_member_json(member, user), status=201)


async def _upsert(
    svc: Services, who: Principal, job_id: str, body: MemberIn
) -> tuple[JobMember, User]:
    """Add the user to the job or change their role in it."""
    async with svc.sessions() as session, session.begin():
        if body.user_id:
            user = await session.get(User, body.user_id)
        else:
            email = (body.email or "").strip().lower()
            user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            raise BadInput("No user with this id or email; an administrator can create the user.")
        if user.role not in JOB_MEMBER_ROLES:
            raise BadInput(
                "Only recruiters and hiring managers can be job members; this user is an "
                f"{user.role.replace('_', ' ')}. Assign interviews to interviewers with "
                "POST /api/interviews/{id}/access; administrators see every job already."
            )
        member = await session.get(JobMember, (job_id, user.id))
        if member is None:
            member = JobMember(
                job_id=job_id, user_id=user.id, added_by=who.user_id, added_at=svc.now()
            )
            session.add(member)
        elif member.role == "owner" and body.role != "owner":
            await _keep_an_owner(session, job_id)
        member.role = body.role
    return member, user


@routes.delete("/api/jobs/{jid}/members/{uid}")
async def remove_member(request: web.Request) -> web.Response:
    """Remove a member from the job; the last owner stays."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.members.edit")
    async with svc.sessions() as session, session.begin():
        member = await session.get(JobMember, (job.id, request.match_info["uid"]))
        if member is None:
            raise NotFound("This user is not a member of the job.")
        if member.role == "owner":
            await _keep_an_owner(session, job.id)
        await session.delete(member)
    await audit(request, who.user_id, "job_member_removed", job.id)
    return web.json_response({"ok": True})


async def _keep_an_owner(session: Any, job_id: str) -> None:
    """409 if the job's only owner is about to go."""
    owners = await session.scalar(
        select(func.count())
        .select_from(JobMember)
        .where(JobMember.job_id == job_id, JobMember.role == "owner")
    )
    if owners <= 1:
        raise Conflict(
            "A job needs an owner: make another member owner first, then try again.",
            code="last_owner",
        )
