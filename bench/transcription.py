"""Transcription benchmark: offline vs streaming accuracy, latency, real-time factor, capacity.

Usage: .venv/bin/python bench/transcription.py [--quick]
Feeds ../shared/data clips at real-time pace through StreamingTranscriber (the server's
path), prints a table and writes bench/results/transcription.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.asr.engine import WhisperEngine  # noqa: E402
from analysis.asr.model_files import prepare_whisper_base  # noqa: E402
from analysis.asr.scheduler import AsrScheduler  # noqa: E402
from analysis.asr.stream import StreamingTranscriber, StreamSettings  # noqa: E402
from analysis.asr.vad import VadSettings  # noqa: E402
from analysis.events import EventBase, TranscriptFinal, TranscriptPartial  # noqa: E402
from config.settings import AsrSettings  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "results" / "transcription.json"
BLOCK = 320
SKIP = {"en/stereo_diarization.wav", "zh/funasr_example_3.wav"}  # two speakers / code-switch


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

    cc = OpenCC("t2s")
    return lambda s: " ".join(re.findall(r"[\u4e00-\u9fff]|[a-z0-9']+", cc.convert(s).lower()))


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


def stream_settings(language: str) -> StreamSettings:
    """Stream settings as server/transcription.py builds them (a job always has a language)."""
    return StreamSettings(
        language=language,
        vad=VadSettings(min_silence_ms=ASR.min_silence_ms),
        final_beam_size=ASR.final_beam_size,
        partial_beam_size=ASR.partial_beam_size,
    )


async def stream_clip(
    scheduler: AsrScheduler,
    audio: np.ndarray,
    interview: str,
    language: str,
    lead: float = 0.5,
    tail: float = 1.5,
) -> StreamRun:
    """Feed at real-time pace; measure when each word's text first appears."""
    t0 = 1000.0
    padded = np.concatenate(
        [np.zeros(int(lead * 16_000), np.float32), audio, np.zeros(int(tail * 16_000), np.float32)]
    )
    stream = StreamingTranscriber(interview, scheduler, stream_settings(language))
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
    engine: WhisperEngine, clips: list[Clip], counts: list[int]
) -> list[dict[str, Any]]:
    """N simultaneous real-time streams of the same program: do finals stay within 3 s?"""
    program = np.concatenate(
        [np.concatenate([c.audio, np.zeros(19_200, np.float32)]) for c in clips]  # 1.2 s pauses
    )
    reference = " ".join(c.reference for c in clips)
    rows = []
    for n in counts:
        progress(f"capacity: {n} simultaneous streams of {len(program) / 16_000:.0f} s")
        async with AsrScheduler(engine, workers=ASR.workers) as scheduler:

            async def one(k: int, scheduler: AsrScheduler = scheduler, n: int = n) -> StreamRun:
                await asyncio.sleep(k * 0.37)  # streams do not start in lockstep
                return await stream_clip(scheduler, program, f"cap{n}-{k}", "en")

            began = time.perf_counter()
            runs = await asyncio.gather(*(one(k) for k in range(n)))
            wall = time.perf_counter() - began
            metrics = scheduler.metrics.snapshot()
        after = [x for r in runs for x in r.final_after_end]
        partial = [x for r in runs for x in r.partial_latency]
        row = {
            "streams": n,
            "final_after_end_p50": pct(after, 50),
            "final_after_end_p95": pct(after, 95),
            "final_after_end_max": max(after) if after else None,
            "partial_p50": pct(partial, 50),
            "finals_degraded": metrics["finals_degraded"],
            "wer": error_rate("en", [reference] * n, [r.text for r in runs]),
            "finals": metrics["finals_emitted"],
            "finals_shortened": metrics["finals_shortened"],
            "finals_from_pause_pass": metrics["finals_from_pause_pass"],
            "final_passes": metrics["final_passes"],
            "partial_passes": metrics["partial_passes"],
            "busy": metrics["inference_seconds"] / wall,
            "partials_skipped": metrics["partials_skipped"],
            "backlog_reports": metrics["backlog_reports"],
        }
        row["ok"] = bool(after) and (row["final_after_end_p95"] or 99) <= 3.0
        rows.append(row)
        progress(
            f"  p50 {row['final_after_end_p50']:.2f} s, p95 {row['final_after_end_p95']:.2f} s, "
            f"max {row['final_after_end_max']:.2f} s -> {'ok' if row['ok'] else 'too slow'} "
            f"(WER {row['wer']:.3f}, finals {row['finals']:.0f} of which shortened "
            f"{row['finals_shortened']:.0f}, final passes {row['final_passes']:.0f}, "
            f"partial passes {row['partial_passes']:.0f}, workers busy {row['busy']:.0%})"
        )
        if not row["ok"]:
            break
    return rows


