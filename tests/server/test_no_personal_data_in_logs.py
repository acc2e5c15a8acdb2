"""No log line carries personal data: every page, API read, report, PDF and export is rendered.

A candidate with a marked name (Latin and Chinese), email and phone goes through interviews in
English and Chinese with a marked transcript sentence (logged, and fed live to a session), an
observer note, ratings, a decision and sent feedback. Then every GET route of the app's router
is requested with real ids, the reports and PDFs in both languages and every export, while the
production logging setup (config/logs.py) runs at DEBUG with the access log on. Every record
of every logger (third-party ones such as fontTools and fpdf included) and every formatted line
is searched for the markers.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from analysis.events import ObserverNoteAdded, TranscriptFinal
from config.logs import JsonFormatter, setup_logging
from server.access_log import ACCESS_LOGGER, RedactingAccessLogger
from server.app import create_app
from server.session_inputs import AnalyzerResult, Barrier
from tests.mail import Inbox, mail_settings
from tests.server.helpers import (
    AppClient,
    consent,
    log_one_answer,
    make_settings,
    mark_finished,
    scored_job,
    services_of,
    sign_in,
)
from tests.server.test_reports import STRONG

HAN = "龘靐齉"  # rare characters: no page, report or message text of the app contains them
MARK = f"Zz{HAN}Qq"
NAME = f"Mark {MARK}"
EMAIL = "zz.marker.qq@example.org"
PHONE = "+86 139 1234 5678"
SENTENCE = "I rebuilt the quartzmarker ledger in nine days"
# Also the name's characters as a font subsetter names them (glyph "uni9F98", "U+9F98").
GLYPHS = tuple(f"{prefix}{ord(ch):04X}" for ch in HAN for prefix in ("uni", "U+"))
NEEDLES = (MARK, HAN, EMAIL, "zz.marker.qq", PHONE, "13912345678", SENTENCE, *GLYPHS)

# Routes that are not reads of a page or personal data, or need a protocol other than GET.
SKIPPED = re.compile(r"^(/ws/|/sso/|/static)")
# Loggers of the test's own servers (the SMTP server receiving the feedback), not the app's.
HARNESS = ("mail.log",)


class Capture(logging.Handler):
    """Keeps every record, and its production (JSON) rendering."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines = io.StringIO()
        self._json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.write(self._json.format(record) + "\n")


def loggers() -> dict[str, logging.Logger]:
    """Every logger created so far, by name."""
    known = logging.root.manager.loggerDict.items()
    return {name: lg for name, lg in known if isinstance(lg, logging.Logger)}


@pytest.fixture
def logs() -> Iterator[Capture]:
    """The production logging setup at DEBUG, every record also kept here; restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logger.level for name, logger in loggers().items()}
    setup_logging("DEBUG")
    capture = Capture()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, logger in loggers().items():
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture
async def api(
    tmp_path: Path,
    smtp: tuple[Inbox, int],
    logs: Capture,
) -> AsyncIterator[AppClient]:
    """The real app with SMTP configured, served with the redacting access log."""
    settings = make_settings(
        tmp_path,
        **mail_settings(smtp[1]),
    )
    server = TestServer(create_app(settings))
    await server.start_server(access_log=ACCESS_LOGGER, access_log_class=RedactingAccessLogger)
    async with TestClient(server) as client:
        yield client


async def ok(resp: Any, *statuses: int) -> Any:
    """The JSON body of a response that must have one of ``statuses`` (200 or 201 by default)."""
    assert resp.status in (statuses or (200, 201)), (resp.url, resp.status, await resp.text())
    return await resp.json()


async def marked_job(api: AppClient, language: str) -> str:
    """A scored job whose candidates get feedback."""
    job = await scored_job(api, "Engineer", language)
    await ok(await api.put(f"/api/jobs/{job['id']}/scoring", json={"candidate_feedback": True}))
    return str(job["id"])


async def finished_interview(api: AppClient, job_id: str, cand_id: str) -> dict[str, Any]:
    """An interview with a marked answer and an observer note, finished, rated and decided."""
    iv = await ok(
        await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": cand_id})
    )
    iid = iv["id"]
    await consent(api, iv["invite_token"])
    svc = services_of(api)
    await log_one_answer(svc, iid, f"{SENTENCE}. {STRONG}")
    await svc.events.append(
        ObserverNoteAdded(interview_id=iid, t=47, by="admin", text=f"{NAME} said: {SENTENCE}")
    )
    await mark_finished(svc, iid, started_at=svc.now(), ended_at=svc.now())
    note = f"{NAME} ({EMAIL}) was precise"
    await ok(
        await api.post(
            f"/api/interviews/{iid}/ratings",
            json={"competency_id": "logical_thinking", "score": 4, "note": note},
        )
    )
    await ok(
        await api.post(f"/api/interviews/{iid}/decision", json={"decision": "hold", "note": note})
    )
    url = f"/api/interviews/{iid}/feedback"
    draft = (await ok(await api.get(url)))["draft"]
    await ok(await api.post(url, json={"text": f"{draft['text']} Thank you {NAME}.", "send": True}))
    return dict(iv)


async def live_sentence(api: AppClient, job_id: str, cand_id: str) -> None:
    """The marked sentence reaches a live session as the speech recognizer's final text."""
    iv = await ok(
        await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": cand_id})
    )
    await consent(api, iv["invite_token"])
    assert (await api.get(f"/i/{iv['invite_token']}")).status == 200
    session = services_of(api).live.get(iv["id"])
    session.submit(
        AnalyzerResult(TranscriptFinal(interview_id=iv["id"], utterance_id="u1", text=SENTENCE))
    )
    applied = Barrier()
    session.submit(applied)
    await applied.reply


