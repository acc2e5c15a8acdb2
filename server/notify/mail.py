"""Email over SMTP with the standard library, run in a thread so the event loop never blocks.

UTF-8 throughout (Mandarin subjects and bodies work). Nothing here logs an address or a
message body: failures carry the SMTP error, never the recipient.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from config.settings import Settings


class EmailDeliveryError(Exception):
    """The SMTP server could not be reached or refused the message."""


def not_configured_hint() -> str:
    """What an operator sets to turn email on."""
    return (
        "Set CANDOR_SMTP_HOST and CANDOR_SMTP_FROM (and CANDOR_SMTP_PORT, CANDOR_SMTP_USER, "
        "CANDOR_SMTP_PASSWORD, CANDOR_SMTP_STARTTLS as your mail provider requires), restart "
        "Candor, then send the message again from the review page."
    )


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send email."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    timeout: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The settings' SMTP server, or None when email is not configured."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user or None,
            password=password,
            starttls=settings.smtp_starttls and not settings.smtp_ssl,
            ssl=settings.smtp_ssl,
            timeout=settings.smtp_timeout,
        )


def build_message(sender: str, recipient: str, subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = _domain(sender)
    msg["Message-ID"] = make_msgid(domain=domain) if domain else make_msgid()
    msg.set_content(body, charset="utf-8")
    return msg


def build_rich_message(
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    ics: str | None = None,
    ics_method: str = "REQUEST",
) -> EmailMessage:
    """Text and HTML alternatives, plus a calendar entry (inline and as ``invite.ics``)."""
    msg = build_message(sender, recipient, subject, text)
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    if ics is not None:
        if not html:
            msg.make_alternative()
        msg.add_alternative(ics, subtype="calendar", charset="utf-8", params={"method": ics_method})
        msg.add_attachment(
            ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics" if ics_method != "CANCEL" else "cancel.ics",
        )
    return msg


def _domain(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or None


class EmailSender:
    """Sends one message per call over a fresh SMTP connection."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, recipient: str, subject: str, body: str) -> None:
        """Send a message; raises EmailDeliveryError with the server's reason on failure."""
        msg = build_message(self.config.sender, recipient, subject, body)
        await asyncio.to_thread(self._send_sync, msg)

    async def send_message(self, msg: EmailMessage) -> None:
        """Send a built message; raises EmailDeliveryError with the server's reason on failure."""
        await asyncio.to_thread(self._send_sync, msg)

    def _send_sync(self, msg: EmailMessage) -> None:
        cfg = self.config
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if cfg.ssl:
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            with smtp:
                if cfg.starttls:
                    smtp.starttls(context=context)
                if cfg.user:
                    smtp.login(cfg.user, cfg.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise EmailDeliveryError("the mail server refused the candidate's address") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise EmailDeliveryError(f"{type(exc).__name__}: {_reason(exc)}") from exc
        if refused:
            raise EmailDeliveryError("the mail server refused the candidate's address")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        return f"{exc.smtp_code} {text}"
    return str(exc) or "no details"
