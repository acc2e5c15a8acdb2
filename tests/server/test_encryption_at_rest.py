"""Personal data at rest: field encryption, keyed search, master-key rotation, file modes.

A real interview (candidate peer, recording, transcript, note, rating, decision, feedback)
runs through the app; then the raw SQLite file and its write-ahead log are read byte by
byte for the candidate's name, email, phone and words of the transcript.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from pydantic import SecretStr
from sqlalchemy import select

from analysis.events import ObserverNoteAdded
from config.settings import Settings
from media.crypto import MAGIC, DecryptionError, EncryptedReader, MasterKey
from run import main as run_main
from server.app import create_app
from server.encryption.commands import rotate_master_key
from server.encryption.keyring import FieldDecryptionError, KeyRing, key_context
from server.keys import KeyFileError
from server.services import SERVICES
from server.storage.db import alembic_config, make_engine, sessionmaker
from server.storage.models import Candidate, EventRow, Recording
from tests.server.helpers import consent, make_settings, sign_in
from tests.server.test_interviewer_channels import FAST_PLAN, ScriptedClock
from tests.server.test_live_media import wait_for_event
from tests.server.test_reports import STRONG, run_interview

NAME = "Zhao Xiaoming 赵晓明"
EMAIL = "zhao.xiaoming@example.org"
PHONE = "+86 138 0013 8000"
NOTE = "Observer thinks the payment cache story sounds rehearsed"
RATING_NOTE = "Clear reproduction steps, weak on rollback planning"
DECISION_NOTE = "Advance to the onsite loop with the platform team"
SENTENCE = "I formed two hypotheses, a race condition in the payment cache"
SECRETS = [NAME, "赵晓明", EMAIL, "13800138000", "138 0013 8000", NOTE, RATING_NOTE, DECISION_NOTE]
SECRETS.append(SENTENCE)


Client = TestClient[web.Request, web.Application]


def app_of(api: Client) -> web.Application:
    """The running app of a test client."""
    assert api.app is not None
    return api.app


def key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def db_files(settings: Settings) -> list[Path]:
    db = settings.data_dir / "candor.db"
    return [p for p in (db, db.with_name("candor.db-wal")) if p.exists()]


def leaks(settings: Settings) -> list[str]:
    """Secrets found in the raw database file and its write-ahead log."""
    raw = b"".join(p.read_bytes() for p in db_files(settings))
    return [s for s in SECRETS if s.encode() in raw]


@dataclass
class Recorded:
    """What the scenario left behind."""

    iid: str
    cid: str


async def start(settings: Settings, clock: ScriptedClock | None = None) -> Client:
    client = TestClient(TestServer(create_app(settings, now=clock)))
    try:
        await client.start_server()
        await sign_in(client)
    except BaseException:
        await client.close()  # an app that refuses to start must not leak the client session
        raise
    return client


async def full_interview(api: Client, clock: ScriptedClock) -> Recorded:
    """Candidate, recorded interview with transcript, note, rating, decision and feedback."""
    job = await (
        await api.post(
            "/api/jobs",
            json={
                "title": "Software engineer",
                "language": "en",
                "template": "software_engineer",
                "plan_settings": FAST_PLAN,
            },
        )
    ).json()
    resp = await api.put(f"/api/jobs/{job['id']}/scoring", json={"candidate_feedback": True})
    assert resp.status == 200, await resp.text()
    resp = await api.post("/api/candidates", json={"name": NAME, "email": EMAIL, "phone": PHONE})
    assert resp.status == 201, await resp.text()
    cand = await resp.json()
    assert cand["name"] == NAME and "email_hmac" not in cand
    iv = dict(
        await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
    )
    await consent(api, iv["invite_token"])

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    await run_interview(api, iv, lambda _i, _q: STRONG, advance)
    await wait_for_event(api, iv["id"], "recording_finalized")
    svc = app_of(api)[SERVICES]
    await svc.events.append(ObserverNoteAdded(interview_id=iv["id"], t=99.0, by="hr", text=NOTE))
    competency = (await (await api.get(f"/api/interviews/{iv['id']}/score")).json())[
        "competencies"
    ][0]["competency_id"]
    resp = await api.post(
        f"/api/interviews/{iv['id']}/ratings",
        json={"competency_id": competency, "score": 4, "note": RATING_NOTE},
    )
    assert resp.status in (200, 201), await resp.text()
    resp = await api.post(
        f"/api/interviews/{iv['id']}/decision", json={"decision": "advance", "note": DECISION_NOTE}
    )
    assert resp.status in (200, 201), await resp.text()
    draft = (await (await api.get(f"/api/interviews/{iv['id']}/feedback")).json())["draft"]
    resp = await api.post(
        f"/api/interviews/{iv['id']}/feedback",
        json={"text": draft["text"] + f" Thank you, {NAME}.", "send": True},
    )
    assert resp.status == 201, await resp.text()
    return Recorded(iid=iv["id"], cid=cand["id"])


async def reads_back(api: Client, rec: Recorded) -> None:
    """The app still shows everything in plaintext to a signed-in reviewer."""
    got = await (await api.get(f"/api/interviews/{rec.iid}")).json()
    assert got["candidate"]["name"] == NAME and got["candidate"]["email"] == EMAIL
    assert got["candidate"]["phone"] == PHONE
    listed = await (await api.get("/api/interviews")).json()
    assert [i["candidate_name"] for i in listed] == [NAME]
    events = await (await api.get(f"/api/interviews/{rec.iid}/events")).json()
    assert any(SENTENCE in e.get("text", "") for e in events if e["type"] == "transcript_final")
    assert any(e.get("text") == NOTE for e in events)
    ratings = await (await api.get(f"/api/interviews/{rec.iid}/ratings")).json()
    assert RATING_NOTE in str(ratings)
    decision = await (await api.get(f"/api/interviews/{rec.iid}/decision")).json()
    assert DECISION_NOTE in str(decision)
    feedback = await (await api.get(f"/api/interviews/{rec.iid}/feedback")).json()
    assert NAME in str(feedback["messages"])
    report = await (await api.get(f"/api/interviews/{rec.iid}/report.json")).json()
    assert report  # scores (with transcript quotes) decrypt
    found = await api.get("/api/candidates", params={"email": " ZHAO.xiaoming@EXAMPLE.org"})
    assert [c["id"] for c in await found.json()] == [rec.cid]


async def test_the_raw_database_and_wal_hold_no_name_email_phone_or_transcript(
    tmp_path: Path,
) -> None:
    clock = ScriptedClock()
    settings = make_settings(tmp_path)
    api = await start(settings, clock)
    try:
        rec = await full_interview(api, clock)
        assert leaks(settings) == []  # while running: the WAL holds the recent writes
        await reads_back(api, rec)
    finally:
        await api.close()
    assert leaks(settings) == []  # after the checkpoint at close
    # The scan would see plaintext: the same words are in the app's own answers above.
    assert SENTENCE in STRONG


async def test_a_value_moved_to_another_row_or_column_does_not_decrypt(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    api = await start(settings)
    try:
        ids = []
        for name in ("Ada Example", "Bob Example"):
            resp = await api.post("/api/candidates", json={"name": name, "email": f"{name}@x.org"})
            ids.append((await resp.json())["id"])
        svc = app_of(api)[SERVICES]
        db = sqlite3.connect(settings.data_dir / "candor.db")
        try:
            rows = dict(db.execute("SELECT id, name FROM candidates").fetchall())
            email = db.execute("SELECT email FROM candidates WHERE id=?", (ids[1],)).fetchone()[0]
            db.execute("UPDATE candidates SET name=? WHERE id=?", (rows[ids[0]], ids[1]))
            db.commit()
        finally:
            db.close()
        async with svc.sessions() as session:
            first = await session.get(Candidate, ids[0])
            assert first is not None and first.name == "Ada Example"
        with pytest.raises(FieldDecryptionError):
            async with svc.sessions() as session:
                await session.get(Candidate, ids[1])
        # Another column of the same row: the email put where the name was.
        db = sqlite3.connect(settings.data_dir / "candor.db")
        try:
            db.execute("UPDATE candidates SET name=? WHERE id=?", (email, ids[1]))
            db.commit()
        finally:
            db.close()
        svc.keyring.forget(f"candidate:{ids[1]}")
        with pytest.raises(FieldDecryptionError):
            async with svc.sessions() as session:
                await session.get(Candidate, ids[1])
    finally:
        await api.close()


async def test_events_are_bound_to_their_position_in_the_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    api = await start(settings)
    try:
        resp = await api.post("/api/candidates", json={"name": "Ada"})
        cand = await resp.json()
        job = await (await api.post("/api/jobs", json={"title": "T"})).json()
        iv = await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
        svc = app_of(api)[SERVICES]
        for text in ("first note", "second note"):
            await svc.events.append(
                ObserverNoteAdded(interview_id=iv["id"], t=1.0, by="hr", text=text)
            )
        db = sqlite3.connect(settings.data_dir / "candor.db")
        try:
            payloads = db.execute("SELECT seq, payload FROM events ORDER BY seq").fetchall()
            db.execute("UPDATE events SET payload=? WHERE seq=2", (payloads[0][1],))
            db.commit()
        finally:
            db.close()
        with pytest.raises(FieldDecryptionError):
            await svc.events.history(iv["id"])
    finally:
        await api.close()


async def test_candidates_are_found_by_email_or_phone_through_the_keyed_hash(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    api = await start(settings)
    try:
        a = await (
            await api.post(
                "/api/candidates", json={"name": "A", "email": EMAIL, "phone": "+86 138-0013-8000"}
            )
        ).json()
        await api.post("/api/candidates", json={"name": "B", "email": "other@example.org"})

        async def find(**params: str) -> list[str]:
            resp = await api.get("/api/candidates", params=params)
            assert resp.status == 200, await resp.text()
            return [c["id"] for c in await resp.json()]

        assert await find(email=EMAIL.upper()) == [a["id"]]
        assert await find(phone="+8613800138000") == [a["id"]]
        assert await find(email="nobody@example.org") == []
        assert (await api.get("/api/candidates")).status == 400
        db = sqlite3.connect(settings.data_dir / "candor.db")
        try:
            hashes = db.execute("SELECT email_hmac FROM candidates").fetchall()
        finally:
            db.close()
        assert all(h[0] and len(h[0]) == 64 and "example" not in h[0] for h in hashes)
        # A recruiter finds only candidates they may see (their own, or of their jobs).
        password = "a long password 1"
        resp = await api.post(
            "/api/users",
            json={"email": "rec@example.com", "password": password, "role": "recruiter"},
        )
        assert resp.status == 201, await resp.text()
        api.session.cookie_jar.clear()
        await sign_in(api, "rec@example.com", password)
        assert await find(email=EMAIL) == []
        mine = await (await api.post("/api/candidates", json={"name": "C", "email": EMAIL})).json()
        assert await find(email=EMAIL) == [mine["id"]]
    finally:
        await api.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_key_files_and_data_folder_are_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, master_key=None, secret_key=None)
    umask = os.umask(0o022)  # the usual umask: the modes must not depend on a stricter one
    api = await start(settings)
    try:
        await api.post("/api/candidates", json={"name": "Ada"})
        data = settings.data_dir
        assert mode(data) == 0o700 and mode(settings.recordings_dir) == 0o700
        keys = ("master.key", "secret.key", "api-keys.key")
        for name in ("candor.db", "candor.db-wal", "candor.db-shm", *keys):
            assert mode(data / name) == 0o600, name
    finally:
        await api.close()
        os.umask(umask)


async def upgrade_to(
    settings: Settings, revision: str, ring: KeyRing | None = None, *, down: bool = False
) -> None:
    """Migrate the database as plain Alembic would (no key ring) or as the app does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    cfg = alembic_config(settings.db_url)

    def upgrade(conn: Any) -> None:
        cfg.attributes["connection"] = conn
        cfg.attributes["keyring"] = ring
        (command.downgrade if down else command.upgrade)(cfg, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


async def plaintext_database(settings: Settings) -> None:
    """A database of the version before field encryption, with personal data in it."""
    await upgrade_to(settings, "0003")
    db = sqlite3.connect(settings.data_dir / "candor.db")
    try:
        db.execute(
            "INSERT INTO candidates (id, name, email, created_at) VALUES (?,?,?,?)",
            ("c1", NAME, EMAIL, "2026-11-01 00:00:00"),
        )
        db.execute(
            "INSERT INTO jobs (id, title, language, created_at) VALUES ('j1','T','en',?)",
            ("2026-11-01 00:00:00",),
        )
        db.execute(
            "INSERT INTO interviews (id, job_id, candidate_id, status, created_at) "
            "VALUES ('i1','j1','c1','finished','2026-11-01 00:00:00')"
        )
        payload = (
            '{"type":"observer_note_added","interview_id":"i1","t":1.0,'
            f'"at":"2026-11-01T00:00:00Z","by":"hr","text":"{NOTE}"}}'
        )
        db.execute(
            "INSERT INTO events (interview_id, seq, type, t, at, payload) "
            "VALUES ('i1', 1, 'observer_note_added', 1.0, '2026-11-01 00:00:00', ?)",
            (payload,),
        )
        db.commit()
    finally:
        db.close()
    assert NAME in leaks(settings) and NOTE in leaks(settings)  # the scan sees plaintext


async def reads_plaintext_rows_back(settings: Settings) -> None:
    """The app shows the upgraded rows, finds the candidate by email; the file leaks nothing."""
    api = await start(settings)
    try:
        got = await (await api.get("/api/interviews/i1")).json()
        assert got["candidate"]["name"] == NAME
        events = await (await api.get("/api/interviews/i1/events")).json()
        assert events[0]["text"] == NOTE
        found = await (await api.get("/api/candidates", params={"email": EMAIL})).json()
        assert [c["id"] for c in found] == ["c1"]
    finally:
        await api.close()
    assert leaks(settings) == []


async def test_rows_stored_before_encryption_are_encrypted_on_upgrade(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await plaintext_database(settings)
    await reads_plaintext_rows_back(settings)
    # Stepping down decrypts (with the key; refused without it), stepping up seals again.
    assert settings.master_key is not None
    ring = KeyRing(MasterKey.from_b64(settings.master_key.get_secret_value()))
    with pytest.raises(RuntimeError, match="needs the master key"):
        await upgrade_to(settings, "0003", down=True)
    await upgrade_to(settings, "0003", ring, down=True)
    assert NAME in leaks(settings) and NOTE in leaks(settings)
    await reads_plaintext_rows_back(settings)


async def test_encrypt_existing_seals_rows_left_by_a_migration_run_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    await plaintext_database(settings)
    await upgrade_to(settings, "head")  # plain `alembic upgrade head`: no key, rows stay
    assert NAME in leaks(settings)
    assert settings.master_key is not None
    monkeypatch.setenv("CANDOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CANDOR_MASTER_KEY", settings.master_key.get_secret_value())
    assert await asyncio.to_thread(run_main, ["encrypt-existing"]) == 0
    assert await asyncio.to_thread(run_main, ["encrypt-existing"]) == 0  # idempotent
    await reads_plaintext_rows_back(settings)


def recording_bodies(folder: Path) -> dict[Path, bytes]:
    """Each recording's chunks (everything after the header)."""
    out = {}
    for path in folder.rglob("*.cnd"):
        raw = path.read_bytes()
        hlen = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 2], "big")
        out[path] = raw[len(MAGIC) + 2 + hlen :]
    return out


