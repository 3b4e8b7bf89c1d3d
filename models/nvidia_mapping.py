"""What NVIDIA's StyleGAN2-ADA and StyleGAN3 generators share: the mapping network and the API shell.

Mapping (``mapping.*``, identical maths in stylegan2-ada-pytorch and both stylegan3 families)::

    x = z · rsqrt(mean(z², 1) + 1e-8)                      z [B, z_dim]
    y = embed(c) · rsqrt(mean(embed(c)², 1) + 1e-8)          conditional only, c [B, c_dim]
    x = cat([x, y], 1)
    x = lrelu(fc_i(x), 0.2) · √2   for i = 0 … L-1           equalized lr, lr_multiplier 0.01
    w = x                                                    [B, w_dim]

The W+ of the `Generator` API broadcasts w to ``[B, num_ws, w_dim]``; truncation goes toward
the stored ``mapping.w_avg`` (``w_avg + ψ·(w − w_avg)``, NVIDIA's ``w_avg.lerp(w, ψ)``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Generator
from .stylegan2 import EqualLinear, PixelNorm

#: the noise modes NVIDIA's tools name, as Latent Studio's StyleGAN2 names them
NOISE_ALIASES = {"const": "fixed", "none": "zero", "random": "random", "fixed": "fixed", "zero": "zero"}


class MappingNetwork(nn.Module):
    """z ``[B, z_dim]`` (+ one-hot or weighted c ``[B, c_dim]``) -> w ``[B, w_dim]``, NVIDIA's entry names."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int, embed_features: int | None = None,
                 layer_features: int | None = None, lr_multiplier: float = 0.01):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_layers = z_dim, c_dim, w_dim, num_layers
        embed_features = w_dim if embed_features is None else embed_features
        layer_features = w_dim if layer_features is None else layer_features
        if c_dim == 0:
            embed_features = 0
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        self.norm = PixelNorm()
        if c_dim > 0:
            self.embed = EqualLinear(c_dim, embed_features)
        for i in range(num_layers):
            setattr(self, f"fc{i}", EqualLinear(features[i], features[i + 1], lr_multiplier, activate=True))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(self.norm(z))
        if self.c_dim > 0:
            if c is None:
                raise ValueError("this generator is conditional: give classes")
            parts.append(self.norm(self.embed(c)))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class NvidiaGenerator(Generator):
    """The parts of the `Generator` API common to NVIDIA's StyleGAN2-ADA and StyleGAN3 nets.

    ``net`` has ``mapping`` (a `MappingNetwork`) and ``synthesis``.  Seeds follow NVIDIA's
    ``gen_images.py``: row i of `sample_z` is ``np.random.RandomState(seed + i).randn(z_dim)``,
    so seed N shows the image NVIDIA's tools show for seed N.  Conditional models take the
    class in the mapping (``class_in_mapping``): `map`/`sample` take ``classes``, and W+ already
    holds it, so `synthesize` ignores its ``classes`` argument.
    """

    class_in_mapping = True
    default_truncation = 0.7
    default_pca_layer = "latent"
    default_class = 0
    #: images convert to uint8 the way NVIDIA's tools do: ``(x·127.5 + 128).clamp(0, 255)`` truncated
    uint8_convention = "nvidia"

    def __init__(self, net: nn.Module, device: torch.device | str, name: str, fingerprint: str, num_ws: int):
        super().__init__(net, device, name, fingerprint)
        m: MappingNetwork = net.mapping
        self.z_dim, self.latent_dim, self.c_dim = m.z_dim, m.w_dim, m.c_dim
        self.num_layers = num_ws
        self.classes = [f"class {i}" for i in range(m.c_dim)] if m.c_dim > 0 else None

    # ---------------------------------------------------------------- sampling
    def sample_z(self, n: int, seed: int) -> torch.Tensor:
        """``[n, z_dim]`` float32: row i is ``RandomState(seed + i).randn(z_dim)`` (NVIDIA's seeds)."""
        rows = [np.random.RandomState((int(seed) + i) % 2**32).randn(self.z_dim) for i in range(n)]
        z = torch.from_numpy(np.stack(rows)).float() if rows else torch.zeros(0, self.z_dim)
        return z.to(self.device)

    def sample(self, n: int, seed: int, classes: Any = None) -> torch.Tensor:
        return self.map(self.sample_z(n, seed), classes)

    def class_vector(self, classes: Any, batch: int) -> torch.Tensor | None:
        """Indices ``[B]`` (or one int) or weights ``[B, c_dim]`` -> ``float32 [B, c_dim]``; None when unconditional.

        None means `default_class` for every row.
        """
        if self.c_dim == 0:
            return None
        if classes is None:
            classes = self.default_class
        t = torch.as_tensor(classes, device=self.device)
        if t.is_floating_point() and t.dim() == 2:
            if t.shape != (batch, self.c_dim):
                raise ValueError(f"class weights must be [{batch}, {self.c_dim}], not {list(t.shape)}")
            return t.float()
        idx = t.long().reshape(-1)
        if idx.numel() == 1:
            idx = idx.expand(batch)
        if idx.numel() != batch:
            raise ValueError(f"{idx.numel()} classes were given for a batch of {batch}")
        if idx.min() < 0 or idx.max() >= self.c_dim:
            raise ValueError(f"class indices must lie in 0 … {self.c_dim - 1}")
        return torch.nn.functional.one_hot(idx, self.c_dim).float()

    def map(self, z: torch.Tensor, classes: Any = None) -> torch.Tensor:
        """z ``[n, z_dim]`` (+ classes) -> W+ ``[n, num_ws, w_dim]``: the mapped w on every row."""
        z = z.to(self.device, torch.float32)
        w = self.net.mapping(z, self.class_vector(classes, z.shape[0]))
        return w[:, None, :].repeat(1, self.num_layers, 1)

    @property
    def latent_avg(self) -> torch.Tensor:
        """``mapping.w_avg`` ``[w_dim]`` as stored in the snapshot (NVIDIA's truncation centre)."""
        return self.net.mapping.w_avg

    def check_latents(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.dim() != 3 or tuple(latents.shape[1:]) != (self.num_layers, self.latent_dim):
            raise ValueError(f"latents must be [B, {self.num_layers}, {self.latent_dim}], got {list(latents.shape)}")
        return latents.to(self.device, torch.float32)

    def info(self) -> dict:
        out = super().info()
        out["c_dim"] = self.c_dim
        return out

