"""Linear semantics in the window: overlay, paint + training set, train job, SCS/SIE jobs (dcgan-faces)."""
from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import torch
from gui_helpers import (  # noqa: F401  (fixtures)
    cache_dir,
    generator,
    make_window,
    sample_painted_blob,
    small_controls,
    spy_threads,
    tiny_extractor,
    wait_frame,
    wait_jobs,
)
from PyQt6.QtCore import QPoint, Qt

from editing.render import state_latents
from methods.semantics import IGNORE, SIEConfig, read_mask_folder
from methods.semantics.proxy import PROXY_CLASSES, PROXY_COLORS, proxy_masks

def expected_labels(G, ext, state) -> np.ndarray:
    """``ext.predict`` of the state's latents on the tests' own copy of the model (not the window's)."""
    with torch.no_grad():
        return ext.predict(G, state_latents(G, state))[0].numpy().astype(np.uint8)


def test_overlay_shows_the_extractors_labels_of_every_frame(qtbot, make_window, small_controls, tiny_extractor, generator):  # noqa: F811
    w = make_window(controls=small_controls)
    threads = spy_threads(w)
    dlg = w.semantics.open_semantics_dialog()
    w.semantics.set_extractor(tiny_extractor)
    wait_frame(qtbot, w)
    assert w.semantics.labels is not None and w.semantics.overlay_on and dlg.legend.count() == 3
    assert np.array_equal(w.semantics.labels, expected_labels(generator, tiny_extractor, w.state))
    assert (w.semantics.labels > 0).any(), "the tiny extractor finds some skin or dark pixels"
    shown = w.canvas.frame
    assert not np.array_equal(shown, w.frame), "the overlay is blended over the frame"
    w.set_value(0, 2.0)
    w.commit(replace(w.state, seed=7))
    wait_frame(qtbot, w)
    assert np.array_equal(w.semantics.labels, expected_labels(generator, tiny_extractor, w.state)), "labels follow the edited state"
    dlg.opacity.setValue(0)
    assert np.array_equal(w.canvas.frame, w.frame)
    dlg.overlay_check.setChecked(False)
    assert not w.semantics.overlay_on and not w.overlay_action.isChecked()
    assert threading.main_thread() not in threads, "labels are computed on the render thread"
    w.set_grid(True)
    wait_frame(qtbot, w)
    assert w.semantics.labels is None


def test_paint_and_add_to_training_set_writes_a_mask_folder(qtbot, make_window, small_controls, tiny_extractor, generator, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    threads = spy_threads(w)
    dlg = w.semantics.open_semantics_dialog()
    dlg.set_classes(["background", "skin"])
    dlg.add_class("hair")
    dlg.rename_class(2, "dark")
    assert dlg.classes == ["background", "skin", "dark"]
    assert dlg.use_current_image()
    S = w.generator.resolution
    view = dlg.view
    assert view.mask.shape == (S, S) and not view.painted()
    view.current, view.brush = 1, 3
    view.stroke([(10, 10), (30, 10)])
    assert view.mask[10, 20] == 1 and view.mask[40, 40] == IGNORE
    # a real mouse stroke lands on the model pixel under the cursor
    r = view.image_rect()
    px = lambda x, y: QPoint(int(r.x() + (x + 0.5) * r.width() / S), int(r.y() + (y + 0.5) * r.height() / S))  # noqa: E731
    view.current = 2
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=px(50, 50))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=px(50, 50))
    assert view.mask[50, 50] == 2
    dlg.set_tool("eraser")
    view.stroke([(10, 10)])
    assert view.mask[10, 10] == IGNORE and view.mask[10, 25] == 1
    view.undo()
    assert view.mask[10, 10] == 1
    dlg.set_tool("fill")
    view.current = 0
    view.stroke([(60, 60)])
    assert view.mask[60, 60] == 0 and view.mask[10, 20] == 1
    folder = tmp_path / "masks"
    dlg.folder_edit.setText(str(folder))
    dlg.add_to_training_set()
    wait_jobs(qtbot, w)
    # an edited image is stored by its latents
    w.set_value(0, 2.0)
    wait_frame(qtbot, w)
    assert dlg.use_current_image()
    view.tool, view.current = "brush", 2
    view.stroke([(5, 5)])
    dlg.add_to_training_set()
    wait_jobs(qtbot, w)
    assert dlg.added == 2, dlg.paint_status.text()
    mf = read_mask_folder(folder, w.generator.unwrapped)
    assert mf.classes == ["background", "skin", "dark"]
    assert mf.items[0].seed == w.state.seed and mf.items[1].latents is not None
    assert mf.items[0].mask[10, 20] == 1 and mf.items[0].mask.shape == (S, S)
    want = state_latents(generator, w.state)[0].numpy()
    np.testing.assert_allclose(mf.items[1].latents, want, rtol=1e-6)
    # "Start from prediction" fills the mask with the overlay's labels
    w.semantics.set_extractor(tiny_extractor)
    wait_frame(qtbot, w)
    assert dlg.start_from_prediction()
    assert np.array_equal(view.mask, w.semantics.labels)
    assert threading.main_thread() not in threads


