"""Semantic-conditional sampling (SCS) and semantic image editing (SIE), METHODS.md §6.

Both optimise a latent so that the extractor's segmentation of the generated image matches
a target mask T ``[S, S]`` (class indices, 255 = don't care):

    L(x) = CE(SE(G(x)), T) + λ_p · ‖x − x0‖² + λ_n · ‖x − x̄‖² / n_rows,    λ_p = λ_n = 1e-3

with Adam (lr 0.01: LinearGAN's effective rate, its --base-lr was never passed on).
``x̄`` is the latent average (0 for Gaussian z spaces, so the last term is the paper's
``‖z‖²/n_rows``), ``n_rows`` the number of optimised latent rows.  CE is the per-pixel mean
over the non-ignored pixels of each image, optionally weighted (SIE's region weighting);
the batch is a sum of per-image losses, and Adam is element-wise, so every image is
optimised exactly as if it were alone.

SCS (`semantic_sample`) starts from the best of ``n_init`` random z (score: pixels where
``argmax SE(G(z)) == T``) and optimises in the sampling space: one z (``strategy="z"``) or
one z per latent row (``"mixwp"``: row l of the latents is row l of ``map(z_l)``).  For
one-row models (DCGAN) both are the same.  Results are per-layer latents (a mixwp sample
is no longer a single-z sample).

SIE (`semantic_edit`) starts from the current per-layer latents and optimises them in the
editing space (W+ for StyleGAN2, z for DCGAN — where this is the paper's z optimisation),
every row free (``"mixwp"``, the paper's default) or one shared row (``"single"``).  The
optional ``region_weight`` multiplies the CE of the edited pixels (an explorer option; 1 is
the paper's behaviour).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from methods.jobs import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress

from .common import IGNORE, SemanticsError
from .extractors import SemanticExtractor

#: preview(latents [B, L, D] detached, iteration): called every ``preview_every`` iterations and at the end
PreviewFn = Callable[[torch.Tensor, int], None]


def no_preview(_latents: torch.Tensor, _iteration: int) -> None:
    """A preview callback that ignores everything."""


@dataclass(frozen=True)
class SCSConfig:
    """Options of `semantic_sample`: ``count`` samples, each the best of ``n_init`` random z,
    then ``n_iter`` Adam steps at ``lr``; ``strategy`` "z" or "mixwp"; ``truncation`` psi
    applied to the mapped latents; ``seed`` of the random z; regulariser weights."""

    count: int = 1
    n_init: int = 10
    n_iter: int = 50
    lr: float = 0.01
    strategy: str = "z"
    truncation: float = 1.0
    seed: int = 0
    proximity: float = 1e-3
    prior: float = 1e-3
    preview_every: int = 10

    def validate(self) -> None:
        if self.count < 1 or self.n_init < 1:
            raise SemanticsError("sampling needs at least one sample and one initial candidate")
        if self.n_iter < 0:
            raise SemanticsError("the number of iterations must not be negative")
        if not self.lr > 0:
            raise SemanticsError("the learning rate must be positive")
        if self.strategy not in ("z", "mixwp"):
            raise SemanticsError(f"strategy {self.strategy!r} is not 'z' or 'mixwp'")
        if not 0 < self.truncation <= 2:
            raise SemanticsError("truncation must be in (0, 2]")


@dataclass(frozen=True)
class SIEConfig:
    """Options of `semantic_edit`: ``n_iter`` Adam steps at ``lr``; ``strategy`` "mixwp"
    (every latent row free) or "single" (one row shared by all layers); ``region_weight``:
    CE weight of the edited pixels relative to the others (1 = paper)."""

    n_iter: int = 100
    lr: float = 0.01
    strategy: str = "mixwp"
    region_weight: float = 1.0
    proximity: float = 1e-3
    prior: float = 1e-3
    preview_every: int = 10

    def validate(self) -> None:
        if self.n_iter < 0:
            raise SemanticsError("the number of iterations must not be negative")
        if not self.lr > 0:
            raise SemanticsError("the learning rate must be positive")
        if self.strategy not in ("mixwp", "single"):
            raise SemanticsError(f"strategy {self.strategy!r} is not 'mixwp' or 'single'")
        if not self.region_weight > 0:
            raise SemanticsError("the region weight must be positive")


@dataclass
class SemanticResult:
    """Outcome of SCS/SIE.  ``latents``/``initial_latents``: per-layer latents ``[B, L, D]``
    (detached, on the generator's device); ``variable``: the optimised tensor (z ``[B, rows,
    z_dim]`` for SCS, editing latents for SIE); ``agreement_before/after``: per image, the
    fraction of target pixels (non-ignored) where the extractor's argmax equals the target;
    ``losses``: total loss per iteration; ``region``: SIE's edited-region mask ``[B, S, S]`` bool."""

    latents: torch.Tensor
    initial_latents: torch.Tensor
    variable: torch.Tensor
    agreement_before: list[float]
    agreement_after: list[float]
    losses: list[float] = field(default_factory=list)
    region: torch.Tensor | None = None


