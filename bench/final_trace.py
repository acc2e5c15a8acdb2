"""Where the time of a live final goes (bench only): a traced stream and scheduler.

For every final: the endpoint wait (last word fed → utterance closed; of which a hold at a
mid-sentence pause), then what the final waited for after closing: the pause pass
(queued / decoding) or a final pass of its own (queued / decoding), and whatever is left
(the chain of earlier finals, the event loop). Times are wall clock, seconds after the
audio of the final's last word was fed. The split is what the design decides; the
absolute decode times follow the machine's load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analysis.asr.scheduler import AsrScheduler, PassInput, PassJob, Priority
from analysis.asr.stream import SENTENCE_END, StreamingTranscriber, _Utterance
from analysis.events import TranscriptFinal

_tag: list[tuple[str, str]] = []  # (utterance id, kind) of the snapshot just taken


@dataclass
class JobTrace:
    """One pass as the scheduler ran it (wall times, perf_counter)."""

    priority: Priority
    submitted: float
    utterance: str = ""
    kind: str = ""  # final / anchor / tentative
    started: float | None = None
    done: float | None = None
    window_s: float | None = None
    audio_s: float = 0.0


class TracingScheduler(AsrScheduler):
    """An AsrScheduler that remembers when each pass was queued, started and finished."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.traces: dict[int, JobTrace] = {}

    def submit(self, snapshot: Callable[[], PassInput | None], priority: Priority) -> PassJob:
        """Queue a pass, traced."""
        trace = JobTrace(priority, time.perf_counter())

        def traced() -> PassInput | None:
            trace.started = time.perf_counter()
            _tag.clear()
            inp = snapshot()
            if _tag:
                trace.utterance, trace.kind = _tag[-1]
            if inp is not None:
                trace.window_s = inp.window_s
                trace.audio_s = len(inp.audio) / 16_000
            return inp

        job = super().submit(traced, priority)
        self.traces[id(job)] = trace

        def finished(_: object) -> None:
            trace.done = time.perf_counter()

        job.future.add_done_callback(finished)
        return job

    def detail(self, origin: float) -> list[dict[str, Any]]:
        """Every pass (times relative to ``origin``), in the order queued."""
        out = []
        for t in sorted(self.traces.values(), key=lambda x: x.submitted):
            row = asdict(t)
            row["priority"] = t.priority.name
            for k in ("submitted", "started", "done"):
                if row[k] is not None:
                    row[k] -= origin
            out.append(row)
        return out

    def by_utterance(self) -> dict[str, list[JobTrace]]:
        """Final-priority passes per utterance, in the order they were queued."""
        out: dict[str, list[JobTrace]] = {}
        for t in sorted(self.traces.values(), key=lambda x: x.submitted):
            if t.utterance and t.kind == "final":
                out.setdefault(t.utterance, []).append(t)
        return out


@dataclass
class UttTrace:
    """What one utterance's stream did when (wall times)."""

    hold_started: float | None = None
    closed: float | None = None
    held: bool = False


class TracedTranscriber(StreamingTranscriber):
    """StreamingTranscriber that notes holds and closes per utterance."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.utterances: dict[str, UttTrace] = {}

    def _note(self, utt: _Utterance) -> UttTrace:
        return self.utterances.setdefault(utt.id, UttTrace())

    def _hold(self, utt: _Utterance, at: int) -> bool:
        held = super()._hold(utt, at)
        if held:
            note = self._note(utt)
            note.held = True
            note.hold_started = time.perf_counter()
        return held

    def _close(self, utt: _Utterance) -> None:
        self._note(utt).closed = time.perf_counter()
        super()._close(utt)

    def _snapshot(self, utt: _Utterance, final: bool, full: bool = False) -> PassInput | None:
        _tag.append((utt.id, "final" if final else "anchor" if full else "tentative"))
        return super()._snapshot(utt, final, full)


@dataclass
class FinalBreakdown:
    """One final's latency split (seconds after its last word was fed)."""

    total: float
    endpoint: float  # last word fed → utterance closed
    hold: float  # part of endpoint spent held open at a mid-sentence pause
    source: str  # pause (pause pass reused) / pass (a final pass of its own) / none
    pass_queue: float  # the deciding pass: queued before it started
    pass_decode: float  # the deciding pass: running
    after_close: float  # utterance closed → final emitted
    wait_queue: float  # of after_close: waiting while the deciding pass was queued
    wait_decode: float  # of after_close: waiting while it ran
    pause_submit: float | None  # when the (last) pause pass was queued, after the last word
    pause_done: float | None
    shortened: bool
    mid_sentence: bool  # the final's text has no closing punctuation (a hold candidate)
    utterance: str = ""
    emitted: float = 0.0  # wall time (perf_counter) the final was emitted


