"""First start: create the first admin account if there is none."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import func, select

from config.settings import Settings
from server.passwords import hash_password
from server.services import Services
from server.storage.models import User

log = logging.getLogger(__name__)


async def ensure_admin(svc: Services, settings: Settings) -> str | None:
    """Create the first admin; returns a generated password to print once, else None."""
    async with svc.sessions() as session, session.begin():
        count = await session.scalar(select(func.count()).select_from(User))
        if count:
            return None
        generated = None
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
        else:
            password = generated = secrets.token_urlsafe(12)
        session.add(
            User(
                email=settings.admin_email.lower(),
                name="Administrator",
                role="admin",
                password_hash=hash_password(password),
            )
        )
    return generated
