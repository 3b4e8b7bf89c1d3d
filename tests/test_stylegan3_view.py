"""StyleGAN3's view transform as a user control: EditState, presets, video sweeps, CLI."""
from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from cli.commands import run
from editing import preset as presets
from editing.export import export_view_video, read_png, view_state, view_sweep_frames
from editing.preset import PresetError
from editing.render import render_state
from editing.state import EditState
from models.frames import to_uint8
from tests.nvidia_helpers import load_extract, write_snapshot

#: NVIDIA's viewer case of the fixture: 0.03 turns and (0.125, -0.0625)
ROTATE, TRANSLATE = 0.03 * 360, (0.125, -0.0625)


@pytest.fixture(scope="module")
def sg3_file(tmp_path_factory):
    return write_snapshot(tmp_path_factory.mktemp("sg3") / "network-snapshot-000100.pkl", load_extract("sg3t_32"))


@pytest.fixture(scope="module")
def G(sg3_file):
    import models

    return models.load_generator(sg3_file)


def test_transformed_frame_matches_nvidias_viewer(G):
    ref = load_extract("sg3t_32")["reference"]
    state = EditState(model=G.name, seed=0, truncation=1.0, translate=TRANSLATE, rotate=ROTATE)
    frame = render_state(G, state)
    want = to_uint8(ref["img_transform"][:1], "nvidia")[0]
    assert np.abs(frame.astype(int) - want.astype(int)).max() <= 1
    plain = render_state(G, replace(state, translate=(0.0, 0.0), rotate=0.0))
    assert np.abs(plain.astype(int) - to_uint8(ref["img"][:1], "nvidia")[0].astype(int)).max() <= 1
    assert not np.array_equal(frame, plain)


def test_preset_reproduces_a_transformed_frame_bit_for_bit(G, tmp_path):
    state = EditState(model=G.name, seed=3, truncation=0.7, translate=(0.3, -0.2), rotate=-25.0)
    path = tmp_path / "view.json"
    presets.save(path, state, G.fingerprint)
    data = json.loads(path.read_text())
    assert data["translate"] == [0.3, -0.2] and data["rotate"] == -25.0
    loaded, info = presets.load(path)
    presets.check_against(loaded, G, info["fingerprint"])
    assert loaded == state
    assert np.array_equal(render_state(G, loaded), render_state(G, state))


def test_presets_without_a_view_read_as_the_identity_and_bad_views_are_refused(G, tmp_path):
    obj = presets.to_json(EditState(model=G.name), G.fingerprint)
    del obj["translate"], obj["rotate"]
    state, _ = presets.from_json(obj)
    assert state.translate == (0.0, 0.0) and state.rotate == 0.0 and not state.transformed
    for bad, match in (({"translate": [1.0]}, "two numbers"), ({"rotate": "x"}, "finite number"),
                       ({"translate": [1e9, 0.0]}, "from -1000 to 1000")):
        with pytest.raises(PresetError, match=match):
            presets.from_json({**obj, **bad})


def test_view_on_a_model_without_one_is_refused(tmp_path):
    from models.nvidia import generator_from_weights

    ex = load_extract("sg2ada_32")
    G2 = generator_from_weights(ex["init_kwargs"], ex["state_dict"])
    with pytest.raises(PresetError, match="only a StyleGAN3"):
        presets.check_against(EditState(model="m", rotate=5.0), G2, "")
    with pytest.raises(ValueError, match="not a StyleGAN3"):
        render_state(G2, EditState(model="m", rotate=5.0))


def test_view_sweep_moves_only_the_view(G, tmp_path):
    state = EditState(model=G.name, seed=1, truncation=0.7)
    frames = list(view_sweep_frames(G, state, "rotate", [0.0, 90.0]))
    assert np.array_equal(frames[0], render_state(G, state))
    assert np.array_equal(frames[1], render_state(G, view_state(state, "rotate", 90.0)))
    out = tmp_path / "turn.mp4"
    assert export_view_video(G, state, "rotate", 0.0, 360.0, 4, 10.0, out) == 4
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4


def test_cli_renders_and_saves_a_transformed_preset(sg3_file, tmp_path, capsys):
    a, b, p = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "p.json"
    assert run(["render", "--model", str(sg3_file), "--seed", "2", "--translate", "0.1", "0.05", "--rotate", "15",
                "--device", "cpu", "--out", str(a), "--save-preset", str(p)]) == 0
    assert run(["render", "--preset", str(p), "--device", "cpu", "--out", str(b)]) == 0
    assert np.array_equal(read_png(a), read_png(b))
    assert json.loads(p.read_text())["rotate"] == 15.0
    v = tmp_path / "v.mp4"
    assert run(["export", "--model", str(sg3_file), "--view", "translate-x", "--frames", "3", "--quiet",
                "--device", "cpu", "--out", str(v)]) == 0 and v.is_file()


def test_cli_view_options_on_other_models_are_one_line_errors(tmp_path, capsys):
    ex = load_extract("sg2ada_32")
    path = write_snapshot(tmp_path / "sg2.pkl", ex)
    out = tmp_path / "x.png"
    assert run(["render", "--model", str(path), "--rotate", "10", "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a StyleGAN3" in err and "\n" not in err and not out.exists()
    assert run(["export", "--model", str(path), "--device", "cpu", "--out", str(tmp_path / "v.mp4")]) == 2
    assert "--control" in capsys.readouterr().err
