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
FULL_WINDOW_S = 30.0
_window = threading.local()  # encoder frames for the pass running on this thread


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
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 1,
        window_s: float | None = None,
    ) -> Hypothesis:
        """Transcribe 16 kHz mono float32 audio (blocking; call from a worker thread).

        ``window_s``: encode only this many seconds of the padded 30 s window (cheaper,
        less accurate: used for tentative passes); None = the full window. Engines that
        take the job's vocabulary accept ``hotwords: str`` too (WhisperEngine, RedisEngine).
        """
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


def window_frames(window_s: float | None) -> int | None:
    """Mel frames (100 per second, even) the encoder sees, or None for the full window."""
    if window_s is None or window_s >= FULL_WINDOW_S:
        return None
    return max(200, int(window_s * 100) // 2 * 2)


def _windowed_model_class() -> Any:
    """WhisperModel whose encoder input is cut to this thread's window (if one is set).

    faster-whisper pads every segment to 3000 mel frames; the encoder's cost is
    proportional to the frames it sees, so a 10 s window costs about a third of 30 s.
    """
    from faster_whisper import WhisperModel

    # faster-whisper ships no types, so WhisperModel is Any and subclassing it is [misc].
    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
        def encode(self, features: np.ndarray) -> Any:
            frames = getattr(_window, "frames", None)
            if frames is not None and features.shape[-1] > frames:
                features = features[..., :frames]
            return super().encode(features)

    return WindowedWhisperModel


def is_chinese(language: str | None) -> bool:
    """Whisper's code for Mandarin (and its variants)."""
    return bool(language) and str(language).split("-")[0] in {"zh", "yue"}


class WhisperEngine:
    """faster-whisper WhisperModel loaded once; thread-safe ``transcribe`` for its workers."""

    def __init__(
        self,
        model_path: str | Path,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        num_workers: int = 1,
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
            resolve_model_path(asr, models_dir),
            device=asr.device,
            compute_type=asr.compute_type,
            cpu_threads=asr.cpu_threads,
            num_workers=max(1, asr.workers),
        )

    def load(self) -> None:
        """Load the model (blocking, once); later calls return at once."""
        with self._load_lock:
            if self._model is None:
                self._model = _windowed_model_class()(
                    self.model_path,
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    num_workers=self.num_workers,
                    local_files_only=Path(self.model_path).is_dir(),
                )

    def warm_up(self) -> None:
        """One tiny pass per common window: the first pass of a shape is slower (benchmarks)."""
        self.load()
        noise = np.random.default_rng(0).normal(0, 1e-3, SAMPLE_RATE).astype(np.float32)
        for window in (None, 10.0):
            _window.frames = window_frames(window)
            try:
                segments, _ = self._model.transcribe(
                    noise,
                    language="en",
                    beam_size=1,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                    vad_filter=False,
                )
                list(segments)
            finally:
                _window.frames = None

    def transcribe(
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 1,
        window_s: float | None = None,
        hotwords: str = "",
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
        frames = window_frames(window_s)
        if frames is not None and language is None:
            frames = None  # language detection reads a full window
        _window.frames = frames
        try:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                initial_prompt=initial or None,
                beam_size=beam_size,
                hotwords=hotwords or None,
                word_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                temperature=[0.0, 0.4, 0.8],
                without_timestamps=True,  # one segment: a live buffer fits one window
                max_new_tokens=min(200, int(10 + 8 * duration)),  # bounds a repetition loop
                # Re-decode at a higher temperature only for repetition loops (compression
                # ratio), not for a low log-probability: short live buffers often score low,
                # and each re-decode costs as much as the first one. Silero VAD already
                # decided this is speech, so Whisper's no-speech skip is off too.
                log_prob_threshold=None,
                no_speech_threshold=None,
            )
            # Decode here, in the worker thread. Without timestamps the first window is one
            # segment; asking for more would make faster-whisper go on from the last word's
            # end and decode the trailing silence in a second window, where Whisper invents
            # words ("Bye.", "Go!") at twice the cost.
            first = next(segments, None)
            segments.close()
            segments = [first] if first is not None and first.seek == 0 else []
        finally:
            _window.frames = None
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
            words=words,
            language=detected,
            language_probability=float(info.language_probability or 0.0),
            avg_logprob=float(np.mean(logprobs)) if logprobs else 0.0,
            duration=duration,
        )

    def start_long(
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 5,
        hotwords: str = "",
    ) -> LongPass:
        """Start a long-form pass over audio of any length (offline settings, every window).

        The audio is cut at pauses (Silero VAD) into windows of at most ``LONG_WINDOW_S``
        holding all its speech; each window is decoded like the offline pass (one full 30 s
        window, beam ``beam_size``) with the previous window's text after ``prompt``. The
        returned pass decodes lazily, one window per ``step()``, so a scheduler can run
        other passes between windows. An answer shorter than one window is one offline pass.
        """
        self.load()
        audio = np.asarray(audio, dtype=np.float32).ravel()
        return LongPass(self, audio, speech_windows(audio), prompt, language, beam_size, hotwords)

    def transcribe_long(
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 5,
        hotwords: str = "",
    ) -> Hypothesis:
        """A whole long-form pass at once (blocking; workers and benchmarks)."""
        long = self.start_long(audio, prompt, language, beam_size, hotwords)
        while long.step():
            pass
        return long.result()


