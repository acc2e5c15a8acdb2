"""Transcription benchmark: offline / streaming / record accuracy, latency, capacity.

Usage: .venv/bin/python bench/transcription.py [--quick] [--set tuned|held|all]
       [--accuracy-only] [--streams 4,6] [--record-delay 1,4] [--no-as-it-goes]
       [--record-shared]
       [--long-answers] [--batch 1,2,4,8 --model PATH --device cpu --compute-type int8]
Feeds ../shared/data clips at real-time pace through StreamingTranscriber (the server's
path), runs the transcript-of-record pass (RecordTranscriber's long-form decoding) on each
clip, prints a table and writes bench/results/transcription.json.

Clip sets (decided before any tuning for issue 14, never changed after): HELD_APART clips
are excluded from every tuning decision; their results are reported apart and were only
looked at once the settings were fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.asr.engine import ZH_PROMPT, WhisperEngine  # noqa: E402
from analysis.asr.model_files import prepare_whisper_base  # noqa: E402
from analysis.asr.scheduler import AsrScheduler  # noqa: E402
from analysis.asr.stream import StreamSettings  # noqa: E402
from analysis.asr.vad import VadSettings  # noqa: E402
from analysis.events import EventBase, TranscriptFinal, TranscriptPartial  # noqa: E402
from bench.final_trace import (  # noqa: E402
    Breakdown,
    TracedTranscriber,
    TracingScheduler,
    format_summary,
)
from config.settings import AsrSettings  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "results" / "transcription.json"
BLOCK = 320
SKIP = {"en/stereo_diarization.wav", "zh/funasr_example_3.wav"}  # two speakers / code-switch
# Held apart from tuning (issue 14): other speakers / sources than most tuned clips.
HELD_APART = {
    "en/speechbrain_spk2_snt1.wav", "en/speechbrain_spk2_snt2.wav",
    "en/speechbrain_spk2_snt3.wav", "en/speechbrain_spk2_snt4.wav",
    "en/LJ001-0003.flac", "en/LJ001-0004.flac", "en/funasr_example_4.wav",
    "zh/BAC009S0764W0121.wav", "zh/funasr_example_2.wav",
}


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Clip:
    name: str
    language: str
    reference: str
    audio: np.ndarray
    human: bool

    @property
    def seconds(self) -> float:
        return len(self.audio) / 16_000


def clip_set(name: str) -> str:
    """``held`` for the held-apart clips, else ``tuned``."""
    return "held" if name in HELD_APART else "tuned"


def load_clips() -> list[Clip]:
    from faster_whisper.audio import decode_audio

    clips = []
    with (SHARED / "transcripts.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            name = row["file"]
            if name in SKIP or not name.startswith(("en/", "zh/")):
                continue
            ref = row["reference"].split("  (sic")[0]
            audio = np.asarray(decode_audio(str(SHARED / name), sampling_rate=16_000), np.float32)
            clips.append(
                Clip(name, name[:2], ref, audio, "MODEL OUTPUT" not in row["reference_source"])
            )
    return clips


def normalizer(language: str) -> Callable[[str], str]:
    if language == "en":
        from whisper_normalizer.english import EnglishTextNormalizer

        norm = EnglishTextNormalizer()
        return lambda s: " ".join(norm(s).split())
    from opencc import OpenCC

    from analysis.asr.zh_text import written_numbers

    cc = OpenCC("t2s")
    # numbers written the same way on both sides (the record writes 2%, 2019年; AISHELL's
    # references spell them out), as the English normalizer does for "two" / "2"
    return lambda s: " ".join(
        re.findall(r"[\u4e00-\u9fff]|[a-z0-9']+", written_numbers(cc.convert(s)).lower())
    )


def error_rate(language: str, refs: list[str], hyps: list[str]) -> float:
    import jiwer

    norm = normalizer(language)
    r = [norm(x) for x in refs]
    h = [norm(x) for x in hyps]
    if language == "en":
        return float(jiwer.wer(r, h))
    return float(jiwer.cer([x.replace(" ", "") for x in r], [x.replace(" ", "") for x in h]))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


@dataclass
class StreamRun:
    text: str = ""
    partial_latency: list[float] = field(default_factory=list)
    word_final_latency: list[float] = field(default_factory=list)
    final_after_end: list[float] = field(default_factory=list)


ASR = AsrSettings()  # the same settings (workers, threads, beams) the server uses
# --stream-opt overrides (A/B of stream designs): StreamSettings fields, vad.* for VadSettings
STREAM_OPTS: dict[str, float] = {}
# --vocabulary: the live streams get a job's terms as the server passes them (hotwords)
STREAM_HOTWORDS = [""]


def stream_settings(language: str) -> StreamSettings:
    """Stream settings as server/transcription.py builds them (a job always has a language)."""
    vad = {k[4:]: int(v) for k, v in STREAM_OPTS.items() if k.startswith("vad.")}
    fields = StreamSettings.__dataclass_fields__
    other = {k: type(getattr(StreamSettings(), k))(v) for k, v in STREAM_OPTS.items()
             if not k.startswith("vad.") and k in fields}
    return StreamSettings(
        language=language,
        vad=VadSettings(**{"min_silence_ms": ASR.min_silence_ms, **vad}),
        final_beam_size=ASR.final_beam_size,
        partial_beam_size=ASR.partial_beam_size,
        hotwords=STREAM_HOTWORDS[0],
        **other,
    )


async def stream_clip(
    scheduler: AsrScheduler,
    audio: np.ndarray,
    interview: str,
    language: str,
    lead: float = 0.5,
    tail: float = 1.5,
    breakdown: Breakdown | None = None,
) -> StreamRun:
    """Feed at real-time pace; measure when each word's text first appears."""
    t0 = 1000.0
    padded = np.concatenate(
        [np.zeros(int(lead * 16_000), np.float32), audio, np.zeros(int(tail * 16_000), np.float32)]
    )
    stream = TracedTranscriber(interview, scheduler, stream_settings(language))
    seen: list[tuple[float, EventBase]] = []
    start = time.perf_counter()

    async def collect() -> None:
        async for ev in stream.events():
            seen.append((time.perf_counter(), ev))

    task = asyncio.create_task(collect())
    for i in range(0, len(padded), BLOCK):
        stream.push_audio(padded[i : i + BLOCK], t0 + i / 16_000)
        await asyncio.sleep(max(0.0, start + (i + BLOCK) / 16_000 - time.perf_counter()))
    stream.end_input()
    await task

    def fed_at(t: float) -> float:  # wall time when audio up to interview time t was fed
        return start + max(0.0, t - t0)

    run = StreamRun()
    finals = [(w, e) for w, e in seen if isinstance(e, TranscriptFinal)]
    partials = [(w, e) for w, e in seen if isinstance(e, TranscriptPartial)]
    run.text = " ".join(e.text for _, e in finals)
    if breakdown is not None and isinstance(scheduler, TracingScheduler):
        breakdown.add(stream, scheduler, finals, fed_at)
    for wall, final in finals:
        run.final_after_end.append(wall - fed_at(final.end))
        for word in final.words:
            run.word_final_latency.append(wall - fed_at(word.end))
            key = re.sub(r"\W", "", word.word.lower())
            first = next(
                (
                    pw
                    for pw, p in partials
                    if any(
                        re.sub(r"\W", "", x.word.lower()) == key and abs(x.start - word.start) < 0.5
                        for x in p.words
                    )
                ),
                wall,
            )
            run.partial_latency.append(min(first, wall) - fed_at(word.end))
    return run


