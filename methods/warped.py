"""WarpedGANSpace (Tzelepis et al. 2021): non-linear paths from RBF warpings (METHODS.md §4).

K support sets, each a warping function of 2N RBFs in the editing space:

    f_k(x)   = Σ_i a_ki exp(−γ_k ‖x − v_ki‖²)
    ∇f_k(x)  = −2 γ_k Σ_i a_ki exp(−γ_k ‖x − v_ki‖²) (x − v_ki)       (γ included: issue #3)
    v_k(x)   = ∇f_k(x) / ‖∇f_k(x)‖

The support vectors come as N antipodal dipoles (v, −v) with weights (+1, −1), v a random
unit direction times the set's radius r_k (radii evenly spaced in [1, 4) over the K sets);
γ_k = exp(log γ_k) starts at 1/D and is learned (learn_gammas); the weights a stay fixed.
Each iteration:

    x ~ truncated latents;  k ~ U{0 … K−1};  ε: B draws from the pooled
    {U[ε_min, ε_max]} ∪ {U[−ε_max, −ε_min]} (2B values, B taken without replacement)
    x' = x + ε · v_k(x)    on every latent row
    loss = CE(R(G(x), G(x'))_logits, k) + 0.25 · mean|ε̂ − ε|

with two Adams (lr 1e-4): one on the support vectors and log γ, one on R; gradients flow
through the frozen G.  The result is K field controls of the ``rbf`` type
(`methods.fields`), followed in Euler steps of ``step`` latent units.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .controls import ControlSet, FieldControl, ModelRef
from .fields import VectorField, rbf_direction
from .jobs import CancelFn, MethodError, ProgressFn, never_cancel, no_progress
from .reconstructor import RECONSTRUCTORS, make_reconstructor, pair, reconstructor_loss
from .training import COMMON_HELP, TrainLoop, seeded

R_MIN, R_MAX = 1.0, 4.0


@dataclass(frozen=True)
class WarpedConfig:
    """Options of `discover`.

    Scaled from the published scripts (SNGAN: K 64, N 128, batch 128, 1.2·10⁵ iterations)
    for ``dcgan-faces`` on a CPU: K = 16 support sets of N = 32 dipoles, batch 16, 300
    iterations — a few minutes there.  The shift range [0.25, 0.45], γ = 1/D, the learning
    rates (1e-4), the LeNet reconstructor (small generators) and the traversal step 0.2
    are the paper's; so are learn_gammas on and fixed ±1 weights.
    """

    components: int = 16  # K support sets
    dipoles: int = 32  # N dipoles per set (2N support vectors)
    iterations: int = 300
    batch: int = 16
    eps_min: float = 0.25
    eps_max: float = 0.45
    gamma: float = 0.0  # initial γ; 0: 1/D
    learn_gammas: bool = True
    lr_support: float = 1e-4
    lr_reconstructor: float = 1e-4
    step: float = 0.2  # Euler step of the exported paths (latent units)
    traversal_steps: int = 16  # the GUI slider spans ±step·traversal_steps
    reconstructor: str = "lenet"
    seed: int = 0
    truncation: float = 0.0
    job_dir: str = ""
    checkpoint_every: int = 100
    log_every: int = 10
    amp: bool = True


HELP = {
    "components": "number of support sets (paths) K",
    "dipoles": "dipoles N per support set",
    "eps_min": "smallest shift magnitude ε during training",
    "eps_max": "largest shift magnitude ε during training",
    "gamma": "initial RBF γ (0: 1/latent size)",
    "learn_gammas": "learn each support set's γ",
    "lr_support": "Adam learning rate of the support vectors and γ",
    "lr_reconstructor": "Adam learning rate of the reconstructor R",
    "step": "Euler step of the exported paths in latent units",
    "traversal_steps": "Euler steps each way that the slider spans",
    "reconstructor": "reconstructor network: lenet (small images) or resnet (ResNet-18-like)",
    **COMMON_HELP,
}


class SupportSets(nn.Module):
    """K sets of 2N support vectors ``[K, 2N, D]`` (rows 2j, 2j+1 = a dipole), weights ``[K, 2N]`` and log γ ``[K]``."""

    def __init__(self, K: int, N: int, D: int, gamma: float, learn_gammas: bool):
        super().__init__()
        u = torch.randn(K, N, D)
        u = u / u.norm(dim=-1, keepdim=True)
        radii = R_MIN + (R_MAX - R_MIN) * torch.arange(K, dtype=torch.float32) / K  # evenly spaced in [1, 4)
        v = radii[:, None, None] * u
        self.support = nn.Parameter(torch.stack([v, -v], dim=2).reshape(K, 2 * N, D))
        self.register_buffer("weights", torch.tensor([1.0, -1.0]).repeat(K, N))
        self.log_gamma = nn.Parameter(torch.full((K,), math.log(gamma)), requires_grad=learn_gammas)

    def gamma(self) -> torch.Tensor:
        return self.log_gamma.exp()

    def forward(self, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The sets of indices ``k`` ``[B]``: support ``[B, 2N, D]``, weights ``[B, 2N]``, γ ``[B]``."""
        return self.support[k], self.weights[k], self.gamma()[k]


