"""Settings from a TOML file and the environment; the app with its bus on the real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from server.app import create_app
from tests.server.helpers import consent, make_settings, new_interview, sign_in


def test_settings_come_from_a_toml_file_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "candor.toml"
    config.write_text(
        'port = 9000\nretention_days = 30\nfacial_analysis = "off"\n[asr]\nworkers = 3\n'
    )
    monkeypatch.setenv("CANDOR_CONFIG", str(config))
    monkeypatch.setenv("CANDOR_RETENTION_DAYS", "90")
    s = Settings()
    assert s.port == 9000 and s.facial_analysis == "off" and s.asr.workers == 3
    assert s.retention_days == 90  # the environment overrides the file


def test_bad_settings_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_FACIAL_ANALYSIS", "emotions")
    with pytest.raises(ValueError, match="facial_analysis"):
        Settings()


@pytest.mark.redis
async def test_observers_get_live_events_through_the_redis_bus(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, bus="redis"))
    async with TestClient(TestServer(app)) as api:
        await sign_in(api)
        iv = await new_interview(api)
        obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
        assert (await obs.receive_json())["type"] == "history"
        await consent(api, iv["invite_token"])  # publishes consent_recorded via Redis
        async with asyncio.timeout(5):
            while True:
                msg = await obs.receive_json()
                if msg["type"] == "event":
                    break
        assert msg["event"]["type"] == "consent_recorded"
        await obs.close()
