"""Autosave and crash restore: written while there are unsaved edits, removed on a clean exit, offered at start."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from gui_helpers import (  # noqa: F401  (fixtures)
    cache_dir,
    direct_render,
    generator,
    make_window,
    small_controls,
    wait_frame,
)

from app import autosave
from editing.state import EditState


def _path() -> Path:
    return autosave.autosave_path()


def test_edits_are_autosaved_atomically_and_a_clean_exit_removes_the_file(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    assert w.doc.autosave_path == _path() and str(_path()).startswith(os.environ["LATENT_STUDIO_DATA"])
    assert w.presets.restore_box is None, "no offer without an autosave"
    assert not w.presets.autosave_now() and not _path().exists(), "nothing unsaved, nothing written"
    w.control_panel.row(0).slider.setValue(25)
    w.history.seal()
    w.image_panel.seedEdited.emit(4)
    assert w.presets.autosave_now() and _path().is_file()
    assert not w.presets.autosave_now(), "unchanged: not written again"
    state, info = autosave.read(_path())
    assert state.seed == 4 and state.values[0] == 2.5
    assert state.controls.names == small_controls.names, "the controls are embedded"
    assert not [p for p in _path().parent.iterdir() if p.name.startswith(".")], "no temporary file left"
    wait_frame(qtbot, w)
    w.close()
    assert not _path().exists()


def test_an_autosave_found_at_start_is_offered_and_restored(qtbot, make_window, small_controls, generator):  # noqa: F811
    edited = replace(EditState(model=generator.name, truncation=0.8), seed=9)
    edited = edited.with_controls(small_controls.renamed(1, "smile")).with_value(1, -3.0)
    _path().parent.mkdir(parents=True, exist_ok=True)
    autosave.write(_path(), edited, generator.fingerprint, "portrait", "", None)
    w = make_window(controls=small_controls)
    box = w.presets.restore_box
    assert box is not None and box.isVisible() and "portrait" in box.text()
    assert not w.presets.autosave_now(), "nothing is overwritten while the offer is open"
    w.presets.restore_button.click()
    qtbot.waitUntil(lambda: w.state.seed == 9)
    assert w.state.values[1] == -3.0 and w.state.truncation == 0.8 and w.state.controls.names[1] == "smile"
    assert w.doc.preset_name == "portrait" and w.dirty and w.windowTitle().startswith("portrait*")
    np.testing.assert_array_equal(wait_frame(qtbot, w), direct_render(w, w.state))
    w.undo()
    assert w.state.seed == 0, "the restore is one undo step"


def test_declining_the_offer_removes_the_autosave(qtbot, make_window, small_controls, generator):  # noqa: F811
    _path().parent.mkdir(parents=True, exist_ok=True)
    autosave.write(_path(), EditState(model=generator.name, seed=5).with_controls(small_controls), generator.fingerprint)
    w = make_window(controls=small_controls)
    before = w.state
    w.presets.discard_button.click()
    assert not _path().exists() and w.state is before


def test_an_unreadable_autosave_is_ignored(qtbot, make_window, small_controls):  # noqa: F811
    _path().parent.mkdir(parents=True, exist_ok=True)
    _path().write_text(json.dumps({"format": "latent-studio.autosave", "version": 1, "preset": {"format": "x"}}))
    w = make_window(controls=small_controls)
    assert w.presets.restore_box is None and not _path().exists()


def test_only_sessions_of_ended_processes_are_offered(qtbot, make_window, small_controls, generator):  # noqa: F811
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    _path().parent.mkdir(parents=True, exist_ok=True)
    live = autosave.autosave_path(1)  # pid 1 is always running: another window's live session
    autosave.write(live, EditState(model=generator.name, seed=1).with_controls(small_controls), generator.fingerprint)
    orphan = autosave.autosave_path(dead_pid)
    autosave.write(orphan, EditState(model=generator.name, seed=6).with_controls(small_controls), generator.fingerprint)
    assert autosave.orphans(_path().parent) == [orphan]
    w = make_window(controls=small_controls)
    assert w.presets.restore_path == orphan
    w.presets.restore_button.click()
    qtbot.waitUntil(lambda: w.state.seed == 6)
    assert not orphan.exists() and live.exists() and _path().exists(), "this window's own file takes over"
    wait_frame(qtbot, w)
    w.close()
    assert live.exists() and not _path().exists()


def test_restoring_a_session_of_another_model_opens_that_model_first(qtbot, make_window, small_controls):  # noqa: F811
    import models
    from methods.controls import random_controls

    sg2 = "tests/data/stylegan2/stylegan2_small_A.pt"
    G = models.load_generator(sg2, "cpu")
    state = EditState(model=G.name, seed=3, mix_seed=8, mix_range=(4, G.num_layers), noise_mode="zero")
    state = state.with_controls(random_controls(G, 2)).with_value(0, 1.5)
    _path().parent.mkdir(parents=True, exist_ok=True)
    autosave.write(_path(), state, G.fingerprint, "styled")
    w = make_window(controls=small_controls)
    assert w.generator.name == models.DEFAULT_MODEL
    w.presets.restore_button.click()
    qtbot.waitUntil(lambda: w.generator.fingerprint == G.fingerprint and w.state.seed == 3, timeout=20_000)
    assert (w.state.mix_seed, w.state.mix_range, w.state.noise_mode, w.state.values) == (8, (4, G.num_layers), "zero", (1.5, 0.0))
    assert w.image_panel.mix_check.isChecked() and w.image_panel.noise_box.currentText() == "zero"
    np.testing.assert_array_equal(wait_frame(qtbot, w), direct_render(w, w.state))


def test_a_sampled_image_is_autosaved_and_restored_with_its_latents(qtbot, make_window, small_controls, generator):  # noqa: F811
    from editing.state import BaseLatents

    lat = BaseLatents(generator.truncate(generator.sample(1, 31), 0.7)[0] + 0.25)  # no seed gives these
    edited = EditState(model=generator.name, seed=3, truncation=0.7, latents=lat).with_controls(small_controls).with_value(0, 1.5)
    _path().parent.mkdir(parents=True, exist_ok=True)
    autosave.write(_path(), edited, generator.fingerprint, "sampled", "", None)
    w = make_window(controls=small_controls)
    assert w.presets.restore_box is not None and "sampled image" in w.presets.restore_box.text()
    w.presets.restore_button.click()
    qtbot.waitUntil(lambda: w.state.latents is not None)
    assert w.state.latents == lat and w.state.values[0] == 1.5
    np.testing.assert_array_equal(wait_frame(qtbot, w), direct_render(w, w.state))
    w.set_value(0, 0.5)
    assert w.presets.autosave_now()
    again, _info = autosave.read(_path())
    assert again.latents == lat and again.values[0] == 0.5
