"""``describe``: what a handler takes and answers, read by the OpenAPI builder.

The shapes are the pydantic models the handler itself validates with, so the description
cannot drift from the code. Handlers without ``describe`` are still described: their request
body model is found in their own ``read_json(request, Model)`` call (integrations/openapi.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
ATTRIBUTE = "__candor_api__"


@dataclass(frozen=True)
class RouteDoc:
    """One route's request, answer and errors."""

    request: type[BaseModel] | None = None
    response: Any = None  # a model, list[model], or None (any JSON)
    status: int = 200
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"
    auth: tuple[str, ...] = ("bearer", "cookie")


def describe(**kwargs: Any) -> Callable[[F], F]:
    """Attach a RouteDoc to a handler (see RouteDoc for the arguments)."""
    doc = RouteDoc(**kwargs)

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, doc)
        return handler

    return mark


def route_doc(handler: object) -> RouteDoc | None:
    """The RouteDoc of a handler, if it has one."""
    doc = getattr(handler, ATTRIBUTE, None)
    return doc if isinstance(doc, RouteDoc) else None
