"""Reading NVIDIA ``network-snapshot-*.pkl`` files as plain data, never running their code.

stylegan2-ada-pytorch and stylegan3 pickle every network through
``torch_utils.persistence``: each module is one REDUCE of
``_reconstruct_persistent_obj(meta)`` whose ``meta`` carries the full Python source of the
defining file, which NVIDIA's loader ``exec``s.  `RestrictedUnpickler` maps that global to
`PersistentObject`, a record of ``class_name`` and ``state`` (the module's ``__dict__``), and
ignores the source.  Every other global is refused unless it is one of the few the format
needs (tensor rebuilds, storages, ``OrderedDict``, ``set``, numpy scalars and arrays); a
refused global ends the load with a `LoadError` that names it.

Sizes are checked before anything is allocated: the file is read into memory once (so a
declared byte count cannot ask for more than the file holds), every storage's declared
element count must fit in its blob, and every tensor's shape and strides must fit in its
storage.  Storage blobs are read with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import collections
import io
import math
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .base import LoadError

#: bytes at the start of a file that `looks_like_nvidia_pickle` inspects
SNIFF_BYTES = 1 << 20
#: the snapshot entry holding the generator everybody renders with (the EMA of G)
GENERATOR_KEY = "G_ema"

_NUMPY_CORE = getattr(np, "_core", None) or np.core  # numpy 2 spelling first
_MULTIARRAY = _NUMPY_CORE.multiarray
#: element sizes of the legacy storage classes a storage blob may name
_STORAGE_TYPES = {
    "FloatStorage": (torch.float32, 4), "DoubleStorage": (torch.float64, 8), "HalfStorage": (torch.float16, 2),
    "BFloat16Storage": (torch.bfloat16, 2), "LongStorage": (torch.int64, 8), "IntStorage": (torch.int32, 4),
    "ShortStorage": (torch.int16, 2), "CharStorage": (torch.int8, 1), "ByteStorage": (torch.uint8, 1),
    "BoolStorage": (torch.bool, 1),
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowed list (the load stops there)."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.qualified = f"{module}.{name}"


class _BadValue(pickle.UnpicklingError):
    """An allowed callable was given arguments the format never uses (one sentence)."""


@dataclass
class PersistentObject:
    """One network module of a snapshot as data: its class name and its ``__dict__`` state.

    ``state['_parameters']``, ``state['_buffers']`` and ``state['_modules']`` hold tensors
    and child `PersistentObject` s; ``state['_init_kwargs']`` the constructor's keywords.
    """

    class_name: str
    state: dict

    def child(self, name: str) -> "PersistentObject | None":
        modules = self.state.get("_modules") or {}
        child = modules.get(name)
        return child if isinstance(child, PersistentObject) else None

    def find(self, path: str) -> "PersistentObject | None":
        """The sub-module at dotted ``path`` (``"synthesis.b4.conv1"``), or None."""
        node: PersistentObject | None = self
        for part in path.split(".") if path else []:
            node = node.child(part) if node is not None else None
        return node

    def init_kwargs(self) -> dict:
        """The constructor's keyword arguments as plain Python values (EasyDicts become dicts)."""
        return plain(self.state.get("_init_kwargs") or {})


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Stands in for ``torch_utils.persistence._reconstruct_persistent_obj``: keeps the data, drops the source."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise _BadValue("a persistent object's description is not a class record")
    name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(name, str) or not isinstance(state, dict):
        raise _BadValue("a persistent object lacks its class name or its state")
    return PersistentObject(name, state)


