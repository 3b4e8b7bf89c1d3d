"""Voynov & Babenko (2020), unsupervised discovery of interpretable directions (METHODS.md §3).

An orthonormal deformator ``A = expm(S − Sᵀ)`` ``[D, D]`` and a reconstructor R are trained
together.  Each iteration (one row per sample b):

    x_b ~ truncated latents                         (the generator's editing space:
                                                     z for DCGAN/BigGAN, W for StyleGAN2)
    k_b ~ U{0 … K−1},  ε_b = 6(2u − 1), u ~ U[0, 1), |ε_b| < 0.5 clamped to ±0.5
    shift_b = A(ε_b e_{k_b}) = ε_b · A[:, k_b]      added to every latent row of x_b
    loss = CE(R(G(x), G(x + shift))_logits, k) + 0.25 · mean|ε̂ − ε|

with Adam (lr 1e-4) on S and on R.  The result is K linear controls, the first K columns
of A: unit vectors, mutually orthogonal, one slider unit = one unit of ε.

The start of S (``init``):

* ``axes`` (our default) — S = 0, so A = I: training starts from the coordinate axes,
  the authors' later advice for large GANs (GANLatentDiscovery issue #11).
* ``random-rotation`` — S = 1.0·randn, a random rotation: the original's
  ``random_init=True`` start, which is also what its ``run_train.py`` runs by default
  (``--deformator_random_init`` is ``type=bool``, so even "False" is true).

The original's ``random_init=False`` start, S = 0.001·randn, stays within 1e-3 of the
axes; we do not offer it separately.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .controls import ControlSet, LinearControl, ModelRef
from .jobs import CancelFn, MethodError, ProgressFn, never_cancel, no_progress
from .reconstructor import RECONSTRUCTORS, make_reconstructor, pair, reconstructor_loss
from .training import COMMON_HELP, TrainLoop, seeded


@dataclass(frozen=True)
class VoynovConfig:
    """Options of `discover`.

    Scaled from the paper's defaults (K = dim z, batch 32, 10⁵ iterations) for
    ``dcgan-faces`` on a CPU: K = 16 directions (of z's 100), batch 16 and 300 iterations
    run in a few minutes there; the LeNet reconstructor is the paper's choice for small
    (SNGAN-sized, 64 px) generators.  ε's distribution (6, 0.5) and the learning rates
    (1e-4) are the paper's.  Use the ResNet R, more directions and 10⁴–10⁵ iterations on a
    GPU for real results.  ``init`` is ``axes`` by default (S = 0, the authors' fix for
    large GANs, issue #11); ``random-rotation`` is the original's S = randn start.
    """

    components: int = 16  # K
    iterations: int = 300  # N
    batch: int = 16  # B
    lr_deformator: float = 1e-4
    lr_reconstructor: float = 1e-4
    shift_scale: float = 6.0  # ε = shift_scale·(2u − 1)
    min_shift: float = 0.5  # |ε| below this is clamped to ±min_shift
    init: str = "axes"  # axes: S = 0 (coordinate axes) | random-rotation: S ~ N(0, 1) (the original run_train.py start)
    reconstructor: str = "lenet"  # lenet | resnet
    seed: int = 0
    truncation: float = 0.0
    job_dir: str = ""
    checkpoint_every: int = 100
    log_every: int = 10
    amp: bool = True


HELP = {
    "components": "number of directions K (at most the latent size)",
    "lr_deformator": "Adam learning rate of the deformator A",
    "lr_reconstructor": "Adam learning rate of the reconstructor R",
    "shift_scale": "shifts ε are uniform in ±shift_scale",
    "min_shift": "shifts smaller than this are clamped to ±min_shift",
    "init": "start of the deformator: axes (S = 0, the coordinate axes) or random-rotation (S = randn, the original's run_train.py default)",
    "reconstructor": "reconstructor network: lenet (small images) or resnet (ResNet-18-like)",
    **COMMON_HELP,
}


INITS = ("axes", "random-rotation")


class OrthoDeformator(nn.Module):
    """``A = expm(S − Sᵀ)``: an orthonormal ``[D, D]`` matrix for any S (S − Sᵀ is skew-symmetric).

    ``init``: ``axes`` (S = 0, A = I) or ``random-rotation`` (S ~ N(0, 1), the original's
    ``1.0·randn`` start, drawn from the global torch generator).
    """

    def __init__(self, dim: int, init: str = "axes"):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
        self.S = nn.Parameter(torch.randn(dim, dim) if init == "random-rotation" else torch.zeros(dim, dim))

    def forward(self) -> torch.Tensor:
        return torch.linalg.matrix_exp(self.S - self.S.T)


def sample_shifts(loop: TrainLoop, n: int, scale: float, min_shift: float) -> torch.Tensor:
    """ε ``[n]``: ``scale·(2u − 1)`` with ``|ε| < min_shift`` moved to ``±min_shift`` (same sign)."""
    eps = scale * (2.0 * loop.rand(n) - 1.0)
    sign = torch.where(eps < 0, -1.0, 1.0)
    return torch.where(eps.abs() < min_shift, sign * min_shift, eps)


def discover(
    G,
    config: VoynovConfig = VoynovConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Train the deformator and reconstructor on ``G``; return K linear controls ``direction 0…``."""
    D, K = G.latent_dim, config.components
    if not 1 <= K <= D:
        raise MethodError(f"components must be between 1 and the latent size {D}")
    if config.reconstructor not in RECONSTRUCTORS:
        raise MethodError(f"reconstructor {config.reconstructor!r} is unknown (choose {' or '.join(RECONSTRUCTORS)})")
    if config.init not in INITS:
        raise MethodError(f"init {config.init!r} is unknown (choose {' or '.join(INITS)})")
    if not 0 <= config.min_shift <= config.shift_scale or config.shift_scale <= 0:
        raise MethodError("shift_scale must be positive and min_shift between 0 and shift_scale")
    dev = G.device
    with seeded(config.seed):
        deformator = OrthoDeformator(D, config.init).to(dev)
        R = make_reconstructor(config.reconstructor, K, G.resolution).to(dev)
    optimizers = {
        "deformator": torch.optim.Adam(deformator.parameters(), lr=config.lr_deformator),
        "reconstructor": torch.optim.Adam(R.parameters(), lr=config.lr_reconstructor),
    }
    loop = TrainLoop(G, "voynov", config, {"deformator": deformator, "reconstructor": R}, optimizers, progress, cancel)
    deform, recon = loop.net("deformator"), loop.net("reconstructor")

    def step(i: int) -> tuple[torch.Tensor, float]:
        x = loop.latents(i)  # [b, L, D]: this rank's share of the batch
        k = loop.mine(loop.randint(K, config.batch))  # drawn for the whole batch, this rank's rows kept
        eps = loop.mine(sample_shifts(loop, config.batch, config.shift_scale, config.min_shift))
        A = deform()  # [D, D], float32 outside autocast: expm wants full precision
        shift = eps[:, None] * A[:, k].T  # A(ε e_k) = ε A[:, k]   [B, D]
        with loop.autocast():
            with torch.no_grad():
                img = G.synthesize(x)
            img_shifted = G.synthesize(x + shift[:, None, :].to(x.dtype))
            logits, eps_hat = recon(pair(img, img_shifted))
            loss, acc = reconstructor_loss(logits, eps_hat, k, eps)
        return loss, float(acc)

    stats = loop.run(step)
    with torch.no_grad():
        A = deformator().float().cpu().numpy()
    cols = A[:, :K].T.astype(np.float32)  # [K, D]
    cols /= np.linalg.norm(cols, axis=1, keepdims=True)
    controls = [LinearControl(f"direction {k}", cols[k], 1.0) for k in range(K)]
    stats.update(
        shift_range=[config.min_shift, config.shift_scale],
        slider_range=[-config.shift_scale, config.shift_scale],
        orthonormality_error=float(np.abs(cols @ cols.T - np.eye(K)).max()),
    )
    return ControlSet(controls, ModelRef.of(G), "voynov", asdict(config), config.seed, config.iterations * config.batch,
                      stats=stats)
