"""Image-panel controls of StyleGAN-like models: noise mode and style mixing (undo, presets, coverage)."""
from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401  (fixtures)
    cache_dir,
    direct_render,
    generator,
    make_window,
    small_controls,
    wait_frame,
)

import models
from methods.controls import random_controls

SG2 = "tests/data/stylegan2/stylegan2_small_A.pt"


@pytest.fixture(scope="module")
def sg2():
    return models.load_generator(SG2, "cpu")


def test_noise_mode_is_offered_for_stylegan_edits_the_state_and_undoes(qtbot, make_window, sg2):  # noqa: F811
    w = make_window(model=SG2, controls=random_controls(sg2, 2))
    p = w.image_panel
    assert p.noise_box.isVisibleTo(w) and p.noise_box.currentText() == "fixed"
    start = w.frame.copy()
    p.noise_box.setCurrentIndex(2)
    p.noise_box.activated.emit(2)
    assert w.state.noise_mode == "zero"
    frame = wait_frame(qtbot, w)
    np.testing.assert_array_equal(frame, direct_render(w, w.state))
    assert not np.array_equal(frame, start)
    w.undo()
    assert w.state.noise_mode == "fixed" and p.noise_box.currentText() == "fixed"
    w.redo()
    assert p.noise_box.currentText() == "zero"
    wait_frame(qtbot, w)


def test_style_mixing_is_off_by_default_shows_coverage_and_round_trips_a_preset(qtbot, make_window, sg2, tmp_path):  # noqa: F811
    w = make_window(model=SG2, controls=random_controls(sg2, 2))
    p = w.image_panel
    assert p.mix_row.isVisibleTo(w)
    assert w.state.mix_seed is None and w.state.mix_range is None and not p.mix_check.isChecked()
    plain = w.frame.copy()
    n = sg2.num_layers
    p.mix_check.setChecked(True)
    assert w.state.mix_seed == 1 and w.state.mix_range == (n // 2, n)
    assert p.mix_coverage.text().startswith(f"rows {n // 2}–{n - 1}: ")
    p.mix_start.setValue(2)
    assert w.state.mix_range == (2, n)
    labels = sg2.describe_layers()
    assert labels[2].split(": ", 1)[1] in p.mix_coverage.text()
    p.mix_seed.setValue(7)
    assert w.state.mix_seed == 7
    mixed = wait_frame(qtbot, w)
    np.testing.assert_array_equal(mixed, direct_render(w, w.state))
    assert not np.array_equal(mixed, plain)
    p.mix_end.setValue(2)  # end before start pulls the start back
    assert w.state.mix_range == (1, 2)
    w.undo()
    assert w.state.mix_range == (2, n) and (p.mix_start.value(), p.mix_end.value()) == (2, n)

    path = tmp_path / "mix.json"
    assert w.presets.save_preset_to(path)
    saved = w.state
    p.mix_check.setChecked(False)
    assert w.state.mix_seed is None and not p.mix_seed.isEnabled()
    assert w.presets.load_preset(path)
    assert (w.state.mix_seed, w.state.mix_range, w.state.noise_mode) == (saved.mix_seed, saved.mix_range, "fixed")
    assert p.mix_check.isChecked() and p.mix_seed.value() == 7
    np.testing.assert_array_equal(wait_frame(qtbot, w), mixed)


def test_single_row_models_hide_noise_and_mixing(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    p = w.image_panel
    assert not p.noise_box.isVisibleTo(w)
    assert p.mix_row.isVisibleTo(w) == (w.generator.num_layers > 1)
    assert not p.class_mix_row.isVisibleTo(w)


def test_fast_preview_toggle_reaches_the_worker_persists_and_announces_its_precision(
    qtbot, make_window, sg2, monkeypatch  # noqa: F811
):
    from models.stylegan2 import StyleGAN2Generator

    # pretend the CPU is a device with a fast path, so the window takes it as on a GPU
    monkeypatch.setattr(StyleGAN2Generator, "fast_path_devices", ("cpu", "cuda"))
    w = make_window(model=SG2, controls=random_controls(sg2, 2))
    assert w.fast_action.isChecked() and w.worker.fast_preview
    assert w.generator.unwrapped.fast_info["device"] == "cpu"  # the preview went through it
    messages = []
    w.worker.notice.connect(messages.append)
    exact = direct_render(w, w.state)
    assert np.abs(w.frame.astype(int) - exact.astype(int)).max() <= 1
    w.fast_action.setChecked(False)
    assert not w.worker.fast_preview and w.settings.get_bool("view/fast_preview", True) is False
    np.testing.assert_array_equal(wait_frame(qtbot, w), exact)  # the exact path again
    w.set_fast_preview(True)
    assert w.fast_action.isChecked()
    wait_frame(qtbot, w)
    assert messages == []  # announced once per fast path, when it was built (before we listened)
    w.generator.unwrapped.release_fast_path()
    w.request_render()
    wait_frame(qtbot, w)
    qtbot.waitUntil(lambda: len(messages) == 1)
    assert messages[0].startswith("Fast preview on cpu: float32") and "exports use the exact path" in messages[0]
