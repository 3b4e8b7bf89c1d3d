"""What the StyleGAN3 viewer has and we add (issue 16 §3): seed blends and animation, the
render-time plot with an FPS cap, the layer view, and Help ▸ Guide — on DCGAN and StyleGAN2."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from gui_helpers import cache_dir, direct_render, generator, make_window, small_controls, wait_frame, wait_jobs  # noqa: F401

import models
from editing.render import layer_activations
from editing.seeds import blend_base, fractional_blend, pad_blend
from methods.controls import random_controls

SG2 = "tests/data/stylegan2/stylegan2_small_A.pt"


@pytest.fixture(params=["dcgan-faces", SG2], ids=["dcgan", "stylegan2"])
def window(request, make_window, small_controls):  # noqa: F811
    if request.param == "dcgan-faces":
        return make_window(controls=small_controls)
    G = models.load_generator(SG2, "cpu")
    return make_window(model=SG2, controls=random_controls(G, 2))


def test_a_fractional_seed_previews_then_commits_one_undo_step_with_the_blend(qtbot, window):
    w = window
    w.set_value(0, 1.0)
    steps = len(w.history)
    panel = w.seed_panel
    panel.frac_slider.setSliderDown(True)
    panel.frac_slider.setValue(40)
    wait_frame(qtbot, w)
    assert w.state.latents is None and len(w.history) == steps, "a preview is no undo step"
    panel.frac_slider.setSliderDown(False)
    panel.commit()
    qtbot.waitUntil(lambda: w.state.latents is not None, timeout=10_000)
    G = w.generator.unwrapped
    want = blend_base(G, w.state, fractional_blend(w.state.seed + 0.4))
    assert w.state.latents == want and w.state.values[0] == 1.0
    assert len(w.history) == steps + 1
    assert np.array_equal(wait_frame(qtbot, w), direct_render(w, w.state))
    w.undo()
    assert w.state.latents is None


def test_the_pad_corner_gives_that_corners_seed(qtbot, window):
    w = window
    for sp, s in zip(w.seed_panel.corners, (5, 6, 7, 8)):
        sp.setValue(s)
    w.seed_panel.pad.moved.emit(1.0, 1.0, False)
    qtbot.waitUntil(lambda: w.state.latents is not None, timeout=10_000)
    G = w.generator.unwrapped
    assert pad_blend((5, 6, 7, 8), 1, 1) == ((8, 1.0),)
    torch.testing.assert_close(torch.tensor(w.state.latents.array)[None], G.truncate(G.sample(1, 8), w.state.truncation))


def test_animation_walks_seeds_and_stopping_keeps_the_frame(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    panel = w.seed_panel
    panel.speed.setValue(5.0)
    panel.walk_seeds.setText("0, 3")
    before = w.worker.rendered
    panel.animate.setChecked(True)
    qtbot.waitUntil(lambda: w.worker.rendered >= before + 3, timeout=20_000)
    assert w.seed_blend is not None and len(w.history) == 1
    panel.animate.setChecked(False)
    qtbot.waitUntil(lambda: w.state.latents is not None, timeout=10_000)
    assert w.seed_blend is None and len(w.history) == 2


def test_the_loop_export_writes_the_walk(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.seed_panel.walk_seeds.setText("1, 2, 3")
    w.seed_panel.frames_per_seed.setValue(2)
    w.seed_panel.export_loop(tmp_path / "loop.mp4")
    wait_jobs(qtbot, w)
    assert int(cv2.VideoCapture(str(tmp_path / "loop.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 6


def test_the_layer_view_shows_the_frames_activations_only_while_open(qtbot, window):
    w = window
    view = w.layer_view
    layer = w.generator.layer_names()[2]
    w.layer_view_dock.show()
    view.layer_box.setCurrentText(layer)
    qtbot.waitUntil(lambda: view.acts is not None, timeout=10_000)
    wait_frame(qtbot, w)
    qtbot.waitUntil(lambda: view.stamp >= w.shown_stamp, timeout=10_000)
    want = layer_activations(w.generator.unwrapped, w.state, layer)
    np.testing.assert_allclose(view.acts, want, rtol=1e-5, atol=1e-5)
    c, i, j, v = view.value_at(0.5, 0.5)
    assert (c, i, j) == (0, 0, 0) and v == pytest.approx(float(want[0, 0, 0]), abs=1e-5)
    view.mode_box.setCurrentIndex(1)
    view.channel.setValue(min(1, want.shape[0] - 1))
    assert view.image.pixels.shape == want.shape[1:]
    w.layer_view_dock.hide()
    assert w.worker._probe is None
    seen = view.stamp
    w.set_value(0, 1.5)
    wait_frame(qtbot, w)
    assert view.stamp == seen, "closed, the worker computes no activations"


def test_the_render_time_plot_draws_recent_frames_and_caps_the_rate(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.render_plot_dock.show()
    for v in (0.5, 1.0, 1.5):
        w.set_value(0, v)
        wait_frame(qtbot, w)
    w.render_plot.refresh()
    x, y = w.render_plot.render_curve.getData()
    assert len(x) >= 3 and all(a <= 0 for a in x) and all(b > 0 for b in y)
    w.render_plot.cap.setValue(4)
    assert w.worker._min_interval == pytest.approx(0.25)
    import time

    t0 = time.monotonic()
    for v in (2.0, 2.5, 3.0):
        w.set_value(0, v)
        wait_frame(qtbot, w)
    assert time.monotonic() - t0 >= 0.45, "three frames at 4 fps take at least two intervals"


def test_the_guide_explains_units_layers_methods_and_shortcuts(qtbot, window):
    from app.guide import show_guide

    dlg = show_guide(window)
    qtbot.addWidget(dlg)
    text = dlg.browser.toPlainText()
    assert "σ" in text and "Ctrl+Z" in text and "CVPR 2021" in text and "SeFa" in text
    assert f"has {window.generator.num_layers} rows" in text
    assert window.guide_action.shortcut().toString() == "F1"
