"""`FrameTimes`: what the status bar and the render-time plot report, without Qt.

Each shown frame records when it was shown, how long the render worker took (``render``)
and how long the canvas took to draw it (``display``).  The rate is frames shown in a
fixed window divided by the window's length, so two frames in the last second read as
"1 fps over 2 s", never as the 53 fps that their spacing alone suggests.
"""
from __future__ import annotations

import collections
import statistics
import time
from typing import Callable

#: seconds the rate is measured over (and said to be)
RATE_WINDOW_S = 2.0
#: frames the render time's median is taken over
RECENT = 5


class FrameTimes:
    """A bounded log of ``(shown at, render ms, display ms)``; ``clock`` in seconds (tests pass their own)."""

    def __init__(self, keep_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.keep_s = keep_s
        self.clock = clock
        self.log: collections.deque[list[float]] = collections.deque(maxlen=10_000)

    def shown(self, render_ms: float) -> None:
        """A frame that took ``render_ms`` to render is on screen now."""
        now = self.clock()
        self.log.append([now, float(render_ms), 0.0])
        while self.log and now - self.log[0][0] > self.keep_s:
            self.log.popleft()

    def displayed(self, display_ms: float) -> None:
        """The canvas drew the newest frame in ``display_ms``."""
        if self.log:
            self.log[-1][2] = float(display_ms)

    def rate(self, window_s: float = RATE_WINDOW_S) -> float:
        """Frames shown per second over the last ``window_s`` seconds (0 when none)."""
        now = self.clock()
        return sum(1 for t, _r, _d in self.log if now - t <= window_s) / window_s

    def recent_render_ms(self, n: int = RECENT) -> float | None:
        """Median render time of the last ``n`` frames (None before the first)."""
        last = [r for _t, r, _d in list(self.log)[-n:]]
        return statistics.median(last) if last else None

    def series(self, seconds: float) -> tuple[list[float], list[float], list[float]]:
        """``(age in s (negative: before now), render ms, display ms)`` of the last ``seconds``."""
        now = self.clock()
        rows = [(t - now, r, d) for t, r, d in self.log if now - t <= seconds]
        return [a for a, _r, _d in rows], [r for _a, r, _d in rows], [d for _a, _r, d in rows]

    def summary(self) -> str:
        """``render 41 ms (median of last 5) · 1.5 fps over 2 s`` (or ``… · idle``)."""
        ms = self.recent_render_ms()
        if ms is None:
            return "—"
        n = min(RECENT, len(self.log))
        which = "last frame" if n == 1 else f"median of last {n}"
        rate = self.rate()
        shown = f"{rate:.1f} fps over {RATE_WINDOW_S:g} s" if rate > 0 else "idle"
        return f"render {ms:.0f} ms ({which}) · {shown}"
