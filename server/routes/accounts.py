"""Sign-in, sign-out, one's own password, and user management by admins (issue 11)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select, update

from server.auth import COOKIE, Principal
from server.errors import BadInput, Conflict, Forbidden, NotFound, NotSignedIn
from server.passwords import UNUSABLE
from server.policy import PERMISSIONS, Role
from server.routes.access import require
from server.routes.api import audit
from server.routes.common import as_json, principal, read_json
from server.security import cookie_secure
from server.services import Services, services
from server.signin.links import issue_link, link_url, open_link, spend_link
from server.signin.notices import notify_admins
from server.signin.password_policy import check_password
from server.signin.sessions import client_address
from server.signin.throttle import Locked
from server.storage.models import (
    AdminNoticeRow,
    Interview,
    InterviewAccess,
    Job,
    JobMember,
    User,
)

routes = web.RouteTableDef()


class LoginIn(BaseModel):
    email: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str | None = Field(None, max_length=1024, description="Omit to send an invite.")
    name: str = Field("", max_length=255)
    role: Role = "recruiter"


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class LinkIn(BaseModel):
    token: str = Field(min_length=10, max_length=200)


class LinkUseIn(LinkIn):
    password: str = Field(min_length=1, max_length=1024)


def _user_json(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "has_password": user.password_hash != UNUSABLE,
        "created_at": user.created_at.isoformat(),
    }


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _lockout_notice(request: web.Request, lock: Locked, user: User | None) -> None:
    svc = services(request)
    address = client_address(request)
    minutes = max(1, round(lock.seconds / 60))
    if lock.kind == "account":
        who = user.email if user is not None else "an email that is not an account"
        subject = "Candor: sign-in to an account paused after repeated failures"
        body = (
            f"{lock.failures} failed sign-ins in a row for {who} (last from {address}). "
            f"Further attempts are refused for {minutes} min, then each failure doubles the "
            "wait. If this was not the account's owner, consider disabling the account or "
            "resetting its password on the Users page."
        )
        await audit(request, None, "account_locked", user.id if user is not None else "unknown")
    else:
        subject = "Candor: sign-ins from one address paused after repeated failures"
        body = (
            f"{lock.failures} failed sign-ins from {address}. Further attempts from this address "
            f"are refused for {minutes} min, then each failure doubles the wait."
        )
        await audit(request, None, "address_locked", address[:80])
    await notify_admins(svc, f"{lock.kind}_locked", subject, body)


def _too_many(seconds: int) -> web.Response:
    return web.json_response(
        {
            "error": "too_many_attempts",
            "message": f"Too many failed sign-ins. Try again in {seconds} seconds, "
            "or ask an administrator to reset your password.",
            "retry_after": seconds,
        },
        status=429,
        headers={"Retry-After": str(seconds)},
    )


@dataclass
class Attempt:
    """One sign-in attempt: refused for ``wait`` seconds, or checked (``ok``, a fresh hash)."""

    wait: int = 0
    user: User | None = None
    ok: bool = False
    new_hash: str | None = None
    locked: list[Locked] = field(default_factory=list)


async def _attempt(svc: Services, email: str, address: str, password: str) -> Attempt:
    """Check the throttle, then the password, and count a failure, in the key's turn."""
    async with svc.throttle.turn(email, address):
        wait = await svc.throttle.retry_after(email, address, svc.now().timestamp())
        if wait > 0:
            return Attempt(wait=wait)
        async with svc.sessions() as db:
            user = await db.scalar(select(User).where(User.email == email))
        result = await svc.passwords.verify(password, user.password_hash if user else None)
        if result.ok:
            return Attempt(user=user, ok=True, new_hash=result.new_hash)
        locked = await svc.throttle.failed(email, address, svc.now().timestamp())
        return Attempt(user=user, locked=locked)


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    """Sign in with email and password; sets the session cookie and returns a bearer token."""
    body = await read_json(request, LoginIn)
    svc = services(request)
    if not svc.settings.sso.password_signin:
        raise Forbidden(
            "Password sign-in is turned off here; use your organisation's single sign-on on "
            "the sign-in page.",
            code="password_signin_off",
        )
    email, address = body.email.strip().lower(), client_address(request)
    attempt = await _attempt(svc, email, address, body.password)
    if attempt.wait > 0:
        await audit(request, None, "login_throttled", "")
        return _too_many(attempt.wait)
    user = attempt.user
    if not attempt.ok or user is None:
        await audit(request, None, "login_failed", user.id if user is not None else "unknown")
        for lock in attempt.locked:
            await _lockout_notice(request, lock, user)
        raise NotSignedIn("Email or password is not correct.", code="bad_credentials")
    if user.disabled:
        await audit(request, user.id, "login_refused_disabled", user.id)
        raise NotSignedIn(
            "This account is disabled. Ask an administrator to enable it.",
            code="account_disabled",
        )
    await svc.throttle.succeeded(email)
    if attempt.new_hash is not None:  # scrypt or older argon2 parameters: upgrade now
        await _set_password(svc, user.id, attempt.new_hash)
    token, _ = await svc.signin_sessions.start(
        user,
        svc.now(),
        address=address,
        user_agent=request.headers.get("User-Agent", ""),
    )
    await audit(request, user.id, "login")
    resp = web.json_response({"token": token, "user": {"id": user.id, "role": user.role}})
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        max_age=svc.auth.max_age,
        secure=cookie_secure(svc.settings),
        path="/",
    )
    return resp


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    """End this session on the server (its token stops working at once) and clear the cookie."""
    try:
        who: Principal | None = principal(request)
    except NotSignedIn:
        who = None
    if who is not None:
        svc = services(request)
        await svc.signin_sessions.revoke(who.session_id, svc.now())
        await audit(request, who.user_id, "logout")
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    """Who is signed in, and the actions their role may take (on their jobs, for job actions)."""
    who = principal(request)
    can = sorted(PERMISSIONS.get(who.role, {}))
    return web.json_response({"id": who.user_id, "role": who.role, "email": who.email, "can": can})


