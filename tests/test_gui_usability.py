"""What a new user tripped over in the window (issue 16 §2): each bug's behaviour, kept fixed."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from gui_helpers import cache_dir, generator, make_window, small_controls, wait_frame, wait_jobs  # noqa: F401
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QGuiApplication, QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import QApplication, QMessageBox

from methods.controls import random_controls

SG2 = "tests/data/stylegan2/stylegan2_small_A.pt"
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def focus(qtbot, w, widget):
    w.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is w.windowHandle(), timeout=2000)
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget or widget.isAncestorOf(QApplication.focusWidget()),
                    timeout=2000)


# ---------------------------------------------------------------------- 1. shortcuts in text fields
def test_undo_and_export_work_while_a_value_box_has_focus(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.set_value(0, 2.0)
    spin = w.control_panel.row(0).spin
    focus(qtbot, w, spin)
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert w.state.values[0] == 0.0, "Ctrl+Z in a value box undoes the edit"
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL | SHIFT)
    assert w.state.values[0] == 2.0, "Ctrl+Shift+Z redoes it"
    opened = []
    w.exports.export_png_dialog = lambda: opened.append(True)  # the file dialog itself would block
    w.export_png_action.triggered.disconnect()
    w.export_png_action.triggered.connect(lambda _c=False: w.exports.export_png_dialog())
    qtbot.keyClick(spin, Qt.Key.Key_E, CTRL)
    assert opened == [True], "Ctrl+E exports while a value box has focus"


def test_the_filter_box_undoes_its_own_typing_then_the_edit(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.set_value(1, 1.5)
    box = w.control_panel.filter
    focus(qtbot, w, box)
    qtbot.keyClicks(box, "zz")
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    assert box.text() == "" and w.state.values[1] == 1.5, "first the typing is undone, in the box"
    qtbot.keyClick(box, Qt.Key.Key_Z, CTRL)
    assert w.state.values[1] == 0.0, "with nothing left to undo in the box, Ctrl+Z undoes the edit"


def test_clicking_the_image_takes_the_focus_from_a_text_field(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    focus(qtbot, w, w.control_panel.filter)
    qtbot.mouseClick(w.canvas, Qt.MouseButton.LeftButton, pos=w.canvas.rect().center())
    assert QApplication.focusWidget() is w.canvas


# ---------------------------------------------------------------------- 2. the screen
def test_the_window_fits_its_screen_and_remembers_size_and_splitter(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    from app.settings import Settings, ini_settings

    settings = Settings(ini_settings(tmp_path / "s.ini"))
    w = make_window(controls=small_controls, settings=settings)
    avail = w.screen().availableGeometry()
    assert avail.contains(w.frameGeometry()), f"{w.frameGeometry()} is not inside {avail}"
    assert avail.contains(w.statusBar().mapToGlobal(w.statusBar().rect().bottomRight()))
    w.resize(700, 520)
    w.splitter.setSizes([300, 400])
    sizes = w.splitter.sizes()
    w.close()
    again = make_window(controls=small_controls, settings=Settings(ini_settings(tmp_path / "s.ini")))
    assert (again.width(), again.height()) == (700, 520)
    assert again.splitter.sizes() == sizes


def test_fit_within_shrinks_and_moves_a_rectangle_onto_the_screen():
    from app.widgets import fit_within

    assert fit_within(0, 0, 1320, 860, 0, 0, 1366, 740) == (0, 0, 1320, 740)
    assert fit_within(500, 300, 1000, 600, 0, 0, 1366, 740) == (366, 140, 1000, 600)


# ---------------------------------------------------------------------- 3. non-checkpoint files
def test_opening_an_image_as_a_model_says_it_is_an_image(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    path = tmp_path / "photo.pt"
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "photo.png").rename(path)
    w.models.open_model(str(path))
    qtbot.waitUntil(lambda: "image" in w.last_error, timeout=10_000)
    assert "photo.pt is an image (PNG), not a checkpoint" in w.last_error
    assert not re.search(r"Error\b|Errno|\(\w+Error\)", w.canvas.message)


# ---------------------------------------------------------------------- 5. the class list
def test_the_paint_tab_lists_its_classes_from_the_start_in_a_visible_colour(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    dlg = w.semantics.open_semantics_dialog()
    assert dlg.palette.count() == 2 and "object" in dlg.palette.item(1).text()
    r, g, b = dlg.colors[1]
    assert max(r, g, b) - min(r, g, b) > 150, "a saturated colour, not a skin tone"


# ---------------------------------------------------------------------- 6. quitting
def test_quitting_with_unsaved_edits_asks_and_cancel_keeps_everything(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.set_value(0, 1.0)
    assert w.presets.autosave_now() and w.doc.autosave_path.exists()
    w.quit_action.trigger()
    box = w.presets.quit_box
    assert box.isVisible() and "unsaved" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert w.isVisible() and w.doc.autosave_path.exists() and w.state.values[0] == 1.0
    w.quit_action.trigger()
    w.presets.quit_box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    assert not w.doc.autosave_path.exists(), "discarding on purpose removes the autosave"


def test_quitting_saves_the_preset_when_asked(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.presets.save_preset_to(tmp_path / "mine.json")
    w.set_value(0, 2.5)
    w.quit_action.trigger()
    w.presets.quit_box.button(QMessageBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    from editing import preset as presets

    assert presets.load(tmp_path / "mine.json")[0].values[0] == 2.5


def test_quitting_without_edits_does_not_ask(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.quit_action.trigger()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)


# ---------------------------------------------------------------------- 7. frame rate
def test_two_frames_in_the_last_second_read_as_one_fps_over_two_seconds():
    from app.frame_times import FrameTimes

    now = [100.0]
    ft = FrameTimes(clock=lambda: now[0])
    ft.shown(40.0)
    now[0] += 0.019  # 19 ms apart: "53 fps" by their spacing
    ft.shown(44.0)
    assert ft.rate() == pytest.approx(1.0)
    assert ft.summary() == "render 42 ms (median of last 2) · 1.0 fps over 2 s"
    now[0] += 5
    assert ft.summary().endswith("· idle")


# ---------------------------------------------------------------------- 8. the slider
def test_clicking_the_knob_does_not_move_it_and_shift_drags_finely(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.resize(1300, 800)
    w.set_value(0, 1.3)
    slider = w.control_panel.row(0).slider
    qtbot.waitUntil(lambda: slider.width() > 60, timeout=2000)
    y = slider.height() // 2
    knob = int(round(slider._x(slider.value()))) + 2
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(knob, y))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(knob, y))
    assert w.state.values[0] == 1.3, "a click on the knob leaves the value"
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(knob, y))
    qtbot.mouseMove(slider, QPoint(knob + 50, y))
    coarse = w.state.values[0] - 1.3
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(knob + 50, y))
    w.undo()
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, SHIFT, pos=QPoint(knob, y))
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(knob + 50, y), slider.mapToGlobal(QPointF(knob + 50, y)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, SHIFT)
    QApplication.sendEvent(slider, move)  # (QTest's mouseMove carries no modifiers)
    fine = w.state.values[0] - 1.3
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, SHIFT, pos=QPoint(knob + 50, y))
    assert coarse > 1.0 and 0 < fine < coarse / 5, (coarse, fine)


def test_the_wheel_steps_a_focused_slider_by_one_step_per_notch(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    slider = w.control_panel.row(0).slider
    focus(qtbot, w, slider)
    pos = QPointF(slider.width() / 2, slider.height() / 2)
    for _ in range(3):
        ev = QWheelEvent(pos, slider.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                         Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(slider, ev)
    assert w.state.values[0] == pytest.approx(0.3)
    assert len(w.history) == 2, "the notches merge into one undo step"


def test_the_slider_range_can_be_set_and_is_remembered(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    from app.settings import Settings, ini_settings

    w = make_window(controls=small_controls, settings=Settings(ini_settings(tmp_path / "s.ini")))
    w.control_panel.span_spin.setValue(3.0)
    slider = w.control_panel.row(0).slider
    assert (slider.minimum(), slider.maximum()) == (-30, 30)
    w.set_value(0, 5.0)  # beyond the slider: the value box still shows it
    assert slider.value() == 30 and w.control_panel.row(0).spin.value() == 5.0
    w.close()
    again = make_window(controls=small_controls, settings=Settings(ini_settings(tmp_path / "s.ini")))
    assert again.control_panel.span == 3.0 and again.control_panel.row(0).slider.maximum() == 30


# ---------------------------------------------------------------------- 9. layer ranges
def test_layer_range_boxes_and_label_use_the_same_last_row(qtbot, make_window):  # noqa: F811
    import models

    G = models.load_generator(SG2, "cpu")
    w = make_window(model=SG2, controls=random_controls(G, 2))
    row = w.control_panel.row(0)
    row.start_spin.setValue(2)
    row.end_spin.setValue(6)  # exclusive internally: rows 2..5
    assert w.state.ranges[0] == (2, 6)
    assert row.start_spin.text() == "2" and row.end_spin.text() == "5"
    assert row.coverage.text().startswith("rows 2–5: ")
    assert row.coverage.wordWrap(), "a long summary wraps instead of being cut off"
    row.end_spin.lineEdit().selectAll()
    qtbot.keyClicks(row.end_spin.lineEdit(), "3")
    row.end_spin.interpretText()
    assert w.state.ranges[0] == (2, 4), "typing the last row 3 means rows 2–3"


# ---------------------------------------------------------------------- 10. names shown to people
def test_menus_and_dialogs_use_the_methods_names_and_hide_what_does_not_apply(qtbot, make_window, small_controls):  # noqa: F811
    from app.discover_dialog import DiscoverDialog, inapplicable_options

    w = make_window(controls=small_controls)
    texts = [a.text() for a in w.discover_actions]
    assert "SeFa…" in texts and "GANSpace…" in texts and not any(t.startswith("Run ") for t in texts)
    assert not any(re.search(r"\b(sefa|lsd|ganspace)\b", t) for t in texts)
    hidden = inapplicable_options(w.generator)
    assert {"class_index", "include_rgb"} <= hidden, "dcgan-faces has neither classes nor ToRGB layers"
    dlg = DiscoverDialog("ganspace", w.generator.layer_names(), parent=w, hidden=hidden)
    qtbot.addWidget(dlg)
    assert "class_index" not in dlg.fields and "Class" not in dlg.findChildren(type(dlg.intro))[-1].text()
    assert dlg.windowTitle() == "Discover controls — GANSpace"
    dlg.show()
    assert dlg.intro.height() >= dlg.intro.heightForWidth(dlg.intro.width()), "the intro is not clipped"
    assert "1 latent row)" not in w.statusBar().currentMessage()


def test_plural_says_one_row_and_many_rows():
    from app.widgets import plural

    assert (plural(1, "latent row"), plural(14, "latent row")) == ("1 latent row", "14 latent rows")


def test_the_training_plot_follows_the_dark_theme(qtbot):
    from app.style import PLOT_BACKGROUND
    from app.training_view import TrainingPlot

    plot = TrainingPlot()
    qtbot.addWidget(plot)
    assert plot.widget.backgroundBrush().color().name() == PLOT_BACKGROUND


# ---------------------------------------------------------------------- 11. grid tiles
def test_grid_tiles_show_their_seeds_and_a_click_makes_one_current(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.set_seed(10)
    w.set_grid(True, 4)
    wait_frame(qtbot, w)
    assert w.canvas._tiles == ["seed 10", "seed 11", "seed 12", "seed 13"]
    rects = w.canvas._tile_rects()
    target = rects[3].center()
    assert w.canvas.tile_at(target.x(), target.y()) == 3
    qtbot.mouseClick(w.canvas, Qt.MouseButton.LeftButton, pos=target)
    assert w.state.seed == 13 and not w.grid_mode
    wait_frame(qtbot, w)
    assert w.canvas._tiles is None


# ---------------------------------------------------------------------- 12. export size
def test_export_writes_the_chosen_output_size(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.export_size_actions[256].trigger()
    assert w.exports.size == 256
    w.exports.export_png(tmp_path / "big.png")
    wait_jobs(qtbot, w)
    assert cv2.imread(str(tmp_path / "big.png")).shape == (256, 256, 3)
    assert w.state.size is None, "the preview (and the preset) keep their own size"
