"""The window: an image dropped on the canvas is projected and becomes the editable current image;
a gallery of labelled thumbnails trains a boundary."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import torch
from gui_helpers import cache_dir, generator, make_window, small_controls, spy_threads, wait_frame, wait_jobs  # noqa: F401
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from editing.render import render_state, to_uint8
from methods.projection import psnr


def drop(w, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    w.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier))


def test_dropped_image_is_projected_with_live_psnr_and_edited_by_every_control(
        qtbot, make_window, small_controls, generator, tmp_path):  # noqa: F811
    from app.projection_dialog import ProjectionDialog

    w = make_window(controls=small_controls)
    with torch.no_grad():
        face = to_uint8(generator.synthesize(generator.sample(1, 21)))[0]
    path = tmp_path / "me.png"
    cv2.imwrite(str(path), face[:, :, ::-1])
    dlg = w.projection_dialog = ProjectionDialog(w)
    dlg.steps_spin.setValue(60)
    before = w.state
    threads = spy_threads(w)
    shown = []
    dlg.previews.preview.connect(lambda s, f, p: shown.append((s, p)))
    drop(w, path)
    assert dlg.job is not None and dlg.isVisible() and not dlg.project_button.isEnabled()
    wait_jobs(qtbot, w, 60_000)
    assert threading.main_thread() not in threads, "the GUI thread never runs the generator"
    assert [s for s, _ in shown] == [10, 20, 30, 40, 50, 60] and "PSNR" in dlg.psnr_label.text()
    res = dlg.result
    assert res.psnr >= 25 and w.state.latents is not None and w.state.controls is before.controls
    frame = wait_frame(qtbot, w)
    assert np.array_equal(frame, render_state(generator, w.state)) and psnr(frame, res.target) >= 25
    w.set_value(0, 2.0)  # a control edits the projected image
    edited = wait_frame(qtbot, w)
    assert w.state.latents is not None and not np.array_equal(edited, frame)
    assert dlg.more_button.isEnabled()
    dlg.steps_spin.setValue(10)
    dlg.more_button.click()  # keep optimising from the result
    wait_jobs(qtbot, w, 60_000)
    assert dlg.result.steps == 70 and dlg.result.psnr >= res.psnr - 0.5
    w.undo()
    w.undo()
    w.undo()
    assert w.state == before


def test_a_file_that_is_not_an_image_is_one_sentence_and_nothing_changes(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    before = w.state
    drop(w, bad)
    assert "holiday.jpg" in w.last_error and w.state == before and w.projection_dialog.job is None


def test_label_gallery_trains_a_direction_from_about_50_clicks(qtbot, make_window, small_controls, generator):  # noqa: F811
    from app.label_gallery import open_label_gallery

    w = make_window(controls=small_controls)
    threads = spy_threads(w)
    dlg = open_label_gallery(w)
    wait_jobs(qtbot, w)
    dlg.more()
    wait_jobs(qtbot, w)
    assert dlg.view.count() == 48 and threading.main_thread() not in threads
    d = np.random.default_rng(4).standard_normal(generator.latent_dim)
    d /= np.linalg.norm(d)
    for i in range(dlg.view.count()):
        item = dlg.view.item(i)
        seed = int(item.data(Qt.ItemDataRole.UserRole))
        z = generator.sample_z(1, seed)[0].numpy()
        clicks = 1 if z @ d > 0 else 2  # has it: one click; doesn't: two
        if i == 0:
            clicks = 3  # skip
        for _ in range(clicks):
            dlg.cycle(item)
    has, hasnt, skip = dlg.counts()
    assert skip == 1 and has + hasnt == 47 and "skip" in dlg.view.item(0).text()
    dlg.name_edit.setText("rule")
    assert dlg.train_button.isEnabled()
    dlg.train_button.click()
    wait_jobs(qtbot, w)
    cs = w.state.controls
    assert cs.method == "boundary" and cs.names == ["rule"] and cs.samples == 47
    assert float(cs[0].direction @ d) > 0.3 and "held-out accuracy" in dlg.status.text()
    w.set_value(0, 2.0)
    wait_frame(qtbot, w)
