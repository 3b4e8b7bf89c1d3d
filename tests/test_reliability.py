"""Hostile and broken inputs: every loader and CLI option ends in success or a clear error.

Property-based (hypothesis): truncated, bit-flipped and random files for every loader,
random values for the CLI's options; plus a writer killed mid-save.
"""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from cli.commands import run
from editing import preset as presets
from editing.preset import PresetError
from editing.state import EditState
from methods.controls import ControlSet, ControlSetError, LinearControl, ModelRef

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _small_dcgan_bytes() -> bytes:
    sd = {}
    widths = [8, 16, 8, 3]
    for i in range(3):
        sd[f"main.{3 * i}.weight"] = torch.randn(widths[i], widths[i + 1], 4, 4)
        if i < 2:
            c = widths[i + 1]
            sd.update({f"main.{3 * i + 1}.weight": torch.ones(c), f"main.{3 * i + 1}.bias": torch.zeros(c),
                       f"main.{3 * i + 1}.running_mean": torch.zeros(c), f"main.{3 * i + 1}.running_var": torch.ones(c),
                       f"main.{3 * i + 1}.num_batches_tracked": torch.tensor(0)})
    buf = io.BytesIO()
    torch.save({"netG_state_dict": sd}, buf)
    return buf.getvalue()


def _controls_bytes(tmp: Path) -> bytes:
    model = ModelRef("m", "dcgan", "", 4, 2)
    cs = ControlSet([LinearControl("a", np.eye(4, dtype=np.float32)[0], 1.5, (0, 1))], model, "t")
    cs.save(tmp / "c.npz")
    return (tmp / "c.npz").read_bytes()


def _preset_bytes(tmp: Path) -> bytes:
    model = ModelRef("m", "dcgan", "", 4, 2)
    cs = ControlSet([LinearControl("a", np.eye(4, dtype=np.float32)[0])], model, "t")
    presets.save(tmp / "p.json", EditState(model="dcgan-faces").with_controls(cs).with_value(0, 1.0))
    return (tmp / "p.json").read_bytes()


def corrupt(data: bytes, how: str, where: float, byte: int) -> bytes:
    i = int(where * max(len(data) - 1, 0))
    if how == "truncate":
        return data[:i]
    if how == "flip":
        return data[:i] + bytes([data[i] ^ (1 << (byte % 8))]) + data[i + 1 :] if data else data
    if how == "splice":
        return data[:i] + bytes([byte]) * 16 + data[i:]
    return bytes([byte]) * (i % 512)


CORRUPTION = dict(how=st.sampled_from(["truncate", "flip", "splice", "random"]),
                  where=st.floats(0, 1), byte=st.integers(0, 255))


@FUZZ
@given(**CORRUPTION)
def test_checkpoint_loader_survives_corrupt_files(tmp_path, how, where, byte):
    path = tmp_path / "g.pt"
    path.write_bytes(corrupt(_CKPT, how, where, byte))
    try:
        G = models.load_generator(path)
    except models.LoadError as exc:
        assert "\n" not in str(exc)
    else:
        assert G.resolution > 0


@FUZZ
@given(**CORRUPTION)
def test_controls_loader_survives_corrupt_files(tmp_path, how, where, byte):
    path = tmp_path / "bad.npz"
    path.write_bytes(corrupt(_controls_bytes(tmp_path), how, where, byte))
    try:
        ControlSet.load(path)
    except ControlSetError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(**CORRUPTION)
def test_preset_loader_survives_corrupt_files(tmp_path, how, where, byte):
    path = tmp_path / "bad.json"
    path.write_bytes(corrupt(_preset_bytes(tmp_path), how, where, byte))
    try:
        presets.load(path)
    except PresetError as exc:
        assert "\n" not in str(exc)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(key=st.sampled_from(["seed", "truncation", "class_index", "size", "noise_mode", "mix", "values", "ranges",
                            "controls", "model", "version", "format", "latents"]), value=JSON_VALUES)
def test_preset_fields_of_any_json_type_are_validated(tmp_path, key, value):
    data = json.loads(_preset_bytes(tmp_path))
    data[key] = value
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    try:
        presets.load(path)
    except PresetError as exc:
        assert "\n" not in str(exc)


OPTION_VALUES = st.one_of(st.integers(-5, 10**9).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                          st.text(max_size=12), st.sampled_from(["0=1", "0=0:1", "3:1", "nan", "-1", "1e309", "0=abc"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--seed", "--truncation", "--class", "--set", "--layers", "--size", "--noise",
                               "--mix-seed", "--mix-layers", "--device", "--grid", "--model"]), value=OPTION_VALUES)
def test_random_cli_option_values_end_in_success_or_a_one_line_error(tmp_path, option, value):
    out = tmp_path / "x.png"
    out.unlink(missing_ok=True)  # tmp_path is shared by the examples
    args = ["render", "--model", "dcgan-faces", "--size", "16", option, value, "--out", str(out)]
    if option == "--model":
        args = ["render", option, value, "--out", str(out)]
    err = io.StringIO()
    with redirect_stderr(err):
        try:
            code = run(args)
        except SystemExit as exc:  # argparse's own one-line errors
            code = exc.code
    assert code in (0, 2), err.getvalue()
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in lines[0]
        assert not out.exists()


WRITER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from methods.controls import ControlSet, LinearControl, ModelRef
model = ModelRef("m", "dcgan", "", 512, 1)
i = 0
while True:
    i += 1
    rng = np.random.default_rng(i)
    dirs = rng.standard_normal((200, 512)).astype(np.float32)
    ControlSet([LinearControl(f"c{{i}}-{{k}}", d / np.linalg.norm(d)) for k, d in enumerate(dirs)], model, "t").save({path!r})
    print(i, flush=True)
"""


def test_writer_killed_mid_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "c.npz"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "1"  # one complete save exists
        for delay in (0.05, 0.11, 0.23):
            time.sleep(delay)
            cs = ControlSet.load(path)  # never half-written, even while the writer works
            assert len(cs) == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cs = ControlSet.load(path)
    assert len(cs) == 200 and cs.names[0].startswith("c")
    leftovers = [p for p in tmp_path.iterdir() if p.name != "c.npz"]
    assert all(p.name.startswith(".c.npz.") for p in leftovers)  # at most the killed temporary file


_CKPT = _small_dcgan_bytes()
