"""Declared sizes are not trusted: generated hostile files for every reader of untrusted input.

Each test generates files that *declare* more than they hold (deep JSON, zip entries whose
declared size is a lie, ``.npy`` headers, stride-0 tensors, PNG headers, configs) and
requires a one-sentence error of the reader's own type, never a traceback, an allocation of
the declared size, or a hang.
"""
from __future__ import annotations

import io
import json
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from editing import preset as presets
from editing.preset import PresetError
from editing.state import EditState
from methods.annotations import AnnotationError, read_published_dataset
from methods.controls import ControlSet, ControlSetError, LinearControl, ModelRef
from methods.fields import MAX_EULER_STEPS, VectorField
from methods.semantics.common import SemanticsError
from methods.semantics.masks import read_mask, read_mask_folder
from models import bounded
from models.biggan import BigGANConfig, BigGANNet
from models.bounded import InputLimitError

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and len(text) < 400, text
    return text


# ---------------------------------------------------------------------------------- JSON depth
def nested(depth: int, kinds: str) -> str:
    opens = "".join("[" if kinds[i % len(kinds)] == "a" else '{"k":' for i in range(depth))
    closes = "".join("]" if kinds[i % len(kinds)] == "a" else "}" for i in reversed(range(depth)))
    return opens + "1" + closes


@FAST
@given(depth=st.integers(0, 200_000), kinds=st.text("ao", min_size=1, max_size=5), decoy=st.integers(0, 500))
def test_json_nesting_is_limited_without_recursion(depth, kinds, decoy):
    # brackets inside strings are not structure: a decoy string full of them never counts
    text = json.dumps({"decoy": "[" * decoy, "x": json.loads(nested(min(depth, 50), kinds))}) if depth <= 50 else nested(depth, kinds)
    real_depth = depth + 1 if depth <= 50 else depth
    if real_depth > bounded.MAX_JSON_DEPTH:
        with pytest.raises(InputLimitError) as info:
            bounded.loads_json(text, what="f.json")
        assert "levels deep" in one_line(info.value)
    else:
        assert bounded.loads_json(text, what="f.json") == json.loads(text)


DEEP = nested(100_000, "ao")


def test_every_json_reader_refuses_100000_levels_in_one_sentence(tmp_path):
    (tmp_path / "p.json").write_text(DEEP)
    with pytest.raises(PresetError) as e:
        presets.load(tmp_path / "p.json")
    one_line(e.value)
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "labels.json").write_text(DEEP)
    with pytest.raises(SemanticsError) as e:
        read_mask_folder(masks)
    one_line(e.value)
    cfg = tmp_path / "big"
    cfg.mkdir()
    (cfg / "config.json").write_text(DEEP)
    (cfg / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(models.LoadError) as e:
        models.load_generator(cfg)
    one_line(e.value)
    arrays = {"directions": np.zeros((0, 4), np.float32), "meta.json": np.frombuffer(DEEP.encode(), np.uint8)}
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(ControlSetError) as e:
        ControlSet.load(tmp_path / "c.npz")
    one_line(e.value)


# ---------------------------------------------------------------------------------- numbers
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**400, -(10**400), 1e308, True, None, "1", [1], {}]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30))


@FAST
@given(value=HOSTILE_NUMBERS, lo=st.floats(-10, 0), hi=st.floats(0, 10))
def test_number_checks_never_raise_and_accept_only_finite_numbers_in_range(value, lo, hi):
    ok = bounded.is_number(value, lo, hi)
    if ok:
        assert not isinstance(value, bool) and math.isfinite(float(value)) and lo <= float(value) <= hi
    assert isinstance(bounded.is_integer(value, -5, 5), bool)


def _controls_file(tmp: Path, meta_patch) -> Path:
    model = ModelRef("m", "dcgan", "", 4, 2)
    cs = ControlSet([LinearControl("a", np.eye(4, dtype=np.float32)[0], 1.5, (0, 1))], model, "t")
    arrays = cs._arrays()
    meta = cs._meta()
    meta_patch(meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp / "c.npz", **arrays)
    return tmp / "c.npz"


@FAST
@given(field=st.sampled_from(["latent_dim", "num_layers", "scale", "layers", "meta-as-list"]), value=HOSTILE_NUMBERS)
def test_controls_meta_numbers_overflow_into_one_sentence(tmp_path, field, value):
    def patch(meta):
        if field in ("latent_dim", "num_layers"):
            meta["model"][field] = value
        elif field == "scale":
            meta["controls"][0]["scale"] = value
        elif field == "layers":
            meta["controls"][0]["layers"] = [0, value]
        else:
            meta.clear()
    path = _controls_file(tmp_path, patch)
    if field == "meta-as-list":
        arrays = dict(np.load(path))
        arrays["meta.json"] = np.frombuffer(b"[1, 2]", np.uint8)
        np.savez(path, **arrays)
    try:
        ControlSet.load(path)
    except ControlSetError as exc:
        one_line(exc)


