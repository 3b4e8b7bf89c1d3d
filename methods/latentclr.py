"""LatentCLR (Yüksel et al. 2021): contrastive discovery of directions (METHODS.md §2).

K direction models edit a latent x (the generator's editing space: z for DCGAN/BigGAN,
W for StyleGAN2) as ``x_k = x + α_k · Δ_k(x)/‖Δ_k(x)‖`` with

* ``global`` — ``Δ_k(x) = P_k``, a learned vector (P ``[K, D]``, init randn);
* ``linear`` — ``Δ_k(x) = M_k x``, K bias-free ``Linear(D, D)``, as METHODS.md §2 and the
  original's ``LinearConditional(bias=False)`` say.  The original ignores that argument:
  its ``create_mlp`` always gives the first Linear a bias, so its "linear" directions are
  affine, ``M_k x + b_k``.  We keep the bias-free model for training; an imported
  original model keeps its bias (`methods.importers`);
* ``nonlinear`` — K MLPs ``Linear(D, D) → [BatchNorm1d, ReLU, Linear(D, D)] × (depth − 1)``,
  as the original's ``create_mlp``: the first Linear always has a bias (so a depth-1
  model, like the released FFHQ demo one, is ``W x + b``), the last of a deeper one none.

α_k is fixed (``alpha_min == alpha_max``) or drawn from U[alpha_min, alpha_max] once per
direction per batch.  With ``h = normalize(flatten(G_l(x)))`` at the target layer l
(a partial forward) and the divergence features ``f_k = normalize(h(x_k) − h(x))``, the
loss over the K·B features F is

    S = F Fᵀ (cosine; |S| with abs_similarity),   E = exp(S / τ)
    pos_i = mean_{j in i's group, j ≠ i} E_ij,    neg_i = mean_{j in other groups} E_ij
    loss  = −mean_i log(pos_i / neg_i),           acc = fraction of i with pos_i > neg_i

τ is a true divisor.  The original code multiplies, ``exp(S · temp)``, so its default
``temp = 0.5`` is τ = 2 here (our default).  Adam (lr 1e-3, weight decay 1e-3) with a
MultiStepLR schedule (×0.2 at 10 % and 50 % of the iterations: the original's 1000 and
5000 of 10 000).  Global models give linear controls; the conditional ones give field
controls of the ``linear`` / ``mlp`` types of `methods.fields` (batch norm exported in
eval form: running mean and variance, then the affine weight and bias).
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .controls import Control, ControlSet, FieldControl, LinearControl, ModelRef
from .fields import VectorField
from . import distributed
from .jobs import CancelFn, MethodError, ProgressFn, never_cancel, no_progress
from .training import COMMON_HELP, TrainLoop, parse_range, seeded

DIRECTION_MODELS = ("global", "linear", "nonlinear")
_EPS = 1e-8


@dataclass(frozen=True)
class LatentCLRConfig:
    """Options of `discover`.

    Scaled from the original (K 32, batch 32, 10 000 iterations; BigGAN example α ∈ [−3, 3])
    for ``dcgan-faces`` on a CPU: K = 16, batch 16 and 600 iterations at the first
    up-block (``block1``, the family's first generator layer) take a few minutes there.
    The direction model (nonlinear, depth 3), α ∈ [−3, 3] (z space like BigGAN's), τ = 2
    (the original temp 0.5), abs similarity, Adam 1e-3 / weight decay 1e-3 and the
    ×0.2 steps at 10 % and 50 % of the run are the original's.
    """

    direction_model: str = "nonlinear"  # global | linear | nonlinear
    components: int = 16  # K
    depth: int = 3  # layers of each nonlinear MLP
    layer: str = ""  # target feature layer; empty: the family's first generator layer
    iterations: int = 600
    batch: int = 16
    alpha_min: float = -3.0
    alpha_max: float = 3.0
    tau: float = 2.0  # temperature, a divisor: E = exp(S / τ)
    abs_similarity: bool = True
    lr: float = 1e-3
    weight_decay: float = 1e-3
    lr_milestones: str = ""  # comma-separated iterations; empty: 10 % and 50 % of the run
    lr_gamma: float = 0.2
    feed_layers: str = ""  # "A:B": edit only latent rows A..B-1; empty: all rows
    step: float = 0.25  # Euler step of exported field controls (latent units)
    seed: int = 0
    truncation: float = 0.0
    job_dir: str = ""
    checkpoint_every: int = 200
    log_every: int = 20
    amp: bool = True


HELP = {
    "direction_model": "direction model: global (fixed vectors), linear or nonlinear (conditional fields)",
    "components": "number of directions K",
    "depth": "layers of each nonlinear direction MLP",
    "layer": "target feature layer of the contrastive loss (empty: the first generator layer)",
    "alpha_min": "smallest edit size α (α ~ U[alpha_min, alpha_max] per direction per batch; equal: fixed)",
    "alpha_max": "largest edit size α",
    "tau": "temperature τ, a divisor: exp(similarity / τ) (the original's temp 0.5 is τ = 2)",
    "abs_similarity": "use |cosine similarity| (makes +d and −d the same direction)",
    "lr": "Adam learning rate",
    "weight_decay": "Adam weight decay",
    "lr_milestones": "iterations at which the learning rate is multiplied by lr_gamma (empty: at a tenth and at half of the run)",
    "lr_gamma": "learning-rate factor at each milestone",
    "feed_layers": "A:B — feed the edited latent only to latent rows A..B-1 (empty: all rows)",
    "step": "Euler step of exported field controls, in latent units",
    **COMMON_HELP,
}


# ---------------------------------------------------------------------- direction models
class GlobalDirections(nn.Module):
    """``Δ_k(x) = P_k``: P ``[K, D]`` ~ N(0, 1)."""

    def __init__(self, K: int, D: int):
        super().__init__()
        self.P = nn.Parameter(torch.randn(K, D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[n, D]`` -> ``[K, n, D]``."""
        return self.P[:, None, :].expand(-1, x.shape[0], -1)


def _mlp(D: int, depth: int) -> nn.Sequential:
    """``Linear(D, D) → [BatchNorm1d, ReLU, Linear(D, D)] × (depth − 1)``.

    The first Linear has a bias at every depth (the original's ``create_mlp``); the last
    Linear of a deeper MLP has none.
    """
    layers: list[nn.Module] = [nn.Linear(D, D, bias=True)]
    for i in range(1, depth):
        layers += [nn.BatchNorm1d(D), nn.ReLU(), nn.Linear(D, D, bias=i < depth - 1)]
    return nn.Sequential(*layers)


class ConditionalDirections(nn.Module):
    """K separate networks ``Δ_k(x)``: bias-free Linear (``linear``) or MLPs (``nonlinear``)."""

    def __init__(self, K: int, D: int, kind: str, depth: int):
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.nets = nn.ModuleList(nn.Linear(D, D, bias=False) for _ in range(K))
        else:
            self.nets = nn.ModuleList(_mlp(D, depth) for _ in range(K))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[n, D]`` -> ``[K, n, D]``."""
        return torch.stack([net(x) for net in self.nets])


def export_field(net: nn.Module, kind: str) -> VectorField:
    """One conditional direction network as a `VectorField` (``linear``, or ``mlp`` with eval-form batch norm)."""
    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy().astype(np.float32)

    if kind == "linear":
        return VectorField("linear", {"W": arr(net.weight)})
    linears = [m for m in net if isinstance(m, nn.Linear)]
    norms = [m for m in net if isinstance(m, nn.BatchNorm1d)]
    arrays = {"W0": arr(linears[0].weight),
              "b0": arr(linears[0].bias) if linears[0].bias is not None else np.zeros(linears[0].out_features, np.float32)}
    for i in range(1, len(linears)):
        bn = norms[i - 1]
        arrays.update({f"bn{i}_mean": arr(bn.running_mean), f"bn{i}_var": arr(bn.running_var),
                       f"bn{i}_weight": arr(bn.weight), f"bn{i}_bias": arr(bn.bias), f"W{i}": arr(linears[i].weight)})
        if linears[i].bias is not None:
            arrays[f"b{i}"] = arr(linears[i].bias)
    return VectorField("mlp", arrays, {"depth": len(linears)})


# ---------------------------------------------------------------------- the loss
def contrastive_loss(f: torch.Tensor, tau: float, use_abs: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) of divergence features ``f`` ``[K, B, F]`` (unit rows), grouped by direction.

    ``E = exp(S/τ)`` with ``S = F Fᵀ`` (``|S|`` if ``use_abs``); for each row i,
    ``pos_i`` = mean E over the other rows of its group, ``neg_i`` = mean over the other
    groups; ``loss = −mean log(pos/neg)``, ``acc`` = fraction with ``pos_i > neg_i``.
    """
    K, B = f.shape[:2]
    flat = f.reshape(K * B, -1).float()
    S = flat @ flat.T
    if use_abs:
        S = S.abs()
    E = torch.exp(S / tau)
    group = torch.arange(K, device=f.device).repeat_interleave(B)
    same = group[:, None] == group[None, :]
    self_mask = torch.eye(K * B, dtype=torch.bool, device=f.device)
    pos = (E * (same & ~self_mask)).sum(1) / (B - 1)
    neg = (E * ~same).sum(1) / ((K - 1) * B)
    return -torch.log(pos / neg).mean(), (pos > neg).float().mean()


def _milestones(text: str, iterations: int) -> list[int]:
    if not text.strip():
        return [max(1, iterations // 10), max(1, iterations // 2)]
    try:
        return sorted(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise MethodError(f"lr_milestones {text!r} must be comma-separated iteration numbers") from None


def default_layer(G) -> str:
    """The target layer when none is given: BigGAN ``generator.layers.0``, else the first generator layer."""
    names = G.layer_names()
    if "generator.layers.0" in names:
        return "generator.layers.0"
    return names[1] if len(names) > 1 else names[0]


# ---------------------------------------------------------------------- discover
def discover(
    G,
    config: LatentCLRConfig = LatentCLRConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Train K direction models contrastively on ``G``; return linear (global) or field controls."""
    D, K, B = G.latent_dim, config.components, config.batch
    if config.direction_model not in DIRECTION_MODELS:
        raise MethodError(f"direction_model {config.direction_model!r} is unknown (choose {', '.join(DIRECTION_MODELS)})")
    if K < 2 or B < 2:
        raise MethodError("LatentCLR needs at least 2 directions and a batch of at least 2 (positives and negatives)")
    if config.depth < 1:
        raise MethodError("depth must be at least 1")
    if config.tau <= 0:
        raise MethodError("tau must be positive")
    if config.alpha_min > config.alpha_max:
        raise MethodError("alpha_min must not exceed alpha_max")
    if max(abs(config.alpha_min), abs(config.alpha_max)) == 0:
        raise MethodError("the edit size α cannot be 0")
    if config.step <= 0:
        raise MethodError("step must be positive")
    layer = config.layer or default_layer(G)
    if layer not in G.layer_names() or layer == "latent":
        raise MethodError(f"layer {layer!r} cannot be a target; choose one of {', '.join(G.layer_names()[1:])}")
    rows = parse_range(config.feed_layers, G.num_layers)
    s, e = rows if rows is not None else (0, G.num_layers)
    milestones = _milestones(config.lr_milestones, config.iterations)
    dev = G.device
    with seeded(config.seed):
        if config.direction_model == "global":
            directions: nn.Module = GlobalDirections(K, D).to(dev)
        else:
            directions = ConditionalDirections(K, D, config.direction_model, config.depth).to(dev)
    opt = torch.optim.Adam(directions.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # The loss is over the whole batch (negatives come from every rank's samples): "batch".
    loop = TrainLoop(G, "latentclr", config, {"directions": directions}, {"directions": opt}, progress, cancel,
                     loss_over="batch")
    net = loop.net("directions")

    def features(latents: torch.Tensor) -> torch.Tensor:
        """``h = normalize(flatten(G_l(latents)))`` ``[n, F]`` (identity projector)."""
        h = G.features(latents, [layer])[layer]
        return F.normalize(h.reshape(h.shape[0], -1).float(), dim=1)

    def step(i: int) -> tuple[torch.Tensor, float]:
        # MultiStepLR: lr · γ^(number of milestones ≤ i)
        for g in opt.param_groups:
            g["lr"] = config.lr * config.lr_gamma ** bisect.bisect_right(milestones, i)
        x = loop.latents(i)  # [b, L, D]: this rank's b of the B samples (all of them with one process)
        b, L = x.shape[:2]
        alpha = config.alpha_min + (config.alpha_max - config.alpha_min) * loop.rand(K)  # one α per direction
        pts = x[:, s:e].reshape(-1, D)  # the fed rows as points [b·(e−s), D]
        dz = net(pts)  # [K, n, D]
        unit = dz / dz.norm(dim=-1, keepdim=True).clamp_min(_EPS)
        edited = pts[None] + alpha[:, None, None] * unit  # x_k = x + α_k Δ_k/‖Δ_k‖
        lat = x[None].expand(K, -1, -1, -1).clone()  # [K, b, L, D]
        lat[:, :, s:e] = edited.reshape(K, b, e - s, D)
        with loop.autocast():
            with torch.no_grad():
                h0 = features(x)  # [b, F]
            hk = features(lat.reshape(K * b, L, D)).reshape(K, b, -1)
            f = F.normalize(hk - h0[None], dim=-1, eps=_EPS)  # divergence features [K, b, F]
            f = distributed.gather_rows_with_grad(f, loop.counts)  # [K, B, F]: every rank's samples
            loss, acc = contrastive_loss(f, config.tau, config.abs_similarity)
        return loss, float(acc)

    stats = loop.run(step)
    controls: list[Control] = []
    if config.direction_model == "global":
        P = directions.P.detach().float().cpu().numpy()
        P = (P / np.linalg.norm(P, axis=1, keepdims=True)).astype(np.float32)
        controls = [LinearControl(f"direction {k}", P[k], 1.0, rows) for k in range(K)]
    else:
        controls = [FieldControl(f"direction {k}", export_field(net, config.direction_model), float(config.step), 1.0, rows)
                    for k, net in enumerate(directions.nets)]
    a_hi = max(abs(config.alpha_min), abs(config.alpha_max))
    a_lo = 0.0 if config.alpha_min <= 0 <= config.alpha_max else min(abs(config.alpha_min), abs(config.alpha_max))
    stats.update(
        layer=layer,
        # magnitudes seen in training; a range through 0 starts at a sixth of the top (as Voynov's 0.5 of 6)
        shift_range=[max(a_lo, a_hi / 6), a_hi],
        slider_range=[-a_hi, a_hi],
        lr_milestones=milestones,
    )
    cfg = asdict(config) | {"layer": layer}
    return ControlSet(controls, ModelRef.of(G), "latentclr", cfg, config.seed, config.iterations * B, stats=stats)
