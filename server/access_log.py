"""Access log without secrets: invite tokens in paths are replaced before anything is logged."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# Paths carrying an invite or self-service token (a bearer credential for the candidate).
_TOKEN_PATHS = re.compile(r"^(/i/|/api/join/|/ws/candidate/|/my/|/api/my/)[^/?]+")


def redact_path(path: str) -> str:
    """The request path with any invite token replaced by ``<token>``; no query string."""
    path = path.split("?", 1)[0]
    return _TOKEN_PATHS.sub(r"\1<token>", path)


class RedactingAccessLogger(AbstractAccessLogger):
    """One structured line per request: method, redacted path, status, duration."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the access record with values as fields, never in the message."""
        self.logger.info(
            "request served",
            extra={
                "method": request.method,
                "path": redact_path(request.path),
                "status": response.status,
                "duration_ms": round(time * 1000, 1),
            },
        )


ACCESS_LOGGER = logging.getLogger("candor.access")
