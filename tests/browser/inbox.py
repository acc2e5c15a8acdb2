"""A real SMTP server for browser tests that lets a test wait for a message without sleeping."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from typing import Any

import pytest

from tests.mail import smtp_server

Received = list[tuple[list[str], EmailMessage]]


class SignalingInbox:
    """An aiosmtpd handler that keeps every message and wakes the test's loop on each one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.messages: Received = []
        self._loop = loop
        self._arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        self._loop.call_soon_threadsafe(self._arrived.set)  # the SMTP server has its own thread
        return "250 Message accepted"

    async def wait_for(self, found: Callable[[Received], list[Any]], timeout: float) -> list[Any]:
        """Wait until ``found`` returns something non-empty for the messages so far."""
        async with asyncio.timeout(timeout):
            while True:
                self._arrived.clear()
                hits = found(list(self.messages))
                if hits:
                    return hits
                await self._arrived.wait()


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SignalingInbox, int]]:
    """aiosmtpd on a free loopback port: the inbox and the port."""
    inbox = SignalingInbox(asyncio.get_running_loop())
    with smtp_server(inbox) as port:
        yield inbox, port
