"""A non-editable install serves the pages: web_client/, migrations, templates in the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "server", "media", "analysis", "config",
           "web_client"]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel from a clean copy of its sources (pip, isolated build)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [whl] = out.glob("candor-*.whl")
    return whl


def test_the_wheel_holds_every_page_migration_template_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = [p.name for p in (ROOT / "web_client").iterdir() if p.is_file()]
    assert pages
    missing = [p for p in pages if f"web_client/{p}" not in names]
    assert not missing, f"web_client files not in the wheel: {missing}"
    versions = [p.name for p in (ROOT / "server/migrations/versions").glob("*.py")]
    assert all(f"server/migrations/versions/{v}" in names for v in versions)
    assert "server/migrations/env.py" in names and "server/migrations/script.py.mako" in names
    templates = [p.name for p in (ROOT / "config/templates").glob("*.yaml")]
    assert all(f"config/templates/{t}" in names for t in templates)
    licenses = [n for n in names if n.endswith("/LICENSE") and ".dist-info/" in n]
    assert licenses, "LICENSE is not in the wheel's metadata"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text


def test_an_installed_wheel_finds_its_pages_and_migrations(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=120,
    )
    probe = (
        "import server.pages as p, server.storage.db as d\n"
        "print(p.WEB_CLIENT.resolve()); print(d.MIGRATIONS.resolve())\n"
        "assert (p.WEB_CLIENT / 'candidate.html').is_file()\n"
        "assert (d.MIGRATIONS / 'env.py').is_file()\n"
    )
    # run from an empty folder with only the installed copy first on the path (not the repo)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    web, migrations = done.stdout.split()
    assert web.startswith(str(target)) and migrations.startswith(str(target))