# ====================================================================== helpers
_FREEZE_LOCK = threading.Lock()
#: id(module) -> [module, users, [(parameter, its requires_grad before the first user)]]
_FROZEN: dict[int, list] = {}


@contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Inside the block no parameter of ``module`` requires gradients; afterwards (also on an
    exception or a cancel) each one gets its own previous ``requires_grad`` flag back.

    Uses of the same module that overlap (a sampling and an editing job sharing the overlay's
    extractor, or nesting) are counted: the first saves the flags, the last restores them.
    """
    key = id(module)
    with _FREEZE_LOCK:
        entry = _FROZEN.get(key)
        if entry is None:
            params = list(module.parameters())
            entry = _FROZEN[key] = [module, 0, [(p, p.requires_grad) for p in params]]
            for p in params:
                p.requires_grad_(False)
        entry[1] += 1
    try:
        yield
    finally:
        with _FREEZE_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                del _FROZEN[key]
                for p, flag in entry[2]:
                    p.requires_grad_(flag)


def _targets(target: torch.Tensor, batch: int, ext: SemanticExtractor, device) -> torch.Tensor:
    """Target ``[S, S]`` or ``[B, S, S]`` -> ``[batch, S, S]`` int64 on ``device`` (checked)."""
    t = torch.as_tensor(target)
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or tuple(t.shape[1:]) != (ext.size, ext.size):
        raise SemanticsError(f"the target mask must be {ext.size}x{ext.size} (the model's resolution), not {list(t.shape[-2:])}")
    if t.shape[0] not in (1, batch):
        raise SemanticsError(f"{t.shape[0]} target masks for {batch} images")
    t = t.long().to(device)
    bad = t[(t != IGNORE) & ((t < 0) | (t >= ext.n_class))]
    if bad.numel():
        raise SemanticsError(f"the target mask holds class {int(bad.max())} but the extractor knows {ext.n_class} classes")
    if not (t != IGNORE).any():
        raise SemanticsError("the target mask has no painted pixels")
    return t.expand(batch, -1, -1) if t.shape[0] == 1 else t


def agreement(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per image, the fraction of non-ignored target pixels where ``pred == target``: ``[B]``."""
    valid = target != IGNORE
    hit = ((pred == target) & valid).flatten(1).sum(1).double()
    return hit / valid.flatten(1).sum(1).clamp(min=1).double()


