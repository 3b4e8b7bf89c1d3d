"""SeFa, closed-form factorisation (Shen & Zhou 2021): directions from the weights alone.

METHODS.md §7.  The first affine map of a latent row is ``y = A n + b``; the unit
directions n maximising ``‖A n‖²`` are the top eigenvectors of ``AᵀA``.  Over several
layers the weights are stacked, ``M = [A_1; A_2; …]`` (rows = output channels), and
``MᵀM`` is decomposed with `eigh` (symmetric: real, sorted — unlike ``np.linalg.eig``).

Variants: ``normalize`` scales every output channel (row of M) to unit L2 norm first
(genforce; rosinality does not); ``include_rgb`` adds StyleGAN2's ToRGB modulations;
``layers`` picks the latent rows whose affine maps are factorised, and becomes every
control's default layer range (the edit goes only where it was factorised).
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
    include_rgb: bool = False  # StyleGAN2: also the ToRGB modulations
    step: float = 1.0  # latent units per slider unit (genforce sweeps ±3, rosinality uses 5)


HELP = {
    "components": "number of eigenvectors kept",
    "layers": "latent rows A:B whose affine maps are factorised, and edited ('' = all)",
    "normalize": "scale each output channel's weights to unit norm first (genforce's variant)",
    "include_rgb": "StyleGAN2: include the ToRGB modulation weights",
    "step": "latent units per slider unit",
}


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
    affines = [(row, kind, A) for row, kind, A in G.latent_affines()
               if start <= row < end and (config.include_rgb or kind != "rgb")]
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
    stats = {"layers": [start, end], "matrices": len(affines), "top_eigenvalue_share": float(values[0] / evals.clamp_min(0).sum())}
    extras = {"eigenvalues": values.numpy()}
    return ControlSet(controls, ModelRef.of(G), "sefa", asdict(config), extras=extras, stats=stats)
