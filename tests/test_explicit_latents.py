"""An `EditState` whose base is explicit latents (a Semantics result): rendering, presets, autosave."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from app import autosave
from editing import preset as presets
from editing.preset import PresetError
from editing.render import render_grid, render_state, state_latents
from editing.state import BaseLatents, EditState
from preset_helpers import expect_preset_error

ROOT = Path(__file__).resolve().parent.parent
PSI = 0.8


def truncated(G, seed: int, psi: float = PSI) -> torch.Tensor:
    """The seed's per-layer latents after truncation, ``[L, D]``."""
    with torch.no_grad():
        return G.truncate(G.sample(1, seed), psi)[0]


@pytest.fixture
def explicit(faces, face_controls) -> EditState:
    """Seed 0's state, but its base is seed 7's truncated latents."""
    base = EditState(model="dcgan-faces", seed=0, truncation=PSI).with_controls(face_controls)
    return replace(base, latents=BaseLatents(truncated(faces, 7)))


def test_state_with_explicit_latents_renders_them_and_applies_controls(faces, face_controls, explicit):
    seed7 = replace(explicit, seed=7, latents=None)
    assert np.array_equal(render_state(faces, explicit), render_state(faces, seed7))
    edited, edited7 = explicit.with_value(0, 3.0), seed7.with_value(0, 3.0)
    frame = render_state(faces, edited)
    assert not np.array_equal(frame, render_state(faces, explicit)), "a control moves the explicit image"
    assert np.array_equal(frame, render_state(faces, edited7))
    assert torch.equal(state_latents(faces, edited), state_latents(faces, edited7))


def test_explicit_latents_ignore_seed_mixing_and_truncation_but_not_a_grid(faces, explicit):
    frame = render_state(faces, explicit)
    other = replace(explicit, seed=3, truncation=0.5, mix_seed=9, mix_range=(0, 1))
    assert np.array_equal(render_state(faces, other), frame)
    grid = render_grid(faces, explicit, [0, 1])
    plain = render_grid(faces, replace(explicit, latents=None), [0, 1])
    assert np.array_equal(grid, plain), "a grid shows seeds"


def test_explicit_latents_of_the_wrong_shape_are_a_clear_error(faces, explicit):
    wrong = replace(explicit, latents=BaseLatents(np.zeros((2, faces.latent_dim), np.float32)))
    with pytest.raises(ValueError, match=r"shape \[2, 100\] but .* needs \[1, 100\]"):
        render_state(faces, wrong)


def test_states_with_equal_latents_are_equal_and_hash_alike(faces, explicit):
    again = replace(explicit, latents=BaseLatents(truncated(faces, 7).numpy().copy()))
    assert again == explicit and hash(again) == hash(explicit)
    assert again.latents is not explicit.latents
    different = replace(explicit, latents=BaseLatents(truncated(faces, 8)))
    assert different != explicit and different.latents != explicit.latents
    assert replace(explicit, latents=None) != explicit
    one_bit = truncated(faces, 7).numpy().copy()
    one_bit.view(np.uint32)[0, 0] ^= 1
    assert BaseLatents(one_bit) != explicit.latents
    assert len({explicit, again, different}) == 2


def test_base_latents_are_a_read_only_float32_copy():
    source = np.arange(6, dtype=np.float64).reshape(2, 3)
    lat = BaseLatents(source)
    assert lat.array.dtype == np.float32 and lat.shape == (2, 3) and not lat.array.flags.writeable
    source[0, 0] = 99
    assert lat.array[0, 0] == 0
    assert BaseLatents(torch.ones(1, 2, 3)).shape == (2, 3)
    with pytest.raises(AttributeError):
        lat.digest = "x"  # type: ignore[misc]
    for bad in (np.zeros(3), np.full((2, 3), np.nan)):
        with pytest.raises(ValueError):
            BaseLatents(bad)


