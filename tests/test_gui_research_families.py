"""The research families in the window: a dropped StyleGAN (v1) file opens, GANSpace runs on it,
and an edit restricted to a layer range renders exactly what the CLI's path renders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import cache_dir, direct_render, make_window, small_config, wait_frame, wait_jobs  # noqa: F401
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

ROOT = Path(__file__).resolve().parents[1]


def test_a_dropped_stylegan1_opens_and_is_explored_with_ganspace_and_layer_ranges(qtbot, make_window):  # noqa: F811
    w = make_window(controls=None, auto_discover=False, wait=False)
    qtbot.waitUntil(lambda: w.generator is not None, timeout=30_000)
    path = ROOT / "tests/data/stylegan1_ganspace/stylegan1_ganspace_small_A.pt"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    w.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: w.generator.family == "stylegan1", timeout=30_000)
    wait_frame(qtbot, w, 30_000)
    assert w.state.model == str(path) and w.frame.shape == (128, 128, 3)

    w.discovery.run_discovery("ganspace", small_config(components=4, samples=200, regression_samples=200))
    wait_jobs(qtbot, w, 60_000)
    qtbot.waitUntil(lambda: w.state.controls is not None, timeout=10_000)
    before = wait_frame(qtbot, w, 30_000).copy()
    row = w.control_panel.row(0)
    row.end_spin.setValue(4)  # rows 0..3 only: the coarse layers
    row.spin.setValue(2.5)
    frame = wait_frame(qtbot, w, 30_000)
    assert w.state.ranges[0] == (0, 4) and w.state.values[0] == 2.5
    assert not np.array_equal(frame, before)
    assert np.array_equal(frame, direct_render(w, w.state))


def test_model_open_opens_every_research_layout(qtbot, make_window):  # noqa: F811
    w = make_window(controls=None, auto_discover=False, wait=False)
    qtbot.waitUntil(lambda: w.generator is not None, timeout=30_000)
    for rel, family, layout in [
        ("progan_ganspace/progan_ganspace_small_A.pth", "progan", "netdissect"),
        ("progan_ptrblck/progan_ptrblck_small_A.pth", "progan", "ptrblck"),
        ("genforce/pggan_small_A.pth", "progan", "genforce"),
        ("genforce/stylegan_small_A.pth", "stylegan1", "genforce"),
        ("genforce/stylegan2_small_A.pth", "stylegan2", "genforce"),
    ]:
        path = ROOT / "tests/data" / rel
        w.models.open_model(str(path))
        qtbot.waitUntil(lambda: w.state.model == str(path) and w.generator.name == str(path), timeout=30_000)
        frame = wait_frame(qtbot, w, 30_000)
        assert (w.generator.family, w.generator.layout) == (family, layout)
        assert frame.shape[:2] == (w.generator.resolution,) * 2
        assert np.array_equal(frame, direct_render(w, w.state))
