"""A restricted unpickler for numpy data in plain containers (GANSpace's viewer exports).

Only numpy's array globals are resolved — ``_reconstruct``, ``ndarray``, ``dtype`` and
``scalar``, under both ``numpy.core.multiarray`` (numpy 1.x files) and
``numpy._core.multiarray`` (numpy 2.x) — besides the builtin containers pickle makes
without globals.  Any other global (a class, a function such as ``os.system``) is refused
before anything is called, and object arrays are refused after loading.
"""
from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

try:  # numpy ≥ 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

_ALLOWED = {
    ("multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
_MODULES = {"numpy.core.multiarray": "multiarray", "numpy._core.multiarray": "multiarray", "numpy": "numpy"}


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D102
        key = (_MODULES.get(module, ""), name)
        if key not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return _ALLOWED[key]


def _check(obj: Any, depth: int = 0) -> None:
    if depth > 20:
        raise pickle.UnpicklingError("nested too deeply")
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise pickle.UnpicklingError("an object array")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check(k, depth + 1)
            _check(v, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _check(v, depth + 1)


def load_numpy_pickle(data: bytes) -> Any:
    """Unpickle ``data`` allowing only numpy arrays, dtypes and scalars in builtin containers.

    Raises `pickle.UnpicklingError` naming the first thing that is not allowed.
    """
    try:
        obj = _NumpyOnly(io.BytesIO(data)).load()
    except pickle.UnpicklingError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed stream is an unpickling error
        raise pickle.UnpicklingError(f"malformed pickle ({type(exc).__name__})") from None
    _check(obj)
    return obj
