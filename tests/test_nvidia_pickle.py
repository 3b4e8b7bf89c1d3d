"""NVIDIA snapshots open through our restricted unpickler, and hostile ones run nothing."""
from __future__ import annotations

import builtins
import collections
import io
import json
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

import models
from models.base import LoadError
from models.nvidia_pickle import read_snapshot, snapshot_from_bytes
from tests.nvidia_helpers import (
    DATA, NAMES, SHARED, STAND_IN_SOURCE, extract, load_extract, module_tree, snapshot_bytes, write_snapshot,
)


@pytest.fixture(scope="module")
def sg2ada():
    return load_extract("sg2ada_32")


@pytest.fixture(scope="module")
def sg3t():
    return load_extract("sg3t_32")


def _sentinel_command(path) -> str:
    return f"touch {path}"


# ---------------------------------------------------------------------- the layout
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("numpy_module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_snapshot_reads_at_every_protocol_and_numpy_spelling(tmp_path, sg2ada, protocol, numpy_module):
    path = write_snapshot(tmp_path / "snap.pkl", sg2ada, protocol=protocol, numpy_module=numpy_module)
    snap = read_snapshot(path)
    assert snap.class_name == "Generator"
    assert snap.init_kwargs == sg2ada["init_kwargs"]
    assert list(snap.state_dict) == list(sg2ada["state_dict"])
    for k, v in sg2ada["state_dict"].items():
        assert torch.equal(snap.state_dict[k], v), k
    syn = snap.root.find("synthesis")
    assert isinstance(syn.state["output_gain"], np.float64) and syn.state["size"].tolist() == [36, 36]


def test_loader_uses_G_ema_not_G(tmp_path, sg2ada):
    g_ema = module_tree(sg2ada["state_dict"], "Generator", sg2ada["init_kwargs"], STAND_IN_SOURCE)
    moved = {k: v + 0.05 if v.is_floating_point() else v for k, v in sg2ada["state_dict"].items()}
    g = module_tree(moved, "Generator", sg2ada["init_kwargs"], STAND_IN_SOURCE)
    path = tmp_path / "snap.pkl"
    path.write_bytes(snapshot_bytes({"G": g, "D": None, "G_ema": g_ema, "augment_pipe": None}))
    G = models.load_generator(path)
    ref = sg2ada["reference"]
    with torch.no_grad():
        assert torch.allclose(G.synthesize(ref["ws"], noise_mode="const"), ref["img"], atol=1e-4)


def test_format_is_sniffed_by_content_not_extension(tmp_path, sg3t):
    path = write_snapshot(tmp_path / "weights.pt", sg3t)  # a .pt name, NVIDIA content
    assert models.load_generator(path).family == "stylegan3"


# ---------------------------------------------------------------------- hostile files
def test_embedded_source_is_never_run(tmp_path, sg2ada):
    sentinel = tmp_path / "ran"
    source = f"import os\nos.system({_sentinel_command(sentinel)!r})\n"
    path = write_snapshot(tmp_path / "snap.pkl", sg2ada, source=source)
    G = models.load_generator(path)
    assert G.family == "stylegan2" and not sentinel.exists()


def test_hostile_source_on_a_non_generator_is_a_load_error(tmp_path):
    sentinel = tmp_path / "ran"
    source = f"import os\nos.system({_sentinel_command(sentinel)!r})\n"
    tree = module_tree({"payload.weight": torch.zeros(2)}, "Exploit", {}, source)
    path = tmp_path / "snap.pkl"
    path.write_bytes(snapshot_bytes({"G_ema": tree}))
    with pytest.raises(LoadError, match="neither a StyleGAN2.*nor a StyleGAN3"):
        models.load_generator(path)
    assert not sentinel.exists()


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize("make", [
    lambda s: _Call(os.system, f"touch {s}"),
    lambda s: _Call(builtins.eval, f"open({str(s)!r}, 'w')"),
    lambda s: _Call(subprocess.check_call, ["touch", str(s)]),
], ids=["os.system", "builtins.eval", "subprocess"])
def test_stray_global_is_refused_and_named(tmp_path, sg2ada, make):
    sentinel = tmp_path / "ran"
    g_ema = module_tree(sg2ada["state_dict"], "Generator", sg2ada["init_kwargs"], STAND_IN_SOURCE)
    path = tmp_path / "snap.pkl"
    path.write_bytes(snapshot_bytes({"G_ema": g_ema, "augment_pipe": make(sentinel)}, protocol=3))
    with pytest.raises(LoadError) as err:
        models.load_generator(path)
    msg = str(err.value)
    assert "was not opened" in msg and any(n in msg for n in ("system", "eval", "check_call"))
    assert msg.count(". ") == 0 and "\n" not in msg  # one sentence
    assert not sentinel.exists()


def test_truncated_snapshot_is_a_load_error(tmp_path, sg3t):
    data = write_snapshot(tmp_path / "full.pkl", sg3t).read_bytes()
    for cut in (len(data) // 2, len(data) - 3):
        path = tmp_path / "cut.pkl"
        path.write_bytes(data[:cut])
        with pytest.raises(LoadError, match="truncated"):
            models.load_generator(path)


def test_snapshot_without_G_ema_says_so(tmp_path, sg2ada):
    path = write_snapshot(tmp_path / "snap.pkl", sg2ada, keys=("G", "D", "augment_pipe"))
    with pytest.raises(LoadError, match="no 'G_ema'"):
        models.load_generator(path)


@pytest.mark.parametrize("change, match", [
    ({"synthesis_kwargs": {"channel_base": 512, "channel_max": 32, "num_fp16_res": 4, "conv_clamp": 256}}, "shape"),
    ({"mapping_kwargs": {"num_layers": 2}}, "do not describe|lack"),
    ({"img_resolution": 64}, "lack"),
    ({"img_resolution": 48}, "power of two"),
    ({"z_dim": "64"}, "not an integer"),
])
def test_init_kwargs_that_do_not_match_the_tensors_are_refused(tmp_path, sg2ada, change, match):
    wrong = {**sg2ada, "init_kwargs": {**sg2ada["init_kwargs"], **change}}
    path = write_snapshot(tmp_path / "snap.pkl", wrong)
    with pytest.raises(LoadError, match=match):
        models.load_generator(path)


class _Tensor:
    """Pickles as ``_rebuild_tensor_v2(storage, 0, size, (1,)…)`` with a chosen size."""

    def __init__(self, storage, size):
        self.storage, self.size = storage, size

    def __reduce__(self):
        stride = tuple(int(np.prod(self.size[i + 1:])) for i in range(len(self.size)))
        return (torch._utils._rebuild_tensor_v2, (self.storage, 0, self.size, stride, False, collections.OrderedDict()))


class _Blob:
    def __init__(self, blob):
        self.blob = blob

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.blob,))


