"""WarpedGANSpace (chi0tzp/WarpedGANSpace) experiments: ``models/support_sets.pt`` with ``args.json``.

``support_sets.pt`` is the state dict of ``lib.support_sets.SupportSets``:
``SUPPORT_SETS`` ``[K, 2N·d]`` (reshaped to K sets of 2N RBF centres), ``ALPHAS`` ``[K, 2N]``
and ``LOGGAMMA`` ``[K, 1]``.  γ is ``exp(LOGGAMMA[k])`` with ``learn_gammas``, otherwise
``args.gamma`` (null: 1/d).  Each set becomes an ``rbf`` field control, the unit gradient

    ∇f_k(z) / ‖∇f_k(z)‖,   ∇f_k(z) = −2 Σ_i α_ki γ_k exp(−γ_k ‖z − v_ki‖²)(z − v_ki)

walked in Euler steps of ``step`` (``traverse_latent_space.py --eps``, 0.2 by default):
``z_t = z_{t−1} + ε·dir(z_{t−1})``, the original's path codes.  Where we differ: its
traversal renders ``z_t + s_t``, adding each step's shift twice; the slider shows ``z_t``.
A folder without ``support_sets.pt`` gives the last ``support_sets-*.pt`` in string order,
as the original does.  The space is W with ``shift_in_w_space``, else Z.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..controls import ControlSet, FieldControl, ModelRef
from ..fields import FieldError, VectorField
from .common import ReleasedFileError, args_json_of, check_dim, check_space, load_checkpoint, provenance, read_json_object, tensor

DEFAULT_STEP = 0.2


def find_files(path: Path) -> tuple[Path, Path]:
    """(support sets file, args.json) from the file, its ``models`` folder or the experiment folder."""
    if path.is_dir():
        models = path / "models" if (path / "models").is_dir() else path
        if (models / "support_sets.pt").is_file():
            sets = models / "support_sets.pt"
        else:
            found = sorted(p.name for p in models.glob("support_sets-*.pt"))
            if not found:
                raise ReleasedFileError(f"{path} has no models/support_sets.pt")
            sets = models / found[-1]
    else:
        sets = path
    return sets, args_json_of(sets, "what γ and space it used")


def import_run(path: Path, G, step: float | None = None) -> ControlSet:
    sets_path, args_path = find_files(path)
    where = sets_path.name
    args = read_json_object(args_path)
    space = "w" if args.get("shift_in_w_space") else "z"
    check_space(G, space, where)
    state = load_checkpoint(sets_path)
    if not isinstance(state, dict):
        raise ReleasedFileError(f"{where} holds a {type(state).__name__}, expected the support sets' state dict")
    alphas = tensor(state, "ALPHAS", where, (None, None))
    K, M = alphas.shape
    flat = tensor(state, "SUPPORT_SETS", where, (K, None))
    if M % 2 or flat.shape[1] % M:
        raise ReleasedFileError(f"{where}: SUPPORT_SETS {flat.shape[1]} wide is not 2N·d for ALPHAS of {M} = 2N")
    d = flat.shape[1] // M
    check_dim(G, d, where)
    support = flat.reshape(K, M, d)
    if args.get("learn_gammas"):
        gammas = np.exp(tensor(state, "LOGGAMMA", where, (K, 1))[:, 0].astype(np.float64))
    else:
        g = args.get("gamma")
        if g is not None and (isinstance(g, bool) or not isinstance(g, (int, float)) or not g > 0):
            raise ReleasedFileError(f"{args_path.name}: gamma must be a positive number or null")
        gammas = np.full(K, float(g) if g is not None else 1.0 / d)
    if not np.all(np.isfinite(gammas)) or np.any(gammas <= 0):
        raise ReleasedFileError(f"{where}: LOGGAMMA gives a γ that is not a positive number")
    step = float(step) if step else DEFAULT_STEP
    if not (math.isfinite(step) and step > 0):
        raise ReleasedFileError("the traversal step must be positive")
    controls = []
    for k in range(K):
        try:
            field = VectorField("rbf", {"support": support[k], "weights": alphas[k]}, {"gamma": float(gammas[k])})
        except FieldError as exc:
            raise ReleasedFileError(f"{where}: set {k}: {exc}") from None
        controls.append(FieldControl(f"path {k}", field, step, 1.0))
    lo = float(args.get("min_shift_magnitude") or step)
    hi = float(args.get("max_shift_magnitude") or step)
    config = provenance("warped", [sets_path, args_path], original_args=args, step=step)
    stats = {"space": space, "shift_range": [lo, hi], "slider_range": [-16 * step, 16 * step],
             "gammas": [float(g) for g in gammas]}
    return ControlSet(controls, ModelRef.of(G), "warped", config, stats=stats)