# ---------------------------------------------------------------------------------- zips and npy
def lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite a zip's local and central headers so ``member`` declares ``declared`` bytes uncompressed."""
    out = bytearray(data)
    name = member.encode()
    i = out.find(b"PK\x03\x04")
    while i >= 0:
        n, m = struct.unpack("<HH", out[i + 26:i + 30])
        if out[i + 30:i + 30 + n] == name:
            out[i + 22:i + 26] = struct.pack("<I", declared)
        i = out.find(b"PK\x03\x04", i + 4)
    i = out.find(b"PK\x01\x02")
    while i >= 0:
        n = struct.unpack("<H", out[i + 28:i + 30])[0]
        if out[i + 46:i + 46 + n] == name:
            out[i + 24:i + 28] = struct.pack("<I", declared)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


@FAST
@given(declared=st.integers(1 << 31, (1 << 32) - 1), which=st.sampled_from(["directions.npy", "meta.json.npy"]))
def test_controls_zip_entries_declaring_gigabytes_are_refused_before_reading(tmp_path, declared, which):
    path = _controls_file(tmp_path, lambda meta: None)
    path.write_bytes(lie_about_size(path.read_bytes(), which, declared))
    with pytest.raises(ControlSetError) as e:
        ControlSet.load(path)
    assert "unpack" in one_line(e.value) or "inflate" in str(e.value)


def npy_with_header(shape, dtype="<f4", payload=b"") -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n" + payload


@FAST
@given(shape=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=4), held=st.integers(0, 64))
def test_npy_headers_must_match_the_bytes_held(tmp_path, shape, held):
    data = npy_with_header(shape, payload=b"\0" * (4 * held))
    (tmp_path / "a.npy").write_bytes(data)
    declared = math.prod(shape) * 4
    if declared == 4 * held:
        assert bounded.read_npy(tmp_path / "a.npy").shape == tuple(shape)
    else:
        with pytest.raises(InputLimitError) as e:
            bounded.read_npy(tmp_path / "a.npy")
        assert "declares shape" in one_line(e.value)
    with zipfile.ZipFile(tmp_path / "c.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("directions.npy", data)
    if declared != 4 * held:
        with pytest.raises(ControlSetError) as e:
            ControlSet.load(tmp_path / "c.npz")
        one_line(e.value)


def test_a_deflate_bomb_is_refused_by_its_ratio_before_inflating(tmp_path):
    # 64 MB of zeros deflate to ~64 KB: a ratio no real weights or text reach
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("directions.npy", npy_with_header((16 << 20,), payload=bytes(64 << 20)))
    (tmp_path / "bomb.npz").write_bytes(buf.getvalue())
    with pytest.raises(ControlSetError) as e:
        ControlSet.load(tmp_path / "bomb.npz")
    assert "zip bomb" in one_line(e.value)


# ---------------------------------------------------------------------------------- tensors
@FAST
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), data=st.data())
def test_tensor_layout_check_is_sound_for_any_strides(shape, data):
    strides = [data.draw(st.integers(0, 12)) for _ in shape]
    storage = data.draw(st.integers(1, 200))
    offset = data.draw(st.integers(0, 5))
    base = torch.zeros(storage)
    extent = offset + sum((n - 1) * s for n, s in zip(shape, strides)) + 1
    if extent > storage:
        base = torch.zeros(extent)  # as_strided refuses views outside; shrink the storage after
    t = base.as_strided(shape, strides, offset)
    if extent > storage:
        t.untyped_storage().resize_(storage * 4)
    idx = np.array(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")).reshape(len(shape), -1)
    offsets = offset + (np.array(strides)[:, None] * idx).sum(0)
    overlaps = len(set(offsets.tolist())) < offsets.size
    try:
        bounded.check_tensor_layout(t, "w", "g.pt")
    except InputLimitError as exc:
        one_line(exc)
    else:  # accepted => really no overlap and inside its storage
        assert not overlaps and extent <= storage


@FAST
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), perm_seed=st.integers(0, 100))
def test_real_layouts_always_pass(shape, perm_seed):
    t = torch.randn(shape)
    perm = np.random.default_rng(perm_seed).permutation(len(shape)).tolist()
    for view in (t, t.permute(*perm), t[..., ::2], t.reshape(-1)[1:]):
        bounded.check_tensor_layout(view, "w", "g.pt")