def test_preset_with_explicit_latents_reproduces_frame_bit_for_bit(faces, explicit, tmp_path):
    state = explicit.with_value(1, -2.0)
    path = tmp_path / "sampled.json"
    presets.save(path, state, faces.fingerprint)
    data = json.loads(path.read_text())
    assert data["latents"]["shape"] == [1, 100] and data["latents"]["dtype"] == "float32"
    loaded, info = presets.load(path)
    presets.check_against(loaded, faces, info["fingerprint"])
    assert loaded.latents == state.latents and np.array_equal(loaded.latents.array, state.latents.array)
    expected = render_state(faces, state)
    assert np.array_equal(render_state(faces, loaded), expected)

    out = tmp_path / "cli.png"
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "render", "--preset", str(path), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    import cv2

    assert np.array_equal(cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB), expected), "the CLI draws the same frame"


def test_preset_without_latents_key_loads_as_a_seed_image(faces, explicit, tmp_path):
    path = tmp_path / "old.json"
    presets.save(path, replace(explicit, latents=None), faces.fingerprint)
    data = json.loads(path.read_text())
    assert data["latents"] is None
    del data["latents"]  # written before explicit latents existed
    path.write_text(json.dumps(data))
    loaded, _ = presets.load(path)
    assert loaded.latents is None and loaded.seed == 0


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(values.astype("<f4").tobytes()).decode("ascii")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(latents="abc"), "'latents' must be null or an object"),
        (lambda d: d["latents"].update(data="!!not base64"), "'latents' is malformed"),
        (lambda d: d["latents"].update(data=d["latents"]["data"][:-8]), "'latents' is malformed"),
        (lambda d: d["latents"].pop("shape"), "'latents' is malformed"),
        (lambda d: d["latents"].update(shape=[100]), r"'latents' must have shape \[layers, latent size\], not \[100\]"),
        (lambda d: d["latents"].update(shape=[2, 50]), "'latents' has latent size 50"),
        (lambda d: d["latents"].update(dtype="int32"), "'latents' must hold float32"),
        (lambda d: d["latents"].update(data=_b64(np.full(100, np.nan))), "'latents' holds non-finite"),
        (lambda d: d["latents"].update(data=_b64(np.r_[np.inf, np.zeros(99)])), "'latents' holds non-finite"),
    ],
    ids=["not-object", "base64", "short", "no-shape", "1-d", "latent-size", "dtype", "nan", "inf"],
)
def test_corrupt_latents_in_a_preset_name_the_field(faces, explicit, tmp_path, mutate, message):
    expect_preset_error(faces, explicit, tmp_path, mutate, message)


def test_preset_latents_for_another_model_shape_are_refused_on_check(faces, tmp_path):
    state = EditState(model="dcgan-faces", latents=BaseLatents(np.zeros((3, 100), np.float32)))
    path = tmp_path / "p.json"
    presets.save(path, state, faces.fingerprint)
    loaded, info = presets.load(path)  # no controls: the model decides
    with pytest.raises(PresetError, match=r"'latents' has shape \[3, 100\]"):
        presets.check_against(loaded, faces, info["fingerprint"])


def test_autosave_round_trips_explicit_latents(faces, explicit, tmp_path):
    state = explicit.with_value(2, 1.5)
    path = tmp_path / "autosave-1.json"
    autosave.write(path, state, faces.fingerprint, "sampled")
    restored, info = autosave.read(path)
    assert restored.latents == state.latents and restored.values == state.values and info["name"] == "sampled"
    assert np.array_equal(render_state(faces, restored), render_state(faces, state))


def test_cli_seed_replaces_a_presets_latents_and_truncation_is_refused(faces, explicit, tmp_path):
    from cli.commands import run

    path = tmp_path / "p.json"
    presets.save(path, explicit, faces.fingerprint)
    out = tmp_path / "seed.png"
    assert run(["render", "--preset", str(path), "--seed", "7", "--out", str(out), "--save-preset", str(tmp_path / "s.json")]) == 0
    saved, _ = presets.load(tmp_path / "s.json")
    assert saved.latents is None and saved.seed == 7
    assert run(["render", "--preset", str(path), "--truncation", "0.5", "--out", str(out)]) == 2
