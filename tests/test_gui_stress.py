"""A burst of thousands of slider changes: the last frame is right, nothing piles up, memory stays bounded."""
from __future__ import annotations

import gc
import os
import random
import tracemalloc

import numpy as np
from gui_helpers import cache_dir, direct_render, generator, make_window, small_controls, wait_frame  # noqa: F401


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_burst_of_random_slider_changes_ends_on_the_exact_frame_with_bounded_memory(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    rows = w.control_panel.rows
    rng = random.Random(1234)

    def burst(n: int) -> None:
        for i in range(n):
            row = rows[rng.randrange(len(rows))]
            row.slider.setSliderDown(i % 50 != 0)  # mostly drags, sometimes clicks
            row.slider.setValue(rng.randint(-100, 100))
            if i % 97 == 0:
                qtbot.wait(1)  # let a few frames through, as a real event loop would

    burst(300)  # warm up caches and the history to its steady size
    wait_frame(qtbot, w)
    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    rendered0 = w.worker.rendered
    requests0 = w.last_stamp

    burst(3000)
    for row in rows:
        row.slider.setSliderDown(False)
    last = wait_frame(qtbot, w, timeout=20_000)

    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap0, "filename"))
    tracemalloc.stop()
    rss_growth = rss_bytes() - rss0

    requests = w.last_stamp - requests0
    rendered = w.worker.rendered - rendered0
    assert requests >= 2900  # (a value equal to the current one is no change)
    assert rendered < requests / 4, f"{rendered} frames rendered for {requests} requests: stale ones were not dropped"
    np.testing.assert_array_equal(last, direct_render(w, w.state))
    assert w.shown_stamp == w.last_stamp
    assert len(w.history) <= 500
    assert grown < 8 * 2**20, f"Python heap grew by {grown / 2**20:.1f} MiB"
    assert rss_growth < 120 * 2**20, f"RSS grew by {rss_growth / 2**20:.1f} MiB"
    assert w.isVisible()
