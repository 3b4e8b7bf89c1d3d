"""EditState rendering and presets: the same frame from the same recipe, bit for bit."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from editing import preset as presets
from editing.preset import PresetError
from editing.render import render_grid, render_state, state_latents
from editing.state import EditState
from preset_helpers import expect_preset_error


@pytest.fixture
def state(face_controls):
    s = EditState(model="dcgan-faces", seed=7, truncation=0.8).with_controls(face_controls)
    return s.with_value(0, 2.5).with_value(3, -1.0)


def test_render_gives_a_uint8_rgb_frame_at_the_requested_size(faces, state):
    frame = render_state(faces, state)
    assert frame.dtype == np.uint8 and frame.shape == (64, 64, 3)
    big = render_state(faces, replace(state, size=256))
    assert big.shape == (256, 256, 3)


def test_edits_are_applied_after_truncation(faces, state):
    lat = state_latents(faces, state)
    plain = faces.truncate(faces.sample(1, 7), 0.8)
    delta = (lat - plain)[0, 0].numpy()
    expected = 2.5 * state.controls[0].scale * state.controls[0].direction - 1.0 * state.controls[3].scale * state.controls[3].direction
    np.testing.assert_allclose(delta, expected, atol=1e-5)


def test_grid_renders_the_same_edits_on_consecutive_seeds(faces, state):
    grid = render_grid(faces, state, [7, 8, 9])
    assert grid.shape == (3, 64, 64, 3)
    single = render_state(faces, replace(state, seed=8)).astype(int)
    assert np.abs(grid[1].astype(int) - single).max() <= 1  # batch size may move the last bit


def test_preset_reproduces_frame_bit_for_bit(faces, state, tmp_path):
    path = tmp_path / "look.json"
    presets.save(path, state, faces.fingerprint)
    loaded, info = presets.load(path)
    presets.check_against(loaded, faces, info["fingerprint"])
    assert info["name"] == "look" and loaded.values == state.values and loaded.seed == 7
    assert np.array_equal(render_state(faces, loaded), render_state(faces, state))


def test_preset_keeps_layer_ranges_mixing_and_size(faces, state, tmp_path):
    s = replace(state.with_range(1, (0, 1)), size=128, mix_seed=3, mix_range=(0, 1), noise_mode="zero")
    path = tmp_path / "p.json"
    presets.save(path, s, faces.fingerprint)
    loaded, _ = presets.load(path)
    assert (loaded.ranges[1], loaded.size, loaded.mix_seed, loaded.mix_range, loaded.noise_mode) == ((0, 1), 128, 3, (0, 1), "zero")


def test_preset_from_other_weights_is_refused(faces, state, tmp_path):
    path = tmp_path / "p.json"
    presets.save(path, state, "0123456789abcdef")
    loaded, info = presets.load(path)
    with pytest.raises(PresetError, match="weights 0123456789abcdef"):
        presets.check_against(loaded, faces, info["fingerprint"])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d.update(seed="seven"), "'seed' must be an integer"),
        (lambda d: d.update(truncation=float("nan")), "truncation"),
        (lambda d: d["values"].pop(), "'values' must be a list of 12"),
        (lambda d: d["values"].__setitem__(0, "x"), r"values\[0\]"),
        (lambda d: d["ranges"].__setitem__(0, [0, 5]), r"ranges\[0\] 0:5 is outside"),
        (lambda d: d.update(noise_mode="loud"), "noise_mode"),
        (lambda d: d["controls"]["arrays"]["directions"].update(data="!!"), "malformed"),
        (lambda d: d.update(model={}), "model.spec"),
    ],
    ids=["version", "seed", "nan", "values-count", "value-type", "range", "noise", "array", "model"],
)
def test_invalid_presets_name_the_bad_field(faces, state, tmp_path, mutate, message):
    expect_preset_error(faces, state, tmp_path, mutate, message)


def test_preset_that_is_not_json_is_a_clear_error(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(PresetError, match="not valid JSON"):
        presets.load(path)