def _masked_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-image weighted mean CE ``[B]``: ``Σ_p w_p·ce_p / Σ_p w_p`` (``w`` is 0 on ignored pixels)."""
    ce = F.cross_entropy(logits, target.clamp(max=logits.shape[1] - 1), reduction="none")
    return (ce * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp(min=1e-8)


def _optimise(
    G, ext: SemanticExtractor, var: torch.Tensor, to_latents: Callable[[torch.Tensor], torch.Tensor],
    target: torch.Tensor, weight: torch.Tensor, centre: torch.Tensor, rows: int,
    n_iter: int, lr: float, proximity: float, prior: float, preview_every: int,
    progress: ProgressFn, cancel: CancelFn, preview: PreviewFn, what: str, classes: torch.Tensor | None,
) -> tuple[torch.Tensor, list[float]]:
    """The shared Adam loop; returns the optimised variable and the loss per iteration.

    Only ``x`` gets gradients: the extractor's parameters are frozen for the loop (the
    generator's always are), so nothing is computed or stored for them.
    """
    x0 = var.detach().clone()
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    losses: list[float] = []
    with frozen_parameters(ext.net):
        for it in range(1, n_iter + 1):
            check_cancel(cancel)
            lat = to_latents(x)
            logits = ext.logits(G, lat, classes=classes)
            ce = _masked_ce(logits, target, weight)
            # λ_p‖x − x0‖² + λ_n‖x − x̄‖²/n_rows, per image
            reg = proximity * (x - x0).square().flatten(1).sum(1) + prior * (x - centre).square().flatten(1).sum(1) / rows
            loss = (ce + reg).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward(inputs=[x])  # x only, even if another thread turned a parameter's flag back on
            opt.step()
            losses.append(float(loss.detach()) / x.shape[0])
            if it % max(1, preview_every) == 0 or it == n_iter:
                with torch.no_grad():
                    agree = float(agreement(logits.argmax(1), target).mean())
                preview(to_latents(x).detach(), it)
                progress(it / n_iter, f"{what} iteration {it}/{n_iter}, agreement {agree:.1%}")
    return x.detach(), losses


# ====================================================================== SCS
def semantic_sample(
    G, extractor: SemanticExtractor, target: torch.Tensor, config: SCSConfig = SCSConfig(),
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel, preview: PreviewFn = no_preview,
    classes: torch.Tensor | None = None,
) -> SemanticResult:
    """Sample ``config.count`` images whose segmentation follows ``target [S, S]`` (or ``[count, S, S]``).

    Returns per-layer latents ``[count, L, D]`` and the agreement with the target before
    (best initial sample) and after the optimisation.
    """
    config.validate()
    extractor.check_model(G)
    dev = G.device
    n = config.count
    tgt = _targets(target, n, extractor, dev)
    weight = (tgt != IGNORE).float()
    rows = G.num_layers if (config.strategy == "mixwp" and G.num_layers > 1) else 1
    L = G.num_layers

    def to_latents(x: torch.Tensor) -> torch.Tensor:  # x [B, rows, z_dim] -> [B, L, D]
        if rows == 1:
            lat = G.map(x[:, 0])
        else:
            b = x.shape[0]
            full = G.map(x.reshape(b * L, -1)).view(b, L, L, -1)  # row l of map(z_l)
            idx = torch.arange(L, device=full.device)
            lat = full[:, idx, idx]
        return G.truncate(lat, config.truncation)

    # best of n_init candidates per sample
    progress(0.0, "choosing initial samples")
    z_all = G.sample_z(n * config.n_init, config.seed).view(n, config.n_init, -1)
    scores = torch.zeros(n, config.n_init, device=dev, dtype=torch.float64)
    with torch.no_grad():
        for j in range(config.n_init):
            check_cancel(cancel)
            lat = G.truncate(G.map(z_all[:, j]), config.truncation)
            pred = extractor.predict(G, lat, classes=classes)
            scores[:, j] = agreement(pred, tgt)
    best = scores.argmax(1)
    z0 = z_all[torch.arange(n, device=z_all.device), best.to(z_all.device)]  # [n, z_dim]
    var0 = z0[:, None, :].repeat(1, rows, 1)
    with torch.no_grad():
        lat0 = to_latents(var0)
    before = scores.max(1).values
    centre = torch.zeros(1, 1, var0.shape[-1], device=dev, dtype=var0.dtype)
    preview(lat0.detach(), 0)
    var, losses = _optimise(
        G, extractor, var0, to_latents, tgt, weight, centre, rows, config.n_iter, config.lr,
        config.proximity, config.prior, config.preview_every, progress, cancel, preview, "sampling", classes,
    )
    with torch.no_grad():
        lat = to_latents(var)
        after = agreement(extractor.predict(G, lat, classes=classes), tgt)
    progress(1.0, "done")
    return SemanticResult(lat, lat0, var, [float(v) for v in before], [float(v) for v in after], losses)


# ====================================================================== SIE
def semantic_edit(
    G, extractor: SemanticExtractor, latents: torch.Tensor, target: torch.Tensor,
    region: torch.Tensor | None = None, config: SIEConfig = SIEConfig(),
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel, preview: PreviewFn = no_preview,
    classes: torch.Tensor | None = None,
) -> SemanticResult:
    """Edit per-layer latents ``[B, L, D]`` toward the edited mask ``target [S, S]`` (or ``[B, S, S]``).

    ``region`` (bool ``[S, S]`` or ``[B, S, S]``): the pixels the user changed; when None it is
    where the target differs from the extractor's segmentation of the starting image.  With
    ``config.region_weight`` w, the CE of region pixels counts w times (w = 1: paper).
    """
    config.validate()
    extractor.check_model(G)
    dev = G.device
    latents = latents.detach().to(dev)
    if latents.dim() == 2:
        latents = latents[None]
    if tuple(latents.shape[1:]) != (G.num_layers, G.latent_dim):
        raise SemanticsError(f"latents must be [B, {G.num_layers}, {G.latent_dim}], not {list(latents.shape)}")
    b, L = latents.shape[0], G.num_layers
    tgt = _targets(target, b, extractor, dev)
    with torch.no_grad():
        pred0 = extractor.predict(G, latents, classes=classes)
    before = agreement(pred0, tgt)
    valid = tgt != IGNORE
    if region is None:
        region = (tgt != pred0) & valid
    else:
        region = torch.as_tensor(region, device=dev).bool()
        region = (region[None] if region.dim() == 2 else region).expand(b, -1, -1)
        if tuple(region.shape[1:]) != tuple(tgt.shape[1:]):
            raise SemanticsError(f"the edit region must be {extractor.size}x{extractor.size}")
        region = region & valid
    weight = valid.float() * (1.0 + (config.region_weight - 1.0) * region.float())

    if config.strategy == "single" and L > 1:
        if not torch.allclose(latents, latents[:, :1].expand_as(latents)):
            raise SemanticsError("the latents differ between layers; edit them per layer (strategy 'mixwp')")
        var0, rows = latents[:, :1].clone(), 1

        def to_latents(x: torch.Tensor) -> torch.Tensor:
            return x.expand(-1, L, -1)
    else:
        var0, rows = latents.clone(), L

        def to_latents(x: torch.Tensor) -> torch.Tensor:
            return x

    centre = G.latent_avg.to(dev, latents.dtype).view(1, 1, -1)
    preview(latents, 0)
    var, losses = _optimise(
        G, extractor, var0, to_latents, tgt, weight, centre, rows, config.n_iter, config.lr,
        config.proximity, config.prior, config.preview_every, progress, cancel, preview, "editing", classes,
    )
    with torch.no_grad():
        lat = to_latents(var).contiguous()
        after = agreement(extractor.predict(G, lat, classes=classes), tgt)
    progress(1.0, "done")
    return SemanticResult(lat, latents, var, [float(v) for v in before], [float(v) for v in after], losses, region)