class _EasyDict(dict):
    """``dnnlib.util.EasyDict`` as a plain dict subclass (NVIDIA's adds attribute access only)."""


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise _BadValue("a parameter does not wrap a tensor")
    return data


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise _BadValue(f"a tensor's {what} is not a tuple of non-negative integers")
    return value


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` after checking that the view lies inside its storage."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _BadValue("a tensor is not built on a storage")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride) or not isinstance(storage_offset, int) or storage_offset < 0:
        raise _BadValue("a tensor's size, stride and offset do not fit together")
    if math.prod(size) > 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size():
            raise _BadValue(
                f"a tensor of shape {list(size)} needs {last + 1} elements but its storage holds {storage.size()}"
            )
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False, collections.OrderedDict())


class _StorageHeader(pickle.Unpickler):
    """Reads a legacy storage blob's pickles only to learn its declared type and element count."""

    def __init__(self, f: io.BytesIO):
        super().__init__(f)
        self.declared: tuple[str, int] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_TYPES:
            return name
        raise RefusedGlobal(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and pid[1] in _STORAGE_TYPES
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise _BadValue("a storage blob names no storage type and size")
        self.declared = (pid[1], pid[4])
        return None


def _load_storage(blob: Any) -> torch.storage.TypedStorage:
    """``torch.storage._load_from_bytes`` done safely: sizes checked, then ``weights_only=True``."""
    if not isinstance(blob, (bytes, bytearray)):
        raise _BadValue("a storage is not stored as bytes")
    f = io.BytesIO(blob)
    header = _StorageHeader(f)
    try:
        for _ in range(4):  # magic number, protocol version, sys_info, then the storage record
            header.load()
    except (RefusedGlobal, _BadValue):
        raise
    except Exception:  # noqa: BLE001 - a broken blob is a broken file
        raise _BadValue("a storage blob is not a legacy torch.save of one storage") from None
    if header.declared is None:
        raise _BadValue("a storage blob holds no storage")
    kind, numel = header.declared
    if numel * _STORAGE_TYPES[kind][1] > len(blob):
        raise _BadValue(f"a storage declares {numel} elements but its blob holds only {len(blob)} bytes")
    try:
        storage = torch.load(io.BytesIO(blob), weights_only=True)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _BadValue(f"a storage blob could not be read ({first[:120]})") from None
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _BadValue("a storage blob does not hold a storage")
    return storage


class _NdarrayToken:
    """Stands for ``numpy.ndarray``: valid only as the first argument of ``_reconstruct``."""


def _dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
    dt = np.dtype(obj, align=bool(align), copy=bool(copy))
    if dt.hasobject:
        raise _BadValue("the file asks for a numpy object array, which could hold anything")
    return dt


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not _NdarrayToken or shape != (0,):
        raise _BadValue("a numpy array is rebuilt in a way numpy's own pickles never use")
    return _MULTIARRAY._reconstruct(np.ndarray, (0,), b"b")


def _scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise _BadValue("a numpy scalar's bytes do not match its type")
    return _MULTIARRAY.scalar(dtype, data)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """numpy's protocol-5 array rebuild, with the buffer's length checked against the shape."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise _BadValue("a numpy array has no plain element type")
    shape = _ints(tuple(shape) if isinstance(shape, list) else shape, "shape")
    raw = bytes(buf) if isinstance(buf, (bytes, bytearray, memoryview, pickle.PickleBuffer)) else None
    if raw is None or len(raw) != math.prod(shape) * dtype.itemsize:
        raise _BadValue("a numpy array's bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if order == "F" else "C").copy()


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Protocol 2 writes bytes as ``_codecs.encode(str, 'latin1')``; nothing else is allowed."""
    if not isinstance(text, str) or encoding != "latin1":
        raise _BadValue("a protocol-2 byte string is encoded in an unexpected way")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): _dtype,
    ("numpy", "ndarray"): _NdarrayToken,
}
for _mod in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_mod}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_mod}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_mod}.numeric", "_frombuffer")] = _frombuffer


class RestrictedUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` that resolves only the globals NVIDIA snapshots need (see the module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _BadValue("the pickle refers to external data, which NVIDIA snapshots never do")


def looks_like_nvidia_pickle(head: bytes) -> bool:
    """Whether a file's first bytes are a (non-zip) pickle that uses NVIDIA's persistence module."""
    return head[:1] == b"\x80" and b"torch_utils" in head and b"persistence" in head


def plain(value: Any) -> Any:
    """A deep copy made of dict, list, str, int, float, bool and None (numpy scalars become numbers)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def flat_state_dict(obj: PersistentObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """The names and order of ``nn.Module.state_dict()``: parameters, persistent buffers, then children."""
    st = obj.state
    out: dict[str, torch.Tensor] = {}
    params, buffers, modules = st.get("_parameters"), st.get("_buffers"), st.get("_modules")
    skip = st.get("_non_persistent_buffers_set") or set()
    for group, what in ((params, "parameters"), (buffers, "buffers")):
        if group is None:
            continue
        if not isinstance(group, Mapping):
            raise LoadError(f"the {what} of {prefix.rstrip('.') or 'the generator'} are not a name-to-tensor table")
        for k, v in group.items():
            if v is None or (what == "buffers" and k in skip):
                continue
            if not isinstance(v, torch.Tensor):
                raise LoadError(f"{prefix}{k} is a {type(v).__name__}, not a tensor")
            out[prefix + str(k)] = v
    if modules is not None:
        if not isinstance(modules, Mapping):
            raise LoadError(f"the sub-modules of {prefix.rstrip('.') or 'the generator'} are not a table")
        for k, child in modules.items():
            if child is None:
                continue
            if not isinstance(child, PersistentObject):
                raise LoadError(f"{prefix}{k} is a {type(child).__name__}, not a persistent network module")
            out.update(flat_state_dict(child, f"{prefix}{k}."))
    return out


@dataclass
class NvidiaSnapshot:
    """What a snapshot's ``G_ema`` holds as data: class, init kwargs, state dict and the module tree."""

    class_name: str
    init_kwargs: dict
    state_dict: dict[str, torch.Tensor]
    root: PersistentObject
    snapshot_keys: list[str]


def unpickle(data: bytes, name: str = "the file") -> Any:
    """Unpickle ``data`` with `RestrictedUnpickler`; every failure becomes a one-sentence `LoadError`."""
    try:
        with warnings.catch_warnings():  # torch's legacy storages warn that TypedStorage is deprecated
            warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
            return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedGlobal as exc:
        raise LoadError(
            f"{name} was not opened: it asks for the Python object {exc.qualified}, which an NVIDIA snapshot "
            "never needs and could run code"
        ) from None
    except _BadValue as exc:
        raise LoadError(f"{name} was not opened: {exc}") from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError, RecursionError, UnicodeDecodeError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise LoadError(f"{name} is not a complete NVIDIA snapshot (it may be truncated): {first or type(exc).__name__}") from None


def read_snapshot(path: Path | str) -> NvidiaSnapshot:
    """A snapshot file -> its ``G_ema`` as `NvidiaSnapshot`; `LoadError` for anything else."""
    path = Path(path)
    from .bounded import RAISE_HINT, format_bytes, memory_budget

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(f"{path.name} could not be read ({exc.strerror or type(exc).__name__})") from None
    if 2 * size > memory_budget():  # the bytes, and the tensors built from them
        raise LoadError(f"{path.name} is {format_bytes(size)}, more than half the {format_bytes(memory_budget())} "
                        f"memory limit it would need to open; {RAISE_HINT}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path.name} could not be read ({exc.strerror or type(exc).__name__})") from None
    return snapshot_from_bytes(data, path.name)


def snapshot_from_bytes(data: bytes, name: str = "the file") -> NvidiaSnapshot:
    """Like `read_snapshot`, for bytes already in memory."""
    obj = unpickle(data, name)
    if not isinstance(obj, dict):
        raise LoadError(f"{name} holds a {type(obj).__name__}, not the dict of networks an NVIDIA snapshot is")
    gen = obj.get(GENERATOR_KEY)
    if gen is None:
        have = ", ".join(repr(k) for k in list(obj)[:6]) or "nothing"
        raise LoadError(f"{name} has no 'G_ema' generator (it holds {have}); Latent Studio renders only with G_ema")
    if not isinstance(gen, PersistentObject):
        raise LoadError(f"{name}: 'G_ema' is a {type(gen).__name__}, not a persistent network")
    if not isinstance(gen.state.get("_init_kwargs", {}), Mapping):
        raise LoadError(f"{name}: the init kwargs of 'G_ema' are not a dict")
    sd = flat_state_dict(gen)
    return NvidiaSnapshot(gen.class_name, gen.init_kwargs(), sd, gen, [str(k) for k in obj])
