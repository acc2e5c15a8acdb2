"""The fuzz tests use the server tests' fixtures: a real app and a signed-in admin."""

from tests.server.conftest import admin, client

__all__ = ["admin", "client"]