def dcgan_state_dict(widths):
    sd = {}
    for i in range(len(widths) - 1):
        sd[f"main.{3 * i}.weight"] = torch.randn(widths[i], widths[i + 1], 4, 4) * 0.1
        if i < len(widths) - 2:
            c = widths[i + 1]
            sd.update({f"main.{3 * i + 1}.weight": torch.ones(c), f"main.{3 * i + 1}.bias": torch.zeros(c),
                       f"main.{3 * i + 1}.running_mean": torch.zeros(c), f"main.{3 * i + 1}.running_var": torch.ones(c),
                       f"main.{3 * i + 1}.num_batches_tracked": torch.tensor(0)})
    return sd


@FAST
@given(channels=st.integers(1 << 12, 1 << 22), layer=st.integers(0, 1))
def test_stride0_checkpoints_declaring_huge_layers_are_refused(tmp_path, channels, layer):
    sd = dcgan_state_dict([8, 4, 3])
    key = f"main.{3 * layer}.weight"
    w = sd[key]
    shape = list(w.shape)
    shape[1 - layer] = channels  # a 2^k-channel layer made of one stored row
    sd[key] = torch.zeros(1).expand(*shape)
    torch.save({"netG_state_dict": sd}, tmp_path / "g.pt")
    with pytest.raises(models.LoadError) as e:
        models.load_generator(tmp_path / "g.pt")
    assert "repeats its stored values" in one_line(e.value)


@FAST
@given(depth=st.integers(8, 14))
def test_checkpoints_implying_huge_outputs_are_refused_before_building(tmp_path, depth):
    widths = [4] + [1] * depth + [3]  # a few KB that would draw 4·2^depth px images
    torch.save({"netG_state_dict": dcgan_state_dict(widths)}, tmp_path / "g.pt")
    res = 4 * 2 ** depth
    try:
        G = models.load_generator(tmp_path / "g.pt")
    except models.LoadError as exc:
        assert "would need" in one_line(exc) or "px images" in str(exc)
        assert res > bounded.MAX_RESOLUTION or "would need" in str(exc)
    else:
        assert res <= bounded.MAX_RESOLUTION and G.resolution == res


@FAST
@given(family=st.sampled_from(["dcgan", "stylegan2-like-dcgan"]), bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]),
       where=st.floats(0, 1))
def test_nan_or_inf_weights_are_refused_at_load_time(tmp_path, family, bad, where):
    sd = dcgan_state_dict([8, 4, 3])
    w = sd["main.3.weight"].reshape(-1)
    w[int(where * (w.numel() - 1))] = bad
    torch.save({"netG_state_dict": sd}, tmp_path / "g.pt")
    with pytest.raises(models.LoadError) as e:
        models.load_generator(tmp_path / "g.pt")
    assert "NaN or infinite" in one_line(e.value)


def test_memory_budget_flag_raises_the_limit(tmp_path):
    torch.save({"netG_state_dict": dcgan_state_dict([4] + [1] * 11 + [3])}, tmp_path / "g.pt")  # 8192 px
    with pytest.raises(models.LoadError, match="--max-memory"):
        models.load_generator(tmp_path / "g.pt")
    bounded.set_memory_budget(64)
    try:
        bounded.check_model_size(0, 0, resolution=8192)  # the resolution cap is lifted by the flag
        with pytest.raises(InputLimitError, match="would need 100 GB"):
            bounded.check_model_size(50 << 30, 50 << 30)
    finally:
        bounded.set_memory_budget(None)


# ---------------------------------------------------------------------------------- BigGAN config
def biggan_weights(cfg):
    g = torch.Generator().manual_seed(0)
    return {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v for k, v in BigGANNet(cfg).state_dict().items()}


@FAST
@given(key=st.sampled_from(["n_stats", "channel_width", "num_classes", "z_dim", "output_dim", "eps",
                            "attention_layer_position", "layers"]),
       value=st.one_of(HOSTILE_NUMBERS, st.integers(10**6, 10**8), st.lists(st.integers(-3, 10**9), max_size=3)))
def test_biggan_config_numbers_are_bounded_before_building(tmp_path, key, value):
    cfg = BigGANConfig.published(128, 4)
    folder = tmp_path / "bg"
    folder.mkdir(exist_ok=True)
    raw = cfg.to_dict()
    raw[key] = value
    (folder / "config.json").write_text(json.dumps(raw))
    if not (folder / "pytorch_model.bin").exists():
        torch.save(biggan_weights(cfg), folder / "pytorch_model.bin")
    try:
        models.load_generator(folder)
    except models.LoadError as exc:
        one_line(exc)


