"""A real local webhook receiver for tests: verifies Standard Webhooks signatures with the
``standardwebhooks`` package, answers 500 to its first ``fail_first`` deliveries, leaves the
next ``hang_first`` unanswered, and keeps what it accepted in arrival order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Receiver:
    """State of one receiver."""

    secret: str = ""
    fail_first: int = 0
    hang_first: int = 0
    """The first ``hang_first`` deliveries get no answer until the receiver is released."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    seen: int = 0
    bad_signatures: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        """Verify, maybe fail on purpose, else accept."""
        body = await request.read()
        self.seen += 1
        self.raw.append((dict(request.headers), body))
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.seen <= self.fail_first:
            return web.Response(status=500)
        if self.seen <= self.fail_first + self.hang_first:
            await self.release.wait()  # the sender's timeout ends this one first
            return web.Response(status=204)
        self.accepted.append(payload)
        self.ids.append(request.headers["webhook-id"])
        return web.Response(status=204)


async def start_receiver(receiver: Receiver) -> TestServer:
    """Serve ``receiver`` on a free local port (close the server when done)."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    return server
