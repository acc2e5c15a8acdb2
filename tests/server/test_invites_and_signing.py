"""Invite tokens and passwords, without the app."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import Gone, InvalidInvite
from server.invites import InviteCodec
from server.passwords import hash_password, needs_rehash, verify_password

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


def test_passwords_are_salted_argon2id_hashes() -> None:
    h1, h2 = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert h1 != h2 and h1.startswith("$argon2id$")
    assert verify_password("s3cret pass", h1)
    assert not verify_password("s3cret pasS", h1)
    assert not verify_password("x", "garbage")
    assert not needs_rehash(h1)


def test_old_scrypt_hashes_still_verify_and_need_a_rehash() -> None:
    old = scrypt_hash("s3cret pass")
    assert verify_password("s3cret pass", old)
    assert not verify_password("s3cret pasS", old)
    assert needs_rehash(old)


def scrypt_hash(password: str) -> str:
    """A hash as the first release stored it (``scrypt$N$r$p$salt$hash``)."""
    import base64
    import hashlib

    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    enc = base64.b64encode
    return f"scrypt${2**14}$8$1${enc(salt).decode()}${enc(digest).decode()}"
