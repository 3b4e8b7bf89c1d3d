"""NVIDIA snapshots in the window: a StyleGAN3's translate/rotate row, a conditional SG2-ADA's class picker."""
from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import cache_dir, direct_render, make_window, wait_frame  # noqa: F401  (fixtures)

from tests.nvidia_helpers import load_extract, write_snapshot


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snapshots")
    return {name: str(write_snapshot(folder / f"{name}.pkl", load_extract(name))) for name in ("sg3t_32", "sg2ada_cond_32")}


@pytest.mark.slow
def test_stylegan3_view_controls_edit_render_undo_and_survive_a_preset(qtbot, make_window, snapshots, tmp_path):  # noqa: F811
    w = make_window(model=snapshots["sg3t_32"], controls=None)
    p = w.image_panel
    assert p.transform_row.isVisibleTo(w) and not p.noise_box.isVisibleTo(w)
    plain = w.frame.copy()
    p.tx_spin.setValue(0.125)
    assert w.state.translate == (0.125, 0.0)
    slider = p.rotate_slider
    slider.setSliderDown(True)
    for ticks in (10, 20, 30):
        slider.setValue(ticks)
    slider.setSliderDown(False)
    assert w.state.rotate == pytest.approx(15.0) and p.rotate_spin.value() == pytest.approx(15.0)
    assert len(w.history) == 3, "the start, then the translation one step and the rotation drag another"
    moved = wait_frame(qtbot, w)
    np.testing.assert_array_equal(moved, direct_render(w, w.state))
    assert not np.array_equal(moved, plain)
    path = tmp_path / "view.json"
    assert w.presets.save_preset_to(path)
    w.undo()
    assert w.state.rotate == 0.0 and slider.value() == 0
    p.transform_reset.click()
    assert not w.state.transformed
    assert w.presets.load_preset(path)
    assert w.state.translate == (0.125, 0.0) and w.state.rotate == pytest.approx(15.0)
    np.testing.assert_array_equal(wait_frame(qtbot, w), moved)


def test_conditional_snapshot_shows_the_class_picker_and_renders_the_class(qtbot, make_window, snapshots):  # noqa: F811
    w = make_window(model=snapshots["sg2ada_cond_32"], controls=None)
    p = w.image_panel
    assert p.class_box.isVisibleTo(w) and p.class_box.count() == 5 and not p.transform_row.isVisibleTo(w)
    first = w.frame.copy()
    p.class_box.setCurrentIndex(3)
    p.class_box.activated.emit(3)
    assert w.state.class_index == 3
    frame = wait_frame(qtbot, w)
    np.testing.assert_array_equal(frame, direct_render(w, w.state))
    assert not np.array_equal(frame, first)
