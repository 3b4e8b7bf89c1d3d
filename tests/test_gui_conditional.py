"""Conditional models in the window: class mix, and the offer to recompute controls for a new class."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import cache_dir, direct_render, make_window, wait_frame, wait_jobs  # noqa: F401  (fixtures)

from methods.registry import METHODS

pytest.importorskip("pytorch_pretrained_biggan")

#: latent-mode GANSpace: fast on a 2-core CPU, and its config records the class like any other
TINY = dict(layer="latent", samples=100, components=3, regression_samples=100, stdev_samples=100, batch=50)


@pytest.fixture(scope="module")
def biggan_folder(tmp_path_factory) -> str:
    from test_biggan import make_oracle, save

    return str(save(make_oracle(), Path(tmp_path_factory.mktemp("biggan")) / "biggan-tiny"))


def _window(make_window, folder):  # noqa: F811
    return make_window(model=folder, controls=None, discovery=("ganspace", METHODS["ganspace"].make_config(**TINY)))


def test_class_mix_edits_the_state_renders_and_undoes(qtbot, make_window, biggan_folder, tmp_path):  # noqa: F811
    w = _window(make_window, biggan_folder)
    p = w.image_panel
    assert p.class_mix_row.isVisibleTo(w) and not p.class_mix_check.isChecked()
    assert not p.noise_box.isVisibleTo(w)
    plain = w.frame.copy()
    p.class_mix_box.setCurrentIndex(3)
    p.class_mix_check.setChecked(True)
    assert w.state.class_mix == (3, 0.5)
    slider = p.class_mix_slider
    slider.setSliderDown(True)
    for v in (60, 70, 80):
        slider.setValue(v)
    slider.setSliderDown(False)
    assert w.state.class_mix == (3, pytest.approx(0.8))
    assert len(w.history) == 3, "switching on is one step, the drag another"
    mixed = wait_frame(qtbot, w)
    np.testing.assert_array_equal(mixed, direct_render(w, w.state))
    assert not np.array_equal(mixed, plain)
    w.undo()
    assert w.state.class_mix == (3, 0.5) and slider.value() == 50
    w.redo()
    path = tmp_path / "cm.json"
    assert w.presets.save_preset_to(path)
    p.class_mix_check.setChecked(False)
    assert w.state.class_mix is None and not slider.isEnabled()
    assert w.presets.load_preset(path)
    assert w.state.class_mix == (3, pytest.approx(0.8)) and p.class_mix_check.isChecked()
    wait_frame(qtbot, w)


def test_changing_class_offers_to_recompute_the_controls_in_the_background(qtbot, make_window, biggan_folder):  # noqa: F811
    w = _window(make_window, biggan_folder)
    default = w.generator.default_class
    assert w.discovery.controls_class() == default and not w.class_bar.isVisibleTo(w)
    w.image_panel.classEdited.emit(5)
    assert w.state.class_index == 5
    assert w.class_bar.isVisibleTo(w), "the controls were computed for another class"
    assert w.class_bar.button.text().startswith("Recompute for 5: ")
    assert str(default) in w.class_bar.label.text()
    w.class_bar.button.click()
    assert w.discovery.class_job is not None and not w.class_bar.button.isEnabled()
    wait_jobs(qtbot, w)
    qtbot.waitUntil(lambda: w.state.controls.config["class_index"] == 5)
    cs = w.state.controls
    assert {k: cs.config[k] for k in TINY} == TINY, "the same settings, another class"
    assert not w.class_bar.isVisibleTo(w) and w.state.class_index == 5
    # another class, dismissed: no offer for that pair again
    w.image_panel.classEdited.emit(6)
    assert w.class_bar.isVisibleTo(w)
    w.class_bar.dismiss()
    assert not w.class_bar.isVisibleTo(w)
    w.image_panel.seedEdited.emit(3)
    assert not w.class_bar.isVisibleTo(w)
    wait_frame(qtbot, w)