def rbf_gradient(x: torch.Tensor, support: torch.Tensor, weights: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """∇f(x) for latents ``x`` ``[B, L, D]`` with per-sample sets ``support`` ``[B, M, D]``, ``weights`` ``[B, M]``, ``gamma`` ``[B]``.

    ``∇f(x) = −2γ Σ_i a_i exp(−γ‖x − v_i‖²)(x − v_i) = −2γ (x Σ_i w_i − Σ_i w_i v_i)``
    with ``w_i = a_i exp(−γ‖x − v_i‖²)``, computed without a ``[B, L, M, D]`` tensor.
    """
    d2 = (x * x).sum(-1, keepdim=True) + (support * support).sum(-1)[:, None, :] - 2.0 * x @ support.transpose(1, 2)
    w = weights[:, None, :] * torch.exp(-gamma[:, None, None] * d2.clamp_min(0))  # [B, L, M]
    return -2.0 * gamma[:, None, None] * (x * w.sum(-1, keepdim=True) - w @ support)


def unit_field(x: torch.Tensor, support: torch.Tensor, weights: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """``v(x) = ∇f/‖∇f‖`` ``[B, L, D]``, computed stably (`methods.fields.rbf_direction`: the
    largest exponent subtracted, normalised after; the nearest-dipole axis only where the
    gradient truly cancels, where the original's is NaN)."""
    return rbf_direction(x, support, weights, gamma)


def sample_eps(loop: TrainLoop, n: int, eps_min: float, eps_max: float) -> torch.Tensor:
    """ε ``[n]``: n of the pooled 2n draws ``U[ε_min, ε_max] ∪ U[−ε_max, −ε_min]``, without replacement."""
    pos = eps_min + (eps_max - eps_min) * loop.rand(n)
    neg = -(eps_min + (eps_max - eps_min) * loop.rand(n))
    return torch.cat([pos, neg])[loop.randperm(2 * n)[:n]]


def export_fields(sets: SupportSets, step: float) -> list[FieldControl]:
    """One ``rbf`` field control per support set (support ``[2N, D]``, weights ``[2N]``, γ)."""
    support = sets.support.detach().float().cpu().numpy()
    weights = sets.weights.detach().float().cpu().numpy()
    gammas = sets.gamma().detach().float().cpu().numpy()
    return [
        FieldControl(f"path {k}", VectorField("rbf", {"support": support[k].astype(np.float32), "weights": weights[k].astype(np.float32)},
                                              {"gamma": float(gammas[k])}), float(step), 1.0)
        for k in range(support.shape[0])
    ]


def discover(
    G,
    config: WarpedConfig = WarpedConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Train K RBF support sets and a reconstructor on ``G``; return K field controls ``path 0…``."""
    D, K, N = G.latent_dim, config.components, config.dipoles
    if K < 1 or N < 1:
        raise MethodError("components and dipoles must be at least 1")
    if not 0 < config.eps_min <= config.eps_max:
        raise MethodError("the shift range needs 0 < eps_min ≤ eps_max")
    if config.step <= 0 or config.traversal_steps < 1:
        raise MethodError("step must be positive and traversal_steps at least 1")
    if config.gamma < 0:
        raise MethodError("gamma must be positive (or 0 for 1/latent size)")
    if config.reconstructor not in RECONSTRUCTORS:
        raise MethodError(f"reconstructor {config.reconstructor!r} is unknown (choose {' or '.join(RECONSTRUCTORS)})")
    dev = G.device
    gamma0 = config.gamma or 1.0 / D
    with seeded(config.seed):
        sets = SupportSets(K, N, D, gamma0, config.learn_gammas).to(dev)
        R = make_reconstructor(config.reconstructor, K, G.resolution).to(dev)
    optimizers = {
        "support": torch.optim.Adam([p for p in sets.parameters() if p.requires_grad], lr=config.lr_support),
        "reconstructor": torch.optim.Adam(R.parameters(), lr=config.lr_reconstructor),
    }
    loop = TrainLoop(G, "warped", config, {"support": sets, "reconstructor": R}, optimizers, progress, cancel)
    support_net, recon = loop.net("support"), loop.net("reconstructor")

    def step(i: int) -> tuple[torch.Tensor, float]:
        x = loop.latents(i)  # [b, L, D]: this rank's share of the batch
        k = loop.mine(loop.randint(K, config.batch))  # drawn for the whole batch, this rank's rows kept
        eps = loop.mine(sample_eps(loop, config.batch, config.eps_min, config.eps_max))
        # float32 outside autocast: the RBF exponent needs the precision
        v = unit_field(x, *support_net(k))  # [b, L, D]
        x_shifted = x + eps[:, None, None] * v  # x' = x + ε v_k(x)
        with loop.autocast():
            with torch.no_grad():
                img = G.synthesize(x)
            img_shifted = G.synthesize(x_shifted)
            logits, eps_hat = recon(pair(img, img_shifted))
            loss, acc = reconstructor_loss(logits, eps_hat, k, eps)
        return loss, float(acc)

    stats = loop.run(step)
    controls = export_fields(sets, config.step)
    stats.update(
        shift_range=[config.eps_min, config.eps_max],
        slider_range=[-config.step * config.traversal_steps, config.step * config.traversal_steps],
        gammas=[float(g) for g in sets.gamma().detach().cpu()],
    )
    return ControlSet(controls, ModelRef.of(G), "warped", asdict(config), config.seed, config.iterations * config.batch,
                      stats=stats)
