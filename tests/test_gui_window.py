"""The explorer window: start-up, sliders, undo, keyboard, controls rows, canvas fallback."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401  (fixtures)
    cache_dir,
    direct_render,
    generator,
    make_window,
    small_config,
    small_controls,
    wait_frame,
    wait_jobs,
    wait_ready,
)
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication

from app.canvas import GLCanvas, RasterCanvas
from methods.cache import cache_path
from methods.controls import random_controls
from methods.registry import METHODS
from models.digests import CACHE_NAME as DIGESTS_NAME


def test_first_frame_shows_while_discovery_is_still_running_and_cancel_keeps_nothing(qtbot, make_window, cache_dir):  # noqa: F811
    w = make_window(controls=None, discovery=("ganspace", small_config(samples=400_000)), wait=False)
    wait_ready(qtbot, w, controls=False)
    job = w.discovery.job
    assert job is not None and job.isRunning(), "discovery should still be running when the first frame is up"
    assert w.frame.shape == (64, 64, 3)
    assert w.job_panel.isVisibleTo(w) and w.job_panel.rows()
    w.job_panel.rows()[0].cancel_button.click()
    wait_jobs(qtbot, w)
    assert job.outcome == "cancelled"
    assert w.state.controls is None
    left = [p.name for p in cache_dir.iterdir() if p.name != DIGESTS_NAME]  # the weights digest is not a result
    assert not left, "a cancelled discovery leaves nothing in the cache"
    assert "cancelled" in w.control_panel.placeholder.text()


def test_discovery_is_cached_so_the_second_start_does_not_recompute(qtbot, make_window, cache_dir, monkeypatch):  # noqa: F811
    config = small_config()
    w1 = make_window(controls=None, discovery=("ganspace", config))
    assert len(w1.state.controls) == config.components
    assert cache_path(w1.generator, METHODS["ganspace"], config).is_file()
    names = w1.state.controls.names
    w1.close()

    def must_not_run(*_a, **_k):
        raise AssertionError("discovery ran again although its result is cached")

    monkeypatch.setitem(METHODS, "ganspace", METHODS["ganspace"].replaced(run=must_not_run))
    t0 = time.perf_counter()
    w2 = make_window(controls=None, discovery=("ganspace", config))
    assert time.perf_counter() - t0 < 10
    assert w2.state.controls.names == names
    assert not w2.history.can_undo(), "the automatic discovery is the start of the history, not an edit"


def test_moving_a_slider_renders_a_newer_frame_that_differs(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    before, stamp = w.frame.copy(), w.shown_stamp
    w.control_panel.row(0).slider.setValue(30)  # 3σ
    after = wait_frame(qtbot, w)
    assert w.shown_stamp > stamp
    assert w.state.values[0] == pytest.approx(3.0)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, direct_render(w, w.state))
    assert w.control_panel.row(0).spin.value() == pytest.approx(3.0)
    assert float(w.control_panel.row(0).delta.text()) == pytest.approx(small_controls.delta_norms([3.0])[0], abs=0.01)


def test_a_slider_drag_is_one_undo_step_and_undo_restores_state_and_frame(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    start_state, start_frame = w.state, w.frame.copy()
    slider = w.control_panel.row(1).slider
    slider.setSliderDown(True)
    for ticks in range(0, 41, 4):
        slider.setValue(ticks)
    slider.setSliderDown(False)
    wait_frame(qtbot, w)
    assert w.state.values[1] == pytest.approx(4.0)
    assert len(w.history) == 2, "the whole drag is one step"
    w.undo()
    assert w.state == start_state
    np.testing.assert_array_equal(wait_frame(qtbot, w), start_frame)
    assert slider.value() == 0
    w.redo()
    assert w.state.values[1] == pytest.approx(4.0)


def test_keyboard_shortcuts_undo_seed_and_reset(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is w.windowHandle(), timeout=2000)
    row = w.control_panel.row(2)
    row.slider.setFocus()
    qtbot.keyClick(row.slider, Qt.Key.Key_Right)
    qtbot.keyClick(row.slider, Qt.Key.Key_Right)
    assert w.state.values[2] == pytest.approx(0.2)
    qtbot.keyClick(row.slider, Qt.Key.Key_PageDown)
    assert w.state.seed == 1, "PgDn goes to the next seed"
    qtbot.keyClick(row.slider, Qt.Key.Key_PageUp)
    assert w.state.seed == 0
    qtbot.keyClick(row.slider, Qt.Key.Key_R)
    assert w.state.values[2] == 0.0, "R resets"
    qtbot.keyClick(row.slider, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.state.values[2] == pytest.approx(0.2), "Ctrl+Z undoes the reset"
    qtbot.keyClick(row.slider, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.state.values[2] == 0.0, "Ctrl+Shift+Z redoes it"
    wait_frame(qtbot, w)


def test_seed_truncation_and_grid_change_the_frame(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    first = w.frame.copy()
    w.image_panel.next_button.click()
    assert w.state.seed == 1
    assert not np.array_equal(wait_frame(qtbot, w), first)
    w.image_panel.psi_spin.setValue(0.5)
    assert w.state.truncation == 0.5
    np.testing.assert_array_equal(wait_frame(qtbot, w), direct_render(w, w.state))
    w.image_panel.grid_count.setValue(4)
    w.image_panel.grid_check.setChecked(True)
    grid = wait_frame(qtbot, w)
    assert grid.shape == (2 * 64 + 2, 2 * 64 + 2, 3)
    np.testing.assert_array_equal(grid[:64, :64], direct_render(w, w.state))
    assert w.history.current.seed == 1, "grid mode is a view, not an edit"


def test_class_picker_and_layer_ranges_are_hidden_for_an_unconditional_one_layer_model(make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    assert w.generator.classes is None
    assert not w.image_panel.class_box.isVisibleTo(w)
    assert not w.control_panel.row(0).layer_box.isVisibleTo(w)


def test_layer_range_rows_show_what_they_cover_on_a_multi_layer_model(qtbot, make_window):
    import models

    path = "tests/data/stylegan2/stylegan2_small_A.pt"
    G = models.load_generator(path, "cpu")
    cs = random_controls(G, 3)
    w = make_window(model=path, controls=cs)
    row = w.control_panel.row(1)
    assert row.layer_box.isVisibleTo(w)
    assert (row.start_spin.value(), row.end_spin.value()) == (0, G.num_layers)
    row.start_spin.setValue(2)
    row.end_spin.setValue(5)
    assert w.state.ranges[1] == (2, 5)
    labels = G.describe_layers()
    assert labels[2].split(": ", 1)[1] in row.coverage.text() and labels[4].split(": ", 1)[1] in row.coverage.text()
    row.start_spin.setValue(5)  # start past the end pushes the end along
    assert w.state.ranges[1] == (5, 6)
    w.undo()
    assert w.state.ranges[1] == (2, 5)


def test_rename_flip_and_reset_of_one_control(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    row = w.control_panel.row(0)
    qtbot.mouseDClick(row.name, Qt.MouseButton.LeftButton)
    assert row.name.editing
    row.name.setText("smile")
    row.name.editingFinished.emit()
    assert w.state.controls.names[0] == "smile"
    assert row.name.text() == "smile" and not row.name.editing

    row.slider.setValue(20)
    frame = wait_frame(qtbot, w).copy()
    row.flip_button.click()
    assert w.state.values[0] == pytest.approx(-2.0), "flipping negates the value so the image stays"
    np.testing.assert_array_equal(wait_frame(qtbot, w), frame)
    np.testing.assert_allclose(w.state.controls[0].direction, -small_controls[0].direction)

    row.reset_button.click()
    assert w.state.values[0] == 0.0
    w.undo()
    w.undo()
    w.undo()
    assert w.state.controls.names[0] == "smile" and w.state.values[0] == 0.0
    w.undo()
    assert w.state.controls.names[0] == small_controls.names[0]


def test_eighty_control_rows_stay_responsive_and_the_filter_finds_one(qtbot, make_window, generator):  # noqa: F811
    cs = random_controls(generator, 80)
    w = make_window(controls=cs)
    panel = w.control_panel
    assert len(panel.rows) == 80
    assert panel.scroll.widget() is panel.container
    t0 = time.perf_counter()
    for i in range(200):
        panel.row(i % 80).slider.setValue((i % 21) - 10)
    per_edit_ms = (time.perf_counter() - t0) / 200 * 1000
    assert per_edit_ms < 15, f"an edit with 80 rows costs {per_edit_ms:.1f} ms on the GUI thread"
    panel.filter.setText("random 42")
    shown = [r.index for r in panel.rows if r.isVisibleTo(panel)]
    assert shown == [42]
    panel.filter.clear()
    assert all(r.isVisibleTo(panel) for r in panel.rows)
    wait_frame(qtbot, w)
    np.testing.assert_array_equal(w.frame, direct_render(w, w.state))


def test_the_gui_thread_never_runs_the_generator(qtbot, make_window, small_controls, monkeypatch, tmp_path):  # noqa: F811
    from models.base import Generator
    from models.dcgan import DCGANGenerator

    on_gui_thread: list[str] = []
    main = threading.main_thread()

    def spy(cls, name):
        original = getattr(cls, name)

        def wrapped(self, *a, **k):
            if threading.current_thread() is main:
                on_gui_thread.append(name)
            return original(self, *a, **k)

        monkeypatch.setattr(cls, name, wrapped)

    for name in ("sample", "sample_z", "features", "layer_shape"):
        spy(Generator, name)
    for name in ("synthesize", "map"):
        spy(DCGANGenerator, name)
    w = make_window(controls=None, discovery=("ganspace", small_config()))
    w.control_panel.row(0).slider.setValue(15)
    w.image_panel.next_button.click()
    w.undo()
    wait_frame(qtbot, w)
    w.exports.export_png(tmp_path / "frame.png")
    wait_jobs(qtbot, w)
    assert (tmp_path / "frame.png").is_file()
    assert on_gui_thread == []


def test_offscreen_uses_the_raster_canvas_and_says_so(make_window, small_controls):  # noqa: F811
    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("checks the fallback on the offscreen platform")
    w = make_window(controls=small_controls)
    assert isinstance(w.canvas, RasterCanvas) and not isinstance(w.canvas, GLCanvas)
    assert w.canvas_status.text() == "raster canvas"
    assert "offscreen" in w.canvas_status.toolTip()
    assert w.canvas.frame is w.frame
    assert "ms" in w.perf_label.text() or w.perf_label.text() == "—"
    assert "cpu" in w.device_status.text() and "dcgan-faces" in w.model_status.text()


def test_the_gl_canvas_failing_at_start_falls_back_to_raster_with_the_frame(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    frame = w.frame
    gl = GLCanvas(w.canvas_holder)  # pretend this was the canvas and its context failed
    w.canvas_holder.layout().replaceWidget(w.canvas, gl)
    w.canvas.hide()
    w.canvas = gl
    gl.set_frame(frame)
    w._gl_failed("OpenGL could not be initialised: test")
    assert isinstance(w.canvas, RasterCanvas)
    assert w.canvas.frame is frame
    assert "test" in w.canvas_status.toolTip()


def test_status_bar_shows_render_time_and_frames_per_second(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    for v in range(0, 30, 3):
        w.control_panel.row(0).slider.setValue(v)
        wait_frame(qtbot, w)
    qtbot.waitUntil(lambda: "fps" in w.perf_label.text(), timeout=2000)
    assert w.last_render_ms > 0
    assert w.fps() > 0


def test_a_mouse_drag_on_a_slider_is_one_undo_step(qtbot, make_window, small_controls):  # noqa: F811
    from PyQt6.QtCore import QPoint

    w = make_window(controls=small_controls)
    w.resize(1300, 800)
    slider = w.control_panel.row(0).slider
    qtbot.waitUntil(lambda: slider.width() > 60, timeout=2000)
    y = slider.height() // 2
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() // 2 + 5, y))
    for dx in range(10, 40, 5):
        qtbot.mouseMove(slider, QPoint(slider.width() // 2 + dx, y))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() // 2 + 40, y))
    assert w.state.values[0] > 0.5
    assert len(w.history) == 2
    qtbot.mouseDClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(10, y))
    assert w.state.values[0] == 0.0, "double-click returns to 0"
    w.undo()
    assert w.state.values[0] > 0.5
    wait_frame(qtbot, w)


def test_the_class_picker_searches_and_reports_the_class(qtbot):
    from app.image_panel import ImagePanel

    panel = ImagePanel()
    qtbot.addWidget(panel)
    panel.show()
    picked = []
    panel.classEdited.connect(picked.append)
    panel.set_classes(["tench", "goldfish", "great white shark", "tiger shark"])
    assert panel.class_box.isVisibleTo(panel)
    completer = panel.class_box.completer()
    completer.setCompletionPrefix("shark")
    assert completer.completionCount() == 2, "the search matches anywhere in the name"
    completer.activated[str].emit("3: tiger shark")
    assert picked == [3] and panel.class_box.currentIndex() == 3
    panel.class_box.activated.emit(1)
    assert picked == [3, 1]
    panel.set_classes(None)
    assert not panel.class_box.isVisibleTo(panel)


def test_ctrl_s_saves_the_preset_and_clears_the_unsaved_mark(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    assert w.windowTitle().startswith("untitled — ")
    w.control_panel.row(0).slider.setValue(12)
    assert w.windowTitle().startswith("untitled* — ")
    w.presets.save_preset_to(tmp_path / "mine.json")
    assert w.windowTitle().startswith("mine — ")
    w.control_panel.row(0).slider.setValue(15)
    assert w.windowTitle().startswith("mine* — ")
    w.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is w.windowHandle(), timeout=2000)
    qtbot.keyClick(w.control_panel.row(0).slider, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert w.windowTitle().startswith("mine — ")
    from editing import preset as presets

    assert presets.load(tmp_path / "mine.json")[0].values[0] == pytest.approx(1.5)
    w.undo()
    assert w.windowTitle().startswith("mine* — "), "undoing past the save is an unsaved change"
    wait_frame(qtbot, w)