async def capacity(
    engine: WhisperEngine, clips: list[Clip], counts: list[int], run_all: bool = False
) -> list[dict[str, Any]]:
    """N simultaneous real-time streams of the same program: do finals stay within 3 s?

    The default sweep stops at the first count that misses; counts asked for on the command
    line (``--streams 4,6``) are all run.
    """
    program = np.concatenate(
        [np.concatenate([c.audio, np.zeros(19_200, np.float32)]) for c in clips]  # 1.2 s pauses
    )
    reference = " ".join(c.reference for c in clips)
    rows = []
    for n in counts:
        progress(f"capacity: {n} simultaneous streams of {len(program) / 16_000:.0f} s")
        breakdown = Breakdown()
        load_before = os.getloadavg()[0]
        tracer = TracingScheduler(engine, workers=ASR.workers, final_batch=ASR.final_batch)
        async with tracer as scheduler:

            async def one(k: int, scheduler: AsrScheduler = scheduler, n: int = n,
                          breakdown: Breakdown = breakdown) -> StreamRun:
                await asyncio.sleep(k * 0.37)  # streams do not start in lockstep
                return await stream_clip(scheduler, program, f"cap{n}-{k}", "en",
                                         breakdown=breakdown)

            began = time.perf_counter()
            runs = await asyncio.gather(*(one(k) for k in range(n)))
            wall = time.perf_counter() - began
            metrics = scheduler.metrics.snapshot()
        after = [x for r in runs for x in r.final_after_end]
        partial = [x for r in runs for x in r.partial_latency]
        row: dict[str, Any] = {
            "streams": n,
            "final_after_end_p50": pct(after, 50),
            "final_after_end_p95": pct(after, 95),
            "final_after_end_max": max(after) if after else None,
            "partial_p50": pct(partial, 50),
            "finals_degraded": metrics["finals_degraded"],
            "wer": error_rate("en", [reference] * n, [r.text for r in runs]),
            "finals": metrics["finals_emitted"],
            "finals_shortened": metrics["finals_shortened"],
            "pause_passes_dropped": metrics["pause_passes_dropped"],
            "finals_from_pause_pass": metrics["finals_from_pause_pass"],
            "final_passes": metrics["final_passes"],
            "partial_passes": metrics["partial_passes"],
            "busy": metrics["inference_seconds"] / wall,
            "partials_skipped": metrics["partials_skipped"],
            "backlog_reports": metrics["backlog_reports"],
            "breakdown": breakdown.summary(),
            "finals_detail": breakdown.detail(began),
            "passes_detail": tracer.detail(began),
            "final_batch": ASR.final_batch,
            "final_batch_mean": (float(np.mean(scheduler.final_batches))
                                 if scheduler.final_batches else None),
            "final_batched_calls": len(scheduler.final_batches),
            "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0],
        }
        row["ok"] = bool(after) and (row["final_after_end_p95"] or 99) <= 3.0
        rows.append(row)
        progress(
            f"  p50 {row['final_after_end_p50']:.2f} s, p95 {row['final_after_end_p95']:.2f} s, "
            f"max {row['final_after_end_max']:.2f} s -> {'ok' if row['ok'] else 'too slow'} "
            f"(WER {row['wer']:.3f}, finals {row['finals']:.0f} of which shortened "
            f"{row['finals_shortened']:.0f}, final passes {row['final_passes']:.0f}, "
            f"partial passes {row['partial_passes']:.0f}, workers busy {row['busy']:.0%}, "
            f"load {load_before:.1f} -> {row['load_1min_after']:.1f}, batched final calls "
            f"{row['final_batched_calls']} of {row['final_batch_mean'] or 0:.1f} passes)\n"
            + format_summary(row["breakdown"])
        )
        if not row["ok"] and not run_all:
            break
    return rows


