"""Every third-party module the server imports comes from a dependency pyproject declares.

Test-only packages (scikit-image, playwright, ...) must not leak into runtime code: a
user who runs scripts/start.sh has only the runtime dependencies installed.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ["server", "media", "analysis", "config", "run.py"]
OWN = {"server", "media", "analysis", "config", "run"}
# Brought on purpose by a declared dependency (mediapipe ships OpenCV; see pyproject).
INDIRECT = {"cv2": "mediapipe"}


def _name(req: str) -> str:
    return re.split(r"[\s\[=<>;!~]", req, maxsplit=1)[0].lower().replace("_", "-")


def _imports() -> set[str]:
    found: set[str] = set()
    files = [
        p
        for r in RUNTIME
        for p in ((ROOT / r).rglob("*.py") if (ROOT / r).is_dir() else [ROOT / r])
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in OWN}


def test_runtime_imports_are_declared_dependencies() -> None:
    declared = {
        _name(d)
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    dists = packages_distributions()
    missing = []
    for module in sorted(_imports()):
        if module in INDIRECT:
            parent = INDIRECT[module]
            assert parent in declared and any("opencv" in r for r in requires(parent) or [])
            continue
        owners = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not owners & declared:
            missing.append(f"{module} (from {sorted(owners) or 'unknown'})")
    assert not missing, f"runtime code imports undeclared packages: {missing}"
