"""First start: create the first admin account if there is none."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import func, select

from config.settings import Settings
from server.services import Services
from server.signin.password_policy import policy_error
from server.storage.models import User

log = logging.getLogger(__name__)


async def ensure_admin(svc: Services, settings: Settings) -> str | None:
    """Create the first admin; returns a generated password to print once, else None."""
    async with svc.sessions() as session, session.begin():
        count = await session.scalar(select(func.count()).select_from(User))
        if count:
            return None
        generated = None
        email = settings.admin_email.lower()
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
            if policy_error(password, email=email) is not None:
                log.warning(
                    "the configured first admin password breaks the password policy; "
                    "change it after signing in"
                )
        else:
            password = generated = generate_password(email)
        password_hash = await svc.passwords.hash(password)
        session.add(
            User(email=email, name="Administrator", role="admin", password_hash=password_hash)
        )
    return generated


def generate_password(email: str) -> str:
    """A random 22-character password that satisfies the password policy."""
    while True:
        password = secrets.token_urlsafe(16)
        if policy_error(password, email=email) is None:
            return password
