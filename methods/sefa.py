"""SeFa, closed-form factorisation (Shen & Zhou 2021): directions from the weights alone.

METHODS.md §7.  The first affine map of a latent row is ``y = A n + b``; the unit
directions n maximising ``‖A n‖²`` are the top eigenvectors of ``AᵀA``.  Over several
layers the weights are stacked, ``M = [A_1; A_2; …]`` (rows = output channels), and
``MᵀM`` is decomposed with `eigh` (symmetric: real, sorted — unlike ``np.linalg.eig``).

Variants: ``normalize`` scales every output channel (row of M) to unit L2 norm first
(genforce; rosinality does not); ``layers`` picks the latent rows whose affine maps are
factorised, and becomes every control's default layer range (the edit goes only where
it was factorised).  ``weights`` names which affine maps of those rows are stacked
(StyleGAN2 has a conv and a ToRGB modulation per row; other families only "conv" ones):

* ``conv`` (default) — the conv modulations only (``conv1``, ``convs.*``).
* ``genforce`` — genforce/sefa's ``factorize_weight``: ``synthesis.layer{i}`` for every
  row but the last, and ``output{L//2}``, the final ToRGB, for the last row (which feeds
  nothing else).  With all rows this is genforce's ``"all"``, the last ToRGB included.
* ``rosinality`` — rosinality's ``closed_form_factorization.py``: every
  ``*modulation.weight`` whose name lacks ``to_rgbs``, i.e. the conv modulations and the
  first ToRGB, ``to_rgb1`` (with ``normalize`` off this is that script's SVD).
* ``all`` — the conv modulations and every ToRGB.

Milliseconds, no sampling.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .controls import ControlSet, LinearControl, ModelRef
from .jobs import CancelFn, MethodError, ProgressFn, never_cancel, no_progress


@dataclass(frozen=True)
class SeFaConfig:
    components: int = 40  # number of eigenvectors kept
    layers: str = ""  # latent rows "A:B" whose affine maps are factorised ("" = all)
    normalize: bool = True  # unit-norm output channels before stacking (genforce)
    weights: str = "conv"  # conv | genforce | rosinality | all: which affine maps of the rows are stacked
    step: float = 1.0  # latent units per slider unit (genforce sweeps ±3, rosinality uses 5)


HELP = {
    "components": "number of eigenvectors kept",
    "layers": "latent rows A:B whose affine maps are factorised, and edited ('' = all)",
    "normalize": "scale each output channel's weights to unit norm first (genforce's variant)",
    "weights": "affine maps stacked: conv (conv modulations), genforce (its 'all': convs and the last ToRGB), "
               "rosinality (all but to_rgbs: convs and to_rgb1) or all (convs and every ToRGB)",
    "step": "latent units per slider unit",
}


WEIGHT_CHOICES = ("conv", "genforce", "rosinality", "all")


def select_affines(affines: list[tuple[int, str, torch.Tensor]], choice: str, num_layers: int) -> list[tuple[int, str, torch.Tensor]]:
    """The ``(row, kind, A)`` of `Generator.latent_affines` that ``choice`` stacks (see the module docstring)."""
    if choice not in WEIGHT_CHOICES:
        raise MethodError(f"weights must be one of {', '.join(WEIGHT_CHOICES)}, not {choice!r}")
    rgb_rows = [row for row, kind, _A in affines if kind == "rgb"]
    keep_rgb = {"conv": set(), "all": set(rgb_rows), "genforce": {num_layers - 1} & set(rgb_rows),
                "rosinality": {min(rgb_rows)} if rgb_rows else set()}[choice]
    return [(row, kind, A) for row, kind, A in affines if kind != "rgb" or row in keep_rgb]


def parse_rows(text: str, num_layers: int) -> tuple[int, int]:
    """``"A:B"`` -> (A, B) within the model's rows; ``""`` -> all rows."""
    if not text:
        return (0, num_layers)
    try:
        a, b = (int(p) for p in text.split(":"))
    except ValueError:
        raise MethodError(f"layers must look like A:B, not {text!r}") from None
    if not 0 <= a < b <= num_layers:
        raise MethodError(f"layers {a}:{b} are outside the model's rows 0:{num_layers}")
    return (a, b)


def discover(G, config: SeFaConfig = SeFaConfig(), progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel) -> ControlSet:
    """Eigenvectors of ``MᵀM`` for the chosen rows' stacked affine weights -> linear controls ``SF0``…"""
    start, end = parse_rows(config.layers, G.num_layers)
    chosen = select_affines(G.latent_affines(), config.weights, G.num_layers)
    affines = [(row, kind, A) for row, kind, A in chosen if start <= row < end]
    if not affines:
        raise MethodError(f"{G.name} has no affine map reading latent rows {start}:{end}, so SeFa cannot factorise it")
    if config.components < 1 or not config.step > 0:
        raise MethodError("components must be at least 1 and step positive")
    M = torch.cat([A.double().cpu() for _row, _kind, A in affines])  # [Σ out, latent_dim]
    if config.normalize:
        M = M / M.norm(dim=1, keepdim=True).clamp_min(1e-12)
    evals, evecs = torch.linalg.eigh(M.T @ M)  # ascending
    order = torch.argsort(evals, descending=True)[: min(config.components, G.latent_dim)]
    values, vectors = evals[order].clamp_min(0), evecs[:, order].T  # rows = directions
    vectors = vectors * torch.sign(vectors[torch.arange(len(order)), vectors.abs().argmax(1)])[:, None]
    progress(1.0, "done")
    dirs = vectors.float().numpy()
    rng = None if (start, end) == (0, G.num_layers) else (start, end)
    controls = [LinearControl(f"SF{i}", dirs[i], float(config.step), rng) for i in range(len(dirs))]
    stats = {"layers": [start, end], "weights": config.weights, "matrices": len(affines), "top_eigenvalue_share": float(values[0] / evals.clamp_min(0).sum())}
    extras = {"eigenvalues": values.numpy()}
    return ControlSet(controls, ModelRef.of(G), "sefa", asdict(config), extras=extras, stats=stats)
