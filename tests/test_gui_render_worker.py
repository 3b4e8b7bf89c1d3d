"""The render thread: newest request wins, stale ones are dropped, errors do not kill it."""
from __future__ import annotations

import time

import numpy as np
import pytest
from gui_helpers import MODEL, generator, small_controls  # noqa: F401  (fixtures)

from app.render_worker import RenderWorker, grid_columns, render_request, RenderRequest
from app.shared_generator import SharedGenerator
from editing.render import render_grid, render_state, tile
from editing.state import EditState


@pytest.fixture
def worker(qtbot, generator):  # noqa: F811
    w = RenderWorker()
    shared = SharedGenerator(generator)
    w.set_generator(shared)
    w.start()
    received: list[tuple[int, np.ndarray, float]] = []
    failures: list[tuple[int, str]] = []
    w.frameReady.connect(lambda s, f, ms: received.append((s, f, ms)))
    w.failed.connect(lambda s, m: failures.append((s, m)))
    w.received, w.failures, w.shared = received, failures, shared
    yield w
    w.stop()


def test_worker_renders_only_the_newest_of_a_burst_and_drops_the_rest(qtbot, worker, small_controls):  # noqa: F811
    base = EditState(model=MODEL).with_controls(small_controls)
    # Hold the generator so the worker is stuck on its first frame while the burst arrives.
    with worker.shared.lock:
        first = worker.request(base)
        time.sleep(0.05)
        stamps = [worker.request(base.with_value(0, (i % 40) / 4.0)) for i in range(500)]
    last_state = base.with_value(0, (499 % 40) / 4.0)
    qtbot.waitUntil(lambda: bool(worker.received) and worker.received[-1][0] == stamps[-1], timeout=10_000)
    qtbot.waitUntil(worker.idle, timeout=5000)
    got = [s for s, _f, _ms in worker.received]
    assert got == sorted(got), "results arrive in request order"
    assert got[0] == first
    assert worker.rendered <= 3, f"{worker.rendered} frames rendered for a burst of 501 requests"
    assert worker.dropped >= 498
    with worker.shared.lock:
        expected = render_state(worker.shared.unwrapped, last_state)
    np.testing.assert_array_equal(worker.received[-1][1], expected)


def test_request_returns_immediately_while_a_frame_is_being_rendered(qtbot, worker):
    state = EditState(model=MODEL)
    with worker.shared.lock:  # the worker cannot finish (or even start) its frame
        worker.request(state)
        t0 = time.perf_counter()
        for seed in range(200):
            worker.request(EditState(model=MODEL, seed=seed))
        elapsed = time.perf_counter() - t0
    assert elapsed < 0.05, f"200 requests took {elapsed * 1000:.1f} ms"
    qtbot.waitUntil(worker.idle, timeout=10_000)


def test_a_failing_state_reports_an_error_and_the_worker_keeps_rendering(qtbot, worker, small_controls):  # noqa: F811
    bad = EditState(model=MODEL, controls=small_controls, values=(1.0,), ranges=(None,))  # wrong count
    stamp_bad = worker.request(bad)
    qtbot.waitUntil(lambda: bool(worker.failures), timeout=5000)
    assert worker.failures[0][0] == stamp_bad
    assert "control values" in worker.failures[0][1]
    stamp_good = worker.request(EditState(model=MODEL, seed=3))
    qtbot.waitUntil(lambda: bool(worker.received) and worker.received[-1][0] == stamp_good, timeout=5000)


def test_without_a_model_the_worker_says_so(qtbot):
    w = RenderWorker()
    w.start()
    failures = []
    w.failed.connect(lambda s, m: failures.append(m))
    try:
        w.request(EditState(model=MODEL))
        qtbot.waitUntil(lambda: bool(failures), timeout=5000)
        assert "no model" in failures[0]
    finally:
        w.stop()


def test_grid_requests_tile_the_seeds_like_render_grid(generator):  # noqa: F811
    state = EditState(model=MODEL, seed=5)
    out = render_request(generator, RenderRequest(1, state, (5, 6, 7, 8, 9)))
    expected = tile(render_grid(generator, state, [5, 6, 7, 8, 9]), grid_columns(5), pad=2)
    np.testing.assert_array_equal(out, expected)
    assert grid_columns(9) == 3 and grid_columns(2) == 2 and grid_columns(1) == 1
