"""Delivery signals as one low-weight feature, used only when the job enables it.

Only observable, non-emotional measures are used: speaking rate inside a comfortable
band, the share of time spent in pauses, and the share of time facing the camera. No
emotion, personality or expression (smile, brow) is read into a score.
"""

from __future__ import annotations

from analysis.scoring.transcript import AnswerInput

# Comfortable speaking-rate bands: words/min (English), characters/min (Mandarin).
RATE_BAND = {"word": (100.0, 190.0), "char": (160.0, 320.0)}
PAUSE_OK, PAUSE_BAD = 0.3, 0.7


def _band(value: float, low: float, high: float) -> float:
    if low <= value <= high:
        return 1.0
    distance = (low - value) / low if value < low else (value - high) / high
    return max(0.0, 1.0 - 2 * distance)


def delivery_feature(answer: AnswerInput) -> float | None:
    """Mean of the available delivery components in [0, 1]; None when none is available."""
    parts: list[float] = []
    voice = answer.voice
    if voice is not None:
        if voice.speaking_rate is not None:
            parts.append(_band(voice.speaking_rate, *RATE_BAND[voice.unit]))
        if voice.pause_ratio is not None:
            spread = (voice.pause_ratio - PAUSE_OK) / (PAUSE_BAD - PAUSE_OK)
            parts.append(1.0 - min(1.0, max(0.0, spread)))
    face = answer.face
    if face is not None and face.share_facing is not None:
        parts.append(face.share_facing)
    return sum(parts) / len(parts) if parts else None
