"""SSO refusals: each one a clear page that says what to do next (zh and en)."""

from __future__ import annotations

from server.errors import Forbidden, NotSignedIn


class SsoRefused(NotSignedIn):
    """The sign-in round trip did not check out (state, nonce, code, token)."""

    code = "sso_failed"


class SsoNotAllowed(Forbidden):
    """A genuine identity that this deployment does not let in."""

    code = "sso_not_allowed"


RETRY = "Go back to the sign-in page and start again."
