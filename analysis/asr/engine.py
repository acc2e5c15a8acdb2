"""Whisper inference (faster-whisper): one loaded model, timed words out."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from analysis.asr.policy import Word

if TYPE_CHECKING:
    from config.settings import AsrSettings

ZH_PROMPT = "以下是普通话的句子。"
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Hypothesis:
    """One pass over an audio buffer; word times are seconds from the buffer start."""

    words: list[Word]
    language: str
    language_probability: float = 1.0
    avg_logprob: float = 0.0
    duration: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The words as text."""
        return "".join(w.text for w in self.words).strip()


class Transcriber(Protocol):
    """What the scheduler needs from an engine (fakes implement this in tests)."""

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 1,
    ) -> Hypothesis:
        """Transcribe 16 kHz mono float32 audio (blocking; call from a worker thread)."""
        ...


class _Simplifier:
    """Traditional → Simplified Chinese, created on first use (OpenCC loads tables)."""

    def __init__(self) -> None:
        self._cc: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> str:
        with self._lock:
            if self._cc is None:
                from opencc import OpenCC

                self._cc = OpenCC("t2s")
            return str(self._cc.convert(text))


def is_chinese(language: str | None) -> bool:
    """Whisper's code for Mandarin (and its variants)."""
    return bool(language) and str(language).split("-")[0] in {"zh", "yue"}


class WhisperEngine:
    """faster-whisper WhisperModel loaded once; thread-safe ``transcribe`` for its workers."""

    def __init__(
        self, model_path: str | Path, device: str = "cpu", compute_type: str = "int8",
        cpu_threads: int = 2, num_workers: int = 1,
    ) -> None:
        self.model_path = str(model_path)
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._simplify = _Simplifier()

    @classmethod
    def from_settings(cls, asr: AsrSettings, models_dir: Path) -> WhisperEngine:
        """An engine for the configured model (prepares the bundled weights if needed)."""
        from analysis.asr.model_files import resolve_model_path

        return cls(
            resolve_model_path(asr, models_dir), device=asr.device,
            compute_type=asr.compute_type, cpu_threads=asr.cpu_threads,
            num_workers=max(1, asr.workers),
        )

    def load(self) -> None:
        """Load the model (blocking, once); later calls return at once."""
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    self.model_path, device=self.device, compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads, num_workers=self.num_workers,
                    local_files_only=Path(self.model_path).is_dir(),
                )

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 1,
    ) -> Hypothesis:
        """One pass with word timestamps; Mandarin comes out Simplified with punctuation."""
        self.load()
        audio = np.asarray(audio, dtype=np.float32).ravel()
        duration = len(audio) / SAMPLE_RATE
        if duration < 0.1:
            return Hypothesis(words=[], language=language or "", duration=duration)
        initial = prompt
        if is_chinese(language):
            initial = ZH_PROMPT + prompt
        segments, info = self._model.transcribe(
            audio, language=language, initial_prompt=initial or None, beam_size=beam_size,
            word_timestamps=True, condition_on_previous_text=False, vad_filter=False,
            temperature=[0.0, 0.4, 0.8], without_timestamps=False,
        )
        segments = list(segments)  # decode here, in the worker thread
        detected = info.language or language or ""
        chinese = is_chinese(detected)
        words: list[Word] = []
        logprobs: list[float] = []
        for seg in segments:
            logprobs.append(float(seg.avg_logprob))
            for w in seg.words or []:
                text = self._simplify(w.word) if chinese else w.word
                start = min(max(0.0, float(w.start)), duration)
                end = min(max(start, float(w.end)), duration)
                words.append(Word(text, start, end, float(w.probability)))
        return Hypothesis(
            words=words, language=detected,
            language_probability=float(info.language_probability or 0.0),
            avg_logprob=float(np.mean(logprobs)) if logprobs else 0.0, duration=duration,
        )
