"""An HTTP session lent by the caller or opened on first use and then owned (closed by us)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aiohttp


class LentHttpSession:
    """Base for clients of the optional LLM endpoint (follow-ups, the scoring judge)."""

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if this client opened it (a lent one stays open)."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session
