"""Job vocabulary benchmark: does the job's term list help the record and live passes?

Usage: nice .venv/bin/python bench/vocabulary.py [--lang en,zh] [--out PATH]

Synthesises the fixed sentences below with espeak-ng (English ``en-us``, Mandarin ``cmn``)
to 16 kHz WAVs in a temporary directory (deleted afterwards, never in the repository), then
transcribes each clip with the project's own code paths, without and with the job's terms:

* record: ``RecordTranscriber`` on an ``AsrScheduler`` (the transcript-of-record pass the
  server runs after an answer: beam 5, the question and the terms as ``initial_prompt``,
  the terms as ``hotwords``), ``vocabulary=[]`` versus ``vocabulary=TERMS[lang]``;
* streaming: ``StreamingTranscriber`` fed at real-time pace (the live path, as in
  ``bench/transcription.py``) with ``StreamSettings.hotwords`` empty versus
  ``hotwords(TERMS[lang])`` (what ``server/transcription.py`` passes).

Reports term recall (share of the term occurrences found in the transcript; case-, space-
and punctuation-insensitive substring match, Mandarin on Simplified characters) and WER
(English) / CER (Mandarin) against the sentence text, per language and pass; prints a table
and writes bench/results/vocabulary.json.

Held apart: the sentences, terms and question were written before any result was looked at
and are not changed after; nothing in the ASR settings is tuned on them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.asr.engine import WhisperEngine  # noqa: E402
from analysis.asr.model_files import prepare_whisper_base  # noqa: E402
from analysis.asr.record import (  # noqa: E402
    PROMPT_CHARS,
    RecordSettings,
    RecordTranscriber,
    hotwords,
    record_prompt,
)
from analysis.asr.scheduler import AsrScheduler  # noqa: E402
from analysis.asr.stream import StreamingTranscriber  # noqa: E402
from analysis.events import Event, TranscriptFinal, TranscriptRecord  # noqa: E402
from bench.transcription import ASR, error_rate, machine, progress, stream_settings  # noqa: E402

OUT = ROOT / "bench" / "results" / "vocabulary.json"
VOICE = {"en": "en-us", "zh": "cmn"}
BLOCK = 320

# Fixed before any run (held apart: never changed after looking at a result). Each sentence
# lists the job terms it contains; TERMS is the job's list (every term of that language).
SENTENCES: dict[str, list[tuple[str, list[str]]]] = {
    "en": [
        ("We moved our services to Kubernetes and watch them with Grafana dashboards.",
         ["Kubernetes", "Grafana"]),
        ("The billing data lives in PostgreSQL, with Redis as a cache in front of it.",
         ["PostgreSQL", "Redis"]),
        ("I wrote the ingestion jobs with Apache Kafka and stored the results in ClickHouse.",
         ["Kafka", "ClickHouse"]),
        ("Our alerts go from Prometheus to PagerDuty, and the engineer on call gets a page.",
         ["Prometheus", "PagerDuty"]),
        ("At Shopify I built the checkout integration with Stripe.", ["Shopify", "Stripe"]),
        ("We describe all our infrastructure in Terraform and deploy it on Amazon Web Services.",
         ["Terraform"]),
        ("The front end is written in TypeScript, and we test it with Playwright.",
         ["TypeScript", "Playwright"]),
        ("I tuned the Elasticsearch cluster so that search stayed under one hundred "
         "milliseconds.", ["Elasticsearch"]),
        ("Our data scientists train models in PyTorch and track experiments in MLflow.",
         ["PyTorch", "MLflow"]),
        ("Before that, I worked at Atlassian on Jira and Confluence.",
         ["Atlassian", "Jira", "Confluence"]),
    ],
    "zh": [
        ("我们团队用飞书做日常沟通，审批流程放在钉钉上。", ["飞书", "钉钉"]),
        ("支付模块接入了支付宝和微信支付。", ["支付宝", "微信支付"]),
        ("后端拆成了十几个微服务，用消息队列解耦。", ["微服务", "消息队列"]),
        ("我负责阿里云上的负载均衡和容器化部署。", ["阿里云", "负载均衡", "容器化"]),
        ("数据同步到数据仓库以后，运营同事在帆软报表里看指标。", ["数据仓库", "帆软"]),
        ("我们在美团做过外卖配送的调度算法。", ["美团", "调度算法"]),
        ("线上故障通过企业微信告警，值班同学五分钟内响应。", ["企业微信", "告警"]),
        ("小程序的灰度发布由我来设计。", ["小程序", "灰度发布"]),
        ("我们用 Kubernetes 管理集群，日志接入了 Elasticsearch。",
         ["Kubernetes", "Elasticsearch"]),
        ("在字节跳动的时候，我参与了抖音推荐系统的分布式训练。",
         ["字节跳动", "抖音", "分布式训练"]),
    ],
}
TERMS: dict[str, list[str]] = {
    lang: list(dict.fromkeys(t for _, terms in rows for t in terms))
    for lang, rows in SENTENCES.items()
}
QUESTION = {
    "en": "Tell me about a system you built and the tools you used.",
    "zh": "请介绍一个你负责过的系统，以及用到的工具。",
}


@dataclasses.dataclass
class Clip:
    language: str
    text: str
    terms: list[str]
    audio: np.ndarray


def synthesise(language: str, folder: Path) -> list[Clip]:
    """espeak-ng → WAV (22.05 kHz) → 16 kHz mono WAV in ``folder`` → float32 samples."""
    from faster_whisper.audio import decode_audio

    clips = []
    for i, (text, terms) in enumerate(SENTENCES[language]):
        raw, wav = folder / f"{language}{i}-raw.wav", folder / f"{language}{i}.wav"
        subprocess.run(["espeak-ng", "-v", VOICE[language], "-w", str(raw), text],
                       check=True, capture_output=True)
        audio = np.asarray(decode_audio(str(raw), sampling_rate=16_000), np.float32)
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16_000)
            out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        audio = np.asarray(decode_audio(str(wav), sampling_rate=16_000), np.float32)
        clips.append(Clip(language, text, terms, audio))
    return clips


def term_key(text: str) -> str:
    """Lower case, Simplified, without spaces or punctuation (for term matching)."""
    from opencc import OpenCC

    return re.sub(r"[\W_]+", "", OpenCC("t2s").convert(text).lower())


def terms_found(transcript: str, terms: list[str]) -> int:
    key = term_key(transcript)
    return sum(1 for t in terms if term_key(t) in key)


async def record_text(scheduler: AsrScheduler, clip: Clip, vocabulary: list[str]) -> str:
    """The record pass as the server runs it on one answer (question shown, answer, end)."""
    now = [1000.0]
    got: list[TranscriptRecord] = []

    async def emit(ev: Event) -> None:
        if isinstance(ev, TranscriptRecord) and ev.status != "pending":
            got.append(ev)

    rec = RecordTranscriber("vocab", scheduler, emit, language=clip.language,
                            clock=lambda: now[0], vocabulary=vocabulary,
                            settings=RecordSettings())
    rec.answer_started("q", QUESTION[clip.language])
    audio = np.concatenate([np.zeros(8_000, np.float32), clip.audio,
                            np.zeros(16_000, np.float32)])
    for i in range(0, len(audio), BLOCK):
        rec.push_audio(audio[i : i + BLOCK], 1000.0 + i / 16_000)
    now[0] = 1000.0 + len(audio) / 16_000
    rec.answer_ended("q")
    await rec.drain(timeout=300)
    if not got or got[0].status != "ready":
        raise RuntimeError(f"record pass failed: {got}")
    return got[0].text


async def stream_text(scheduler: AsrScheduler, clip: Clip, hot: str) -> str:
    """The live path at real-time pace (the server's StreamSettings, ``hotwords`` or not)."""
    settings = dataclasses.replace(stream_settings(clip.language), hotwords=hot)
    stream = StreamingTranscriber("vocab", scheduler, settings)
    finals: list[str] = []

    async def collect() -> None:
        async for ev in stream.events():
            if isinstance(ev, TranscriptFinal):
                finals.append(ev.text)

    task = asyncio.create_task(collect())
    audio = np.concatenate([np.zeros(8_000, np.float32), clip.audio,
                            np.zeros(24_000, np.float32)])
    start = time.perf_counter()
    for i in range(0, len(audio), BLOCK):
        stream.push_audio(audio[i : i + BLOCK], 1000.0 + i / 16_000)
        await asyncio.sleep(max(0.0, start + (i + BLOCK) / 16_000 - time.perf_counter()))
    stream.end_input()
    await task
    sep = " " if clip.language == "en" else ""
    return sep.join(finals)


def rates(language: str, clips: list[Clip], texts: list[str]) -> dict[str, Any]:
    total = sum(len(c.terms) for c in clips)
    found = sum(terms_found(t, c.terms) for c, t in zip(clips, texts, strict=True))
    return {
        "term_recall": found / total if total else None,
        "terms_found": found,
        "terms": total,
        "error_rate": error_rate(language, [c.text for c in clips], texts),
    }


async def main(languages: list[str]) -> dict[str, Any]:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed")
    prepare_whisper_base(ROOT / "models")
    engine = WhisperEngine.from_settings(ASR, ROOT / "models")
    engine.warm_up()
    result: dict[str, Any] = {
        "model": "whisper-base int8 (bundled)" if ASR.model == "bundled-base"
        else f"{ASR.model} {ASR.compute_type}",
        "speech": "espeak-ng synthetic (en-us, cmn), 16 kHz",
        "machine_at_start": machine(),
        "languages": {},
    }
    with tempfile.TemporaryDirectory(prefix="candor-vocab-") as tmp:
        for language in languages:
            clips = synthesise(language, Path(tmp))
            terms = TERMS[language]
            texts: dict[str, list[str]] = {k: [] for k in (
                "record", "record_vocabulary", "streaming", "streaming_hotwords")}
            async with AsrScheduler(engine, workers=ASR.workers) as scheduler:
                for i, clip in enumerate(clips, 1):
                    progress(f"{language} {i}/{len(clips)} ({len(clip.audio) / 16_000:.1f} s)")
                    texts["record"].append(await record_text(scheduler, clip, []))
                    texts["record_vocabulary"].append(await record_text(scheduler, clip, terms))
                    texts["streaming"].append(await stream_text(scheduler, clip, ""))
                    texts["streaming_hotwords"].append(
                        await stream_text(scheduler, clip, hotwords(terms)))
            result["languages"][language] = {
                "metric": "WER" if language == "en" else "CER",
                "clips": len(clips),
                "seconds": round(sum(len(c.audio) for c in clips) / 16_000, 1),
                "vocabulary": terms,
                "hotwords_chars": len(hotwords(terms)),
                "hotwords_cut": len(", ".join(terms)) > PROMPT_CHARS,
                "record_prompt": record_prompt(QUESTION[language], terms),
                **{k: rates(language, clips, v) for k, v in texts.items()},
                "examples": [
                    {"text": c.text, **{k: v[n] for k, v in texts.items()}}
                    for n, c in enumerate(clips)
                ],
            }
    result["machine_at_end"] = machine()
    return result


def print_table(r: dict[str, Any]) -> None:
    print(f"\nJob vocabulary benchmark ({r['model']}, {r['speech']})")
    print(f"{'lang':5} {'pass':10} {'metric':6} {'no vocab':>9} {'vocab':>7}  "
          f"{'term recall no vocab':>21} {'vocab':>13}")
    for lang, d in r["languages"].items():
        for name, base, vocab in (("record", "record", "record_vocabulary"),
                                  ("streaming", "streaming", "streaming_hotwords")):
            a, b = d[base], d[vocab]
            print(f"{lang:5} {name:10} {d['metric']:6} {a['error_rate']:9.3f} "
                  f"{b['error_rate']:7.3f}  {a['term_recall']:9.2f} ({a['terms_found']:2}/"
                  f"{a['terms']:2}) {b['term_recall']:7.2f} ({b['terms_found']:2}/{b['terms']:2})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", default="en,zh", help="languages (e.g. zh)")
    parser.add_argument("--out", default=str(OUT), help="where to write the JSON")
    args = parser.parse_args()
    res = asyncio.run(main(args.lang.split(",")))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print_table(res)
    print(f"\nwritten {out}")