@routes.post("/api/me/password")
async def change_own_password(request: web.Request) -> web.Response:
    """Change one's own password; every other session of the account ends at once."""
    who = principal(request)
    body = await read_json(request, PasswordChangeIn)
    svc = services(request)
    async with svc.sessions() as db:
        user = await db.get(User, who.user_id)
    if user is None:
        raise NotSignedIn("Please sign in again.")
    if not (await svc.passwords.verify(body.current_password, user.password_hash)).ok:
        await audit(request, who.user_id, "password_change_failed", who.user_id)
        raise BadInput("The current password is not correct.", code="bad_current_password")
    check_password(body.new_password, email=user.email, name=user.name)
    await _set_password(svc, user.id, await svc.passwords.hash(body.new_password))
    await svc.signin_sessions.revoke_user(user.id, svc.now(), keep=who.session_id)
    await audit(request, who.user_id, "password_changed", who.user_id)
    return web.json_response({"ok": True})


async def _set_password(svc: Services, user_id: str, password_hash: str) -> None:
    async with svc.sessions() as db, db.begin():
        await db.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


# -- user management (admins) -------------------------------------------------------------


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    """Every HR user (admins only)."""
    await require(request, "users.manage")
    async with services(request).sessions() as db:
        users = (await db.scalars(select(User).order_by(User.created_at))).all()
    return web.json_response([_user_json(u) for u in users])


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    """Add an HR user: with a password, or (none given) with a one-time invitation link."""
    who = await require(request, "users.manage")
    body = await read_json(request, UserIn)
    svc = services(request)
    email = body.email.strip().lower()
    if body.password is not None:
        check_password(body.password, email=email, name=body.name)
        password_hash = await svc.passwords.hash(body.password)
    else:
        password_hash = UNUSABLE
    async with svc.sessions() as db, db.begin():
        if await db.scalar(select(User).where(User.email == email)):
            raise Conflict("A user with this email already exists.")
        user = User(email=email, name=body.name, role=body.role, password_hash=password_hash)
        db.add(user)
    out: dict[str, object] = {"id": user.id, "email": user.email, "role": user.role}
    if body.password is None:
        token, expires = await issue_link(svc, user.id, "invite", who.user_id)
        out |= {
            "link_url": link_url(svc, _base_url(request), token),
            "expires_at": expires.isoformat(),
        }
    await audit(request, who.user_id, "create_user", user.id)
    return web.json_response(out, status=201)


async def _target_user(request: web.Request) -> tuple[Principal, User]:
    who = await require(request, "users.manage")
    async with services(request).sessions() as db:
        user: User | None = await db.get(User, request.match_info["uid"])
    if user is None:
        raise NotFound("No such user.")
    return who, user


