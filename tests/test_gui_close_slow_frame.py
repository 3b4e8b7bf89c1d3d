"""Closing while a slow frame renders: the worker stops within a bounded time, cleanly.

A deliberately slow generator (each layer sleeps) stands in for a 512 px BigGAN frame on a
CPU; `RenderWorker.stop` must return within its bound, cancel the frame between layers, and
never let Qt destroy a running thread (which aborts the process).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from app.render_worker import RenderWorker, _ORPHANS
from app.shared_generator import SharedGenerator
from editing.state import EditState

ROOT = Path(__file__).resolve().parents[1]


class SlowNet(nn.Module):
    def __init__(self, layers: int, seconds: float):
        super().__init__()
        self.layers = nn.ModuleList(SleepLayer(seconds) for _ in range(layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class SleepLayer(nn.Module):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


class SlowGenerator:
    """Just enough of the Generator interface for `render_state`: a frame takes layers × seconds."""

    family, latent_dim, z_dim, num_layers, resolution, classes = "slow", 4, 4, 1, 8, None
    default_truncation, device, name, fingerprint = 1.0, torch.device("cpu"), "slow", "slow"

    def __init__(self, layers: int, seconds: float):
        self.net = SlowNet(layers, seconds)

    def sample(self, n, seed):
        return torch.zeros(n, 1, 4)

    def truncate(self, lat, psi):
        return lat

    def synthesize(self, lat, classes=None, truncation=None, noise_mode=None):
        return self.net(torch.zeros(lat.shape[0], 3, 8, 8))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layers=st.integers(20, 200), seconds=st.floats(0.05, 0.2))
def test_stop_during_a_slow_frame_returns_in_bounded_time_and_cancels_it(qtbot, layers, seconds):
    w = RenderWorker()
    w.set_generator(SharedGenerator(SlowGenerator(layers, seconds)))
    w.start()
    failures = []
    w.failed.connect(lambda s, m: failures.append(m))
    w.request(EditState(model="slow"))
    time.sleep(0.3)  # the frame (≥ 1 s) is under way
    t0 = time.perf_counter()
    finished = w.stop(timeout_ms=3000, grace_ms=200)
    took = time.perf_counter() - t0
    assert finished and took < 0.2 + 3.0 + 0.5, took
    assert not _ORPHANS


SCRIPT = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from PyQt6.QtWidgets import QApplication
app = QApplication([])
from test_gui_close_slow_frame import SlowGenerator
from app.render_worker import RenderWorker
from app.shared_generator import SharedGenerator
from editing.state import EditState
w = RenderWorker()
w.set_generator(SharedGenerator(SlowGenerator(100, 0.1)))  # a 10 s frame
w.start()
w.request(EditState(model="slow"))
time.sleep(0.5)
print("stopped" if w.stop() else "orphaned", flush=True)
"""


def test_a_process_closed_during_a_10s_frame_exits_cleanly():
    r = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))],
                       capture_output=True, text=True, timeout=60, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "stopped" and "Destroyed while thread" not in r.stderr
