"""LatentCLR (catlab-team/latentclr) run folders: ``best_model.pt`` with ``.hydra/config.yaml`` beside it.

The checkpoint's ``model`` state dict is the direction model named by the config's
``model._target_``:

* ``colat.models.Fixed`` — ``params`` ``[K, size]``: K linear controls, direction
  ``params[k]/‖params[k]‖`` (``post_process`` with ``normalize: true``); one slider unit
  is one unit of α, the original's ``z + α·P_k/‖P_k‖``.
* ``colat.models.LinearConditional`` — ``nets.{k}.linear_1.{weight,bias}``: ``linear``
  field controls ``v(z) = (W z + b)/‖W z + b‖`` (the original's ``create_mlp`` gives this
  Linear a bias although the class's ``bias`` argument says False).
* ``colat.models.NonlinearConditional`` — ``linear_1`` … ``linear_D`` with
  ``batchnorm_{j}`` between them: ``mlp`` field controls, batch norm in eval form
  (running statistics, eps 1e-5), as ``gen.py`` runs them after ``model.eval()``.

Field controls follow ``z ← z + Δα·v(z)`` in steps of ``step`` latent units: with
``step`` equal to gen.py's spacing of ``alphas`` this is its ``iterative=True`` path.
``generator.use_w`` gives the space (W, else Z); ``feed_layers`` becomes the controls'
W+ row range.  Only ``normalize: true`` conditional models can be imported (their
``normalize: false`` edit has the network's own length, not a unit step).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..controls import ControlSet, FieldControl, LinearControl, ModelRef
from ..fields import FieldError, VectorField
from .common import ReleasedFileError, check_dim, check_space, contiguous_rows, load_checkpoint, provenance, read_text, tensor
from .yaml_subset import YamlError, loads

CHECKPOINTS = ("best_model.pt", "final_model.pt", "most_recent.pt")
MODELS = {"colat.models.Fixed": "global", "colat.models.LinearConditional": "linear",
          "colat.models.NonlinearConditional": "nonlinear"}
DEFAULT_STEP = 0.25


def find_files(path: Path) -> tuple[Path, Path]:
    """(checkpoint, config.yaml) from a checkpoint file or its run folder."""
    folder = path if path.is_dir() else path.parent
    ckpt = next((folder / n for n in CHECKPOINTS if (folder / n).is_file()), None) if path.is_dir() else path
    if ckpt is None:
        raise ReleasedFileError(f"{path} has none of {', '.join(CHECKPOINTS)}")
    cfg = folder / ".hydra" / "config.yaml"
    if not cfg.is_file():
        raise ReleasedFileError(f"{ckpt.name} has no .hydra/config.yaml beside it, which says what kind of model it holds")
    return ckpt, cfg


def read_config(path: Path) -> dict:
    try:
        cfg = loads(read_text(path))
    except YamlError as exc:
        raise ReleasedFileError(f"{path.name} is not a config this importer can read ({exc})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise ReleasedFileError(f"{path.name} has no 'model' section; it is not a LatentCLR config")
    return cfg


def _alpha_range(alpha) -> tuple[float, float]:
    vals = alpha if isinstance(alpha, list) else [alpha]
    try:
        mags = [abs(float(a)) for a in vals]
    except (TypeError, ValueError):
        raise ReleasedFileError(f"model.alpha {alpha!r} is neither a number nor a [lo, hi] range") from None
    if len(mags) not in (1, 2) or max(mags) == 0:
        raise ReleasedFileError(f"model.alpha {alpha!r} is neither a non-zero number nor a [lo, hi] range")
    lo = 0.0 if len(vals) == 2 and float(vals[0]) <= 0 <= float(vals[1]) else min(mags)
    return lo, max(mags)


def _mlp_field(state: dict, k: int, where: str, size: int) -> VectorField:
    prefix = f"nets.{k}."
    depth = 0
    while f"{prefix}linear_{depth + 1}.weight" in state:
        depth += 1
    if depth == 0:
        raise ReleasedFileError(f"{where} has no nets.{k}.linear_1.weight")
    arrays = {"W0": tensor(state, f"{prefix}linear_1.weight", where, (None, size)),
              "b0": tensor(state, f"{prefix}linear_1.bias", where, (None,))}
    for j in range(1, depth):
        for part, key in (("mean", "running_mean"), ("var", "running_var"), ("weight", "weight"), ("bias", "bias")):
            arrays[f"bn{j}_{part}"] = tensor(state, f"{prefix}batchnorm_{j}.{key}", where, (None,))
        arrays[f"W{j}"] = tensor(state, f"{prefix}linear_{j + 1}.weight", where, (None, None))
        if f"{prefix}linear_{j + 1}.bias" in state:
            arrays[f"b{j}"] = tensor(state, f"{prefix}linear_{j + 1}.bias", where, (None,))
    if f"{prefix}batchnorm_{depth}.weight" in state:
        raise ReleasedFileError(f"{where} ends net {k} with a batch norm (final_norm), which is not supported")
    try:
        return VectorField("mlp", arrays, {"depth": depth})
    except FieldError as exc:
        raise ReleasedFileError(f"{where}: net {k}: {exc}") from None


def import_run(path: Path, G, step: float | None = None) -> ControlSet:
    ckpt_path, cfg_path = find_files(path)
    where = ckpt_path.name
    cfg = read_config(cfg_path)
    model_cfg = cfg["model"]
    kind = MODELS.get(str(model_cfg.get("_target_")))
    if kind is None:
        raise ReleasedFileError(f"{cfg_path.name} names model {model_cfg.get('_target_')!r}, not one of {', '.join(MODELS)}")
    gen_cfg = cfg.get("generator") if isinstance(cfg.get("generator"), dict) else {}
    space = "w" if gen_cfg.get("use_w") is True else "z"
    check_space(G, space, where)
    ckpt = load_checkpoint(ckpt_path)
    state = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ReleasedFileError(f"{where} has no 'model' state dict; it is not a LatentCLR checkpoint")
    lo, hi = _alpha_range(model_cfg.get("alpha", 1.0))
    normalize = model_cfg.get("normalize", True) is not False
    feed = cfg.get("feed_layers")
    if feed is not None and (not isinstance(feed, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in feed)):
        raise ReleasedFileError(f"{cfg_path.name}: feed_layers must be null or a list of W+ row indices")
    rows = contiguous_rows(feed, G.num_layers, cfg_path.name)
    step = float(step) if step else DEFAULT_STEP
    if not step > 0:
        raise ReleasedFileError("the field step must be positive")
    controls: list = []
    if kind == "global":
        P = tensor(state, "params", where, (None, None))
        check_dim(G, P.shape[1], where)
        norms = np.linalg.norm(P, axis=1)
        if np.any(norms == 0):
            raise ReleasedFileError(f"{where}: a direction in params is zero")
        # normalize: z + α·P_k/‖P_k‖; without: z + α·P_k (the slider unit is α either way)
        controls = [LinearControl(f"direction {k}", P[k] / norms[k], float(1.0 if normalize else norms[k]), rows)
                    for k in range(len(P))]
    else:
        if not normalize:
            raise ReleasedFileError(f"{cfg_path.name} has normalize: false; a conditional model's un-normalised step cannot be imported")
        nets = sorted({int(m.group(1)) for key in state if (m := re.match(r"nets\.(\d+)\.linear_1\.weight$", key))})
        if not nets or nets != list(range(len(nets))):
            raise ReleasedFileError(f"{where} has no nets.0 … nets.K-1 direction networks")
        for k in nets:
            if kind == "linear":
                W = tensor(state, f"nets.{k}.linear_1.weight", where, (None, None))
                b = tensor(state, f"nets.{k}.linear_1.bias", where, (W.shape[0],))
                if f"nets.{k}.linear_2.weight" in state:
                    raise ReleasedFileError(f"{where}: net {k} has more than one layer, but the config says LinearConditional")
                try:
                    field = VectorField("linear", {"W": W, "b": b})
                except FieldError as exc:
                    raise ReleasedFileError(f"{where}: net {k}: {exc}") from None
            else:
                field = _mlp_field(state, k, where, G.latent_dim)
            check_dim(G, field.dim, where)
            controls.append(FieldControl(f"direction {k}", field, step, 1.0, rows))
    overrides_path = cfg_path.parent / "overrides.yaml"
    overrides = None
    if overrides_path.is_file():
        try:
            overrides = loads(read_text(overrides_path))
        except YamlError:
            overrides = None
    files = [ckpt_path, cfg_path] + ([overrides_path] if overrides_path.is_file() else [])
    iteration = ckpt.get("iteration") if isinstance(ckpt.get("iteration"), int) else None
    config = provenance("latentclr", files, direction_model=kind, original_config=cfg,
                        overrides=overrides if isinstance(overrides, list) else None, iteration=iteration, step=step)
    stats = {"space": space, "shift_range": [max(lo, hi / 6), hi], "slider_range": [-hi, hi]}
    return ControlSet(controls, ModelRef.of(G), "latentclr", config, stats=stats)
