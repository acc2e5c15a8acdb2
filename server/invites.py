"""Invite links: signed, expiring, bound to one interview, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.errors import Gone, InvalidInvite
from server.signing import BadSignature, Signer


@dataclass(frozen=True)
class InviteClaim:
    """What a valid invite token says."""

    invite_id: str
    interview_id: str
    expires_at: datetime


class InviteCodec:
    """Makes and checks invite tokens; the database row decides revocation."""

    def __init__(self, secret: bytes, previous: Sequence[bytes] = ()) -> None:
        self._signer = Signer(secret, "invite", previous)

    def issue(self, invite_id: str, interview_id: str, ttl: timedelta, now: datetime) -> str:
        """A token for ``interview_id`` valid for ``ttl``."""
        exp = int((now + ttl).timestamp())
        return self._signer.sign({"inv": invite_id, "iid": interview_id, "exp": exp})

    def check(self, token: str, now: datetime) -> InviteClaim:
        """The claim of a genuine, unexpired token; 401 if forged, 410 if expired."""
        try:
            data = self._signer.unsign(token)
            claim = InviteClaim(
                invite_id=str(data["inv"]),
                interview_id=str(data["iid"]),
                expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
            )
        except (BadSignature, KeyError, ValueError, TypeError) as exc:
            raise InvalidInvite(
                "This interview link is not valid. Please use the link from your invitation.",
                code="invalid_invite",
            ) from exc
        if now >= claim.expires_at:
            raise Gone(
                "This interview link has expired. Please ask the recruiter for a new one.",
                code="invite_expired",
            )
        return claim
