"""A local model folder (CANDOR_ASR__MODEL=/path): its files checked, its hash kept."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from analysis.asr.model_files import ModelFilesError, check_model_folder, resolve_model_path
from config.settings import AsrSettings


def model_folder(root: Path, weights: bytes = b"weights v1") -> Path:
    folder = root / "large-v3"
    folder.mkdir()
    (folder / "model.bin").write_bytes(weights)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_text("{}")
    return folder


def test_a_folder_without_the_ctranslate2_files_is_refused(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    (folder / "tokenizer.json").unlink()
    (folder / "vocabulary.json").unlink()
    missing = r"tokenizer\.json, vocabulary\.txt or vocabulary\.json"
    with pytest.raises(ModelFilesError, match=missing):
        resolve_model_path(AsrSettings(model=str(folder)), tmp_path / "models")


def test_the_hash_is_recorded_at_first_use_and_a_changed_model_refused(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    models = tmp_path / "models"
    assert resolve_model_path(AsrSettings(model=str(folder)), models) == str(folder)
    records = json.loads((models / "local-models.json").read_text())
    first = records[str(folder.resolve())]["sha256"]
    assert first == hashlib.sha256(b"weights v1").hexdigest()
    assert check_model_folder(folder, models) == first  # known size and mtime: no rehash

    (folder / "model.bin").write_bytes(b"weights v2")  # replaced behind the deployment's back
    os.utime(folder / "model.bin", ns=(1, 1))
    with pytest.raises(ModelFilesError, match="changed since it was first used"):
        check_model_folder(folder, models)
    # the same weights copied again (new mtime) are accepted without a new record
    (folder / "model.bin").write_bytes(b"weights v1")
    assert check_model_folder(folder, models) == first
