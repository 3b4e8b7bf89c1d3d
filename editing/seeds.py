"""Between seeds: fractional seeds, a four-seed pad, and looping seed walks.

As in NVIDIA's StyleGAN3 viewer, a fractional seed ``s + t`` blends the latents of seeds
``s`` and ``s + 1``.  For StyleGANs the blend is linear in W (the mapping network's
output, where straight lines stay on the image manifold); for the other families, whose
editing space is the Gaussian z itself, it is a spherical interpolation (slerp) in z, so
the blend keeps a typical z's norm (a straight line through a Gaussian's interior gives
washed-out, low-norm latents).  The result is a base for `EditState.latents` after style
mixing and truncation, exactly as `editing.render.state_latents` treats a seed.

Shapes: per-layer latents ``[1, num_layers, latent_dim]``; weights sum to 1.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch

from .state import BaseLatents, EditState

#: a blend: ``((seed, weight), …)`` with weights summing to 1
Blend = tuple[tuple[int, float], ...]


def blends_in_w(G) -> bool:
    """Whether ``G``'s seeds blend linearly in W (StyleGANs) rather than by slerp in z."""
    return str(getattr(G, "family", "")).lower().startswith("stylegan")


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between rows ``a`` and ``b`` ``[n, d]`` (linear when they are parallel).

    slerp(a, b; t) = sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, cos Ω = â·b̂ (Shoemake 1985),
    with the norm interpolated linearly between |a| and |b|.
    """
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    straight = so.abs() < 1e-6
    wa = torch.where(straight, torch.full_like(so, 1.0 - t), torch.sin((1.0 - t) * omega) / so.where(~straight, 1.0))
    wb = torch.where(straight, torch.full_like(so, t), torch.sin(t * omega) / so.where(~straight, 1.0))
    return (wa * ua + wb * ub) * ((1.0 - t) * na + t * nb)


def fractional_blend(seed: float) -> Blend:
    """Seed ``s + t`` (0 ≤ t < 1) as the blend ``((s, 1 - t), (s + 1, t))``."""
    lo = math.floor(seed)
    t = float(seed - lo)
    return ((int(lo), 1.0 - t),) if t < 1e-9 else ((int(lo), 1.0 - t), (int(lo) + 1, t))


def pad_blend(corners: Sequence[int], x: float, y: float) -> Blend:
    """Bilinear weights of four seeds at ``(x, y)`` in the unit square.

    ``corners``: seeds at (0, 0), (1, 0), (0, 1), (1, 1), as NVIDIA's latent widget lays them out.
    """
    x, y = min(max(float(x), 0.0), 1.0), min(max(float(y), 0.0), 1.0)
    w = ((1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y)
    out: dict[int, float] = {}
    for s, wi in zip(corners, w):
        out[int(s)] = out.get(int(s), 0.0) + wi
    return tuple((s, wi) for s, wi in out.items() if wi > 0) or ((int(corners[0]), 1.0),)


def blend_latents(G, blend: Blend) -> torch.Tensor:
    """Untruncated per-layer latents ``[1, L, D]`` of a blend of seeds.

    StyleGANs: Σ wᵢ·map(zᵢ) in W.  Others: z's combined by repeated slerp (a blend of two
    is one slerp; more are folded pairwise with the running weight), then mapped.
    """
    seeds = [s for s, _w in blend]
    weights = [float(w) for _s, w in blend]
    if len(seeds) == 1:
        return G.sample(1, seeds[0])
    if blends_in_w(G):
        lat = torch.cat([G.sample(1, s) for s in seeds])
        w = torch.tensor(weights, dtype=lat.dtype, device=lat.device).view(-1, 1, 1)
        return (w * lat).sum(0, keepdim=True) / w.sum()
    z = G.sample_z(1, seeds[0])
    total = weights[0]
    for s, wi in zip(seeds[1:], weights[1:]):
        if wi <= 0:
            continue
        total += wi
        z = slerp(z, G.sample_z(1, s), wi / total)
    return G.map(z)


def blend_base(G, state: EditState, blend: Blend) -> BaseLatents:
    """The explicit base latents of a blend for ``state``: style-mixed and truncated like a seed."""
    with torch.no_grad():
        lat = blend_latents(G, blend)
        if state.mix_seed is not None and state.mix_range is not None:
            s, e = state.mix_range
            lat = lat.clone()
            lat[:, s:e] = G.sample(1, state.mix_seed)[:, s:e]
        return BaseLatents(G.truncate(lat, state.truncation))


def walk(seeds: Sequence[int], frames_per_seed: int) -> Iterator[Blend]:
    """A looping walk through ``seeds``: ``frames_per_seed`` blends from each seed to the next,
    the last leading back to the first (so the video loops without a jump)."""
    if len(seeds) < 2:
        raise ValueError("a seed walk needs at least two seeds")
    if frames_per_seed < 1:
        raise ValueError("a seed walk needs at least one frame per seed")
    for i, a in enumerate(seeds):
        b = seeds[(i + 1) % len(seeds)]
        for k in range(frames_per_seed):
            t = k / frames_per_seed
            yield ((int(a), 1.0 - t),) if k == 0 else ((int(a), 1.0 - t), (int(b), t))


def walk_position(seeds: Sequence[int], position: float) -> Blend:
    """The blend at ``position`` along a looping walk (1.0 = one seed further; wraps around)."""
    n = len(seeds)
    p = position % n
    i = int(math.floor(p))
    t = p - i
    a, b = int(seeds[i]), int(seeds[(i + 1) % n])
    return ((a, 1.0),) if t < 1e-9 else ((a, 1.0 - t), (b, t))
