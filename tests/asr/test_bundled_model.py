"""The bundled Whisper base, prepared once: copies that lost their stamp's mtime are not rejoined.

A container image keeps whole seconds of each file's mtime: the folder prepared in the build
stage comes back in the final stage with the fraction cut off, owned by root, and a non-root
worker that tried to join the weights again crashed on a read-only folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analysis.asr import model_files
from analysis.asr.model_files import prepare_whisper_base


@pytest.fixture
def prepared_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A copy of the prepared models folder (the weights and their stamp)."""
    folder = prepare_whisper_base(models_dir)
    copy = tmp_path / "models"
    shutil.copytree(folder, copy / folder.name)
    return copy


def joins(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every join of the parts instead of joining."""
    seen: list[Path] = []

    def refuse(parts: list[Path], target: Path, progress: object) -> str:
        seen.append(target)
        raise PermissionError(f"read-only: {target}")

    monkeypatch.setattr(model_files, "_join_parts", refuse)
    return seen


def test_whole_second_mtimes_as_image_layers_keep_them_need_no_rejoin(
    prepared_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = prepared_copy / "whisper-base" / "model.bin"
    whole = os.stat(weights).st_mtime_ns // 1_000_000_000 * 1_000_000_000
    os.utime(weights, ns=(whole, whole))
    seen = joins(monkeypatch)
    assert prepare_whisper_base(prepared_copy) == prepared_copy / "whisper-base"
    assert seen == []


def test_a_copy_with_a_new_mtime_is_verified_by_hash_and_restamped(
    prepared_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = prepared_copy / "whisper-base" / "model.bin"
    os.utime(weights, (1_000_000, 1_000_000))
    seen = joins(monkeypatch)
    prepare_whisper_base(prepared_copy)
    assert seen == []
    assert model_files._stamp_matches(weights, weights.with_name(model_files.STAMP_NAME))


def test_damaged_weights_of_the_right_size_are_joined_again(
    prepared_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = prepared_copy / "whisper-base" / "model.bin"
    with weights.open("r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    os.utime(weights, (1_000_000, 1_000_000))
    seen = joins(monkeypatch)
    with pytest.raises(PermissionError):
        prepare_whisper_base(prepared_copy)
    assert seen == [weights]
