"""Files through the window: presets, controls, checkpoints, exports — and the errors they can raise."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401  (fixtures)
    cache_dir,
    direct_render,
    generator,
    make_window,
    small_config,
    small_controls,
    wait_frame,
    wait_jobs,
)
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent
from PyQt6.QtWidgets import QMessageBox

import main as main_entry
from app.discover_dialog import DiscoverDialog
from app.export_dialog import SweepRequest
from editing import preset as presets
from editing.export import read_png
from methods.controls import ControlSet, LinearControl, ModelRef
from methods.ganspace import GANSpaceConfig
from methods.registry import METHODS

ROOT = Path(__file__).resolve().parents[1]


def edited(w, qtbot):
    """Give the window a few edits (values, seed, truncation) and wait for the frame."""
    w.control_panel.row(0).slider.setValue(25)
    w.control_panel.row(2).spin.setValue(-1.7)
    w.image_panel.seed.setValue(7)
    w.image_panel.psi_spin.setValue(0.8)
    return wait_frame(qtbot, w).copy()


def close_dialogs(w) -> list[str]:
    """Texts of the open message boxes (closing them)."""
    texts = []
    for box in w.findChildren(QMessageBox):
        if box.isVisible():
            texts.append(box.text())
            box.close()
    return texts


def test_preset_reproduces_frame_bit_for_bit_in_the_window_and_the_cli(qtbot, make_window, tmp_path):
    w = make_window(controls=None, discovery=("ganspace", small_config()))
    frame = edited(w, qtbot)
    path = tmp_path / "look.json"
    assert w.presets.save_preset_to(path)
    saved_state = w.state
    assert w.windowTitle().startswith("look — ") and "*" not in w.windowTitle()

    # the window's frame is the headless render of the preset's state
    state, info = presets.load(path)
    assert info["fingerprint"] == w.generator.fingerprint
    np.testing.assert_array_equal(frame, direct_render(w, state))

    # change everything, then load the preset back
    w.control_panel.row(0).slider.setValue(-50)
    w.image_panel.seed.setValue(99)
    wait_frame(qtbot, w)
    assert "*" in w.windowTitle().split(" — ")[0]
    assert w.presets.load_preset(path)
    np.testing.assert_array_equal(wait_frame(qtbot, w), frame)
    assert w.state.values == saved_state.values and w.state.seed == 7
    assert "*" not in w.windowTitle()

    # the CLI renders the same pixels from the same file
    out = tmp_path / "cli.png"
    proc = subprocess.run(
        [sys.executable, "main.py", "render", "--preset", str(path), "--out", str(out), "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_png(out), frame)


def test_a_preset_written_by_the_cli_loads_in_the_window(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    controls = tmp_path / "c.npz"
    small_controls.save(controls)
    preset, png = tmp_path / "cli.json", tmp_path / "cli.png"
    # main.py's entry point in this process (the subprocess path is covered above)
    status = main_entry.main(
        ["render", "--model", "dcgan-faces", "--controls", str(controls), "--set", "1=2.5",
         "--seed", "11", "--out", str(png), "--save-preset", str(preset), "--device", "cpu"]
    )
    assert status == 0
    w = make_window(controls=small_controls)
    assert w.presets.load_preset(preset)
    np.testing.assert_array_equal(wait_frame(qtbot, w), read_png(png))
    assert w.state.seed == 11 and w.state.values[1] == 2.5
    assert w.settings.recent_presets.items()[0] == str(preset.resolve())


def test_undo_after_loading_a_preset_restores_the_previous_state_and_frame(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    frame = edited(w, qtbot)
    w.presets.save_preset_to(tmp_path / "p.json")
    w.reset_all()
    w.image_panel.seed.setValue(0)
    before, before_frame = w.state, wait_frame(qtbot, w).copy()
    w.presets.load_preset(tmp_path / "p.json")
    np.testing.assert_array_equal(wait_frame(qtbot, w), frame)
    w.undo()
    assert w.state == before
    np.testing.assert_array_equal(wait_frame(qtbot, w), before_frame)


def test_a_corrupt_checkpoint_shows_an_error_and_keeps_model_state_and_frame(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    frame = edited(w, qtbot)
    state, G = w.state, w.generator
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    w.models.open_model(str(bad))
    wait_jobs(qtbot, w)
    assert "broken.pt" in w.last_error
    assert "broken.pt" in w.canvas.message
    assert any("broken.pt" in t for t in close_dialogs(w))
    assert w.generator is G and w.state == state
    assert w.isVisible()
    w.request_render()
    np.testing.assert_array_equal(wait_frame(qtbot, w), frame)


def test_controls_made_for_another_model_are_refused_with_the_reason(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    edited(w, qtbot)
    state = w.state
    ref = ModelRef("other-model", "dcgan", "feedfacecafebeef", w.generator.latent_dim, 1)
    rng = np.random.default_rng(0)
    d = rng.standard_normal(w.generator.latent_dim).astype(np.float32)
    foreign = ControlSet([LinearControl("alien", d / np.linalg.norm(d))], ref, "test")
    path = tmp_path / "foreign.npz"
    foreign.save(path)
    assert not w.discovery.load_controls(path)
    assert "other-model" in w.last_error and "feedfacecafebeef" in w.last_error
    assert close_dialogs(w)
    assert w.state == state
    assert w.isVisible()


def test_a_corrupt_or_foreign_preset_is_refused_and_the_state_kept(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    edited(w, qtbot)
    state, frame = w.state, w.frame
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "latent-studio.preset", "version": 1, "seed": ')
    assert not w.presets.load_preset(broken)
    assert "not valid JSON" in w.last_error
    wrong = tmp_path / "wrong.json"
    good = presets.to_json(w.state, w.generator.fingerprint, "x")
    good["values"] = good["values"][:-1]
    wrong.write_text(json.dumps(good))
    assert not w.presets.load_preset(wrong)
    assert "values" in w.last_error
    other = tmp_path / "other-weights.json"
    good = presets.to_json(w.state, "0123456789abcdef", "x")
    other.write_text(json.dumps(good))
    assert not w.presets.load_preset(other)
    assert "0123456789abcdef" in w.last_error
    close_dialogs(w)
    assert w.state == state and w.frame is frame and w.isVisible()


def test_a_discovery_that_fails_shows_why_and_keeps_the_controls(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    w.discovery.run_discovery("ganspace", small_config(layer="no-such-layer"))
    wait_jobs(qtbot, w)
    assert "no-such-layer" in w.last_error
    close_dialogs(w)
    assert w.state.controls is small_controls


def test_discover_import_attaches_released_directions_or_says_why_not(qtbot, make_window, small_controls):  # noqa: F811
    data = Path(__file__).parent / "data" / "directions"
    w = make_window(controls=small_controls)
    assert any(a.text().startswith("&Import released") for a in w.discover_menu.actions())
    w.discovery.import_released(data / "voynov/ortho_sg2A_w")  # W directions: not for dcgan-faces
    wait_jobs(qtbot, w)
    assert "edited in Z" in w.last_error
    close_dialogs(w)
    assert w.state.controls is small_controls
    w.discovery.import_released(data / "ganspace/cache/components/dcganfaces-faces_main.2_ipca_c8_n2000.npz")
    wait_jobs(qtbot, w)
    assert w.state.controls.method == "ganspace" and len(w.state.controls) == 8
    assert w.state.controls.config["imported"] == "ganspace-npz"


def test_exports_write_png_strip_and_video(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    frame = edited(w, qtbot)
    w.exports.export_png(tmp_path / "frame.png")
    w.exports.export_sweep(SweepRequest("strip", 0, -3.0, 3.0, 5, 30.0, tmp_path / "strip.png"))
    w.exports.export_sweep(SweepRequest("video", 1, -2.0, 2.0, 12, 24.0, tmp_path / "sweep.mp4"))
    wait_jobs(qtbot, w)
    np.testing.assert_array_equal(read_png(tmp_path / "frame.png"), frame)
    strip = read_png(tmp_path / "strip.png")
    assert strip.shape == (64, 5 * 64 + 4 * 2, 3)
    mid = w.state.with_value(0, 0.0)
    np.testing.assert_array_equal(strip[:, 2 * 66 : 2 * 66 + 64], direct_render(w, mid))
    assert (tmp_path / "sweep.mp4").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_cancelled_video_export_leaves_no_file(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    out = tmp_path / "exports"
    out.mkdir()
    job = w.exports.export_sweep(SweepRequest("video", 0, -3.0, 3.0, 5000, 30.0, out / "long.mp4"))
    qtbot.waitUntil(lambda: job.fraction > 0 or job.isRunning(), timeout=5000)
    qtbot.wait(200)
    w.job_panel.row_for(job).cancel_button.click()
    wait_jobs(qtbot, w)
    assert job.outcome == "cancelled"
    assert list(out.iterdir()) == [], "no video and no temporary file"


def test_a_grid_frame_exports_as_the_grid(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.set_grid(True, 4)
    grid = wait_frame(qtbot, w)
    w.exports.export_png(tmp_path / "grid.png")
    wait_jobs(qtbot, w)
    np.testing.assert_array_equal(read_png(tmp_path / "grid.png"), grid)


def test_controls_round_trip_through_save_and_load(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    w.rename_control(0, "age")
    w.flip_control(1)
    path = tmp_path / "named.npz"
    assert w.discovery.save_controls(path)
    w.undo()
    w.undo()
    assert w.discovery.load_controls(path)
    assert w.state.controls.names[0] == "age"
    np.testing.assert_allclose(w.state.controls[1].direction, -small_controls[1].direction)
    assert w.settings.recent_controls.items()[0] == str(path.resolve())


def test_dropping_files_opens_presets_controls_and_checkpoints(qtbot, make_window, small_controls, tmp_path):  # noqa: F811
    w = make_window(controls=small_controls)
    edited(w, qtbot)
    w.presets.save_preset_to(tmp_path / "drop.json")
    expected = w.state
    w.reset_all()

    def drop(path: Path) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        w.dropEvent(event)

    drop(tmp_path / "drop.json")
    assert w.state.values == expected.values and w.state.seed == expected.seed
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 64)
    drop(garbage)
    wait_jobs(qtbot, w)
    assert "garbage.pth" in w.last_error
    close_dialogs(w)
    assert w.state.values == expected.values


def test_opening_a_checkpoint_switches_model_and_remembers_it(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls, auto_discover=False)
    path = ROOT / "tests/data/stylegan2/stylegan2_small_A.pt"
    w.models.open_model(str(path))
    qtbot.waitUntil(lambda: w.generator.family == "stylegan2", timeout=20_000)
    wait_frame(qtbot, w, 20_000)
    assert w.state.model == str(path) and w.state.controls is None
    assert not w.history.can_undo()
    assert w.settings.recent_models.items()[0] == str(path.resolve())
    assert "stylegan2_small_A.pt" in w.windowTitle()


def test_the_discover_dialog_is_generated_from_the_method_options(qtbot, generator):  # noqa: F811
    dlg = DiscoverDialog("ganspace", generator.layer_names(), generator.default_pca_layer, "dcgan-faces")
    qtbot.addWidget(dlg)
    from dataclasses import fields

    assert list(dlg.fields) == [f.name for f in fields(GANSpaceConfig)]
    dlg.set_values(samples=1234, components=7, layer="block2")
    config = dlg.config()
    assert isinstance(config, GANSpaceConfig)
    assert (config.samples, config.components, config.layer) == (1234, 7, "block2")
    assert config.seed == GANSpaceConfig().seed
    assert dlg.fields["samples"][0].toolTip()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gets_a_dialog_whose_defaults_make_its_default_config(qtbot, generator, method):  # noqa: F811
    dlg = DiscoverDialog(method, generator.layer_names(), generator.default_pca_layer, "dcgan-faces")
    qtbot.addWidget(dlg)
    assert dlg.config() == METHODS[method].make_config()
    floats = [n for n, t, _d, _h in METHODS[method].options() if t is float]
    if floats:
        dlg.set_values(**{floats[0]: 1e-5})
        assert getattr(dlg.config(), floats[0]) == 1e-5


@pytest.mark.parametrize("kind", ["strip", "video"])
def test_the_sweep_dialog_returns_its_request(qtbot, kind, tmp_path):
    from app.export_dialog import SweepDialog

    dlg = SweepDialog(kind, ["a", "b", "c"], current=2, folder=str(tmp_path))
    qtbot.addWidget(dlg)
    req = dlg.request()
    assert req.kind == kind and req.control == 2 and (req.a, req.b) == (-3.0, 3.0)
    assert req.path.suffix == (".png" if kind == "strip" else ".mp4")
