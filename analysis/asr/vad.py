"""Streaming Silero VAD (the ONNX model shipped in faster-whisper) with start/end hysteresis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SAMPLE_RATE = 16_000
CHUNK = 512
_CONTEXT = 64


@dataclass(frozen=True)
class VadSettings:
    """Speech above ``threshold`` starts an utterance; below ``neg_threshold`` for
    ``min_silence_ms`` ends it. Utterances are padded by ``pad_ms`` each side."""

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_silence_ms: int = 800
    pad_ms: int = 200


@dataclass(frozen=True)
class VadEvent:
    """A change of speech state; ``sample`` counts from the first sample pushed.

    ``pause``: silence began (the utterance may be ending), ``resume``: it did not.
    ``end`` carries the padded end of speech.
    """

    kind: Literal["start", "pause", "resume", "end"]
    sample: int


def load_silero_session() -> Any:
    """The Silero VAD ONNX session, single-threaded (it is tiny)."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    path = f"{get_assets_path()}/silero_vad_v6.onnx"
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=opts)


class StreamingVad:
    """Feed 16 kHz mono float32 audio in any block size; get speech start/end events."""

    def __init__(self, settings: VadSettings | None = None, session: Any = None) -> None:
        self.settings = settings or VadSettings()
        self._session = session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._processed = 0  # samples run through the model
        self.speaking = False
        self._silence_start: int | None = None
        self._speech_start = 0

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Run the model on whole chunks of ``samples`` (len divisible by 512), keeping state."""
        if self._session is None:
            self._session = load_silero_session()
        chunks = samples.reshape(-1, CHUNK)
        contexts = np.concatenate([self._context[None, :], chunks[:-1, -_CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, chunks], axis=1).astype(np.float32, copy=False)
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = chunks[-1, -_CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(-1)

    def push(self, samples: np.ndarray) -> list[VadEvent]:
        """Add audio; return the events it caused, in order."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).ravel()])
        whole = len(data) - len(data) % CHUNK
        self._pending = data[whole:]
        if whole == 0:
            return []
        probs = self.probabilities(data[:whole])
        events: list[VadEvent] = []
        s = self.settings
        pad = s.pad_ms * SAMPLE_RATE // 1000
        min_silence = s.min_silence_ms * SAMPLE_RATE // 1000
        for i, p in enumerate(probs):
            at = self._processed + i * CHUNK
            if not self.speaking:
                if p >= s.threshold:
                    self.speaking = True
                    self._silence_start = None
                    self._speech_start = max(0, at - pad)
                    events.append(VadEvent("start", self._speech_start))
                continue
            if p >= s.threshold and self._silence_start is not None:
                self._silence_start = None
                events.append(VadEvent("resume", at))
            elif p < s.neg_threshold and self._silence_start is None:
                self._silence_start = at
                events.append(VadEvent("pause", at))
            if self._silence_start is not None and at + CHUNK - self._silence_start >= min_silence:
                events.append(VadEvent("end", self._silence_start + pad))
                self.speaking = False
                self._silence_start = None
        self._processed += whole
        return events

    def flush(self) -> list[VadEvent]:
        """End of input: close an open utterance at the last sample seen."""
        if not self.speaking:
            return []
        self.speaking = False
        end = self._processed + len(self._pending)
        if self._silence_start is not None:
            end = min(end, self._silence_start + self.settings.pad_ms * SAMPLE_RATE // 1000)
        self._silence_start = None
        return [VadEvent("end", end)]