def test_biggan_n_stats_of_ten_million_is_refused(tmp_path):
    cfg = BigGANConfig.published(128, 4)
    raw = cfg.to_dict()
    raw["n_stats"] = 10_000_000
    (tmp_path / "config.json").write_text(json.dumps(raw))
    torch.save(biggan_weights(cfg), tmp_path / "pytorch_model.bin")
    with pytest.raises(models.LoadError, match="n_stats"):
        models.load_generator(tmp_path)


# ---------------------------------------------------------------------------------- images
def png_declaring(w: int, h: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.zeros((2, 2), np.uint8))
    data = bytearray(buf.tobytes())
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@FAST
@given(w=st.integers(0, (1 << 31) - 1), h=st.integers(0, (1 << 31) - 1))
def test_mask_headers_declaring_huge_images_are_refused_before_decoding(tmp_path, w, h):
    (tmp_path / "m.png").write_bytes(png_declaring(w, h))
    try:
        mask = read_mask(tmp_path / "m.png")
    except SemanticsError as exc:
        text = one_line(exc)
        if w * h > bounded.MAX_IMAGE_PIXELS:
            assert "megapixels" in text
    else:  # only a small declared size may decode (libpng reads what the data holds)
        assert w * h <= bounded.MAX_IMAGE_PIXELS and mask.size <= 4


@FAST
@given(head=st.binary(max_size=64))
def test_image_header_parser_never_raises_on_random_bytes(head):
    size = bounded.image_header_size(head)
    assert size is None or all(v >= 0 for v in size)


# ---------------------------------------------------------------------------------- datasets
def _dataset_zip(tmp: Path, tensor: torch.Tensor) -> Path:
    buf = io.BytesIO()
    torch.save(tensor, buf)
    n = min(tensor.shape[0], 4)  # the tensor is refused before its rows are counted
    files = {"ds.pth": buf.getvalue(), "metadata.csv": ("d_id\n" + "".join(f"d{i}\n" for i in range(n))).encode(),
             "annotations.csv": b"d_id,annotation\nd0,sky\n"}
    path = tmp / "ds.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr("lsd/" + k, v)
    return path


@FAST
@given(rows=st.integers(1 << 14, 1 << 26), dim=st.integers(64, 4096))
def test_vocab_datasets_of_stride0_tensors_are_refused(tmp_path, rows, dim):
    path = _dataset_zip(tmp_path, torch.zeros(1, 1).expand(rows, dim))
    with pytest.raises(AnnotationError) as e:
        read_published_dataset(path)
    assert "repeats its stored values" in one_line(e.value)


@FAST
@given(declared=st.integers(1 << 31, (1 << 32) - 1), member=st.sampled_from(["lsd/ds.pth", "lsd/annotations.csv"]))
def test_vocab_zips_declaring_gigabytes_are_refused(tmp_path, declared, member):
    path = _dataset_zip(tmp_path, torch.randn(3, 8))
    path.write_bytes(lie_about_size(path.read_bytes(), member, declared))
    with pytest.raises(AnnotationError) as e:
        read_published_dataset(path)
    one_line(e.value)


# ---------------------------------------------------------------------------------- field steps
@FAST
@given(step=st.floats(1e-300, 1.0), length=st.floats(-1e6, 1e6))
def test_euler_paths_take_a_bounded_number_of_steps(step, length):
    vf = VectorField("linear", {"W": np.eye(4, dtype=np.float32), "b": np.ones(4, np.float32)}, {})
    calls = []
    real = vf.direction

    def counting(x):
        calls.append(1)
        return real(x)

    object.__setattr__(vf, "direction", counting)
    vf.integrate(torch.zeros(1, 4), length, step)
    assert len(calls) <= MAX_EULER_STEPS + 1


def test_a_preset_with_a_1e300_field_step_is_refused(tmp_path):
    model = ModelRef("m", "dcgan", "", 4, 1)
    from methods.controls import FieldControl

    fc = FieldControl("f", VectorField("linear", {"W": np.eye(4, dtype=np.float32), "b": np.ones(4, np.float32)}, {}), 0.1)
    cs = ControlSet([fc], model, "t")
    state = EditState(model="dcgan-faces").with_controls(cs)
    presets.save(tmp_path / "p.json", state)
    data = json.loads((tmp_path / "p.json").read_text())
    data["controls"]["meta"]["controls"][0]["step"] = 1e-300
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(PresetError, match="step"):
        presets.load(tmp_path / "p.json")
