"""Test helpers for NVIDIA snapshots: the stored extracts and a writer of look-alike pickles.

`write_snapshot` writes a pickle in the persistent-object layout of NVIDIA's
``torch_utils.persistence`` (one REDUCE of ``_reconstruct_persistent_obj(meta)`` per module,
``meta['module_src']`` a source string, ``dnnlib.util.EasyDict`` kwargs, numpy scalars), at
any pickle protocol and with either numpy module spelling.  The globals are resolved through
stand-in modules registered in ``sys.modules`` only while writing; nothing NVIDIA wrote is used.

    python -m tests.nvidia_helpers   # re-extract tests/data/nvidia/*.pt from ../shared fixtures
"""
from __future__ import annotations

import collections
import contextlib
import io
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

DATA = Path(__file__).resolve().parent / "data" / "nvidia"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "nvidia_pickles"
NAMES = ("sg2ada_32", "sg2ada_cond_32", "sg3t_32", "sg2_sg3repo_32")
#: a harmless stand-in for the NVIDIA module source every real snapshot embeds
STAND_IN_SOURCE = "# stand-in for the network module source that NVIDIA snapshots embed\n"
_META_KEYS = ("name", "family", "pickle", "pickle_sha256", "pickle_protocol", "pickle_numpy_module", "snapshot_keys",
              "source", "init_kwargs", "num_ws", "mix_layer", "classes", "transform_case", "layers")
_BUFFER_SUFFIXES = ("w_avg", "resample_filter", "noise_const", "transform", "freqs", "phases", "magnitude_ema",
                    "up_filter", "down_filter")


def load_extract(name: str) -> dict:
    """``tests/data/nvidia/<name>.pt``: class_name, init_kwargs, state_dict, reference, meta."""
    return torch.load(DATA / f"{name}.pt", weights_only=True)


def extract(name: str) -> dict:
    """What our loader takes out of ``../shared/fixtures/nvidia_pickles/<name>.pkl``, plus its references."""
    from models.nvidia_pickle import plain, read_snapshot

    snap = read_snapshot(SHARED / f"{name}.pkl")
    ref = torch.load(SHARED / f"{name}_reference.pt", weights_only=True)
    meta = ref.pop("meta")
    return {"class_name": snap.class_name, "init_kwargs": snap.init_kwargs,
            "state_dict": {k: v.detach().clone() for k, v in snap.state_dict.items()},
            "reference": ref, "meta": plain({k: meta[k] for k in _META_KEYS if k in meta})}


