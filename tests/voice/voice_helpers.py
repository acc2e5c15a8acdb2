"""Load shared speech clips as 16 kHz mono float32 and read their references."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def load_16k_mono(path: Path) -> np.ndarray:
    """Decode and resample any audio file to 16 kHz mono float32."""
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(container.streams.audio[0]):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32)


def human_references(shared: Path) -> dict[str, tuple[str, str]]:
    """file -> (language, reference) for rows with a human (or test-asserted) reference."""
    out = {}
    with (shared / "transcripts.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            source = row["reference_source"]
            if "MODEL OUTPUT" in source or "no transcript" in row["reference"]:
                continue
            if "|" in row["reference"]:  # two speakers on two channels
                continue
            out[row["file"]] = (row["language"], row["reference"])
    return out
