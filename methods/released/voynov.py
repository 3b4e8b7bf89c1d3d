"""GANLatentDiscovery (anvoynov/GANLatentDiscovery) runs: ``models/deformator_<step>.pt`` with ``args.json``.

As the original's ``load_from_dir``, a run folder gives its largest-index deformator, and
``human_annotation.txt`` (``<index>: <name>`` lines) names directions.  The deformator is
``LatentDeformator(shift_dim, input_dim=directions_count or D, out_dim=max_latent_dim or D,
type=args.deformator)``; its width comes from the file (``fc``: ``fc1.weight`` rows), not
from the original's fixed 1024.  Direction k at magnitude s shifts the latent by
``A(s·e_k)``, zero-padded (or cut) to the latent size D:

* ``ortho`` — ``A = expm(L − Lᵀ)`` (``torch.linalg.matrix_exp`` in float64; the original's
  own Padé expm agrees to 2e-6): linear controls, the columns ``A[:, k]``, one slider unit
  one unit of s.
* ``linear``, ``proj``, ``fc`` — the shift is not s times one vector (``linear``:
  ``s·W_k + b``; ``proj``: length |s| along ``s·W_k + b``; ``fc``: a residual MLP of s·e_k),
  so each direction becomes a ``shift`` field control that moves by ``A(s·e_k)`` exactly.
  Where we differ: at s = 0 the slider leaves the latent alone, while the original adds
  ``A(0)`` (the bias ``b`` for ``linear``, ``fc``'s response to 0) to every image it makes.
* ``id`` — the coordinate axes.  ``random`` cannot be imported: its matrix is not saved.

The space is W for StyleGAN2 runs with ``w_shift``, else Z.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..controls import ControlSet, FieldControl, LinearControl, ModelRef
from ..fields import FieldError, VectorField
from .common import ReleasedFileError, args_json_of, check_dim, check_space, load_checkpoint, provenance, read_json_object, read_text, tensor

TYPES = ("ortho", "linear", "proj", "fc", "id", "random")
#: a controls file keeps each field control's arrays; more than this is refused
MAX_SAVED_BYTES = 2**30
_DEFORMATOR = re.compile(r"^deformator_(\d+)\.pt$")


def find_files(path: Path) -> tuple[Path, Path]:
    """(deformator file, args.json) from a deformator file, its ``models`` folder or the run folder."""
    if path.is_dir():
        models = path / "models" if (path / "models").is_dir() else path
        found = [(int(m.group(1)), p) for p in models.iterdir() if (m := _DEFORMATOR.match(p.name))]
        if not found:
            raise ReleasedFileError(f"{path} has no models/deformator_<step>.pt")
        deformator = max(found)[1]
    else:
        deformator = path
    return deformator, args_json_of(deformator, "what deformator it is")


def read_annotations(path: Path, count: int) -> dict[int, str]:
    """``human_annotation.txt``: ``<index>: <name>`` per line (missing file: no names)."""
    names: dict[int, str] = {}
    if not path.is_file():
        return names
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        idx, sep, name = line.partition(":")
        if not sep or not idx.strip().isdigit():
            raise ReleasedFileError(f"{path.name} line {n} is not '<index>: <name>'")
        k = int(idx)
        if k < count and name.strip():
            names[k] = name.strip()[:80]
    return names


def _int_or_none(args: dict, key: str, where: str) -> int | None:
    v = args.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ReleasedFileError(f"{where}: {key} must be a positive integer or null")
    return v


def import_run(path: Path, G) -> ControlSet:
    deformator_path, args_path = find_files(path)
    where = deformator_path.name
    args = read_json_object(args_path)
    kind = args.get("deformator", "ortho")
    if kind not in TYPES:
        raise ReleasedFileError(f"{args_path.name} names deformator {kind!r}, not one of {', '.join(TYPES)}")
    if kind == "random":
        raise ReleasedFileError("a 'random' deformator's matrix is made at construction and never saved, so it cannot be imported")
    space = "w" if str(args.get("gan_type", "")).startswith("StyleGAN2") and args.get("w_shift") else "z"
    check_space(G, space, where)
    D = G.latent_dim
    # directions_count was called max_latent_ind in the authors' pretrained archives (their issue #16)
    count = _int_or_none(args, "directions_count", args_path.name) or _int_or_none(args, "max_latent_ind", args_path.name)
    out_dim = _int_or_none(args, "max_latent_dim", args_path.name)
    state = load_checkpoint(deformator_path) if kind != "id" else {}
    if not isinstance(state, dict):
        raise ReleasedFileError(f"{where} holds a {type(state).__name__}, expected the deformator's state dict")
    controls: list = []
    if kind in ("ortho", "id"):
        if kind == "ortho":
            L = torch.from_numpy(tensor(state, "log_mat_half", where, (None, None))).double()
            if L.shape[0] != L.shape[1]:
                raise ReleasedFileError(f"{where}: log_mat_half must be square")
            check_dim(G, L.shape[0], where)
            M = torch.linalg.matrix_exp(L - L.T).float().numpy()  # orthogonal; direction k is column k
        else:
            M = np.eye(D, dtype=np.float32)
        n = min(count or D, M.shape[1])
        cols = [M[:, k] / np.linalg.norm(M[:, k]) for k in range(n)]
        controls = [LinearControl(f"direction {k}", cols[k].astype(np.float32), 1.0) for k in range(n)]
    else:
        if kind in ("linear", "proj"):
            W = tensor(state, "linear.weight", where, (None, None))
            b = tensor(state, "linear.bias", where, (W.shape[0],))
            arrays = {"W": W, "b": b}
            n_in, n_out = W.shape[1], W.shape[0]
        else:
            arrays = {}
            for i in range(1, 5):
                arrays[f"fc{i}_W"] = tensor(state, f"fc{i}.weight", where, (None, None))
                arrays[f"fc{i}_b"] = tensor(state, f"fc{i}.bias", where, (None,))
            for i in range(1, 4):
                for part, key in (("mean", "running_mean"), ("var", "running_var"), ("weight", "weight"), ("bias", "bias")):
                    arrays[f"bn{i}_{part}"] = tensor(state, f"bn{i}.{key}", where, (None,))
            n_in, n_out = arrays["fc1_W"].shape[1], arrays["fc4_W"].shape[0]
        if n_out != (out_dim or D):
            check_dim(G, n_out, where)
        per_control = sum(a.nbytes for a in arrays.values())
        if per_control * n_in > MAX_SAVED_BYTES:
            raise ReleasedFileError(f"{where}: {n_in} directions of a {per_control / 2**20:.0f} MiB {kind} deformator would make a "
                                    f"controls file over {MAX_SAVED_BYTES / 2**30:.0f} GiB (each control keeps its own copy)")
        if count is not None and count != n_in:
            raise ReleasedFileError(f"{where} has {n_in} directions but {args_path.name} says directions_count {count}")
        for k in range(n_in):
            try:
                field = VectorField("shift", arrays, {"net": kind, "index": k, "input_dim": n_in, "dim": D})
            except FieldError as exc:
                raise ReleasedFileError(f"{where}: {exc}") from None
            controls.append(FieldControl(f"direction {k}", field, 1.0, 1.0))
    names = read_annotations(args_path.parent / "human_annotation.txt", len(controls))
    for k, name in names.items():
        controls[k] = replace(controls[k], name=name)
    scale = float(args.get("shift_scale") or 6.0)
    low = float(args.get("min_shift") or 0.5)
    files = [deformator_path, args_path] + [p for p in (args_path.parent / "human_annotation.txt",) if p.is_file()]
    config = provenance("voynov", files, deformator=kind, original_args=args, annotations={str(k): v for k, v in names.items()})
    stats = {"space": space, "shift_range": [low, scale], "slider_range": [-scale, scale]}
    return ControlSet(controls, ModelRef.of(G), "voynov", config, stats=stats)
