"""A real local SMTP server (aiosmtpd) for tests: a free port, an inbox, the server.

The ``smtp`` fixture (tests/conftest.py) runs one with an :class:`Inbox`; browser tests
override it with the inbox in tests/browser/inbox.py, which wakes their loop on each message.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def message(self, index: int = -1) -> EmailMessage:
        raw = self.envelopes[index].content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@contextmanager
def smtp_server(handler: object) -> Iterator[int]:
    """aiosmtpd on a free loopback port, delivering to ``handler``; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail_settings(port: int, sender: str = "Hiring team <hr@candor.test>") -> dict[str, Any]:
    """Settings that send the app's email to the local SMTP server on ``port`` (no TLS)."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": sender,
        "smtp_starttls": False,
    }