LONG_WINDOW_S = 28.0  # a window of the long-form pass (Whisper's is 30 s; keep a margin)
CONTEXT_CHARS = 120  # previous window's text given as the next one's prompt
SPEECH_PAD_MS = 400
_REPETITIVE = 2.4  # gzip compression ratio above which a window's text is a loop: no prompt


def speech_windows(audio: np.ndarray, max_s: float = LONG_WINDOW_S) -> list[tuple[int, int]]:
    """Sample ranges of at most ``max_s`` covering every speech region, cut at pauses."""
    if len(audio) < SAMPLE_RATE // 10:
        return []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    # Silence around and between the speech is left out (an answer starts with the
    # candidate reading the question): Whisper decodes speech padded by a little silence
    # best, and invents words in long silences.
    regions = get_speech_timestamps(
        audio,
        VadOptions(
            min_silence_duration_ms=300,
            speech_pad_ms=SPEECH_PAD_MS,
            max_speech_duration_s=max_s - 1.0,
        ),
    )
    limit = int(max_s * SAMPLE_RATE)
    windows: list[tuple[int, int]] = []
    for r in regions:
        a, b = int(r["start"]), int(r["end"])
        if windows and b - windows[-1][0] <= limit:
            windows[-1] = (windows[-1][0], b)
        else:
            windows.append((a, b))
    return windows


def _repetitive(text: str) -> bool:
    import zlib

    data = text.encode()
    return len(data) > 40 and len(data) / len(zlib.compress(data)) > _REPETITIVE


class LongPass:
    """A long-form pass in progress: ``step()`` decodes one more window (blocking)."""

    def __init__(
        self,
        engine: WhisperEngine,
        audio: np.ndarray,
        windows: list[tuple[int, int]],
        prompt: str,
        language: str | None,
        beam_size: int,
        hotwords: str,
    ) -> None:
        self._engine = engine
        self._audio = audio
        self._windows = list(windows)
        self._prompt = prompt
        self.language = language or ""
        self.language_probability = 1.0
        self.duration = len(audio) / SAMPLE_RATE
        self._beam = beam_size
        self._hotwords = hotwords
        self.words: list[Word] = []
        self._logprobs: list[float] = []
        self._previous = ""
        self.done = not self._windows

    def step(self) -> bool:
        """Decode the next window; False when the audio is finished."""
        if self.done or not self._windows:
            self.done = True
            return False
        a, b = self._windows.pop(0)
        context = "" if _repetitive(self._previous) else self._previous[-CONTEXT_CHARS:]
        prompt = " ".join(p for p in (self._prompt, context) if p)
        hyp = self._engine.transcribe(
            self._audio[a:b], prompt, self.language or None, self._beam, hotwords=self._hotwords
        )
        if not self.language:
            self.language = hyp.language
            self.language_probability = hyp.language_probability
        t0 = a / SAMPLE_RATE
        self.words += [Word(w.text, w.start + t0, w.end + t0, w.probability) for w in hyp.words]
        if hyp.words:
            self._logprobs.append(hyp.avg_logprob)
        self._previous = hyp.text
        return True

    def close(self) -> None:
        """Abandon the pass (drops the audio)."""
        self.done = True
        self._windows = []

    def result(self) -> Hypothesis:
        """The words decoded so far (all of them once ``step()`` returned False)."""
        return Hypothesis(
            words=list(self.words),
            language=self.language,
            language_probability=self.language_probability,
            avg_logprob=float(np.mean(self._logprobs)) if self._logprobs else 0.0,
            duration=self.duration,
        )