def test_train_job_sets_the_extractor_and_cancel_writes_nothing(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    from methods.semantics import append_mask

    w = make_window(controls=small_controls)
    G = w.generator
    folder = tmp_path / "masks"
    with G.lock:
        lat = torch.cat([G.unwrapped.sample(1, s) for s in (1, 2, 3)])
        masks = proxy_masks(G.unwrapped, G.unwrapped.truncate(lat, G.default_truncation))
    for s, m in zip((1, 2, 3), masks):
        append_mask(folder, m, PROXY_CLASSES, seed=s, colors=PROXY_COLORS)
    dlg = w.semantics.open_semantics_dialog()
    dlg.folder_edit.setText(str(folder))
    out = tmp_path / "ext.pt"
    job = dlg.train(kind="lse", epochs=2, steps=2, save_to=out)
    wait_jobs(qtbot, w)
    assert job is not None and w.semantics.extractor is not None, dlg.train_status.text()
    assert out.is_file() and w.semantics.extractor.classes == PROXY_CLASSES
    wait_frame(qtbot, w)
    assert w.semantics.labels is not None and dlg.sample_button.isEnabled()
    saved = tmp_path / "saved.pt"
    assert w.semantics.save_extractor(saved)
    w.semantics.set_extractor(None)
    assert not dlg.sample_button.isEnabled() and not dlg.overlay_check.isEnabled()
    assert w.semantics.load_extractor(saved) and w.semantics.extractor.kind == "lse" and dlg.legend.count() == 3

    first = w.semantics.extractor
    out2 = tmp_path / "cancelled.pt"
    job = dlg.train(kind="nse1", epochs=400, steps=50, save_to=out2)
    assert dlg.train_cancel.isEnabled()
    dlg.train_cancel.click()
    wait_jobs(qtbot, w)
    assert not out2.exists() and w.semantics.extractor is first
    assert "cancelled" in dlg.train_status.text() and dlg.train_button.isEnabled()


def test_sample_and_edit_jobs_run_off_the_gui_thread(qtbot, make_window, small_controls, tiny_extractor, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.semantics.set_extractor(tiny_extractor)
    wait_frame(qtbot, w)
    threads = spy_threads(w)
    dlg = sample_painted_blob(qtbot, w)
    S = w.generator.resolution
    lat, frames, labels, _state = dlg.sample_result
    assert lat.shape[0] == 2 and frames.shape[0] == 2 and labels.shape == (2, S, S) and dlg.sample_view.count() == 2
    assert len(dlg.save_results("sample", tmp_path / "out")) == 2
    assert (tmp_path / "out" / "sample_001_latents.npy").is_file()
    # clicking a sample paints on it (test_gui_semantics_current_image: making it the window's image)
    dlg.sample_view.itemClicked.emit(dlg.sample_view.item(1))
    assert dlg.source == "result" and np.array_equal(dlg.view.base, frames[1])
    assert dlg.start_from_prediction() and np.array_equal(dlg.view.mask, labels[1])
    dlg.add_to_training_set(tmp_path / "masks")
    wait_jobs(qtbot, w)
    item = read_mask_folder(tmp_path / "masks", w.generator.unwrapped).items[0]
    np.testing.assert_array_equal(item.latents, lat[1].numpy())

    assert dlg.use_current_image() and dlg.start_from_prediction() and np.array_equal(dlg.view.mask, w.semantics.labels)
    dlg.view.current = 2
    dlg.view.stroke([(S // 2, S // 4)])
    previews = []
    dlg._bridge.preview.connect(lambda f, it: previews.append(it))
    dlg.edit(SIEConfig(n_iter=4, preview_every=2))
    wait_jobs(qtbot, w)
    assert dlg.edit_result is not None, dlg.edit_status.text()
    assert previews and not dlg.edit_view.pixmap().isNull() and "agreement" in dlg.edit_status.text()
    assert dlg.edit_use.isEnabled() and dlg.use_result("edit", 0) and dlg.start_from_prediction()
    dlg.view.stroke([(S // 2, S // 2)])
    dlg.edit(SIEConfig(n_iter=2))  # and the result can be edited again
    wait_jobs(qtbot, w)
    assert "agreement" in dlg.edit_status.text()
    assert threading.main_thread() not in threads, "SCS/SIE never touch the generator on the GUI thread"
    assert len(threads) > 4