@dataclass
class Breakdown:
    """All finals of a run."""

    finals: list[FinalBreakdown] = field(default_factory=list)

    def add(self, stream: TracedTranscriber, scheduler: TracingScheduler,
            finals: list[tuple[float, TranscriptFinal]], fed_at: Callable[[float], float]) -> None:
        """Add a stream's finals (wall time emitted, event)."""
        passes = scheduler.by_utterance()
        for wall, final in finals:
            last = fed_at(final.end)
            note = stream.utterances.get(final.utterance_id, UttTrace())
            closed = note.closed if note.closed is not None else wall
            jobs = passes.get(final.utterance_id, [])
            after = [j for j in jobs if j.submitted >= closed - 1e-6]
            before = [j for j in jobs if j.submitted < closed - 1e-6 and j.done is not None]
            deciding: JobTrace | None = None
            source = "none"
            if after:
                deciding, source = after[-1], "pass"
            elif before:
                deciding, source = before[-1], "pause"
            q = d = wq = wd = 0.0
            if deciding is not None and deciding.started is not None and deciding.done:
                q = deciding.started - deciding.submitted
                d = deciding.done - deciding.started
                wq = max(0.0, deciding.started - max(closed, deciding.submitted))
                wd = max(0.0, deciding.done - max(closed, deciding.started))
            pause = [j for j in jobs if j.submitted < closed - 1e-6]
            self.finals.append(FinalBreakdown(
                total=wall - last,
                endpoint=closed - last,
                hold=closed - note.hold_started if note.hold_started is not None else 0.0,
                source=source,
                pass_queue=q,
                pass_decode=d,
                after_close=wall - closed,
                wait_queue=wq,
                wait_decode=wd,
                pause_submit=pause[-1].submitted - last if pause else None,
                pause_done=(pause[-1].done - last) if pause and pause[-1].done else None,
                shortened=deciding is not None and deciding.window_s is not None,
                mid_sentence=not final.text.rstrip().endswith(SENTENCE_END),
                utterance=final.utterance_id,
                emitted=wall,
            ))

    def detail(self, origin: float) -> list[dict[str, Any]]:
        """Every final's split, emitted time relative to ``origin`` (for a closer look)."""
        return [{**asdict(x), "emitted": x.emitted - origin} for x in self.finals]

    def summary(self) -> dict[str, Any]:
        """Medians / p95 of each part and counts by source."""
        f = self.finals

        def stat(values: list[float]) -> dict[str, float] | None:
            if not values:
                return None
            return {"p50": float(np.percentile(values, 50)),
                    "p95": float(np.percentile(values, 95)), "mean": float(np.mean(values))}

        parts = ("total", "endpoint", "hold", "after_close", "wait_queue", "wait_decode",
                 "pass_queue", "pass_decode")
        out: dict[str, Any] = {"finals": len(f)}
        for p in parts:
            out[p] = stat([getattr(x, p) for x in f])
        out["pause_submit"] = stat([x.pause_submit for x in f if x.pause_submit is not None])
        out["pause_done"] = stat([x.pause_done for x in f if x.pause_done is not None])
        for source in ("pause", "pass", "none"):
            out[f"from_{source}"] = sum(1 for x in f if x.source == source)
        out["held"] = sum(1 for x in f if x.hold > 0)
        out["shortened"] = sum(1 for x in f if x.shortened)
        out["mid_sentence"] = sum(1 for x in f if x.mid_sentence)
        return out


def format_summary(s: dict[str, Any]) -> str:
    """The breakdown as a few lines (p50 / p95 in seconds)."""

    def v(name: str) -> str:
        x = s.get(name)
        return "-" if not x else f"{x['p50']:.2f}/{x['p95']:.2f}"

    return (
        f"    finals {s['finals']}: from pause pass {s['from_pause']}, own final pass "
        f"{s['from_pass']}, no pass {s['from_none']}; held {s['held']} (ending mid-sentence "
        f"{s.get('mid_sentence', 0)}); shortened {s['shortened']}\n"
        f"    p50/p95 s after last word: total {v('total')} = endpoint {v('endpoint')} "
        f"(hold {v('hold')}) + after close {v('after_close')} "
        f"[waiting on queue {v('wait_queue')}, on decode {v('wait_decode')}]\n"
        f"    deciding pass: queued {v('pass_queue')}, decoding {v('pass_decode')}; "
        f"pause pass queued at {v('pause_submit')}, done at {v('pause_done')}"
    )
