"""Whisper inference (faster-whisper): one loaded model, timed words out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from analysis.asr.policy import Word

if TYPE_CHECKING:
    from config.settings import AsrSettings

ZH_PROMPT = "以下是普通话的句子。"
SAMPLE_RATE = 16_000
FULL_WINDOW_S = 30.0
_window = threading.local()
T = TypeVar("T")  # encoder frames for the pass running on this thread


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


class LongInput(Protocol):
    """What a long-form pass is told (``scheduler.PassInput`` has these fields)."""

    @property
    def audio(self) -> np.ndarray: ...
    @property
    def prompt(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def beam_size(self) -> int: ...
    @property
    def hotwords(self) -> str: ...


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
            batch: Rendezvous | None = getattr(_window, "batch", None)
            if batch is not None:  # a pass of a batch: encoded with the others in one call
                return batch.call("encode", (self, features))
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
        self.last_batch_sizes: list[int] = []  # model calls run together in the last batch

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

    def twin(self, cpu_threads: int | None = None) -> WhisperEngine:
        """Another engine for the same model (its own copy; loads on first use)."""
        return WhisperEngine(self.model_path, self.device, self.compute_type,
                             cpu_threads or self.cpu_threads, 1)

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
                sot = self._model.hf_tokenizer.token_to_id("<|startoftranscript|>")
                self._model.model = _BatchingWhisper(self._model.model, sot)

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
        return LongPass(self, audio, LongFormPlan().all(audio), prompt, language, beam_size,
                        hotwords)

    def open_long(
        self, prompt: str = "", language: str | None = None, beam_size: int = 5,
        hotwords: str = "",
    ) -> LongPass:
        """A long-form pass fed as the answer goes (``LongPass.extend`` with closed windows).

        No I/O here: the model loads in the first window's decode (a scheduler thread).
        """
        return LongPass(self, np.zeros(0, np.float32), [], prompt, language, beam_size, hotwords)

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

    def transcribe_long_batch(self, inputs: Sequence[LongInput]) -> list[Hypothesis | Exception]:
        """Several long-form passes at once: the n-th window of each is decoded in one call.

        Each pass runs exactly as ``transcribe_long`` (same windows, same prompts) in a
        thread of its own; their encoder and decoder calls meet and run as one batched
        CTranslate2 call (a GPU serves many interviews; on a CPU it saves a little). A pass
        that fails is returned as its exception.
        """
        self.load()
        calls = [lambda inp=inp: self.transcribe_long(
            inp.audio, inp.prompt, inp.language, inp.beam_size, inp.hotwords
        ) for inp in inputs]
        return self.run_together(calls)

    def run_together(self, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
        """Run blocking calls that use this model at once, their model calls batched.

        Each call runs in a thread of its own (created by the calling thread, so they share
        its OS priority); whenever every call still running waits in an encoder or decoder
        call, those run as one CTranslate2 call. A call that raises is returned as its
        exception; the others go on.
        """
        self.load()
        if len(calls) == 1:
            try:
                return [calls[0]()]
            except Exception as exc:
                return [exc]
        rendezvous = Rendezvous(len(calls), self._run_batched)

        def one(call: Callable[[], T]) -> T | Exception:
            _window.batch = rendezvous
            try:
                return call()
            except Exception as exc:
                return exc
            finally:
                _window.batch = None
                rendezvous.leave()

        with ThreadPoolExecutor(len(calls), thread_name_prefix="asr-batch") as pool:
            results = list(pool.map(one, calls))
        self.last_batch_sizes = list(rendezvous.batch_sizes)
        return results

    def _run_batched(self, calls: list[_Call]) -> None:
        """Run the calls the passes of a batch are waiting in, grouped into batched calls."""
        groups: dict[tuple[Any, ...], list[_Call]] = {}
        for call in calls:
            groups.setdefault(_batch_key(call), []).append(call)
        for key, group in groups.items():
            try:
                if key[0] == "encode":
                    _encode_group(group)
                else:
                    _generate_group(group)
            except Exception as exc:
                for call in group:
                    call.error = exc
            finally:
                for call in group:
                    call.done = True


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


PLAN_STEP = 64 * 512  # samples (2.048 s, whole Silero chunks) between two window decisions


class LongFormPlan:
    """Cuts an answer into long-form windows causally, so they can be decoded as it goes.

    ``advance(audio)`` is given the answer so far and returns the windows that are closed:
    it looks at the audio only at multiples of ``PLAN_STEP`` samples, and once the audio
    since the last closed window spans more than one window it closes the first window that
    ``speech_windows`` finds there (the next one has begun, past the window's length).
    ``finish(audio)`` returns the rest once the answer is over. The windows depend only on
    the audio, not on how it arrived: ``all(audio)`` (the offline long-form pass) gives
    the same windows as feeding the answer block by block, so a pass decoded during the
    answer equals the one decoded after it. An answer whose speech fits one window is one
    window, exactly as ``speech_windows`` cuts it.
    """

    def __init__(self, max_s: float = LONG_WINDOW_S, step: int = PLAN_STEP) -> None:
        self.max_s = max_s
        self.step = step
        self.cursor = 0  # sample where the audio not yet in a closed window starts
        self.checked = 0  # audio looked at so far (a multiple of step)
        self.closed: list[tuple[int, int]] = []

    def advance(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """Windows closed by the audio so far (each returned once, in order)."""
        new: list[tuple[int, int]] = []
        limit = int(self.max_s * SAMPLE_RATE)
        while self.checked + self.step <= len(audio):
            self.checked += self.step
            # a second window needs speech ending more than one window after the cursor
            while self.checked - self.cursor > limit:
                windows = speech_windows(audio[self.cursor : self.checked], self.max_s)
                if len(windows) < 2:
                    break
                a, b = windows[0]
                new.append((self.cursor + a, self.cursor + b))
                self.cursor += b
        self.closed += new
        return new

    def finish(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """The windows left once the audio is complete."""
        self.advance(audio)
        rest = [(self.cursor + a, self.cursor + b)
                for a, b in speech_windows(audio[self.cursor :], self.max_s)]
        self.cursor = len(audio)
        self.closed += rest
        return rest

    def all(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """Every window of a complete answer (the same as advancing block by block)."""
        self.finish(audio)
        return list(self.closed)


def _units(text: str) -> list[str]:
    """Words (Latin script, digits) and single Chinese characters, lower case."""
    import re

    return re.findall(r"[\u3400-\u9fff]|[^\W\d_]+|\d+", text.lower())


def echoes_prompt(text: str, prompt: str) -> bool:
    """True when ``text`` says nothing but words of ``prompt`` (question, job terms).

    On speech it cannot read Whisper repeats its prompt; a candidate may also really say
    only terms of the job, so this is a suspicion to check, not a verdict.
    """
    said, given = _units(text), set(_units(prompt))
    return len(said) >= 2 and bool(given) and all(u in given for u in said)


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
        self.echoes_dropped = 0  # windows whose text only echoed the prompt
        self.done = not self._windows

    def extend(self, audio: np.ndarray, windows: list[tuple[int, int]]) -> None:
        """More of the answer and the windows closed in it (a pass decoded as it goes)."""
        self._audio = np.asarray(audio, dtype=np.float32).ravel()
        self.duration = len(self._audio) / SAMPLE_RATE
        self._windows += windows
        self.done = False

    def step(self) -> bool:
        """Decode the next window; False when no window waits."""
        if self.done or not self._windows:
            self.done = True
            return False
        a, b = self._windows.pop(0)
        context = "" if _repetitive(self._previous) else self._previous[-CONTEXT_CHARS:]
        prompt = " ".join(p for p in (self._prompt, context) if p)
        hyp = self._engine.transcribe(
            self._audio[a:b], prompt, self.language or None, self._beam, hotwords=self._hotwords
        )
        given = f"{self._prompt} {ZH_PROMPT}" if is_chinese(self.language) else self._prompt
        if self._prompt and echoes_prompt(hyp.text, given):
            # Only the prompt's words: decoded again without it, the audio either says them
            # too (a candidate naming the job's terms: kept) or not (an echo: dropped).
            bare = self._engine.transcribe(self._audio[a:b], "", self.language or None,
                                           self._beam)
            heard = set(_units(bare.text))
            echoed = _units(hyp.text)
            if sum(u in heard for u in echoed) < len(echoed) / 2:
                self.echoes_dropped += 1
                self._previous = ""
                return True
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
        self._audio = np.zeros(0, np.float32)

    def result(self) -> Hypothesis:
        """The words decoded so far (all of them once ``step()`` returned False)."""
        return Hypothesis(
            words=list(self.words),
            language=self.language,
            language_probability=self.language_probability,
            avg_logprob=float(np.mean(self._logprobs)) if self._logprobs else 0.0,
            duration=self.duration,
            extra={"echoes_dropped": float(self.echoes_dropped)},
        )


# ---- batching: passes in several threads meet at each model call ----------------------


@dataclass(eq=False)
class _Call:
    kind: str  # "encode" or "generate"
    args: Any
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class Rendezvous:
    """The threads of one batch: when every pass still running waits in a model call, the
    calls run together (``execute``) and each thread gets its own result back.

    A pass that ends ``leave()``s, so the others do not wait for it.
    """

    def __init__(self, size: int, execute: Callable[[list[_Call]], None]) -> None:
        self._cond = threading.Condition()
        self._active = size
        self._waiting: list[_Call] = []
        self._execute = execute
        self.batch_sizes: list[int] = []  # calls run together, per round (for benchmarks)

    def call(self, kind: str, args: Any) -> Any:
        """Wait for the other passes' calls, run them together, return this one's result."""
        call = _Call(kind, args)
        with self._cond:
            self._waiting.append(call)
            self._run_if_all_wait()
            while not call.done:
                self._cond.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def leave(self) -> None:
        """A pass ended."""
        with self._cond:
            self._active -= 1
            self._run_if_all_wait()

    def _run_if_all_wait(self) -> None:
        if self._waiting and len(self._waiting) >= self._active:
            calls, self._waiting = self._waiting, []
            self.batch_sizes.append(len(calls))
            try:
                self._execute(calls)
            except Exception as exc:  # every pass of the batched call gets the error
                for call in calls:
                    call.error = exc
            finally:
                for call in calls:
                    call.done = True
                self._cond.notify_all()


class _BatchingWhisper:
    """The CTranslate2 model; ``generate`` of a batched pass goes through its rendezvous."""

    def __init__(self, inner: Any, sot: int) -> None:
        self.inner = inner
        self.sot = sot

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, features: Any, prompts: Any, **kwargs: Any) -> Any:
        batch: Rendezvous | None = getattr(_window, "batch", None)
        if batch is None or len(prompts) != 1:
            return self.inner.generate(features, prompts, **kwargs)
        return [batch.call("generate", (self, features, prompts[0], kwargs))]


def _batch_key(call: _Call) -> tuple[Any, ...]:
    if call.kind == "encode":
        model, features = call.args
        return ("encode", id(model), tuple(np.shape(features)[-2:]))
    wrapper, features, prompt, kwargs = call.args
    # CTranslate2 needs <|startoftranscript|> at the same place in every prompt of a batch;
    # the length bound may differ (the group runs with the largest: it only stops loops)
    sot = prompt.index(wrapper.sot) if wrapper.sot in prompt else -1
    options = sorted((k, v) for k, v in kwargs.items() if k != "max_length")
    return ("generate", id(wrapper), repr(options), sot, tuple(features.shape))


def _encode_group(group: list[_Call]) -> None:
    """One encoder call for every window of the group; each gets its own output back."""
    import ctranslate2

    model = group[0].args[0]
    feats = [f if f.ndim == 3 else np.expand_dims(f, 0) for _, f in (c.args for c in group)]
    if len(group) == 1:
        group[0].result = model.model.inner.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[0])), to_cpu=True
        )
        return
    stacked = np.ascontiguousarray(np.concatenate(feats).astype(np.float32))
    out = np.asarray(model.model.inner.encode(
        ctranslate2.StorageView.from_array(stacked), to_cpu=True
    ))
    for i, call in enumerate(group):
        call.result = ctranslate2.StorageView.from_array(np.ascontiguousarray(out[i : i + 1]))


def _generate_group(group: list[_Call]) -> None:
    """One decoder call for the group (same options, same prompt layout)."""
    import ctranslate2

    wrapper, _, _, kwargs = group[0].args
    inner = wrapper.inner
    if len(group) == 1:
        _, features, prompt, _ = group[0].args
        group[0].result = inner.generate(features, [prompt], **kwargs)[0]
        return
    stacked = np.ascontiguousarray(np.concatenate([np.asarray(c.args[1]) for c in group]))
    lengths = [c.args[3]["max_length"] for c in group if "max_length" in c.args[3]]
    if lengths:
        kwargs = {**kwargs, "max_length": max(lengths)}
    results = inner.generate(
        ctranslate2.StorageView.from_array(stacked), [c.args[2] for c in group], **kwargs
    )
    for call, result in zip(group, results, strict=True):
        call.result = result
