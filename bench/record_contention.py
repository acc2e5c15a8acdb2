"""Why a live pass is slower beside a record pass (bench only, issue 14).

Times one live pass (8 s of speech, beam 1, full window: the pause pass of a final) alone
and beside a record pass that decodes all the time (28 s windows, beam 5, prompt), in
alternation, and notes which threads took CPU time during each live pass (their policy,
nice, CPU seconds from /proc/PID/task/*/stat). The record side runs as the server runs it
(``--record thread``: a thread at nice 19 + SCHED_IDLE with its own model copy) or in a
process of its own started at SCHED_IDLE (``--record process``).

    PYTHONPATH=$PWD .venv/bin/python bench/record_contention.py --record thread --pairs 10
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.asr.engine import SAMPLE_RATE, WhisperEngine
from analysis.asr.scheduler import lower_thread_priority

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MODEL = Path(__file__).resolve().parents[1] / "models" / "whisper-base"
TICK = os.sysconf("SC_CLK_TCK")
PROMPT = "Tell me about a project you led. Python, Kubernetes, PostgreSQL."


def _audio(name: str) -> np.ndarray:
    from faster_whisper import decode_audio

    return np.asarray(decode_audio(str(DATA / "en" / name), sampling_rate=SAMPLE_RATE))


def _record_audio() -> np.ndarray:
    parts = [_audio(n) for n in ("LJ001-0001.flac", "LJ001-0002.flac", "jfk.flac")]
    return np.concatenate(parts)[: 28 * SAMPLE_RATE]


def threads(pid: int) -> dict[int, tuple[str, int, int, float]]:
    """tid → (name, policy, nice, CPU seconds) of every thread of ``pid``."""
    out: dict[int, tuple[str, int, int, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): utime 14, stime 15, nice 19, policy 41
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        out[int(task.name)] = (name, int(fields[38]), int(fields[16]), cpu)
    return out


def _record_loop(engine: WhisperEngine, audio: np.ndarray, run: Any, idle: Any,
                 stop: Any, count: Any) -> None:
    while not stop.is_set():
        if not run.wait(0.1):
            idle.set()
            continue
        idle.clear()
        engine.transcribe(audio, PROMPT, "en", 5, hotwords="Python, Kubernetes, PostgreSQL.")
        with count.get_lock():
            count.value += 1
    idle.set()


def _record_thread(audio: np.ndarray, run: Any, idle: Any, stop: Any, count: Any) -> None:
    lower_thread_priority()
    engine = WhisperEngine(MODEL, cpu_threads=int(os.environ.get("RECORD_THREADS", "2")))
    engine.load()
    _record_loop(engine, audio, run, idle, stop, count)


def _record_process(audio: np.ndarray, run: Any, idle: Any, stop: Any, count: Any) -> None:
    os.setpriority(os.PRIO_PROCESS, 0, 19)
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    _record_thread(audio, run, idle, stop, count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", choices=["thread", "process", "none"], default="thread")
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    print("load", os.getloadavg()[0], "OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY"))
    live = WhisperEngine(MODEL)
    live.warm_up()
    speech = _audio("jfk.flac")[: 8 * SAMPLE_RATE]
    record = _record_audio()
    ctx = mp.get_context("spawn")
    run, idle, stop = ctx.Event(), ctx.Event(), ctx.Event()
    count = ctx.Value("i", 0)
    worker: Any = None
    pid = os.getpid()
    if args.record == "thread":
        worker = threading.Thread(target=_record_thread, args=(record, run, idle, stop, count),
                                  daemon=True)
    elif args.record == "process":
        worker = ctx.Process(target=_record_process, args=(record, run, idle, stop, count))
    if worker is not None:
        worker.start()
        run.set()  # load + first window
        while count.value < 1:
            time.sleep(0.2)
        run.clear()
        idle.wait()
        if args.record == "process":
            pid = worker.pid
    alone: list[float] = []
    beside: list[float] = []
    for i in range(args.pairs):
        for side in ("beside", "alone"):
            if side == "beside" and worker is not None:
                run.set()
                time.sleep(1.0)  # the record pass is in its window
            elif worker is not None:
                run.clear()
                idle.wait()
            before = threads(pid) | ({} if pid == os.getpid() else threads(os.getpid()))
            t0 = time.perf_counter()
            live.transcribe(speech, "", "en", 1)
            took = time.perf_counter() - t0
            after = threads(pid) | ({} if pid == os.getpid() else threads(os.getpid()))
            (beside if side == "beside" else alone).append(took)
            busy = sorted(
                ((after[t][3] - before[t][3], t, *after[t][:3]) for t in after if t in before),
                reverse=True,
            )
            top = ", ".join(f"{n}/{t} pol{p} ni{ni} {cpu:.2f}s"
                            for cpu, t, n, p, ni in busy[:6] if cpu > 0)
            print(f"{i} {side:6} {took:.2f} s  cpu: {top}", flush=True)
    run.clear()
    stop.set()
    if worker is not None:
        worker.join(60)
    print(f"live pass p50 alone {statistics.median(alone):.2f} s, beside "
          f"{statistics.median(beside):.2f} s ({args.record}); slower in "
          f"{sum(b > a for a, b in zip(alone, beside, strict=True))} of {len(alone)}; "
          f"record windows {count.value}; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