def _tree_with(value) -> bytes:
    return snapshot_bytes({"G_ema": module_tree({"mapping.w_avg": torch.zeros(1)}, "Generator", {}, STAND_IN_SOURCE,
                                                {"mapping": {"bad": value}})})


def test_tensor_bigger_than_its_storage_is_refused():
    storage = torch.zeros(4).untyped_storage()
    typed = torch.storage.TypedStorage(wrap_storage=storage, dtype=torch.float32, _internal=True)
    with pytest.raises(LoadError, match="needs 1000000 elements but its storage holds 4"):
        snapshot_from_bytes(_tree_with(_Tensor(typed, (1000, 1000))))


def test_storage_declaring_more_than_its_blob_is_refused():
    buf = io.BytesIO()
    big = torch.zeros(1000)
    torch.save(big.storage(), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()[:600]  # the header says 1000 floats; 600 bytes follow
    with pytest.raises(LoadError, match="declares 1000 elements"):
        snapshot_from_bytes(_tree_with(_Blob(blob)))


def test_numpy_object_arrays_are_refused():
    with pytest.raises(LoadError, match="object array"):
        snapshot_from_bytes(_tree_with(np.array([1, "x"], dtype=object)))


def test_not_a_dict_is_refused():
    with pytest.raises(LoadError, match="not the dict"):
        snapshot_from_bytes(pickle.dumps([1, 2]))


# ---------------------------------------------------------------------- the shared fixtures
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fixtures/nvidia_pickles is not here")


@needs_shared
@pytest.mark.parametrize("name", NAMES)
def test_shared_fixture_extracts_to_the_stored_data(name):
    stored, fresh = load_extract(name), extract(name)
    assert fresh["init_kwargs"] == stored["init_kwargs"] and fresh["class_name"] == stored["class_name"]
    assert list(fresh["state_dict"]) == list(stored["state_dict"])
    assert all(torch.equal(fresh["state_dict"][k], v) for k, v in stored["state_dict"].items())
    listed = json.loads((SHARED / f"{name}_state_dict.json").read_text())
    assert [[k, list(v.shape)] for k, v in fresh["state_dict"].items()] == listed["entries"]


@needs_shared
@pytest.mark.parametrize("name", NAMES)
def test_shared_fixture_pickle_renders_its_reference(name):
    G = models.load_generator(SHARED / f"{name}.pkl")
    ref = torch.load(SHARED / f"{name}_reference.pt", weights_only=True)
    with torch.no_grad():
        assert torch.allclose(G.map(ref["z"], ref.get("c")), ref["ws"], atol=1e-4)
        assert torch.allclose(G.synthesize(ref["ws_trunc"]), ref["img_trunc"], atol=1e-4)


def test_stored_extracts_hold_only_plain_data():
    for name in NAMES:
        ex = torch.load(DATA / f"{name}.pt", weights_only=True)  # no pickled objects, no embedded source
        assert "module_src" not in json.dumps(ex["meta"]) and set(ex) == {"class_name", "init_kwargs", "state_dict",
                                                                           "reference", "meta"}


def test_nan_weights_are_refused(tmp_path, sg2ada):
    sd = dict(sg2ada["state_dict"])
    sd["mapping.fc0.weight"] = sd["mapping.fc0.weight"].clone()
    sd["mapping.fc0.weight"][0, 0] = float("nan")
    path = write_snapshot(tmp_path / "snap.pkl", {**sg2ada, "state_dict": sd})
    with pytest.raises(LoadError, match="NaN"):
        models.load_generator(path)


def test_a_network_beyond_the_memory_budget_is_refused_before_it_is_built(tmp_path, sg3t):
    from models.bounded import set_memory_budget

    path = write_snapshot(tmp_path / "snap.pkl", sg3t)
    set_memory_budget(0.004)  # 4 MB: the file fits, the activations of its layers do not
    try:
        with pytest.raises(LoadError, match="would need .* limit"):
            models.load_generator(path)
    finally:
        set_memory_budget(None)
    wrong = {**sg3t, "init_kwargs": {**sg3t["init_kwargs"], "img_resolution": 1 << 13}}
    with pytest.raises(LoadError, match="px"):
        models.load_generator(write_snapshot(tmp_path / "huge.pkl", wrong))
