"""Benchmark the face landmarker on this CPU: ms per frame, CPU share at 5 fps, face-found rate.

Usage: .venv/bin/python bench/vision.py [--fps 5] [--paced-seconds 10] [--data ../shared/data]
Prints a table and writes bench/results/vision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.vision.analyzer import FaceAnalyzer  # noqa: E402
from analysis.vision.landmarker import MediaPipeFaceDetector  # noqa: E402
from analysis.vision.sampler import FrameSampler  # noqa: E402
from media.frames import frame_time, video_frame_to_rgb  # noqa: E402


def sampled(path: Path, fps: float) -> tuple[list[tuple[float, np.ndarray]], list[float]]:
    """Frames at ``fps`` and the ms spent converting each kept frame to RGB."""
    import av

    sampler = FrameSampler(fps)
    frames, convert_ms = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            t = frame_time(frame)
            if t is None or not sampler.keep(t):
                continue
            t0 = time.perf_counter()
            rgb = video_frame_to_rgb(frame)
            convert_ms.append((time.perf_counter() - t0) * 1000)
            frames.append((t, rgb))
    return frames, convert_ms


def bench_clip(detector: MediaPipeFaceDetector, path: Path, fps: float) -> dict[str, object]:
    """Landmarker and full-analyzer timings and the face-found rate for one clip."""
    frames, convert_ms = sampled(path, fps)
    detector.detect(frames[0][1])  # warm-up, not counted
    detect_ms, found = [], 0
    for _, rgb in frames:
        t0 = time.perf_counter()
        faces = detector.detect(rgb)
        detect_ms.append((time.perf_counter() - t0) * 1000)
        found += bool(faces)
    analyzer = FaceAnalyzer("bench", "full", detector, owns_detector=False)
    push_ms = []
    for t, rgb in frames:
        t0 = time.perf_counter()
        analyzer.push_frame(rgb, t)
        push_ms.append((time.perf_counter() - t0) * 1000)
    h, w = frames[0][1].shape[:2]
    return {
        "clip": path.name,
        "resolution": f"{w}x{h}",
        "frames": len(frames),
        "landmarker_ms_p50": float(np.percentile(detect_ms, 50)),
        "landmarker_ms_p95": float(np.percentile(detect_ms, 95)),
        "analyzer_ms_p50": float(np.percentile(push_ms, 50)),
        "analyzer_ms_p95": float(np.percentile(push_ms, 95)),
        "to_rgb_ms_p50": float(np.percentile(convert_ms, 50)),
        "face_found_rate": found / len(frames),
        "cpu_share_derived": float(np.mean(push_ms)) * fps / 1000.0,
    }


def paced_cpu_share(
    detector: MediaPipeFaceDetector, path: Path, fps: float, seconds: float
) -> dict[str, object]:
    """Process CPU time / wall time while analysing ``fps`` frames a second in real time."""
    frames, _ = sampled(path, fps)
    analyzer = FaceAnalyzer("bench", "full", detector, owns_detector=False)
    n = max(1, int(seconds * fps))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(n):
        due = wall0 + i / fps
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        _, rgb = frames[i % len(frames)]
        analyzer.push_frame(rgb, i / fps)
    time.sleep(max(0.0, wall0 + n / fps - time.perf_counter()))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return {"clip": path.name, "seconds": wall, "frames": n, "cpu_share": cpu / wall}


def cpu_name() -> str:
    """The CPU model name where Linux tells it, else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vision.json")
    args = parser.parse_args()

    clips = sorted((args.data / "video").glob("*.mp4"))
    if not clips:
        sys.exit(f"no clips in {args.data / 'video'}; pass --data")
    rows = []
    with MediaPipeFaceDetector(args.models) as detector:
        for i, clip in enumerate(clips, 1):
            print(f"[{i}/{len(clips)}] {clip.name} ...", file=sys.stderr, flush=True)
            rows.append(bench_clip(detector, clip, args.fps))
        paced_clip = next((c for c in clips if c.name == "liveportrait_d3.mp4"), clips[0])
        print(
            f"paced run: {args.paced_seconds:.0f} s of {paced_clip.name} at {args.fps:g} fps",
            file=sys.stderr,
            flush=True,
        )
        paced = paced_cpu_share(detector, paced_clip, args.fps, args.paced_seconds)

    header = (
        f"{'clip':38} {'size':>9} {'frames':>6} {'lm p50':>7} {'lm p95':>7} "
        f"{'an p50':>7} {'an p95':>7} {'found':>6} {'cpu@' + format(args.fps, 'g'):>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['clip']:38} {r['resolution']:>9} {r['frames']:>6} "
            f"{r['landmarker_ms_p50']:7.1f} {r['landmarker_ms_p95']:7.1f} "
            f"{r['analyzer_ms_p50']:7.1f} {r['analyzer_ms_p95']:7.1f} "
            f"{r['face_found_rate']:6.0%} {r['cpu_share_derived']:7.1%}"
        )
    print("\nms per sampled frame (lm: landmarker only; an: FaceAnalyzer.push_frame, full mode).")
    print(f"cpu@{args.fps:g} = mean analyzer ms x {args.fps:g} / 1000, share of one core.")
    print(
        f"paced: process CPU / wall over {paced['seconds']:.1f} s at {args.fps:g} fps "
        f"({paced['clip']}): {paced['cpu_share']:.1%} of one core"
    )

    result = {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "fps": args.fps,
        "clips": rows,
        "paced": paced,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
