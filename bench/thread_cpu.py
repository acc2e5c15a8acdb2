"""Which threads take CPU while a live pass decodes (bench only, issue 14).

Runs ``bench/transcription.py`` with the given arguments and samples every thread of the
process (policy, nice, CPU time from /proc/self/task) every 50 ms. CPU time taken while a
live pass was decoding (the live engine's ``transcribe`` running) is summed by thread
(Python name where the thread is a Python thread, else the OS name) with its policy/nice.

    PYTHONPATH=$PWD .venv/bin/python bench/thread_cpu.py --record-delay 1
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from analysis.asr import engine as engine_module
from bench.record_contention import threads

live_depth = 0
live_engine: list[Any] = []
totals: dict[str, float] = defaultdict(float)
totals_all: dict[str, float] = defaultdict(float)
live_wall = [0.0]
stop = threading.Event()

_orig = engine_module.WhisperEngine.transcribe
_orig_load = engine_module.WhisperEngine.load


def _load(self: Any) -> None:
    if not live_engine:
        live_engine.append(self)  # the first engine loaded is the live one
    _orig_load(self)


def _transcribe(self: Any, *args: Any, **kwargs: Any) -> Any:
    global live_depth
    live = bool(live_engine) and self is live_engine[0]
    if live:
        live_depth += 1
    try:
        return _orig(self, *args, **kwargs)
    finally:
        if live:
            live_depth -= 1


def _sampler() -> None:
    pid = Path("/proc/self").resolve().name
    prev = threads(int(pid))
    was_live = False
    t_prev = time.perf_counter()
    while not stop.wait(0.05):
        now = threads(int(pid))
        names = {t.native_id: t.name for t in threading.enumerate()}
        live = live_depth > 0
        t_now = time.perf_counter()
        for tid, (name, pol, ni, cpu) in now.items():
            base = prev.get(tid)
            delta = cpu - (base[3] if base else 0.0)
            if delta <= 0:
                continue
            key = f"{names.get(tid, name)} pol{pol} ni{ni}"
            totals_all[key] += delta
            if live and was_live:
                totals[key] += delta
        if live and was_live:
            live_wall[0] += t_now - t_prev
        prev, was_live, t_prev = now, live, t_now


def main() -> None:
    engine_module.WhisperEngine.transcribe = _transcribe  # type: ignore[method-assign]
    engine_module.WhisperEngine.load = _load  # type: ignore[method-assign]
    sampler = threading.Thread(target=_sampler, daemon=True)
    sampler.start()
    sys.argv = ["bench/transcription.py", *sys.argv[1:]]
    try:
        runpy.run_path("bench/transcription.py", run_name="__main__")
    finally:
        stop.set()
        sampler.join()
        print(f"\nCPU s by thread while a live pass decoded ({live_wall[0]:.1f} s wall):")
        for key, cpu in sorted(totals.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {cpu:6.2f}  {key}   (whole run {totals_all[key]:.2f})")


if __name__ == "__main__":
    main()
