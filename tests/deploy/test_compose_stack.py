"""The compose stack for real: image built, every service healthy, an interview through the proxy.

Needs a docker daemon, Compose (v2 plugin or docker-compose 1.29) and the base images (from a
registry, or deploy/offline-base-images.sh where there is none); skips without them. Bounded:
every compose and docker call has a timeout, and ``down -v`` runs whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bench.compose_smoke import Compose, compose_command, docker_reachable, smoke, write_env

pytestmark = pytest.mark.timeout(2400)

BASES = ("python:3.11.11-slim-bookworm", "postgres:17.2-bookworm", "redis:7.4.1-bookworm",
         "coturn/coturn:4.6.3", "caddy:2.8.4-alpine")


def _missing_images() -> list[str]:
    missing = []
    for image in BASES:
        done = subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                              timeout=30)
        if done.returncode != 0:
            missing.append(image)
    return missing


@pytest.fixture(scope="module")
def report() -> Any:
    """One smoke run of the whole stack (built from this checkout), torn down afterwards."""
    if not docker_reachable():
        pytest.skip("no docker daemon reachable")
    base = compose_command()
    if base is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    missing = _missing_images()
    if missing:
        pytest.skip(f"base images not present locally (deploy/offline-base-images.sh): {missing}")
    workdir = Path(tempfile.mkdtemp(prefix="candor-compose-test-"))
    env_file = workdir / "test.env"
    env = write_env(env_file)
    compose = Compose(base, f"candortest{os.getpid()}", env_file)
    args = argparse.Namespace(build=True, no_interview=False, timeout=900.0)
    try:
        result = asyncio.run(smoke(args, compose, env))
    except Exception:
        print(compose.run("logs", "--no-color", "--tail", "40", timeout=120, check=False))
        raise
    finally:
        compose.run("down", "-v", "--remove-orphans", timeout=300, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def test_every_service_becomes_healthy_after_the_migration(report: Any) -> None:
    assert set(report["healthy_s"]) == {"postgres", "redis", "candor", "worker", "coturn", "proxy"}
    assert report["migrate_exit"] == "0"
    assert report["admin_password_printed_once"]


def test_the_image_runs_unprivileged_with_its_models(report: Any) -> None:
    assert report["user_in_candor"] == "10001"
    assert {"whisper-base", "face_landmarker.task"} <= set(report["models_in_image"])


def test_the_proxy_serves_health_readiness_and_pages_and_hides_metrics(report: Any) -> None:
    http = report["http"]
    assert http["http_redirects_to_https"]
    assert (http["proxy_healthz"], http["proxy_readyz"], http["proxy_login_page"]) == (200,) * 3
    assert http["login_page_has_form"]
    assert http["proxy_metrics_hidden"]
    assert http["local_metrics_without_token"] in (401, 403)
    assert http["local_metrics_with_token"] == 200 and http["metrics_families"] > 0


def test_a_worker_container_consumes_the_transcription_jobs(report: Any) -> None:
    assert [c for c in report["worker_consumers"] if "name" in c], report["worker_consumers"]


def test_a_candidate_through_the_proxy_is_recorded_and_transcribed_by_the_worker(
    report: Any,
) -> None:
    interview = report["interview"]
    assert interview["client_relay_candidates"] > 0  # coturn allocated with minted credentials
    assert interview["finals"] > 0 and "country" in interview["transcript"].lower()
    assert interview["analyzer_failed"] == 0
    [segment] = interview["recordings"]
    assert segment["audio_frames"] > 0 and segment["video_frames"] > 0
