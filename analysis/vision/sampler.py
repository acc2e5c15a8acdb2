"""Decide which video frames are analysed: a fixed rate on the frames' own timestamps."""

from __future__ import annotations


class FrameSampler:
    """Keeps frames at about ``fps`` per second, judged by their timestamps (seconds).

    Decide before decoding: the server asks ``keep(t)`` with the frame's time and
    converts only kept frames to RGB. A jump backwards in time (a new media
    segment) restarts the schedule.
    """

    def __init__(self, fps: float = 5.0) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.fps = fps
        self._interval = 1.0 / fps
        self._next: float | None = None

    def keep(self, t: float) -> bool:
        """Whether the frame at time ``t`` should be analysed."""
        # A small tolerance for rounding in timestamps (30 fps is not exact in binary);
        # it must stay below half a source frame so 60 fps sources are not sampled early.
        slack = min(self._interval * 0.1, 0.002)
        if self._next is None or t < self._next - self._interval - slack:
            self._next = t + self._interval
            return True
        if t + slack >= self._next:
            # Step from the schedule, not from t, so the rate does not drift;
            # skip ahead if frames arrived late.
            self._next += self._interval
            if self._next <= t:
                self._next = t + self._interval
            return True
        return False
