"""A Semantics result (SCS sample or SIE edit) made the window's current image: explicit latents in the EditState."""
from __future__ import annotations

import threading

import numpy as np
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

from editing.render import render_state
from editing.state import BaseLatents, EditState
from methods.semantics import SIEConfig


def test_semantics_result_used_as_current_image_is_undoable_and_a_seed_clears_it(
        qtbot, make_window, small_controls, tiny_extractor, generator):  # noqa: F811
    w = make_window(controls=small_controls)
    w.semantics.set_extractor(tiny_extractor)
    wait_frame(qtbot, w)
    dlg = sample_painted_blob(qtbot, w)
    S = w.generator.resolution
    lat, _frames, _labels, made_with = dlg.sample_result
    threads = spy_threads(w)

    w.set_value(0, 2.0)
    wait_frame(qtbot, w)
    before = w.state
    assert not dlg.sample_current.isEnabled(), "nothing is selected yet"
    dlg.sample_view.setCurrentRow(1)
    assert dlg.sample_current.isEnabled()
    dlg.sample_current.click()
    state = w.state
    assert state.latents == BaseLatents(lat[1]) and state.values == (0.0,) * len(before.values)
    assert state.truncation == made_with.truncation and state.controls is before.controls
    frame = wait_frame(qtbot, w)
    direct = render_state(generator, EditState(model=generator.name, truncation=made_with.truncation,
                                               latents=BaseLatents(lat[1].numpy())))
    assert np.array_equal(frame, direct), "the window draws the sample's latents"
    panel = w.image_panel
    assert panel.base_label.isVisibleTo(panel) and not panel.psi_spin.isEnabled() and not panel.mix_check.isEnabled()
    assert "sampled image" in w.state.describe_base()

    w.set_value(0, 2.0)  # the sliders edit the sampled image
    edited = wait_frame(qtbot, w)
    assert w.state.latents == state.latents and not np.array_equal(edited, frame)
    assert np.array_equal(edited, render_state(generator, w.state))

    w.undo()
    w.undo()
    assert w.state == before and w.state.latents is None
    assert np.array_equal(wait_frame(qtbot, w), render_state(generator, before))
    assert not panel.base_label.isVisibleTo(panel) and panel.psi_spin.isEnabled()
    w.redo()
    assert w.state == state
    wait_frame(qtbot, w)

    panel.step_seed(1)  # the next seed replaces the sampled image
    assert w.state.latents is None and w.state.seed == before.seed + 1
    assert not panel.base_label.isVisibleTo(panel) and panel.psi_spin.isEnabled()
    wait_frame(qtbot, w)

    w.set_grid(True)
    dlg.sample_view.itemDoubleClicked.emit(dlg.sample_view.item(0))  # double-click: use it (leaves the grid)
    assert not w.grid_mode and w.state.latents == BaseLatents(lat[0])
    wait_frame(qtbot, w)
    seed = w.state.seed
    panel.seed.editingFinished.emit()  # Enter on the number shown also goes back to that seed
    assert w.state.latents is None and w.state.seed == seed
    wait_frame(qtbot, w)

    # SIE from the sampled image, then its result becomes the current image too
    dlg.sample_view.itemDoubleClicked.emit(dlg.sample_view.item(1))
    wait_frame(qtbot, w)
    assert dlg.use_current_image() and "sampled image" in dlg.source_label.text()
    assert dlg.start_from_prediction()
    dlg.view.current = 2
    dlg.view.stroke([(S // 2, S // 4)])
    assert not dlg.edit_current.isEnabled()
    dlg.edit(SIEConfig(n_iter=2))
    wait_jobs(qtbot, w)
    assert dlg.edit_result is not None and dlg.edit_current.isEnabled(), dlg.edit_status.text()
    dlg.edit_current.click()
    edited_lat = dlg.edit_result[0][0]
    assert w.state.latents == BaseLatents(edited_lat) and w.state.latents != BaseLatents(lat[1])
    assert np.array_equal(wait_frame(qtbot, w), render_state(generator, w.state))
    assert threading.main_thread() not in threads, "the GUI thread never runs the generator"
