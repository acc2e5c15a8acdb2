"""Invite tokens and passwords, without the app."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import Gone, InvalidInvite
from server.invites import InviteCodec
from server.passwords import hash_password, verify_password

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_invite_round_trip_binds_one_interview() -> None:
    codec = InviteCodec(os.urandom(32))
    token = codec.issue("inv1", "iv1", timedelta(hours=2), NOW)
    claim = codec.check(token, NOW + timedelta(hours=1))
    assert (claim.invite_id, claim.interview_id) == ("inv1", "iv1")


def test_forged_or_foreign_invites_are_invalid() -> None:
    codec = InviteCodec(os.urandom(32))
    token = codec.issue("inv1", "iv1", timedelta(hours=2), NOW)
    body, mac = token.split(".")
    other = InviteCodec(os.urandom(32)).issue("inv1", "iv2", timedelta(hours=2), NOW)
    # A different first character always changes the MAC's first six bits (a changed last
    # character might only touch base64 padding bits and decode to the same bytes).
    tampered = body + "." + ("y" if mac[0] == "x" else "x") + mac[1:]
    assert tampered != token
    for bad in (other, tampered, other.split(".")[0] + "." + mac, "garbage", ""):
        with pytest.raises(InvalidInvite):
            codec.check(bad, NOW)


def test_expired_invite_is_gone() -> None:
    codec = InviteCodec(os.urandom(32))
    token = codec.issue("inv1", "iv1", timedelta(hours=2), NOW)
    with pytest.raises(Gone):
        codec.check(token, NOW + timedelta(hours=2, seconds=1))


def test_passwords_are_salted_scrypt_hashes() -> None:
    h1, h2 = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert h1 != h2 and h1.startswith("scrypt$")
    assert verify_password("s3cret pass", h1)
    assert not verify_password("s3cret pasS", h1)
    assert not verify_password("x", "garbage")