def sealed_values() -> str:
    return (
        "SELECT name FROM candidates UNION ALL SELECT email FROM candidates "
        "UNION ALL SELECT payload FROM events UNION ALL SELECT note FROM human_ratings "
        "UNION ALL SELECT text FROM candidate_feedback UNION ALL SELECT score FROM interview_scores"
    )


async def test_master_key_rotation_rewraps_keys_and_leaves_ciphertext_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys"  # outside the data folder: the recommended setup
    keys.mkdir()
    key_file = keys / "master.key"
    old_key = key_b64()
    key_file.write_text(old_key + "\n")
    clock = ScriptedClock()
    settings = make_settings(tmp_path, master_key=None, master_key_file=key_file)
    new_key = key_b64()
    monkeypatch.setenv("CANDOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CANDOR_MASTER_KEY_FILE", str(key_file))
    monkeypatch.setenv("CANDOR_NEW_MASTER_KEY", new_key)
    monkeypatch.delenv("CANDOR_MASTER_KEY", raising=False)
    api = await start(settings, clock)
    try:
        rec = await full_interview(api, clock)
        async with app_of(api)[SERVICES].sessions() as session:
            recordings = (await session.scalars(select(Recording))).all()
        assert recordings and all(r.status == "final" for r in recordings)
        # Not while a server runs on this data folder: it would keep wrapping with the old key.
        assert await asyncio.to_thread(run_main, ["rotate-master-key"]) == 2
        assert key_file.read_text().strip() == old_key
    finally:
        await api.close()
    bodies = recording_bodies(settings.recordings_dir)
    assert bodies and all(mode(path) == 0o600 for path in bodies)
    db = sqlite3.connect(settings.data_dir / "candor.db")
    try:
        before = db.execute(sealed_values()).fetchall()
        wrapped_before = db.execute("SELECT wrapped FROM data_keys ORDER BY id").fetchall()
    finally:
        db.close()

    assert await asyncio.to_thread(run_main, ["rotate-master-key"]) == 0
    assert key_file.read_text().strip() == new_key and mode(key_file) == 0o600
    # The same key again is refused, and nothing is done.
    assert await asyncio.to_thread(run_main, ["rotate-master-key"]) == 2

    # Ciphertext untouched: recording chunks and sealed fields are byte for byte the same.
    assert recording_bodies(settings.recordings_dir) == bodies
    db = sqlite3.connect(settings.data_dir / "candor.db")
    try:
        assert db.execute(sealed_values()).fetchall() == before
        wrapped_after = db.execute("SELECT id, wrapped FROM data_keys ORDER BY id").fetchall()
    finally:
        db.close()
    assert len(wrapped_after) == len(wrapped_before)
    assert all((w,) not in wrapped_before for _id, w in wrapped_after)

    # With the new key alone everything decrypts ...
    new, old = MasterKey.from_b64(new_key), MasterKey.from_b64(old_key)
    for path in bodies:
        assert len(EncryptedReader(path, new).read_all()) > 0
    api = await start(settings)
    try:
        await reads_back(api, rec)
        segs = await (await api.get(f"/api/interviews/{rec.iid}/recordings")).json()
        resp = await api.get(segs[0]["url"])
        assert resp.status == 200 and b"ftyp" in (await resp.read())[:64]
    finally:
        await api.close()
    # ... and with the old key alone nothing does.
    for path in bodies:
        with pytest.raises(DecryptionError):
            EncryptedReader(path, old)
    for key_id, wrapped in wrapped_after:
        with pytest.raises(DecryptionError):
            old.unwrap(wrapped, key_context(key_id))
    # The app refuses to start with the old key, saying which key it needs.
    key_file.write_text(old_key + "\n")
    with pytest.raises(KeyFileError, match="does not open the data keys"):
        await start(settings)
    engine = make_engine(settings.db_url)
    try:
        sessions = sessionmaker(engine, KeyRing(old))
        async with sessions() as session:
            with pytest.raises(DecryptionError):
                await session.get(Candidate, rec.cid)
            with pytest.raises(DecryptionError):
                (await session.scalars(select(EventRow))).all()
            digest = KeyRing(old).search_hash("email", EMAIL)
            assert (
                await session.scalar(select(Candidate.id).where(Candidate.email_hmac == digest))
                is None
            )
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_fields_are_encrypted_and_searchable_on_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    settings = make_settings(tmp_path, database_url=pg_url)
    api = await start(settings)
    try:
        cand = await (
            await api.post("/api/candidates", json={"name": NAME, "email": EMAIL, "phone": PHONE})
        ).json()
        job = await (await api.post("/api/jobs", json={"title": "T"})).json()
        iv = await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
        await consent(api, iv["invite_token"])
        svc = app_of(api)[SERVICES]
        await svc.events.append(ObserverNoteAdded(interview_id=iv["id"], t=1.0, by="hr", text=NOTE))
        got = await (await api.get(f"/api/interviews/{iv['id']}")).json()
        assert got["candidate"]["name"] == NAME and got["candidate"]["phone"] == PHONE
        events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
        assert events[-1]["text"] == NOTE
        found = await (await api.get("/api/candidates", params={"email": EMAIL})).json()
        assert [c["id"] for c in found] == [cand["id"]]
    finally:
        await api.close()
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        values: list[str] = []
        for table in ("candidates", "events", "consents", "data_keys"):
            for row in await conn.fetch(f"SELECT * FROM {table}"):
                values.extend(str(v) for v in row.values())
        raw = " ".join(values)
    finally:
        await conn.close()
    assert "enc1:" in raw
    assert [s for s in SECRETS if s in raw] == []
    # Rotation on PostgreSQL: with the key in CANDOR_MASTER_KEY the operator sets the new one.
    new_key = key_b64()
    report = await rotate_master_key(settings, base64.b64decode(new_key))
    assert report.data_keys >= 2 and report.candidates == 1
    rotated = settings.model_copy(update={"master_key": SecretStr(new_key)})
    api = await start(rotated)
    try:
        got = await (await api.get(f"/api/interviews/{iv['id']}")).json()
        assert got["candidate"]["name"] == NAME
        found = await (await api.get("/api/candidates", params={"email": EMAIL})).json()
        assert [c["id"] for c in found] == [cand["id"]]
        rotations = await (await api.get("/api/audit?action=rotate_master_key")).json()
        assert [(e["role"], e["client"]) for e in rotations] == [("operator", "command line")]
        assert (await (await api.get("/api/audit/verify")).json())["ok"] is True
    finally:
        await api.close()
    with pytest.raises(KeyFileError):
        await start(settings)  # the old key
