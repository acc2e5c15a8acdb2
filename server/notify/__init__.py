"""Messages to candidates: email over SMTP (see docs/feedback.md)."""

from server.notify.mail import (
    EmailDeliveryError,
    EmailSender,
    SmtpConfig,
    build_message,
    not_configured_hint,
)

__all__ = [
    "EmailDeliveryError",
    "EmailSender",
    "SmtpConfig",
    "build_message",
    "not_configured_hint",
]