async def main(quick: bool, streams: list[int] | None = None) -> dict[str, Any]:
    if not SHARED.is_dir():
        raise SystemExit("../shared/data is not present")
    prepare_whisper_base(ROOT / "models")
    engine = WhisperEngine.from_settings(ASR, ROOT / "models")
    engine.warm_up()
    clips = load_clips()
    if quick:
        clips = [c for c in clips if c.name in {"en/jfk.flac", "zh/BAC009S0764W0121.wav"}]
    result: dict[str, Any] = {
        "model": "whisper-base int8 (bundled)",
        "settings": ASR.model_dump(),
        "languages": {},
    }
    all_partial, all_final_after, all_word_final = [], [], []
    offline_by_clip: dict[str, str] = {}
    audio_total, infer_total = 0.0, 0.0
    for language in () if streams else ("en", "zh"):
        subset = [c for c in clips if c.language == language]
        offline, streaming = [], []
        for i, clip in enumerate(subset, 1):
            progress(f"{language} {i}/{len(subset)} {clip.name} ({clip.seconds:.1f} s): offline")
            offline.append(engine.transcribe(clip.audio, language=language, beam_size=5).text)
            offline_by_clip[clip.name] = offline[-1]
            progress(f"{language} {i}/{len(subset)} {clip.name}: streaming at real-time pace")
            async with AsrScheduler(engine, workers=ASR.workers) as scheduler:
                run = await stream_clip(scheduler, clip.audio, f"bench-{language}-{i}", language)
                audio_total += clip.seconds
                infer_total += scheduler.metrics.inference_seconds
            streaming.append(run.text)
            all_partial += run.partial_latency
            all_final_after += run.final_after_end
            all_word_final += run.word_final_latency
        refs = [c.reference for c in subset]
        human = [i for i, c in enumerate(subset) if c.human]
        result["languages"][language] = {
            "clips": len(subset),
            "metric": "WER" if language == "en" else "CER",
            "offline": error_rate(language, refs, offline),
            "streaming": error_rate(language, refs, streaming),
            "offline_human_refs": error_rate(
                language, [refs[i] for i in human], [offline[i] for i in human]
            )
            if human
            else None,
            "streaming_human_refs": error_rate(
                language, [refs[i] for i in human], [streaming[i] for i in human]
            )
            if human
            else None,
            "examples": [
                {"clip": c.name, "offline": o, "streaming": s}
                for c, o, s in zip(subset, offline, streaming, strict=True)
            ],
        }
    result["latency"] = {
        "partial_p50": pct(all_partial, 50),
        "partial_p95": pct(all_partial, 95),
        "final_word_p50": pct(all_word_final, 50),
        "final_word_p95": pct(all_word_final, 95),
        "final_after_utterance_end_p50": pct(all_final_after, 50),
        "final_after_utterance_end_p95": pct(all_final_after, 95),
    }
    result["real_time_factor"] = infer_total / audio_total if audio_total else 0.0
    cap_clips = [c for c in clips if c.human and c.language == "en"][:8]
    for c in cap_clips:
        if c.name not in offline_by_clip:
            offline_by_clip[c.name] = engine.transcribe(c.audio, language="en", beam_size=5).text
    result["capacity_offline_wer"] = error_rate(
        "en",
        [" ".join(c.reference for c in cap_clips)],
        [" ".join(offline_by_clip[c.name] for c in cap_clips)],
    )
    counts = streams or ([1, 2] if quick else [1, 2, 4, 6, 8])
    result["capacity"] = await capacity(engine, cap_clips, counts)
    ok = [r["streams"] for r in result["capacity"] if r["ok"]]
    result["max_realtime_streams"] = max(ok) if ok else 0
    return result


def print_table(r: dict[str, Any]) -> None:
    print(f"\nTranscription benchmark ({r['model']})")
    print(f"{'lang':5} {'metric':6} {'offline':>8} {'streaming':>10} {'ratio':>6}  clips")
    for lang, d in r["languages"].items():
        ratio = d["streaming"] / d["offline"] if d["offline"] else float("nan")
        print(
            f"{lang:5} {d['metric']:6} {d['offline']:8.3f} {d['streaming']:10.3f} "
            f"{ratio:6.2f}  {d['clips']}"
        )
    lat = r["latency"]
    for k, v in lat.items() if r["languages"] else ():
        print(f"{k:32} {v:.2f} s" if v is not None else f"{k:32} -")
    print(f"{'real-time factor (1 stream)':32} {r['real_time_factor']:.2f}")
    for row in r["capacity"]:
        print(
            f"{row['streams']} streams: final after end p50 {row['final_after_end_p50']:.2f} s, "
            f"p95 {row['final_after_end_p95']:.2f} s, max {row['final_after_end_max']:.2f} s, "
            f"WER {row['wer']:.3f} {'ok' if row['ok'] else 'MISSED'}"
        )
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
    args = parser.parse_args()
    counts = [int(x) for x in args.streams.split(",")] if args.streams else None
    res = asyncio.run(main(args.quick, counts))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print_table(res)
    print(f"\nwritten {OUT.relative_to(ROOT)}")