def set_rates(language: str, subset: list[Clip], texts: dict[str, list[str]]) -> dict[str, Any]:
    """Error rates of each pass kind over one clip set."""
    refs = [c.reference for c in subset]
    out: dict[str, Any] = {"clips": len(subset)}
    for kind, hyps in texts.items():
        out[kind] = error_rate(language, refs, hyps) if subset else None
    human = [i for i, c in enumerate(subset) if c.human]
    if human and len(human) < len(subset):
        for kind, hyps in texts.items():
            out[f"{kind}_human_refs"] = error_rate(
                language, [refs[i] for i in human], [hyps[i] for i in human]
            )
    return out


def record_pass(engine: WhisperEngine, clip: Clip, lead: float = 0.5, tail: float = 1.5) -> str:
    """The transcript-of-record pass as the server runs it on an answer's audio."""
    padded = np.concatenate([
        np.zeros(int(lead * 16_000), np.float32), clip.audio,
        np.zeros(int(tail * 16_000), np.float32),
    ])
    return record_text(engine, padded, clip.language)


async def record_delay(
    engine: WhisperEngine, clips: list[Clip], counts: list[int], as_it_goes: bool = True,
    record_engine: WhisperEngine | None = None, record: bool = True,
) -> list[dict[str, Any]]:
    """N interviews at once, live streaming + record passes: answer end → record ready.

    Also measures the live finals of the same streams (record passes must not slow them);
    ``record=False``: the same live streams without record passes (the control).
    """
    from analysis.asr.record import RecordSettings, RecordTranscriber
    from analysis.events import TranscriptRecord

    half = len(clips) // 2
    answers = [
        np.concatenate([np.concatenate([c.audio, np.zeros(8_000, np.float32)]) for c in part])
        for part in (clips[:half], clips[half:])
    ]
    rows = []
    for n in counts:
        progress(f"record delay: {n} interviews, 2 answers of "
                 f"{', '.join(f'{len(a) / 16_000:.0f}' for a in answers)} s each")
        delays: list[float] = []
        finals_after: list[float] = []
        load_before = os.getloadavg()[0]
        breakdown = Breakdown()
        async with TracingScheduler(engine, workers=ASR.workers, final_batch=ASR.final_batch,
                                    record_engine=record_engine) as scheduler:

            async def interview(
                k: int, scheduler: AsrScheduler = scheduler, n: int = n,
                delays: list[float] = delays, finals_after: list[float] = finals_after,
                breakdown: Breakdown = breakdown,
            ) -> None:
                await asyncio.sleep(k * 0.37)
                began = time.perf_counter()
                clock = lambda: 1000.0 + time.perf_counter() - began  # noqa: E731
                ended: dict[str, float] = {}

                async def emit(ev: Any) -> None:
                    if isinstance(ev, TranscriptRecord) and ev.status == "ready":
                        delays.append(time.perf_counter() - ended[ev.question_id])

                rec = RecordTranscriber(f"rd{n}-{k}", scheduler, emit, language="en",
                                        clock=clock,
                                        settings=RecordSettings(as_it_goes=as_it_goes))
                stream = TracedTranscriber(f"rd{n}-{k}", scheduler, stream_settings("en"))
                start = time.perf_counter()
                emitted: list[tuple[float, TranscriptFinal]] = []

                async def drain() -> None:
                    async for ev in stream.events():
                        if isinstance(ev, TranscriptFinal):  # audio at t was fed at start+t
                            finals_after.append(time.perf_counter() - start - (ev.end - 1000.0))
                            emitted.append((time.perf_counter(), ev))

                task = asyncio.create_task(drain())
                fed = 0
                for q, audio in enumerate(answers):
                    if record:
                        rec.answer_started(f"q{q}", "Tell me about your work.")
                    for i in range(0, len(audio), BLOCK):
                        block = audio[i : i + BLOCK]
                        stream.push_audio(block, 1000.0 + fed / 16_000)
                        if record:
                            rec.push_audio(block, 1000.0 + fed / 16_000)
                        fed += len(block)
                        await asyncio.sleep(max(0.0, start + fed / 16_000 - time.perf_counter()))
                    ended[f"q{q}"] = time.perf_counter()
                    if record:
                        rec.answer_ended(f"q{q}")
                stream.end_input()
                await task
                assert isinstance(scheduler, TracingScheduler)
                breakdown.add(stream, scheduler, emitted, lambda t: start + (t - 1000.0))
                await rec.drain(timeout=300)

            await asyncio.gather(*(interview(k) for k in range(n)))
            metrics = scheduler.metrics.snapshot()
            together = list(scheduler.record_batches)
        row: dict[str, Any] = {
               "interviews": n, "answers": 2 * n, "ready": len(delays), "as_it_goes": as_it_goes,
               "record": record, "breakdown": breakdown.summary(),
               "record_background": record_engine is not None,
               "record_threads": record_engine.cpu_threads if record_engine else None,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
               "p50": pct(delays, 50), "p95": pct(delays, 95),
               "max": max(delays) if delays else None,
               "finals_after_end_p50": pct(finals_after, 50),
               "finals_after_end_p95": pct(finals_after, 95),
               "final_passes": metrics["final_passes"],
               "partial_passes": metrics["partial_passes"],
               "record_steps": metrics["record_steps"],
               "record_steps_together_mean": float(np.mean(together)) if together else None,
               "record_steps_together_max": max(together) if together else None,
               "record_seconds": metrics["record_seconds"],
               "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0]}
        row["ok"] = not record or (len(delays) == 2 * n and (row["p95"] or 99) <= 30.0)
        ready = (f"record ready after answer end p50 {row['p50']:.1f} s, p95 {row['p95']:.1f} s"
                 if record and delays else "no record passes")
        progress(f"  {ready}; live finals p50 {row['finals_after_end_p50']:.2f} s, "
                 f"p95 {row['finals_after_end_p95']:.2f} s (load {load_before:.1f} -> "
                 f"{row['load_1min_after']:.1f}; full-window passes {row['final_passes']:.0f}, "
                 f"tentative {row['partial_passes']:.0f}; record threads "
                 f"{row['record_threads']}, OMP_WAIT_POLICY {row['omp_wait_policy']})\n"
                 + format_summary(row["breakdown"]))
        rows.append(row)
    return rows


def long_answers(engine: WhisperEngine, clips: list[Clip]) -> dict[str, Any]:
    """Answers longer than one window: the record pass against faster-whisper's long-form.

    Each answer joins the clips of one language and set with half-second pauses (28-60 s;
    Mandarin's sets are too short apart, so both together); "offline long-form" is
    faster-whisper's own loop (beam 5, timestamps, earlier text as the prompt), the usual
    way to decode audio longer than 30 s.
    """
    out: dict[str, Any] = {}
    gap = np.zeros(8_000, np.float32)
    for language in ("en", "zh"):
        for name in ("tuned", "held", "all"):
            if name == "all" and any(k.startswith(f"{language}_") for k in out):
                continue  # both sets together only where neither makes a long answer
            subset = [c for c in clips if c.language == language
                      and (name == "all" or clip_set(c.name) == name)]
            answers: list[list[Clip]] = [[]]
            for c in subset:
                if sum(x.seconds + 0.5 for x in answers[-1]) + c.seconds > 60:
                    answers.append([])
                answers[-1].append(c)
            answers = [a for a in answers if sum(x.seconds + 0.5 for x in a) > 28]
            if not answers:
                continue
            refs, record, native = [], [], []
            for part in answers:
                audio = np.concatenate([x for c in part for x in (c.audio, gap)])
                progress(f"long answer {language}/{name}: {len(audio) / 16_000:.0f} s")
                refs.append(" ".join(c.reference for c in part))
                record.append(record_text(engine, audio, language))
                segments, _ = engine._model.transcribe(
                    audio, language=language, beam_size=5, vad_filter=False,
                    initial_prompt=ZH_PROMPT if language == "zh" else None,
                )
                text = "".join(s.text for s in segments)
                native.append(engine._simplify(text) if language == "zh" else text)
            off = error_rate(language, refs, native)
            rec = error_rate(language, refs, record)
            out[f"{language}_{name}"] = {
                "answers": len(answers), "seconds": [round(sum(c.seconds for c in a), 1)
                                                     for a in answers],
                "offline_long_form": off, "record": rec,
                "ratio": rec / off if off else None,
                "examples": [{"record": r, "offline_long_form": o}
                             for r, o in zip(record, native, strict=True)],
            }
    return out


def record_text(engine: WhisperEngine, audio: np.ndarray, language: str) -> str:
    """The record pass's text for a whole answer (as RecordTranscriber formats it)."""
    from analysis.asr.record import AnswerAudio, record_event

    hyp = engine.transcribe_long(audio, "", language, beam_size=5)
    answer = AnswerAudio("q", "", 0.0)
    answer.push(audio, 0.0)
    return record_event("bench", answer, hyp, 0.0).text


def batch_throughput(
    engine: WhisperEngine, clips: list[Clip], sizes: list[int], passes: int
) -> list[dict[str, Any]]:
    """Record passes per second when a worker decodes ``b`` of them per model call."""
    from analysis.asr.scheduler import PassInput

    pool = [c for c in clips if c.human]
    inputs = [PassInput(pool[i % len(pool)].audio, "Tell me about your work.",
                        pool[i % len(pool)].language, 5) for i in range(passes)]
    rows = []
    for b in sizes:
        progress(f"batch {b}: {passes} record passes")
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        calls: list[int] = []
        for i in range(0, passes, b):
            group = inputs[i : i + b]
            if b == 1:
                for inp in group:
                    engine.transcribe_long(inp.audio, inp.prompt, inp.language, 5)
            else:
                engine.transcribe_long_batch(group)
                calls += engine.last_batch_sizes
        wall = time.perf_counter() - began
        audio_s = sum(len(i.audio) for i in inputs) / 16_000
        rows.append({"batch": b, "passes": passes, "seconds": wall,
                     "passes_per_s": passes / wall, "audio_s_per_s": audio_s / wall,
                     "mean_calls_together": float(np.mean(calls)) if calls else 1.0,
                     "load_1min_before": load_before})
        progress(f"  {passes / wall:.2f} passes/s ({audio_s / wall:.1f} s of audio per s)")
    return rows


@dataclass
class Options:
    """What to run (the command line)."""

    quick: bool = False
    streams: list[int] | None = None
    which: str = "all"
    accuracy_only: bool = False
    delay_counts: list[int] | None = None
    languages: tuple[str, ...] = ("en", "zh")
    as_it_goes: bool = True
    record_background: bool = True
    record_off: bool = False
    record_threads: int | None = None  # the record model copy's threads (default: as live)
    long_answers: bool = False
    batch: list[int] | None = None
    batch_passes: int = 16
    model: str | None = None
    device: str | None = None
    compute_type: str | None = None
    cap_set: str = "tuned"  # the clips of the capacity / record-delay program


def machine() -> dict[str, Any]:
    """What the figures were measured on (the machine is shared: its load matters)."""
    return {"cpus": os.cpu_count(), "load_1_5_15_min": list(os.getloadavg()),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


async def main(opts: Options) -> dict[str, Any]:
    if not SHARED.is_dir():
        raise SystemExit("../shared/data is not present")
    quick, streams, which = opts.quick, opts.streams, opts.which
    accuracy_only, delay_counts, languages = opts.accuracy_only, opts.delay_counts, opts.languages
    asr = ASR.model_copy(update={
        k: v for k, v in (("model", opts.model), ("device", opts.device),
                          ("compute_type", opts.compute_type)) if v is not None
    })
    if asr.model == "bundled-base":
        prepare_whisper_base(ROOT / "models")
    engine = WhisperEngine.from_settings(asr, ROOT / "models")
    engine.warm_up()
    clips = load_clips()
    if quick:
        clips = [c for c in clips if c.name in {"en/jfk.flac", "zh/BAC009S0764W0121.wav"}]
    result: dict[str, Any] = {
        "model": "whisper-base int8 (bundled)" if asr.model == "bundled-base"
        else f"{asr.model} {asr.compute_type}",
        "device": asr.device,
        "settings": asr.model_dump(),
        "stream_opts": dict(STREAM_OPTS),
        "machine_at_start": machine(),
        "clip_sets": {"held": sorted(HELD_APART), "evaluated": which},
        "languages": {},
    }
    if opts.batch:
        result["batch_throughput"] = batch_throughput(engine, clips, opts.batch,
                                                      opts.batch_passes)
        result["machine_at_end"] = machine()
        return result
    if opts.long_answers:
        result["long_answers"] = long_answers(engine, clips)
        result["machine_at_end"] = machine()
        return result
    all_partial, all_final_after, all_word_final = [], [], []
    accuracy_breakdown = Breakdown()
    offline_by_clip: dict[str, str] = {}
    audio_total, infer_total = 0.0, 0.0
    only_capacity = bool(streams) or bool(delay_counts)
    for language in () if only_capacity else languages:
        subset = [
            c for c in clips
            if c.language == language and (which == "all" or clip_set(c.name) == which)
        ]
        offline, streaming, record = [], [], []
        for i, clip in enumerate(subset, 1):
            progress(f"{language} {i}/{len(subset)} {clip.name} ({clip.seconds:.1f} s): offline")
            offline.append(engine.transcribe(clip.audio, language=language, beam_size=5).text)
            offline_by_clip[clip.name] = offline[-1]
            record.append(record_pass(engine, clip))
            progress(f"{language} {i}/{len(subset)} {clip.name}: streaming at real-time pace")
            async with TracingScheduler(engine, workers=ASR.workers,
                                    final_batch=ASR.final_batch) as scheduler:
                run = await stream_clip(scheduler, clip.audio, f"bench-{language}-{i}", language,
                                        breakdown=accuracy_breakdown)
                audio_total += clip.seconds
                infer_total += scheduler.metrics.inference_seconds
            streaming.append(run.text)
            all_partial += run.partial_latency
            all_final_after += run.final_after_end
            all_word_final += run.word_final_latency
        entry: dict[str, Any] = {
            "metric": "WER" if language == "en" else "CER",
            **set_rates(language, subset, {
                "offline": offline, "streaming": streaming, "record": record,
            }),
        }
        for name in ("tuned", "held"):
            idx = [k for k, c in enumerate(subset) if clip_set(c.name) == name]
            if idx:
                entry[name] = set_rates(language, [subset[k] for k in idx], {
                    "offline": [offline[k] for k in idx],
                    "streaming": [streaming[k] for k in idx],
                    "record": [record[k] for k in idx],
                })
        entry["examples"] = [
            {"clip": c.name, "set": clip_set(c.name), "offline": o, "streaming": s, "record": r}
            for c, o, s, r in zip(subset, offline, streaming, record, strict=True)
        ]
        result["languages"][language] = entry
    result["latency"] = {
        "partial_p50": pct(all_partial, 50),
        "partial_p95": pct(all_partial, 95),
        "final_word_p50": pct(all_word_final, 50),
        "final_word_p95": pct(all_word_final, 95),
        "final_after_utterance_end_p50": pct(all_final_after, 50),
        "final_after_utterance_end_p95": pct(all_final_after, 95),
    }
    result["latency_breakdown"] = accuracy_breakdown.summary()
    result["real_time_factor"] = infer_total / audio_total if audio_total else 0.0
    result["capacity"] = []
    result["max_realtime_streams"] = None
    cap_clips = [c for c in clips if c.human and c.language == "en"
                 and clip_set(c.name) == opts.cap_set][:8]
    if delay_counts or not (accuracy_only or streams):
        result["record_delay"] = await record_delay(
            engine, cap_clips, delay_counts or [1, 4], opts.as_it_goes,
            engine.twin(opts.record_threads) if opts.record_background else None,
            record=not opts.record_off,
        )
    if accuracy_only or (delay_counts and not streams):
        result["machine_at_end"] = machine()
        return result
    for c in cap_clips:
        if c.name not in offline_by_clip:
            offline_by_clip[c.name] = engine.transcribe(c.audio, language="en", beam_size=5).text
    result["capacity_offline_wer"] = error_rate(
        "en",
        [" ".join(c.reference for c in cap_clips)],
        [" ".join(offline_by_clip[c.name] for c in cap_clips)],
    )
    counts = streams or ([1, 2] if quick else [1, 2, 4, 6, 8])
    result["capacity_clips"] = [c.name for c in cap_clips]
    result["capacity"] = await capacity(engine, cap_clips, counts, run_all=bool(streams))
    ok = [r["streams"] for r in result["capacity"] if r["ok"]]
    result["max_realtime_streams"] = max(ok) if ok else 0
    result["machine_at_end"] = machine()
    return result


def print_table(r: dict[str, Any]) -> None:
    print(f"\nTranscription benchmark ({r['model']})")
    print(f"{'lang':5} {'set':6} {'metric':6} {'offline':>8} {'streaming':>10} {'ratio':>6} "
          f"{'record':>7} {'ratio':>6}  clips")
    for lang, d in r["languages"].items():
        for name in ("tuned", "held"):
            if name not in d:
                continue
            x = d[name]
            off = x["offline"] or float("nan")
            print(
                f"{lang:5} {name:6} {d['metric']:6} {x['offline']:8.3f} {x['streaming']:10.3f} "
                f"{x['streaming'] / off:6.2f} {x['record']:7.3f} {x['record'] / off:6.2f}  "
                f"{x['clips']}"
            )
    lat = r.get("latency", {})
    for k, v in lat.items() if r["languages"] else ():
        print(f"{k:32} {v:.2f} s" if v is not None else f"{k:32} -")
    if r["languages"]:
        print(f"{'real-time factor (1 stream)':32} {r['real_time_factor']:.2f}")
        print(format_summary(r["latency_breakdown"]))
    for row in r.get("record_delay", []):
        ready = (f"record ready after answer end p50 {row['p50']:.1f} s, p95 {row['p95']:.1f} s "
                 f"{'ok' if row['ok'] else 'MISSED'}" if row["p50"] is not None
                 else "no record passes")
        print(f"{row['interviews']} interviews: {ready}; live finals after end "
              f"p50 {row['finals_after_end_p50']:.2f} s, p95 {row['finals_after_end_p95']:.2f} s"
              f" (load {row['load_1min_before']:.1f} -> {row['load_1min_after']:.1f}; "
              f"full-window passes {row['final_passes']:.0f}, tentative "
              f"{row['partial_passes']:.0f})")
        print(format_summary(row["breakdown"]))
    for row in r.get("batch_throughput", []):
        print(f"batch {row['batch']}: {row['passes_per_s']:.2f} record passes/s "
              f"({row['audio_s_per_s']:.1f} s of audio per s)")
    for name, row in r.get("long_answers", {}).items():
        print(f"long answers {name}: offline long-form {row['offline_long_form']:.3f}, "
              f"record {row['record']:.3f} (x {row['ratio'] or float('nan'):.2f})")
    for row in r.get("capacity", []):
        print(
            f"{row['streams']} streams: final after end p50 {row['final_after_end_p50']:.2f} s, "
            f"p95 {row['final_after_end_p95']:.2f} s, max {row['final_after_end_max']:.2f} s, "
            f"WER {row['wer']:.3f} {'ok' if row['ok'] else 'MISSED'} "
            f"(load {row['load_1min_before']:.1f} -> {row['load_1min_after']:.1f}; final batch "
            f"{row['final_batch']}: {row['final_batched_calls']} batched calls, mean "
            f"{row['final_batch_mean'] or 0:.1f}; full-window passes {row['final_passes']:.0f}, "
            f"tentative {row['partial_passes']:.0f})"
        )
        print(format_summary(row["breakdown"]))
    if r.get("capacity"):
        print(
            f"max simultaneous real-time streams: {r['max_realtime_streams']} "
            f"(offline WER of the same program: {r['capacity_offline_wer']:.3f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two clips, 1-2 streams")
    parser.add_argument(
        "--streams", help="only the capacity test, with these stream counts (e.g. 4,6)"
    )
    parser.add_argument("--set", default="all", choices=["tuned", "held", "all"],
                        help="which clips (tune on 'tuned' only)")
    parser.add_argument("--accuracy-only", action="store_true",
                        help="no capacity or record-delay rows")
    parser.add_argument("--cap-set", default="tuned", choices=["tuned", "held"],
                        help="the English clips of the capacity and record-delay program "
                        "(default: tuned; held = the held-apart clips)")
    parser.add_argument("--record-delay", help="only the record-delay test (e.g. 1,4)")
    parser.add_argument("--out", default=str(OUT), help="where to write the JSON")
    parser.add_argument("--lang", default="en,zh", help="languages (e.g. zh)")
    parser.add_argument("--no-as-it-goes", action="store_true",
                        help="record passes only after the answer (the earlier design)")
    parser.add_argument("--record-shared", action="store_true",
                        help="record passes queue behind live passes (no low-priority thread)")
    parser.add_argument("--record-off", action="store_true",
                        help="--record-delay without record passes (the live-only control)")
    parser.add_argument("--stream-opt", default="",
                        help="A/B: StreamSettings overrides, e.g. hold_mid_sentence_ms=0,"
                        "vad.min_silence_ms=600")
    parser.add_argument("--record-threads", type=int,
                        help="A/B: threads of the record model copy (default: as the live model)")
    parser.add_argument("--vocabulary", choices=("en", "zh"),
                        help="A/B: live streams with a job vocabulary (bench/vocabulary.py "
                        "TERMS[lang], as server/transcription.py passes it)")
    parser.add_argument("--record-nice-only", action="store_true",
                        help="A/B: record thread at nice 19 only, not SCHED_IDLE (before)")
    parser.add_argument("--final-batch", type=int,
                        help="A/B: final passes batched per model call (default: the setting)")
    parser.add_argument("--long-answers", action="store_true",
                        help="only: record pass vs faster-whisper long-form on 30-60 s answers")
    parser.add_argument("--batch", help="only: record passes/s by batch size (e.g. 1,2,4,8)")
    parser.add_argument("--batch-passes", type=int, default=16, help="passes per batch size")
    parser.add_argument("--model", help="bundled-base (default), a local folder or a name")
    parser.add_argument("--device", help="cpu (default) or cuda")
    parser.add_argument("--compute-type", help="int8 (default), float16, int8_float16 ...")
    args = parser.parse_args()

    def ints(value: str | None) -> list[int] | None:
        return [int(x) for x in value.split(",")] if value else None

    for item in filter(None, args.stream_opt.split(",")):
        key, value = item.split("=")
        STREAM_OPTS[key.strip()] = float(value)
    if args.vocabulary:
        from analysis.asr.record import hotwords
        from bench.vocabulary import TERMS

        STREAM_HOTWORDS[0] = hotwords(TERMS[args.vocabulary])
        progress(f"live vocabulary: {STREAM_HOTWORDS[0]!r}")
    if args.record_nice_only:
        import analysis.asr.scheduler as scheduler_module

        def nice_only() -> None:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)

        scheduler_module.lower_thread_priority = nice_only
    if args.final_batch is not None:
        ASR = ASR.model_copy(update={"final_batch": args.final_batch})
    res = asyncio.run(main(Options(
        quick=args.quick, streams=ints(args.streams), which=args.set,
        accuracy_only=args.accuracy_only, delay_counts=ints(args.record_delay),
        languages=tuple(args.lang.split(",")), as_it_goes=not args.no_as_it_goes,
        record_background=not args.record_shared, record_off=args.record_off,
        record_threads=args.record_threads,
        long_answers=args.long_answers, batch=ints(args.batch),
        batch_passes=args.batch_passes, model=args.model, device=args.device,
        compute_type=args.compute_type, cap_set=args.cap_set,
    )))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print_table(res)
    print(f"\nwritten {out}")
