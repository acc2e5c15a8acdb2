"""Notices to administrators: a stored message, and email when SMTP is configured."""

from __future__ import annotations

import logging

from sqlalchemy import select

from server.notify import EmailDeliveryError, EmailSender, SmtpConfig
from server.services import Services
from server.storage.models import AdminNoticeRow, User

log = logging.getLogger(__name__)


async def notify_admins(svc: Services, kind: str, subject: str, body: str) -> AdminNoticeRow:
    """Store a notice for the admin page and email it to every active admin if configured."""
    async with svc.sessions() as db, db.begin():
        notice = AdminNoticeRow(kind=kind, subject=subject, body=body, at=svc.now())
        db.add(notice)
        admins = (
            await db.scalars(select(User.email).where(User.role == "admin", ~User.disabled))
        ).all()
    config = SmtpConfig.from_settings(svc.settings)
    if config is None:
        status = "not sent: email not configured"
    else:
        sender, failed = EmailSender(config), 0
        for address in admins:
            try:
                await sender.send(address, subject, body)
            except EmailDeliveryError:
                failed += 1
                log.warning("a notice to an admin could not be emailed", extra={"kind": kind})
        status = f"sent to {len(admins) - failed} of {len(admins)} admins"
    async with svc.sessions() as db, db.begin():
        row = await db.get(AdminNoticeRow, notice.id)
        if row is not None:
            row.email_status = status
    notice.email_status = status
    return notice