# ====================================================================== writing look-alike pickles
class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, like NVIDIA's modules."""

    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        return (_FAKE["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict`` (a dict subclass)."""


def _reconstruct_persistent_obj(meta):  # never called: only its name is written
    raise AssertionError("the stand-in reconstructor must never run")


def _fake_modules(numpy_module: str) -> dict[str, types.ModuleType]:
    mods: dict[str, types.ModuleType] = {}
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        mods[name] = types.ModuleType(name)
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    EasyDict.__module__ = "dnnlib.util"
    mods["dnnlib.util"].EasyDict = EasyDict
    return mods


_FAKE: dict[str, types.ModuleType] = _fake_modules("numpy.core.multiarray")


class _Pickler(pickle.Pickler):
    """Writes numpy scalars and arrays through ``numpy_module`` (``numpy.core`` or ``numpy._core``)."""

    def __init__(self, f, protocol: int, numpy_module: str):
        super().__init__(f, protocol=protocol)
        self.numpy_module = numpy_module

    def reducer_override(self, obj):
        if isinstance(obj, np.generic):
            return (_scalar_fn(self.numpy_module), (obj.dtype, obj.tobytes()))
        if type(obj) is np.ndarray:
            return (_scalar_fn(self.numpy_module, "_reconstruct"), (np.ndarray, (0,), b"b"), obj.__reduce__()[2])
        return NotImplemented


_SCALAR_FNS: dict[str, Any] = {}


def _scalar_fn(module: str, name: str = "scalar"):
    if (module, name) not in _SCALAR_FNS:
        def fn(*args):  # never called: only its name is written
            raise AssertionError
        fn.__module__, fn.__qualname__ = module, name
        _SCALAR_FNS[(module, name)] = fn
    return _SCALAR_FNS[(module, name)]


@contextlib.contextmanager
def _registered(numpy_module: str) -> Iterator[None]:
    fakes = dict(_FAKE)
    fake_np = types.ModuleType(numpy_module)
    fake_np.scalar = _scalar_fn(numpy_module)
    fake_np._reconstruct = _scalar_fn(numpy_module, "_reconstruct")
    fakes[numpy_module] = fake_np
    saved = {k: sys.modules.get(k) for k in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def module_tree(state_dict: Mapping[str, torch.Tensor], class_name: str, init_kwargs: dict, source: str,
                attrs: Mapping[str, dict] | None = None) -> _Persistent:
    """Nest a flat state dict into persistent objects, one per dotted prefix (parameters vs buffers by name)."""
    attrs = attrs or {}

    def node(prefix: str, cls: str) -> dict:
        return {"training": False, "_parameters": collections.OrderedDict(), "_buffers": collections.OrderedDict(),
                "_non_persistent_buffers_set": set(), "_modules": collections.OrderedDict(),
                "_forward_hooks": collections.OrderedDict(), "_init_args": (), "_init_kwargs": EasyDict(),
                **attrs.get(prefix, {})}

    states: dict[str, dict] = {"": node("", class_name)}
    states[""]["_init_kwargs"] = _easy(init_kwargs)
    objs: dict[str, _Persistent] = {}
    for key, t in state_dict.items():
        path, _, leaf = key.rpartition(".")
        parts = path.split(".") if path else []
        for i in range(len(parts)):
            p = ".".join(parts[: i + 1])
            if p not in states:
                states[p] = node(p, parts[i].title())
                parent = ".".join(parts[:i])
                objs[p] = _Persistent({"type": "class", "version": 6, "module_src": source,
                                       "class_name": parts[i].title(), "state": states[p]})
                states[parent]["_modules"][parts[i]] = objs[p]
        group = "_buffers" if leaf.endswith(_BUFFER_SUFFIXES) else "_parameters"
        value = torch.nn.Parameter(t.detach().clone(), requires_grad=False) if group == "_parameters" else t.detach().clone()
        states[path][group][leaf] = value
    return _Persistent({"type": "class", "version": 6, "module_src": source, "class_name": class_name,
                        "state": states[""]})


def _easy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return EasyDict({k: _easy(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_easy(v) for v in value]
    return value


def snapshot_bytes(top: Mapping[str, Any], protocol: int = 4, numpy_module: str = "numpy._core.multiarray") -> bytes:
    """Pickle a snapshot dict (values may be `module_tree` objects) the way NVIDIA's training loop does."""
    buf = io.BytesIO()
    with _registered(numpy_module):
        _Pickler(buf, protocol, numpy_module).dump(dict(top))
    return buf.getvalue()


def write_snapshot(path: Path, extract_: dict, protocol: int = 4, numpy_module: str = "numpy._core.multiarray",
                   source: str = STAND_IN_SOURCE, keys: tuple[str, ...] = ("G", "D", "G_ema", "augment_pipe"),
                   g_ema: Any = None, extra: Mapping[str, Any] | None = None) -> Path:
    """A snapshot file of an extract: ``G_ema`` (and ``G``) as persistent trees with numpy attributes."""
    attrs = {"synthesis": {"num_ws": extract_["meta"]["num_ws"], "output_gain": np.float64(0.25),
                           "size": np.array([36, 36], dtype=np.int64), "use_fp16": np.bool_(True)}}
    tree = g_ema if g_ema is not None else module_tree(extract_["state_dict"], extract_["class_name"],
                                                        extract_["init_kwargs"], source, attrs)
    top: dict[str, Any] = {"training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "resolution": 32}}
    for k in keys:
        top[k] = tree if k in ("G", "G_ema") else None
    top.update(extra or {})
    path.write_bytes(snapshot_bytes(top, protocol, numpy_module))
    return path


if __name__ == "__main__":
    DATA.mkdir(parents=True, exist_ok=True)
    for n in NAMES:
        torch.save(extract(n), DATA / f"{n}.pt")
        print(n, (DATA / f"{n}.pt").stat().st_size)