def get_paths(app: web.Application, ids: dict[str, str]) -> list[str]:
    """Every GET route of the router with its placeholders filled from ``ids``."""
    paths = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if route.method != "GET" or SKIPPED.match(canonical):
            continue
        # ids the test has no record for get "none" (a 404 answer, still checked for 5xx)
        paths.append(re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "none"), canonical))
    return paths


def leaks(capture: Capture) -> list[tuple[str, str, str]]:
    """(logger, needle, where) for every marker found in a record or a formatted line."""
    found = []
    for record in capture.records:
        if record.name.startswith(HARNESS):
            continue
        parts = {
            "msg": str(record.msg),
            "args": repr(record.args),
            "message": record.getMessage(),
            "fields": repr(record.__dict__),
        }
        for where, text in parts.items():
            found += [(record.name, n, where) for n in NEEDLES if n in text]
    for line in capture.lines.getvalue().splitlines():
        if any(f'"logger": "{name}' in line for name in HARNESS):
            continue
        found += [("formatted", n, line[:200]) for n in NEEDLES if n in line]
    return found


async def test_every_page_report_pdf_and_export_logs_no_personal_data(
    api: AppClient, logs: Capture
) -> None:
    await sign_in(api)
    cand = await ok(
        await api.post("/api/candidates", json={"name": NAME, "email": EMAIL, "phone": PHONE})
    )
    en_job, zh_job = await marked_job(api, "en"), await marked_job(api, "zh")
    en = await finished_interview(api, en_job, cand["id"])
    zh = await finished_interview(api, zh_job, cand["id"])
    await live_sentence(api, en_job, cand["id"])
    my_token = en["rights_url"].split("/my/")[1]
    hook = await ok(
        await api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]})
    )
    pipeline = await ok(await api.get(f"/api/jobs/{en_job}/pipeline"))
    cards = [c for stage in pipeline["stages"].values() for c in stage]
    ids = {
        "aid": str(cards[0]["id"]) if cards else "none",
        "iid": en["id"],
        "jid": en_job,
        "cid": cand["id"],
        "token": my_token,
        "rid": "none",
        "wid": str(hook["id"]),
        "key": "software_engineer",
    }
    assert api.app is not None
    statuses: dict[str, int] = {}
    paths = [
        *get_paths(api.app, ids),
        f"/i/{en['invite_token']}",
        f"/api/join/{en['invite_token']}",
        f"/api/join/{en['invite_token']}/ice",
        f"/api/candidates?email={EMAIL}",
        f"/api/candidates?phone={PHONE}",
        "/static/i18n.js",
    ]
    for iv, job in ((en, en_job), (zh, zh_job)):
        paths += [
            f"/report/{iv['id']}",
            f"/review/{iv['id']}",
            f"/observe/{iv['id']}",
            f"/api/interviews/{iv['id']}/report.json",
            f"/api/interviews/{iv['id']}/report.pdf",
            f"/api/interviews/{iv['id']}/events",
            f"/api/interviews/{iv['id']}/feedback",
            f"/api/jobs/{job}/results.json",
            f"/api/jobs/{job}/results.csv",
        ]
    for path in paths:
        resp = await api.get(path)
        await resp.read()
        statuses[path] = resp.status
    errors = {p: s for p, s in statuses.items() if s >= 500}
    assert errors == {}, errors
    served = re.compile(r"report|results|export|audit\.csv|/my/")
    must_serve = [p for p in paths if served.search(p) and not p.endswith("/none")]
    assert {p: statuses[p] for p in must_serve if statuses[p] != 200} == {}
    pdf = await api.get(f"/api/interviews/{zh['id']}/report.pdf")
    assert (await pdf.read()).startswith(b"%PDF")
    export = await ok(await api.get(f"/api/my/{my_token}/export.json"))
    assert EMAIL in json.dumps(export, ensure_ascii=False), "the export holds the marked data"

    assert any(r.name == ACCESS_LOGGER.name for r in logs.records), "the access log is captured"
    assert any(r.levelno == logging.DEBUG for r in logs.records), "DEBUG records are captured"
    assert sorted({(name, needle) for name, needle, _ in leaks(logs)}) == []
