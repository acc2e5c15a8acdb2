"""Which columns are encrypted, and the ORM hooks that seal them on write and open them on load.

Code using the models reads and writes plaintext as before: ``before_insert``/``before_update``
seal the changed values, ``after_insert``/``after_update`` put the plaintext back on the
object, and ``load``/``refresh`` open what comes from the database. Rows whose id is given by
the database (autoincrement) are inserted with an empty placeholder and sealed by an UPDATE
in ``after_insert``, inside the same transaction, because the associated data names the row.

A query for single columns (``select(Candidate.name)``) gets the ciphertext: select the
entity. The key ring is found in ``session.info["keyring"]`` (server.storage.db.sessionmaker).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Table, event, update
from sqlalchemy.orm import Mapper, QueryContext, Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import instance_state

from server.encryption.keyring import (
    FieldDecryptionError,
    KeyRing,
    field_ad,
    is_sealed,
    open_sealed,
    seal,
)
from server.storage.models import (
    Candidate,
    CandidateFeedbackRow,
    Consent,
    EventRow,
    HumanDecisionRow,
    HumanRatingRow,
    Interview,
    OutboxRow,
    ScoreRow,
    SelfIdentificationRow,
    WebhookEndpoint,
    WebhookMessage,
    new_id,
)

KEYRING = "keyring"
PENDING = "candor_pending_keys"
PLAIN = "candor_plain"
PLACEHOLDER = ""


@dataclass(frozen=True)
class EncryptedTable:
    """The encrypted columns of one model, whose data key they use and how a row is named."""

    model: type[Any]
    columns: tuple[str, ...]
    key_id: Callable[[Any], str]
    row: Callable[[Any], str | None]
    json_columns: frozenset[str] = frozenset()
    db_assigned_id: bool = False

    @property
    def table(self) -> str:
        """The table name (part of the associated data)."""
        return str(self.model.__tablename__)


def _interview_key(row: Any) -> str:
    return f"interview:{row.interview_id}"


def _int_id(row: Any) -> str | None:
    return None if row.id is None else str(row.id)


def _outbox_key(row: Any) -> str:
    # A candidate's messages use the candidate's key: erasing the person shreds them too.
    return f"candidate:{row.candidate_id}" if row.candidate_id else f"job:{row.job_id}"


TABLES: tuple[EncryptedTable, ...] = (
    EncryptedTable(
        Candidate, ("name", "email", "phone"), lambda r: f"candidate:{r.id}", lambda r: r.id
    ),
    EncryptedTable(Consent, ("user_agent",), _interview_key, lambda r: r.id),
    EncryptedTable(
        EventRow,
        ("payload",),
        _interview_key,
        lambda r: f"{r.interview_id}/{r.seq}",
        json_columns=frozenset({"payload"}),
    ),
    EncryptedTable(
        Interview,
        ("state",),
        lambda r: f"interview:{r.id}",
        lambda r: r.id,
        json_columns=frozenset({"state"}),
    ),
    EncryptedTable(
        ScoreRow,
        ("score",),
        _interview_key,
        _int_id,
        json_columns=frozenset({"score"}),
        db_assigned_id=True,
    ),
    EncryptedTable(HumanRatingRow, ("note",), _interview_key, _int_id, db_assigned_id=True),
    EncryptedTable(HumanDecisionRow, ("note",), _interview_key, _int_id, db_assigned_id=True),
    EncryptedTable(
        OutboxRow,
        ("recipient", "payload"),
        _outbox_key,
        _int_id,
        json_columns=frozenset({"payload"}),
        db_assigned_id=True,
    ),
    EncryptedTable(
        CandidateFeedbackRow,
        ("text", "draft", "detail"),
        _interview_key,
        _int_id,
        db_assigned_id=True,
    ),
    # Voluntary self-identification: the interview's key, so erasing it makes this unreadable.
    EncryptedTable(
        SelfIdentificationRow,
        ("data",),
        _interview_key,
        lambda r: r.id,
        json_columns=frozenset({"data"}),
    ),
    # Webhook secrets, and queued payloads (they may hold a candidate's name and email).
    EncryptedTable(
        WebhookEndpoint, ("secret", "previous_secret"), lambda r: f"webhook:{r.id}", lambda r: r.id
    ),
    EncryptedTable(
        WebhookMessage,
        ("payload",),
        lambda r: f"webhook:{r.endpoint_id}",
        lambda r: r.msg_id,  # known before the insert: no second UPDATE to seal
        json_columns=frozenset({"payload"}),
    ),
)
BY_MODEL: dict[type[Any], EncryptedTable] = {t.model: t for t in TABLES}


def to_bytes(spec: EncryptedTable, column: str, value: Any) -> bytes:
    """The plaintext bytes of a column value (JSON columns as JSON text)."""
    if column in spec.json_columns:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return str(value).encode()


def from_bytes(spec: EncryptedTable, column: str, plain: bytes) -> Any:
    """The column value from its plaintext bytes."""
    return json.loads(plain) if column in spec.json_columns else plain.decode()


def seal_value(spec: EncryptedTable, aead: AESGCM, row: str, column: str, value: Any) -> str | None:
    """The stored form of one value (None stays None)."""
    if value is None:
        return None
    return seal(aead, to_bytes(spec, column, value), field_ad(spec.table, row, column))


def open_value(spec: EncryptedTable, aead: AESGCM, row: str, column: str, stored: Any) -> Any:
    """The plaintext of one stored value (None stays None)."""
    if stored is None:
        return None
    if stored == "" and column not in spec.json_columns:
        return ""  # blanked (e.g. erased by a bulk UPDATE): there is nothing to protect
    if not isinstance(stored, str):
        raise FieldDecryptionError(
            f"{spec.table}.{column} holds unencrypted data; run `python run.py encrypt-existing`"
        )
    return from_bytes(spec, column, open_sealed(aead, stored, field_ad(spec.table, row, column)))


def _ring(session: Session | None) -> KeyRing:
    ring = None if session is None else session.info.get(KEYRING)
    if not isinstance(ring, KeyRing):
        raise RuntimeError("personal data needs a session from server.storage.db.sessionmaker")
    return ring


def _pending(session: Session) -> dict[str, AESGCM]:
    pending: dict[str, AESGCM] = session.info.setdefault(PENDING, {})
    return pending


def _candidate_hashes(ring: KeyRing, target: Candidate, changed: set[str]) -> None:
    if "email" in changed:
        target.email_hmac = ring.search_hash("email", target.email or "")
    if "phone" in changed:
        target.phone_hmac = ring.search_hash("phone", target.phone or "")


def _changed(target: Any, spec: EncryptedTable, new: bool) -> set[str]:
    state = instance_state(target)
    if new:
        return set(spec.columns)
    return {c for c in spec.columns if state.attrs[c].history.has_changes()}


def _before_write(mapper: Mapper[Any], conn: Connection, target: Any, new: bool) -> None:
    spec = BY_MODEL[mapper.class_]
    session = object_session(target)
    ring = _ring(session)
    assert session is not None
    if new and not spec.db_assigned_id and spec.row(target) is None:
        target.id = new_id()  # the column default would come too late for the AD
    if new and spec.model is Candidate:
        for col in ("email", "phone"):
            if getattr(target, col) is None:
                setattr(target, col, "")
    changed = _changed(target, spec, new)
    if spec.model is Candidate:
        _candidate_hashes(ring, target, changed)
    if not changed and not new:
        return
    aead = ring.key(conn, spec.key_id(target), _pending(session))
    row = spec.row(target)
    plain: dict[str, Any] = {}
    for col in changed:
        value = getattr(target, col)
        if value is None:
            continue
        plain[col] = value
        if row is None:  # the database assigns the id: sealed in after_insert
            setattr(target, col, PLACEHOLDER)
        else:
            setattr(target, col, seal_value(spec, aead, row, col, value))
    instance_state(target).info[PLAIN] = plain


def _after_write(mapper: Mapper[Any], conn: Connection, target: Any) -> None:
    spec = BY_MODEL[mapper.class_]
    state = instance_state(target)
    plain: dict[str, Any] = state.info.pop(PLAIN, {})
    if spec.db_assigned_id and plain:
        session = object_session(target)
        assert session is not None
        aead = _ring(session).key(conn, spec.key_id(target), _pending(session))
        row = spec.row(target)
        assert row is not None
        values = {c: seal_value(spec, aead, row, c, v) for c, v in plain.items()}
        table = cast(Table, mapper.local_table)
        conn.execute(update(table).where(table.c.id == target.id).values(values))
    for col, value in plain.items():
        set_committed_value(target, col, value)


def open_row(session: Session, target: Any, attrs: set[str] | None = None) -> None:
    """Replace the stored (sealed) values of a loaded object with their plaintext."""
    spec = BY_MODEL[type(target)]
    loaded = target.__dict__
    cols = [c for c in spec.columns if c in loaded and (attrs is None or c in attrs)]
    if not cols or all(loaded[c] is None for c in cols):
        return
    ring = _ring(session)
    aead = ring.existing_key(session.connection(), spec.key_id(target), _pending(session))
    row = spec.row(target)
    assert row is not None
    for col in cols:
        stored = loaded[col]
        if stored == PLACEHOLDER:
            continue  # blank, or (db-assigned ids) its own transaction has yet to seal it
        set_committed_value(target, col, open_value(spec, aead, row, col, stored))


def _on_load(target: Any, context: QueryContext) -> None:
    open_row(context.session, target)


def _on_refresh(target: Any, context: QueryContext, attrs: Any) -> None:
    open_row(context.session, target, None if attrs is None else set(attrs))


def _forget_pending(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING, None)


def install() -> None:
    """Attach the hooks to the models (idempotent; called by the session factory)."""
    for spec in TABLES:
        if event.contains(spec.model, "load", _on_load):
            continue
        event.listen(spec.model, "before_insert", lambda m, c, t: _before_write(m, c, t, True))
        event.listen(spec.model, "before_update", lambda m, c, t: _before_write(m, c, t, False))
        event.listen(spec.model, "after_insert", _after_write)
        event.listen(spec.model, "after_update", _after_write)
        event.listen(spec.model, "load", _on_load)
        event.listen(spec.model, "refresh", _on_refresh)
    if not event.contains(Session, "after_commit", _forget_pending):
        event.listen(Session, "after_commit", _forget_pending)
        event.listen(Session, "after_rollback", _forget_pending)
        event.listen(Session, "after_soft_rollback", _forget_pending)  # savepoints too


def is_encrypted(value: Any) -> bool:
    """Whether a raw stored value is sealed (used by encrypt-existing)."""
    return value is None or is_sealed(value)
