"""From a provider's identity to a Candor user: domain check, role mapping, JIT creation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import SsoSettings
from server.integrations.sso.errors import SsoNotAllowed
from server.passwords import UNUSABLE
from server.policy import ROLES
from server.storage.models import SsoIdentity, User

ASK_ADMIN = "Ask a Candor administrator to add you, then sign in again."


def check_domain(settings: SsoSettings, email: str) -> None:
    """Refuse emails outside the allowed domains (when a list is set)."""
    allowed = [d.lower().lstrip("@") for d in settings.oidc_allowed_domains]
    domain = email.rsplit("@", 1)[-1] if "@" in email else ""
    if allowed and domain not in allowed:
        raise SsoNotAllowed(
            "Your account's email domain may not sign in to Candor. Sign in with your work "
            f"account, or {ASK_ADMIN[0].lower() + ASK_ADMIN[1:]}",
            code="sso_domain_refused",
        )


def mapped_role(settings: SsoSettings, claims: dict[str, object]) -> str | None:
    """The Candor role named by the role claim through the role map, else the default."""
    value = claims.get(settings.oidc_role_claim)
    values = value if isinstance(value, list) else [value]
    for item in values:
        role = settings.oidc_role_map.get(str(item))
        if role in ROLES:
            return role
    return settings.oidc_default_role if settings.oidc_default_role in ROLES else None


async def user_for(
    session: AsyncSession,
    settings: SsoSettings,
    provider: str,
    subject: str,
    email: str,
    name: str,
    role: str | None,
) -> User:
    """The linked user, else the user with this email (linked now), else a JIT-created one."""
    linked = await session.scalar(
        select(SsoIdentity).where(SsoIdentity.provider == provider, SsoIdentity.subject == subject)
    )
    if linked is not None:
        user = await session.get(User, linked.user_id)
        if user is not None:
            return user
    user = await session.scalar(select(User).where(User.email == email)) if email else None
    if user is None:
        if not settings.jit_create or not email or role is None:
            raise SsoNotAllowed(
                f"You do not have a Candor account yet. {ASK_ADMIN}", code="sso_no_account"
            )
        # No password: this user signs in through the provider (or sets one by a reset link).
        user = User(email=email, name=name, role=role, password_hash=UNUSABLE)
        session.add(user)
        await session.flush()
    session.add(SsoIdentity(provider=provider, subject=subject, user_id=user.id))
    return user
