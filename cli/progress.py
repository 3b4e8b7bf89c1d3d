"""Progress of long commands on a terminal (stderr), as a `ProgressFn`."""
from __future__ import annotations

import sys
import time


class TerminalProgress:
    """``progress(fraction, message)``: a redrawn bar on a TTY, a line every 10 % otherwise;
    with ``every_line`` a line ``"F% message"`` per call (for a program reading stderr, e.g.
    the window running a job in other processes)."""

    def __init__(self, enabled: bool = True, stream=None, width: int = 30, every_line: bool = False):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.width = width
        self.every_line = every_line
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) and not every_line
        self.last_decile = -1
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.05 and fraction < 1.0:
                return
            self.last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {message[:60]:<60}")
            self.drawn = True
        else:
            decile = int(fraction * 10)
            if self.every_line or decile > self.last_decile:
                self.last_decile = decile
                self.stream.write(f"{fraction * 100:5.1f}% {message}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