async def _ensure_other_admin(svc: Services, user: User) -> None:
    if user.role != "admin":
        return
    async with svc.sessions() as db:
        others = await db.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", ~User.disabled, User.id != user.id)
        )
    if not others:
        raise Conflict("This is the last active administrator; add another administrator first.")


@routes.post("/api/users/{uid}/disable")
async def disable_user(request: web.Request) -> web.Response:
    """Disable a user: every session ends at once and sign-in is refused."""
    who, user = await _target_user(request)
    if user.id == who.user_id:
        raise Forbidden("You cannot disable your own account.")
    svc = services(request)
    await _ensure_other_admin(svc, user)
    async with svc.sessions() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(disabled=True))
    await svc.signin_sessions.revoke_user(user.id, svc.now())
    await audit(request, who.user_id, "disable_user", user.id)
    return web.json_response({"ok": True})


@routes.post("/api/users/{uid}/enable")
async def enable_user(request: web.Request) -> web.Response:
    """Enable a disabled user again."""
    who, user = await _target_user(request)
    async with services(request).sessions() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(disabled=False))
    await audit(request, who.user_id, "enable_user", user.id)
    return web.json_response({"ok": True})


@routes.delete("/api/users/{uid}")
async def delete_user(request: web.Request) -> web.Response:
    """Delete a user; their jobs and interviews stay (ownerless, visible to admins)."""
    who, user = await _target_user(request)
    if user.id == who.user_id:
        raise Forbidden("You cannot delete your own account.")
    svc = services(request)
    await _ensure_other_admin(svc, user)
    async with svc.sessions() as db, db.begin():
        await db.execute(delete(InterviewAccess).where(InterviewAccess.user_id == user.id))
        await db.execute(delete(JobMember).where(JobMember.user_id == user.id))
        await db.execute(update(Job).where(Job.created_by == user.id).values(created_by=None))
        await db.execute(
            update(Interview).where(Interview.created_by == user.id).values(created_by=None)
        )
        await db.execute(delete(User).where(User.id == user.id))  # sessions, links cascade
    await audit(request, who.user_id, "delete_user", user.id)
    return web.json_response({"ok": True})


@routes.post("/api/users/{uid}/password-link")
async def reset_link(request: web.Request) -> web.Response:
    """A one-time link to set a new password (the current one works until it is used)."""
    who, user = await _target_user(request)
    svc = services(request)
    purpose = "reset" if user.password_hash != UNUSABLE else "invite"
    token, expires = await issue_link(svc, user.id, purpose, who.user_id)
    await audit(request, who.user_id, "password_link_issued", user.id)
    return web.json_response(
        {"link_url": link_url(svc, _base_url(request), token), "expires_at": expires.isoformat()},
        status=201,
    )


@routes.get("/api/admin/notices")
async def admin_notices(request: web.Request) -> web.Response:
    """The newest notices to administrators (lock-outs)."""
    await require(request, "users.manage")
    async with services(request).sessions() as db:
        rows = (
            await db.scalars(select(AdminNoticeRow).order_by(AdminNoticeRow.id.desc()).limit(100))
        ).all()
    return web.json_response([as_json(r) for r in rows])


# -- one-time links (no sign-in: the link is the credential) -----------------------------


@routes.post("/api/password-links/check")
async def check_link(request: web.Request) -> web.Response:
    """Whose password a link sets, so the page can greet them (401/410 when not usable)."""
    body = await read_json(request, LinkIn)
    link, user = await open_link(services(request), body.token)
    return web.json_response({"email": user.email, "name": user.name, "purpose": link.purpose})


@routes.post("/api/password-links/use")
async def use_link(request: web.Request) -> web.Response:
    """Set the password with a one-time link; the link and every session of the user end."""
    body = await read_json(request, LinkUseIn)
    svc = services(request)
    link, user = await open_link(svc, body.token)
    check_password(body.password, email=user.email, name=user.name)
    password_hash = await svc.passwords.hash(body.password)
    if not await spend_link(svc, link.id):
        raise Conflict("This link has just been used. Ask an administrator for a new one.")
    await _set_password(svc, user.id, password_hash)
    await svc.signin_sessions.revoke_user(user.id, svc.now())
    await svc.throttle.succeeded(user.email)
    await audit(request, user.id, f"password_set_by_{link.purpose}", user.id)
    return web.json_response({"ok": True, "email": user.email})
