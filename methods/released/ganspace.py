"""GANSpace (harskish/ganspace) files: the decomposition cache ``.npz`` and the viewer's ``.pkl`` exports.

* ``cache/components/<model>-<class>_<layer>_<est>_n<N>[_w][_seed<S>].npz`` (``np.savez_compressed``,
  read with ``allow_pickle=False``): every component ``c`` becomes a linear control with
  direction ``lat_comp[c]`` (unit rows) and scale ``lat_stdev[c]``, exactly the viewer's
  ``delta_c = lat_comp[c]·lat_stdev[c]·v_c`` (``interactive.on_draw``, latent mode).  The
  space is W with ``_w`` in the name, else Z.  ``var_ratio``, ``act_stdev`` and
  ``random_stdevs`` are kept as extras.
* ``out/directions/*.pkl`` (the viewer's Save button, ``pickle.dump`` of a dict of numpy
  data): read with the numpy-only unpickler; one control over the saved W+ rows
  ``[edit_start, edit_end)``.

Where we differ: the viewer adds the edit before its truncation (ψ 0.9 by default), so the
synthesis sees ``avg + ψ·(w + δ − avg)``; Latent Studio applies edits after truncation
(METHODS.md §0), so a slider's step is not shrunk by ψ.  Activation-mode edits
(``act_comp``) are not imported.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from models.bounded import InputLimitError, read_npz

from ..controls import ControlSet, LinearControl, ModelRef
from .common import ReleasedFileError, check_dim, check_size, check_space, contiguous_rows, provenance
from .pickles import load_numpy_pickle

NPZ_KEYS = ("lat_comp", "lat_stdev")


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """`models.bounded.read_npz`: ``allow_pickle=False``, each entry's declared size checked first."""
    check_size(path)
    try:
        return read_npz(path)
    except InputLimitError as exc:
        raise ReleasedFileError(str(exc)) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ReleasedFileError(f"{path.name} is not a readable numpy .npz file without objects ({type(exc).__name__})") from None


def _rows(a: np.ndarray, key: str, where: str) -> np.ndarray:
    if a.dtype.kind != "f" or a.ndim < 1 or not np.all(np.isfinite(a)):
        raise ReleasedFileError(f"{where}: {key} must be finite floats")
    return a.reshape(a.shape[0], -1).astype(np.float32)


def import_npz(path: Path, G) -> ControlSet:
    where = path.name
    arrays = _npz_arrays(path)
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ReleasedFileError(f"{where} has no array {missing[0]!r}; it is not a GANSpace decomposition cache")
    comps = _rows(arrays["lat_comp"], "lat_comp", where)
    stdev = arrays["lat_stdev"].reshape(-1).astype(np.float64)
    if stdev.shape[0] != comps.shape[0] or not np.all(np.isfinite(stdev)) or np.any(stdev <= 0):
        raise ReleasedFileError(f"{where}: lat_stdev must hold one positive value per component")
    space = "w" if re.search(r"_w(_seed\d+)?$", path.stem) else "z"
    check_space(G, space, where)
    check_dim(G, comps.shape[1], where)
    norms = np.linalg.norm(comps, axis=1)
    if np.any(norms == 0):
        raise ReleasedFileError(f"{where}: a component of lat_comp is zero")
    controls = [LinearControl(f"PC{i}", comps[i] / norms[i], float(stdev[i]) * float(norms[i])) for i in range(len(comps))]
    extras = {k: arrays[k].reshape(-1).astype(np.float32) for k in ("var_ratio", "act_stdev", "random_stdevs")
              if k in arrays and arrays[k].dtype.kind == "f" and arrays[k].size == len(comps)}
    stats = {"space": space, "explained_variance": float(extras["var_ratio"].sum()) if "var_ratio" in extras else None}
    cfg = provenance("ganspace-npz", [path], name_fields=path.stem)
    return ControlSet(controls, ModelRef.of(G), "ganspace", cfg, extras=extras, stats=stats)


def read_pkl(path: Path) -> dict:
    """The viewer export's dict, through the numpy-only unpickler."""
    check_size(path, 64 * 1024 * 1024)
    try:
        obj = load_numpy_pickle(path.read_bytes())
    except pickle.UnpicklingError as exc:
        raise ReleasedFileError(f"{path.name} is not a GANSpace export of numpy data only ({exc})") from None
    if not isinstance(obj, dict) or "lat_comp" not in obj:
        raise ReleasedFileError(f"{path.name} is not a GANSpace viewer export (a dict with lat_comp)")
    return obj


def import_pkl(path: Path, G) -> ControlSet:
    where = path.name
    d = read_pkl(path)
    comp = np.asarray(d["lat_comp"])
    if comp.dtype.kind != "f" or not np.all(np.isfinite(comp)):
        raise ReleasedFileError(f"{where}: lat_comp must be finite floats")
    comp = comp.reshape(-1).astype(np.float32)
    space = str(d.get("latent_space", "Z")).lower()
    if space not in ("w", "z"):
        raise ReleasedFileError(f"{where}: latent_space {d.get('latent_space')!r} is neither W nor Z")
    if str(d.get("edit_type", "latent")) != "latent":
        raise ReleasedFileError(f"{where} is an {d.get('edit_type')} edit; only latent edits can be imported")
    check_space(G, space, where)
    check_dim(G, comp.size, where)
    try:
        stdev = float(d.get("lat_stdev", 1.0))
        start, end = int(d.get("edit_start", 0)), int(d.get("edit_end", G.num_layers))
    except (TypeError, ValueError):
        raise ReleasedFileError(f"{where}: lat_stdev, edit_start and edit_end must be numbers") from None
    if not (np.isfinite(stdev) and stdev > 0) or not 0 <= start < end:
        raise ReleasedFileError(f"{where}: lat_stdev must be positive and edit_start below edit_end")
    layers = contiguous_rows(list(range(start, end)), G.num_layers, where)
    norm = float(np.linalg.norm(comp))
    if norm == 0:
        raise ReleasedFileError(f"{where}: lat_comp is zero")
    name = str(d.get("name", path.stem))[:80] or path.stem
    control = LinearControl(name, comp / norm, stdev * norm, layers)
    keep = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in d.items()
            if k in ("name", "component_index", "model_name", "output_class", "latent_space", "edit_start", "edit_end",
                     "truncation", "example_seed", "sigma_range")}
    keep = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in keep.items()}
    decomposition = d.get("decomposition") if isinstance(d.get("decomposition"), dict) else {}
    cfg = provenance("ganspace-pkl", [path], viewer=keep, decomposition={str(k): str(v) for k, v in decomposition.items()})
    return ControlSet([control], ModelRef.of(G), "ganspace", cfg, stats={"space": space})


def looks_like_pickle(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


__all__ = ["import_npz", "import_pkl", "read_pkl", "looks_like_pickle"]
