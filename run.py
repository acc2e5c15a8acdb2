"""Candor command line: serve, prepare-models, worker, migrate, key rotation, encryption."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from config.logs import setup_logging
from config.settings import Settings


def _progress(label: str) -> Callable[[object], None]:
    """A progress printer: percentages (every 10%) or messages."""
    last = [-10.0]

    def report(msg: object) -> None:
        if isinstance(msg, (int, float)):
            if msg - last[0] < 10 and msg < 100:
                return
            last[0] = float(msg)
            msg = f"{msg:.0f}%"
        text = str(msg)
        print(f"  {text}" if text.startswith(label) else f"  {label}: {text}", flush=True)

    return report


def prepare_models(settings: Settings) -> int:
    """Join and verify bundled model files once; prints progress."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    try:
        from analysis.asr.model_files import prepare_whisper_base

        print(f"Whisper base -> {prepare_whisper_base(settings.models_dir, _progress('whisper'))}")
    except ImportError:
        print("  whisper: transcription module not installed in this build; skipped")
    except Exception as exc:
        failures += 1
        print(f"  whisper: FAILED: {exc}", file=sys.stderr)
    try:
        from analysis.vision.model_files import prepare_face_landmarker

        path = prepare_face_landmarker(settings.models_dir, _progress("face landmarker"))
        print(f"Face landmarker -> {path}")
    except ImportError:
        print("  face landmarker: vision module not installed in this build; skipped")
    except Exception as exc:
        failures += 1
        print(f"  face landmarker: FAILED: {exc}", file=sys.stderr)
    return 1 if failures else 0


async def migrate_database(settings: Settings) -> int:
    """Bring the database schema to the newest revision (once, under a lock)."""
    from media.crypto import MasterKey
    from server.encryption.keyring import KeyRing
    from server.keys import master_key_bytes, private_dir
    from server.storage.db import head_revision, make_engine, migrate

    private_dir(settings.data_dir)
    # with the keys, the migration that brings field encryption encrypts older rows too
    keyring = KeyRing(MasterKey(master_key_bytes(settings)))
    engine = make_engine(settings.db_url)
    try:
        await migrate(engine, settings.db_url, keyring)
    finally:
        await engine.dispose()
    print(f"Database schema is up to date (revision {head_revision()}).", flush=True)
    return 0


def serve(settings: Settings) -> int:
    """Run the web server until interrupted."""
    from aiohttp import web

    from server.app import FIRST_ADMIN_PASSWORD, create_app
    from server.storage.db import SchemaNotCurrent

    app = create_app(settings)

    async def announce(app: web.Application) -> None:
        url = settings.public_url or f"http://{settings.host}:{settings.port}"
        print(f"\nCandor is running at {url}/", flush=True)
        password = app.get(FIRST_ADMIN_PASSWORD)
        if password:
            print(f"First admin account: {settings.admin_email}  password: {password}", flush=True)
            print(
                "This password is shown only once. Sign in at /login and keep it safe.\n",
                flush=True,
            )

    app.on_startup.append(announce)
    from server.access_log import ACCESS_LOGGER, RedactingAccessLogger

    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            # Live interviews close their sockets on shutdown; anything else gets this long.
            shutdown_timeout=3.0,
            access_log=ACCESS_LOGGER,
            access_log_class=RedactingAccessLogger,
        )
    except SchemaNotCurrent as exc:
        print(f"Candor did not start: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


async def run_workers(settings: Settings) -> int:
    """Transcription workers fed through Redis Streams, until SIGINT/SIGTERM."""
    import signal

    from analysis.asr.redis_worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"Transcription worker started ({settings.asr.workers} consumer(s)); Ctrl+C stops it.")
    await run_worker(settings, stop)
    return 0


