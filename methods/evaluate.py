"""A shared measure of quality for any ControlSet: reconstructor classification accuracy.

RCA (Voynov & Babenko, METHODS.md §3 "Metric"; §8 validation item 3), made
method-independent: a *fresh* reconstructor R (`methods.reconstructor`) is trained with
a fixed budget to tell which of the K controls moved an image pair, then scored on
held-out pairs.  The same budget, seeds, latents, control indices and shift sizes serve
every ControlSet, so GANSpace, LatentCLR, WarpedGANSpace and Voynov results compare.

A pair is ``(G(x), G(x'))`` with x truncated latents of the model and

    x' = control k applied to x at slider value t,   t = ±m,  m ~ U[shift_min, shift_max]

(linear: ``x + t·σ_k·d_k``; field: the Euler path of length ``|t|·σ_k``, both on the
control's default latent rows).  By default [shift_min, shift_max] is the method's own
natural range (``stats["shift_range"]``: Voynov [0.5, 6], LatentCLR [α/6, α],
WarpedGANSpace [ε_min, ε_max]; GANSpace and files without it: [0.5, 3] slider units).
The baseline is K random unit directions (`random_controls`) moved by the *same latent
lengths* ``|t|·σ_k`` on the same rows and pairs, scored with the same budget.  The
report also gives each control's image change ``mean |G(x') − G(x)|`` (images in
[-1, 1]) over its held-out pairs.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .controls import ControlSet, LinearControl, ModelRef
from .fields import VectorField
from .jobs import CancelFn, MethodError, ProgressFn, check_cancel, never_cancel, no_progress
from .reconstructor import RECONSTRUCTORS, make_reconstructor, reconstructor_loss
from .training import psi_of, sample_latents, seeded

#: slider range used when a ControlSet does not record its method's natural shift range
DEFAULT_SHIFT_RANGE = (0.5, 3.0)
#: first sample seeds of the training and held-out pairs (far from the GUI's seeds and the trainers')
TRAIN_SEED, TEST_SEED = 500_000_000, 600_000_000


@dataclass(frozen=True)
class EvalConfig:
    """The fixed budget of the measure (identical for every ControlSet that is compared).

    The defaults suit ``dcgan-faces`` on one CPU core (about a minute for a set and its
    baseline): 2000 training pairs seen 8 times (500 steps of 32) by the small LeNet R at
    lr 1e-3, 500 held-out pairs, images shown to R at 32 px (a 64 px LeNet step costs
    3.5× more and R's training dominates the cost).
    """

    samples: int = 2000  # training pairs generated for the fresh reconstructor
    test_samples: int = 500  # held-out pairs it is scored on
    iterations: int = 500  # reconstructor optimisation steps
    batch: int = 32  # pairs per step
    lr: float = 1e-3  # Adam learning rate of R
    shift_min: float = 0.0  # slider units; both 0: the set's natural range
    shift_max: float = 0.0
    reconstructor: str = "lenet"
    image_size: int = 32  # pairs are stored (uint8) and shown to R at most this size (area-downsampled)
    seed: int = 0
    truncation: float = 0.0  # 0: the model's default
    baseline: bool = True  # also score K random directions
    gen_batch: int = 64  # generator batch (memory only)


def shift_range_of(cs: ControlSet) -> tuple[float, float]:
    """The natural range of slider magnitudes of a set's method (``stats["shift_range"]``, else [0.5, 3])."""
    r = cs.stats.get("shift_range")
    try:
        lo, hi = float(r[0]), float(r[1])
        if 0 <= lo <= hi and hi > 0 and math.isfinite(hi):
            return lo, hi
    except (TypeError, ValueError, IndexError):
        pass
    return DEFAULT_SHIFT_RANGE


def integrate_batch(field: VectorField, x: torch.Tensor, length: torch.Tensor, step: float) -> torch.Tensor:
    """`VectorField.integrate` for many points at once: each row ``x[i]`` ``[n, D]`` walks ``length[i]``.

    Whole Euler steps of ``step`` along ``sign(length)·v``, then one partial step for the rest
    (``shift`` fields: their closed-form shift instead).
    """
    if field.type == "shift":
        return x + torch.where(length[:, None] != 0, field.shift(length.to(x.dtype)), torch.zeros_like(x))
    sign = torch.sign(length)[:, None]
    mag = length.abs()
    n_full = torch.floor(mag / step)
    rest = (mag - n_full * step)[:, None]
    for i in range(int(n_full.max().item()) if len(mag) else 0):
        active = n_full > i
        x = x.clone()
        x[active] = x[active] + sign[active] * step * field.direction(x[active])
    partial = rest[:, 0] > 1e-12
    if bool(partial.any()):
        x = x.clone()
        x[partial] = x[partial] + sign[partial] * rest[partial] * field.direction(x[partial])
    return x


def shift_latents(cs: ControlSet, latents: torch.Tensor, k: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Latents ``[n, L, D]`` each moved by its own control ``k[i]`` at slider value ``t[i]`` (default rows)."""
    out = latents.clone()
    L, D = latents.shape[1:]
    for c in torch.unique(k).tolist():
        ctl = cs[c]
        idx = (k == c).nonzero()[:, 0]
        s, e = ctl.layers if ctl.layers is not None else (0, L)
        tc = t[idx].to(latents.dtype)
        if ctl.kind == "linear":
            d = torch.as_tensor(ctl.direction, dtype=latents.dtype, device=latents.device)
            out[idx, s:e] = out[idx, s:e] + (tc * ctl.scale)[:, None, None] * d
        elif ctl.kind == "field":
            pts = out[idx, s:e].reshape(-1, D)
            lengths = (ctl.sign * ctl.scale * tc).repeat_interleave(e - s)
            out[idx, s:e] = integrate_batch(ctl.field, pts, lengths, ctl.step).reshape(len(idx), e - s, D)
        else:
            raise MethodError(f"control {ctl.name!r} is of kind {ctl.kind!r}, which has no shift to measure")
    return out


def _random_like(G, cs: ControlSet, seed: int) -> ControlSet:
    """K random unit directions (`random_controls`' recipe), each on the rows of the matching control."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((len(cs), G.latent_dim)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    controls = [LinearControl(f"random {i}", d, 1.0, c.layers) for i, (d, c) in enumerate(zip(dirs, cs.controls))]
    return ControlSet(controls, ModelRef.of(G), "random", {"count": len(cs)}, seed=seed)


def _to_u8(img: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``[n, 3, H, W]`` in [-1, 1] -> uint8 ``[n, 3, s, s]`` on the CPU (area-downsampled to ``size``)."""
    img = img.float().clamp(-1, 1)
    if max(img.shape[-2:]) > size:
        img = F.interpolate(img, size=(size, size), mode="area")
    return ((img + 1) * 127.5).round().to(torch.uint8).cpu()


class _Pairs:
    """Image pairs for one or more ControlSets over the same latents, indices and shifts."""

    def __init__(self, n: int, sets: int):
        self.base: list[torch.Tensor] = []
        self.shifted: list[list[torch.Tensor]] = [[] for _ in range(sets)]
        self.change: list[list[torch.Tensor]] = [[] for _ in range(sets)]  # per-pair mean |ΔG|
        self.k: list[torch.Tensor] = []
        self.target: list[torch.Tensor] = []  # signed shift in latent units, R's regression target

    def done(self) -> None:
        self.base_t = torch.cat(self.base)
        self.shifted_t = [torch.cat(s) for s in self.shifted]
        self.change_t = [torch.cat(c) for c in self.change]
        self.k_t = torch.cat(self.k)
        self.target_t = torch.cat(self.target)


def _make_pairs(G, sets: list[ControlSet], n: int, first_seed: int, rng: torch.Generator, cfg: EvalConfig,
                lo: float, hi: float, report) -> _Pairs:
    K = len(sets[0])
    scales = torch.as_tensor(sets[0].scales(), dtype=torch.float32)
    psi = psi_of(G, cfg.truncation)
    out = _Pairs(n, len(sets))
    for start in range(0, n, cfg.gen_batch):
        m = min(cfg.gen_batch, n - start)
        x = sample_latents(G, first_seed + start, m, psi)
        k = torch.randint(K, (m,), generator=rng)
        mag = lo + (hi - lo) * torch.rand(m, generator=rng)
        t = torch.where(torch.rand(m, generator=rng) < 0.5, -mag, mag)  # slider units of sets[0]
        latent_len = t * scales[k]  # the same latent length for every compared set
        with torch.no_grad():
            img = G.synthesize(x).float().clamp(-1, 1)
            out.base.append(_to_u8(img, cfg.image_size))
            for j, cs in enumerate(sets):
                tj = t if j == 0 else latent_len / torch.as_tensor(cs.scales(), dtype=torch.float32)[k]
                xs = shift_latents(cs, x, k.to(x.device), tj.to(x.device))
                img_s = G.synthesize(xs).float().clamp(-1, 1)
                out.shifted[j].append(_to_u8(img_s, cfg.image_size))
                out.change[j].append((img_s - img).abs().mean(dim=(1, 2, 3)).cpu())
        out.k.append(k)
        out.target.append(latent_len)
        report(start + m)
    out.done()
    return out


def _train_and_score(train: _Pairs, test: _Pairs, j: int, K: int, cfg: EvalConfig, device, progress, cancel) -> dict:
    """Fresh R (same init and batch order for every set) trained on set j's pairs, scored on the held-out ones."""
    with seeded(cfg.seed):
        R = make_reconstructor(cfg.reconstructor, K, min(cfg.image_size, train.base_t.shape[-1])).to(device)
    opt = torch.optim.Adam(R.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(cfg.seed + 1)
    n = len(train.k_t)

    def batch(p: _Pairs, idx: torch.Tensor) -> torch.Tensor:
        both = torch.cat([p.base_t[idx], p.shifted_t[j][idx]], dim=1).to(device)
        return both.float() / 127.5 - 1.0

    R.train()
    for it in range(cfg.iterations):
        check_cancel(cancel)
        idx = torch.randint(n, (min(cfg.batch, n),), generator=order)
        logits, eps_hat = R(batch(train, idx))
        loss, _acc = reconstructor_loss(logits, eps_hat, train.k_t[idx].to(device), train.target_t[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        progress(it + 1)
    R.eval()
    predictions, err = [], 0.0
    with torch.no_grad():
        for s in range(0, len(test.k_t), 256):
            idx = torch.arange(s, min(s + 256, len(test.k_t)))
            logits, eps_hat = R(batch(test, idx))
            predictions.append(logits.argmax(1).cpu())
            err += float((eps_hat.cpu() - test.target_t[idx]).abs().sum())
    predicted = torch.cat(predictions)
    correct = int((predicted == test.k_t).sum())
    m = len(test.k_t)
    change, accuracy = [], []
    for c in range(K):
        sel = test.k_t == c
        change.append(round(float(test.change_t[j][sel].mean()), 5) if bool(sel.any()) else None)
        accuracy.append(round(float((predicted[sel] == c).float().mean()), 4) if bool(sel.any()) else None)
    valid = [v for v in change if v is not None]
    return {"rca": correct / m, "shift_error": err / m, "image_change": change, "rca_per_control": accuracy,
            "image_change_mean": round(float(np.mean(valid)), 5) if valid else None}


def evaluate(
    G,
    cs: ControlSet,
    config: EvalConfig = EvalConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> dict:
    """RCA of ``cs`` on ``G`` (and of K random directions), image change per control; a JSON-able dict."""
    t0 = time.perf_counter()
    cs.check_model(G)
    K = len(cs)
    if K < 2:
        raise MethodError("RCA needs at least two controls to tell apart")
    if config.samples < 1 or config.test_samples < 1 or config.iterations < 1 or config.batch < 1 or config.gen_batch < 1:
        raise MethodError("samples, test_samples, iterations, batch and gen_batch must be at least 1")
    if config.reconstructor not in RECONSTRUCTORS:
        raise MethodError(f"reconstructor {config.reconstructor!r} is unknown (choose {' or '.join(RECONSTRUCTORS)})")
    if config.image_size < 8:
        raise MethodError("image_size must be at least 8 pixels")
    if config.shift_min == 0 and config.shift_max == 0:
        lo, hi = shift_range_of(cs)
    else:
        lo, hi = config.shift_min, config.shift_max
        if not (0 <= lo <= hi and hi > 0):
            raise MethodError("the shift range needs 0 ≤ shift_min ≤ shift_max and shift_max > 0")
    sets = [cs] + ([_random_like(G, cs, config.seed)] if config.baseline else [])
    rng = torch.Generator().manual_seed(config.seed)
    total_pairs = config.samples + config.test_samples
    gen_share = 0.5
    steps_total = config.iterations * len(sets)

    def report_pairs(offset: int):
        def f(done: int) -> None:
            check_cancel(cancel)
            progress(gen_share * (offset + done) / total_pairs, f"image pairs {offset + done}/{total_pairs}")
        return f

    train = _make_pairs(G, sets, config.samples, TRAIN_SEED + config.seed * 1_000_000, rng, config, lo, hi, report_pairs(0))
    test = _make_pairs(G, sets, config.test_samples, TEST_SEED + config.seed * 1_000_000, rng, config, lo, hi,
                       report_pairs(config.samples))
    results = []
    for j, s in enumerate(sets):
        name = "controls" if j == 0 else "random baseline"

        def report_steps(it: int, j=j, name=name) -> None:
            done = j * config.iterations + it
            progress(gen_share + (1 - gen_share) * done / steps_total, f"reconstructor for {name}: step {it}/{config.iterations}")

        results.append(_train_and_score(train, test, j, K, config, G.device, report_steps, cancel))
    progress(1.0, "done")
    out = {
        "model": G.name,
        "method": cs.method,
        "controls": K,
        "kinds": sorted({c.kind for c in cs}),
        "chance": 1.0 / K,
        "shift_range": [lo, hi],
        "rca": results[0]["rca"],
        "rca_random": results[1]["rca"] if config.baseline else None,
        "shift_error": results[0]["shift_error"],
        "image_change_mean": results[0]["image_change_mean"],
        "image_change_random_mean": results[1]["image_change_mean"] if config.baseline else None,
        "image_change": results[0]["image_change"],
        "rca_per_control": results[0]["rca_per_control"],
        "budget": asdict(config),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return out
