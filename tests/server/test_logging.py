"""Logs are structured and never carry names, transcripts or tokens in their message text."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from analysis.events import TranscriptFinal
from config.logs import JsonFormatter
from server.access_log import ACCESS_LOGGER, RedactingAccessLogger, redact_path
from server.app import create_app
from server.services import SERVICES
from server.session_inputs import AnalyzerResult, Barrier
from tests.server.helpers import consent, make_settings, new_interview, sign_in


def test_invite_tokens_are_redacted_from_paths() -> None:
    assert redact_path("/i/abc.def?lang=zh") == "/i/<token>"
    assert redact_path("/ws/candidate/abc.def") == "/ws/candidate/<token>"
    assert redact_path("/api/join/abc.def/consent") == "/api/join/<token>/consent"
    assert redact_path("/api/interviews/123/events") == "/api/interviews/123/events"


def test_json_formatter_keeps_values_in_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "request served", None, None)
    record.path = "/i/<token>"
    out = json.loads(JsonFormatter().format(record))
    assert out["msg"] == "request served" and out["path"] == "/i/<token>"


async def test_a_whole_flow_logs_no_personal_data_or_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level (config/logs.py)
    app = create_app(make_settings(tmp_path))
    server = TestServer(app)
    await server.start_server(access_log=ACCESS_LOGGER, access_log_class=RedactingAccessLogger)
    async with TestClient(server) as api:
        await sign_in(api)
        iv = await new_interview(api)  # candidate "Li Lei"
        token = iv["invite_token"]
        await consent(api, token)
        assert (await api.get(f"/i/{token}")).status == 200
        session = app[SERVICES].live.get(iv["id"])
        secret_words = "my salary expectation is confidential"
        session.submit(
            AnalyzerResult(
                TranscriptFinal(interview_id=iv["id"], utterance_id="u1", text=secret_words)
            )
        )
        applied = Barrier()
        session.submit(applied)
        await applied.reply
        assert (await api.get(f"/i/{token}x")).status == 401
    texts = [r.getMessage() for r in caplog.records]
    fields = [json.dumps({k: str(v) for k, v in r.__dict__.items()}) for r in caplog.records]
    assert any("request served" == t for t in texts)
    for needle in (token, token.split(".")[0], "Li Lei", secret_words, "correct horse"):
        assert not any(needle in t for t in texts), needle
        assert not any(needle in f for f in fields if "candor.access" in f), needle
