"""InterFaceGAN (genforce/interfacegan) boundaries: ``.npy`` files holding a unit normal ``(1, d)``.

``train_boundary.py`` saves float32, the 39 shipped files are float64; the file holds the
bare array (read with ``allow_pickle=False``).  The space comes from the name only:
``…_w_boundary.npy`` is W, ``…_c_…`` (conditional) and other shipped names are Z; a plain
``boundary.npy`` (a ``train_boundary.py`` output folder) is W or Z by a ``_w_``/``_z_`` in
its folder's name, else taken to be in the model's editing space.  The boundary becomes one linear control of unit scale.

Where we differ: for a 2-D code the original's ``linear_interpolate`` moves the code to
the signed distance l from the hyperplane, ``code + (l − code·n)·n``; the slider adds a
plain offset ``t·n`` (``t = l − code·n`` gives the original's point), which is also what
the original does for W+ codes.  Z codes are not put on the √d sphere first.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from models.bounded import InputLimitError, read_npy

from ..controls import ControlSet, LinearControl, ModelRef
from .common import ReleasedFileError, check_dim, check_size, check_space, editing_space, provenance


def read_boundary(path: Path) -> np.ndarray:
    check_size(path, 64 * 1024 * 1024)
    try:
        a = read_npy(path)
    except InputLimitError as exc:
        raise ReleasedFileError(str(exc)) from None
    except (ValueError, OSError, EOFError) as exc:
        raise ReleasedFileError(f"{path.name} is not a numpy .npy array without objects ({type(exc).__name__})") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[0] != 1) or a.size == 0:
        raise ReleasedFileError(f"{path.name} holds {getattr(a, 'shape', '?')} {getattr(a, 'dtype', '')}, expected a float boundary of shape (1, d)")
    a = a.reshape(-1).astype(np.float64)
    norm = float(np.linalg.norm(a))
    if not np.isfinite(norm) or norm == 0:
        raise ReleasedFileError(f"{path.name} is not a finite, non-zero normal")
    return a / norm


def space_of(path: Path, G) -> tuple[str, str]:
    """(space, how it was known) from the file name."""
    name = path.name
    if name == "boundary.npy":
        folder = f"_{path.parent.name.lower()}_"
        if "_w_" in folder or "_wp_" in folder:
            return "w", f"the folder is named {path.parent.name}"
        if "_z_" in folder:
            return "z", f"the folder is named {path.parent.name}"
        return editing_space(G), "assumed: a train_boundary.py output names no space"
    if re.search(r"_w_boundary\.npy$", name):
        return "w", "the name ends in _w_boundary.npy"
    return "z", "InterFaceGAN names without _w are Z boundaries"


def import_boundary(path: Path, G) -> ControlSet:
    n = read_boundary(path)
    space, why = space_of(path, G)
    check_space(G, space, path.name)
    check_dim(G, n.size, path.name)
    label = path.parent.name if path.name == "boundary.npy" else re.sub(r"_boundary\.npy$", "", path.name)
    control = LinearControl(label[:80] or "boundary", n.astype(np.float32), 1.0)
    config = provenance("interfacegan", [path], space=space, space_from=why)
    return ControlSet([control], ModelRef.of(G), "interfacegan", config, stats={"space": space, "slider_range": [-3.0, 3.0]})