def rotate_key(settings: Settings, new_key_file: str | None) -> int:
    """Re-wrap every data key under a new master key (server stopped); prints what changed."""
    from pathlib import Path

    from server.encryption.commands import new_master_key, rotate_master_key
    from server.keys import KeyFileError, master_key_file

    try:
        key = new_master_key(Path(new_key_file) if new_key_file else None)
        report = asyncio.run(rotate_master_key(settings, key))
    except KeyFileError as exc:
        print(f"Master key not rotated: {exc}.", file=sys.stderr)
        return 2
    print(
        f"Re-wrapped {report.recordings} recording keys ({report.recordings_already} already "
        f"done), {report.data_keys} field data keys ({report.data_keys_already} already done), "
        f"rehashed {report.candidates} candidates."
    )
    path = master_key_file(settings)
    if path is None:
        print("Now set CANDOR_MASTER_KEY to the new key before starting the server.")
    else:
        print(f"The new master key is in {path}. Destroy every copy of the old key.")
    return 0


def rotate_secret(settings: Settings, drop_previous: bool) -> int:
    """Replace the signing key (old one kept for a grace period), or end the grace period."""
    from server.keys import KeyFileError, previous_secret_file
    from server.secret_rotation import drop_previous_secret_keys, rotate_secret_key

    if drop_previous:
        dropped = drop_previous_secret_keys(settings)
        print(f"Dropped {dropped} previous signing key(s) from {previous_secret_file(settings)}.")
        if settings.previous_secret_keys:
            print("CANDOR_PREVIOUS_SECRET_KEYS is still set: remove it too.")
        print("Restart every server: links and sessions signed with those keys now fail.")
        return 0
    try:
        done = rotate_secret_key(settings)
    except KeyFileError as exc:
        print(f"Signing key not rotated: {exc}.", file=sys.stderr)
        return 2
    print(
        f"New signing key written; {done.previous_count} previous key(s) still accepted "
        f"(listed in {previous_secret_file(settings)}). Restart every server. When the grace "
        "period is over (longest of invite, self-service link and session lifetimes), run "
        "`python run.py rotate-secret-key --drop-previous`."
    )
    return 0


def encrypt_existing(settings: Settings) -> int:
    """Encrypt personal data stored in plaintext by an older version."""
    from server.encryption.commands import encrypt_existing_rows

    print(f"Encrypted {asyncio.run(encrypt_existing_rows(settings))} rows.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="run.py", description="Candor interview server")
    sub = parser.add_subparsers(dest="command")
    p_serve = sub.add_parser("serve", help="start the web server (default)")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    sub.add_parser("prepare-models", help="join and verify the bundled model files")
    sub.add_parser("worker", help="run transcription workers fed through Redis Streams")
    p_rotate = sub.add_parser(
        "rotate-master-key",
        help="re-wrap every data key under a new master key (from CANDOR_NEW_MASTER_KEY or "
        "--new-key-file); stop the server first",
    )
    p_rotate.add_argument("--new-key-file", help="file holding the new key (base64 of 32 bytes)")
    p_secret = sub.add_parser(
        "rotate-secret-key",
        help="make a new signing key; the old one still verifies until --drop-previous",
    )
    p_secret.add_argument(
        "--drop-previous", action="store_true", help="end the grace period: forget old keys"
    )
    sub.add_parser("encrypt-existing", help="encrypt personal data stored in plaintext")
    sub.add_parser("migrate", help="bring the database schema up to date, then exit")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k in ("host", "port") and v is not None}
    settings = Settings(**overrides)
    setup_logging()
    command = args.command or "serve"
    if command == "prepare-models":
        return prepare_models(settings)
    if command == "worker":
        return asyncio.run(run_workers(settings))
    if command == "rotate-master-key":
        return rotate_key(settings, args.new_key_file)
    if command == "rotate-secret-key":
        return rotate_secret(settings, args.drop_previous)
    if command == "encrypt-existing":
        return encrypt_existing(settings)
    if command == "migrate":
        return asyncio.run(migrate_database(settings))
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
