"""Audio framing: per-frame energy, an adaptive voiced/unvoiced decision, loudness."""

from __future__ import annotations

import numpy as np

FRAME_SECONDS = 0.02
SILENCE_DBFS = -60.0


def frame_power(audio: np.ndarray, sample_rate: int, frame: float = FRAME_SECONDS) -> np.ndarray:
    """Mean square of each non-overlapping frame of mono float audio (-1..1)."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    size = max(1, round(sample_rate * frame))
    n = len(samples) // size
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    blocks = samples[: n * size].astype(np.float64).reshape(n, size)
    power: np.ndarray = np.mean(blocks * blocks, axis=1)
    return power


def to_db(power: np.ndarray | float) -> np.ndarray:
    """Mean square to dB relative to full scale (an RMS of 1.0 is 0 dBFS)."""
    return 10.0 * np.log10(np.maximum(np.asarray(power, dtype=np.float64), 1e-12))


def voiced_mask(power: np.ndarray, *, floor_dbfs: float = -65.0) -> np.ndarray:
    """Frames louder than a threshold set between the clip's noise floor and speech level.

    The threshold adapts to the recording (30% of the way from the 10th to the 95th
    percentile frame level, never below ``floor_dbfs``), so it does not change when
    the whole signal is scaled.
    """
    if power.size == 0:
        return np.zeros(0, dtype=bool)
    db = to_db(power)
    low, high = np.percentile(db, [10, 95])
    threshold = max(floor_dbfs, low + 0.3 * (high - low))
    if high - low < 6.0:  # no contrast: all speech or all silence
        return np.asarray(db > max(floor_dbfs, SILENCE_DBFS + 10), dtype=bool)
    return np.asarray(db > threshold, dtype=bool)


def smooth_mask(mask: np.ndarray, *, min_gap: int, min_voiced: int) -> np.ndarray:
    """Fill unvoiced gaps shorter than ``min_gap`` frames, then drop short voiced blips."""
    out = mask.copy()
    for value, length in ((False, min_gap), (True, min_voiced)):
        runs = _runs(out)
        for start, stop, v in runs:
            inner = 0 < start and stop < len(out)
            if v == value and stop - start < length and (inner or value):
                out[start:stop] = not value
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    runs = []
    start = 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append((start, i, bool(mask[start])))
            start = i
    return runs


def voiced_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) frame indices of each voiced run."""
    return [(a, b) for a, b, v in _runs(mask) if v]


def loudness_dbfs(power: np.ndarray, mask: np.ndarray) -> float | None:
    """RMS level over voiced frames in dBFS, or None without voiced frames."""
    if power.size == 0 or not mask.any():
        return None
    return float(to_db(float(np.mean(power[mask]))))
