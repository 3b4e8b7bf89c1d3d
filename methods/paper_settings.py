"""The published settings of the trained methods, per generator family (METHODS.md §2–4).

Each method's config defaults are scaled down so a run finishes in minutes on a CPU.
`paper_settings` gives the option values of the original papers and repositories
instead — what a GPU run "at the paper's settings" uses — chosen for the generator's
family the way the original scripts choose them:

- LatentCLR (colat ``conf/``): τ = 2 (temp 0.5), abs similarity, Adam 1e-3 with weight
  decay 1e-3, MultiStepLR at 1 000 and 5 000 (×0.2), 10 000 iterations.  BigGAN example:
  K 32, batch 16, α ∈ [−3, 3], ``generator.layers.0``, ψ 0.4.  StyleGAN2-FFHQ example:
  K 100, batch 8, α = 1, ``conv1``, depth-1 MLPs, ψ 0.7.  Other z-space generators (the
  DCGAN): K 32 and batch 32 (``train_misc.yaml``) with BigGAN's α range.
- Voynov–Babenko: K = dim z, batch 32, 10⁵ iterations, Adam 1e-4, ε = 6·(2u − 1) with
  |ε| ≥ 0.5; ResNet-18 reconstructor, LeNet for 64 px generators (the paper's MNIST /
  Anime choice); coordinate-axis start (the authors' fix for large GANs).
- WarpedGANSpace (``scripts/train/*.sh``): 64 px generators as SNGAN-Anime (K 64, N 128,
  ε ∈ [0.25, 0.35], LeNet, batch 128, 1.2·10⁵ iterations); BigGAN (K 120, N 256,
  ε ∈ [0.1, 0.2], ResNet, batch 32, 1.5·10⁵); StyleGAN2 (W space, ψ 0.7, K 200, N 512,
  ε ∈ [0.1, 0.2], ResNet, batch 12, 1.5·10⁵).
"""
from __future__ import annotations

from typing import Any

#: the methods that have published settings here
PAPER_METHODS = ("latentclr", "voynov", "warped")


def _family(G) -> str:
    return str(getattr(G, "family", ""))


def _latentclr(G) -> dict[str, Any]:
    common = {
        "direction_model": "nonlinear", "depth": 3, "iterations": 10_000, "tau": 2.0, "abs_similarity": True,
        "lr": 1e-3, "weight_decay": 1e-3, "lr_milestones": "1000,5000", "lr_gamma": 0.2,
    }
    family = _family(G)
    if family == "stylegan2":
        return {**common, "components": 100, "batch": 8, "alpha_min": 1.0, "alpha_max": 1.0, "layer": "conv1",
                "depth": 1, "truncation": 0.7}
    if family == "biggan":
        return {**common, "components": 32, "batch": 16, "alpha_min": -3.0, "alpha_max": 3.0,
                "layer": "generator.layers.0", "truncation": 0.4}
    return {**common, "components": 32, "batch": 32, "alpha_min": -3.0, "alpha_max": 3.0}


def _voynov(G) -> dict[str, Any]:
    small = int(G.resolution) <= 64
    return {
        "components": int(G.latent_dim), "batch": 32, "iterations": 100_000, "lr_deformator": 1e-4,
        "lr_reconstructor": 1e-4, "shift_scale": 6.0, "min_shift": 0.5, "init": "axes",
        "reconstructor": "lenet" if small else "resnet",
    }


def _warped(G) -> dict[str, Any]:
    common = {"learn_gammas": True, "gamma": 0.0, "lr_support": 1e-4, "lr_reconstructor": 1e-4}
    family = _family(G)
    if family == "stylegan2":
        return {**common, "components": 200, "dipoles": 512, "eps_min": 0.1, "eps_max": 0.2, "reconstructor": "resnet",
                "batch": 12, "iterations": 150_000, "truncation": 0.7}
    if family == "biggan":
        return {**common, "components": 120, "dipoles": 256, "eps_min": 0.1, "eps_max": 0.2, "reconstructor": "resnet",
                "batch": 32, "iterations": 150_000}
    return {**common, "components": 64, "dipoles": 128, "eps_min": 0.25, "eps_max": 0.35, "reconstructor": "lenet",
            "batch": 128, "iterations": 120_000}


_BUILDERS = {"latentclr": _latentclr, "voynov": _voynov, "warped": _warped}


def paper_settings(method: str, G) -> dict[str, Any]:
    """Option values of ``method`` at its paper's settings for generator ``G``'s family.

    Only options the paper fixes are returned; the rest (seed, job folder, checkpoint
    interval, …) keep their defaults or the user's values.  Raises ``KeyError`` with a
    sentence for a method without published settings here.
    """
    try:
        build = _BUILDERS[method]
    except KeyError:
        raise KeyError(
            f"{method} has no paper settings here; they exist for {', '.join(PAPER_METHODS)}"
        ) from None
    return build(G)
