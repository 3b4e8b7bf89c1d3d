"""Vector fields over the latent space, stored as plain arrays (no pickle, no code).

A field control (METHODS.md §0, kind 3) moves a latent along ``v(x) = f(x) / ‖f(x)‖`` by
Euler steps of length ε: ``x_{i+1} = x_i + sign(t)·ε·v(x_i)``.  The field types:

* ``linear`` — LatentCLR's linear-conditional model: ``f(x) = W x (+ b)``.
* ``mlp`` — LatentCLR's non-linear model: Linear, then (affine batch-norm, ReLU, Linear)
  repeated; the batch norms are in eval form, ``(h − μ)/sqrt(σ² + 1e-5)·γ + β``.
* ``rbf`` — WarpedGANSpace's warping: ``f(x) = Σ_i a_i exp(−γ‖x − v_i‖²)``, whose gradient
  ``∇f(x) = −2γ Σ_i a_i exp(−γ‖x − v_i‖²)(x − v_i)`` is the field (γ included, as the
  corrected original).  Far from every support vector the gradient underflows; there the
  field falls back to the axis of the nearest dipole, ``(v⁺ − v⁻)``, so the path never stalls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

FIELD_TYPES = ("linear", "mlp", "rbf")
_NORM_EPS = 1e-8


class FieldError(ValueError):
    """A field's parameters are inconsistent; one sentence naming what."""


@dataclass(frozen=True, eq=False)
class VectorField:
    """``type`` in FIELD_TYPES, ``params`` JSON-able, ``arrays`` float arrays by name.

    ``linear``: arrays ``W`` [D, D] (and optionally ``b`` [D]).
    ``mlp``: ``W0`` [H, D], ``b0`` [H], then for i ≥ 1: ``bn{i}_mean``, ``bn{i}_var``,
    ``bn{i}_weight``, ``bn{i}_bias`` [H_{i-1}], ``W{i}`` [H_i, H_{i-1}] and optional ``b{i}``;
    params ``{"depth": n}``; the last layer's output size is D.
    ``rbf``: ``support`` [M, D], ``weights`` [M]; params ``{"gamma": γ}``; dipoles are
    consecutive rows (v⁺, v⁻) when M is even.
    """

    type: str
    arrays: dict[str, np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.type not in FIELD_TYPES:
            raise FieldError(f"field type {self.type!r} is unknown (known: {', '.join(FIELD_TYPES)})")
        for k, a in self.arrays.items():
            if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
                raise FieldError(f"field array {k!r} must be a float array")
            if not np.all(np.isfinite(a)):
                raise FieldError(f"field array {k!r} holds NaN or infinite values")
        self.dim  # validates shapes

    @property
    def dim(self) -> int:
        """The latent size D the field acts on."""
        a = self.arrays
        try:
            if self.type == "linear":
                W = a["W"]
                if W.ndim != 2 or W.shape[0] != W.shape[1]:
                    raise FieldError("a linear field needs a square matrix W")
                if "b" in a and a["b"].shape != (W.shape[0],):
                    raise FieldError("a linear field's bias b must match W")
                return int(W.shape[1])
            if self.type == "mlp":
                depth = int(self.params.get("depth", 0))
                if depth < 1:
                    raise FieldError("an mlp field needs params.depth ≥ 1")
                d_in = int(a["W0"].shape[1])
                width = int(a["W0"].shape[0])
                for i in range(1, depth):
                    for part in ("mean", "var", "weight", "bias"):
                        if a[f"bn{i}_{part}"].shape != (width,):
                            raise FieldError(f"mlp field array bn{i}_{part} must have {width} entries")
                    if a[f"W{i}"].shape[1] != width:
                        raise FieldError(f"mlp field array W{i} does not chain with the layer before")
                    width = int(a[f"W{i}"].shape[0])
                if width != d_in:
                    raise FieldError("an mlp field must map the latent space to itself")
                return d_in
            support, weights = a["support"], a["weights"]
            if support.ndim != 2 or weights.shape != (support.shape[0],):
                raise FieldError("an rbf field needs support [M, D] and weights [M]")
            gamma = float(self.params.get("gamma", float("nan")))
            if not (math.isfinite(gamma) and gamma > 0):
                raise FieldError("an rbf field needs a positive params.gamma")
            return int(support.shape[1])
        except KeyError as exc:
            raise FieldError(f"a {self.type} field lacks array {exc.args[0]!r}") from None

    def _t(self, name: str, like: torch.Tensor) -> torch.Tensor:
        cache = self.__dict__.setdefault("_tensor_cache", {})
        key = (name, str(like.device), like.dtype)
        if key not in cache:
            cache[key] = torch.as_tensor(self.arrays[name], device=like.device, dtype=like.dtype)
        return cache[key]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` (unnormalised) for latents ``x`` ``[n, D]``."""
        if self.type == "linear":
            out = x @ self._t("W", x).T
            return out + self._t("b", x) if "b" in self.arrays else out
        if self.type == "mlp":
            h = x @ self._t("W0", x).T + self._t("b0", x)
            for i in range(1, int(self.params["depth"])):
                h = (h - self._t(f"bn{i}_mean", x)) / torch.sqrt(self._t(f"bn{i}_var", x) + 1e-5)
                h = torch.relu(h * self._t(f"bn{i}_weight", x) + self._t(f"bn{i}_bias", x))
                h = h @ self._t(f"W{i}", x).T
                if f"b{i}" in self.arrays:
                    h = h + self._t(f"b{i}", x)
            return h
        # rbf: ∇f(x) = −2γ Σ_i a_i exp(−γ‖x − v_i‖²)(x − v_i)
        v, a = self._t("support", x), self._t("weights", x)
        gamma = float(self.params["gamma"])
        diff = x[:, None, :] - v[None]  # [n, M, D]
        k = a * torch.exp(-gamma * (diff**2).sum(-1))  # [n, M]
        return -2.0 * gamma * (k[..., None] * diff).sum(1)

    def direction(self, x: torch.Tensor) -> torch.Tensor:
        """The unit field ``v(x) = f(x)/‖f(x)‖`` ``[n, D]``, with the rbf fallback far from all dipoles."""
        f = self.raw(x)
        norm = f.norm(dim=1, keepdim=True)
        if self.type == "rbf":
            weak = norm[:, 0] < _NORM_EPS
            if bool(weak.any()):
                f = f.clone()
                f[weak] = self._nearest_dipole_axis(x[weak])
                norm = f.norm(dim=1, keepdim=True)
        return f / norm.clamp_min(_NORM_EPS)

    def _nearest_dipole_axis(self, x: torch.Tensor) -> torch.Tensor:
        """Axis ``v⁺ − v⁻`` (oriented along ascent of f) of the dipole nearest to each x."""
        v, a = self._t("support", x), self._t("weights", x)
        if v.shape[0] % 2:
            nearest = torch.cdist(x, v).argmin(1)
            return a[nearest, None] * (v[nearest] - x)
        pos, neg = v[0::2], v[1::2]
        sign = torch.sign(a[0::2] - a[1::2])[:, None]
        axes = sign * (pos - neg)  # [M/2, D]
        centres = (pos + neg) / 2
        nearest = torch.cdist(x, centres).argmin(1)
        return axes[nearest]

    def integrate(self, x: torch.Tensor, length: float, step: float) -> torch.Tensor:
        """Follow ``sign(length)·v`` from ``x`` ``[n, D]`` for a path of ``|length|`` latent units.

        Whole steps of ``step``, then one partial step for the remainder, so the end
        point moves continuously with the slider.
        """
        if length == 0:
            return x
        sign = 1.0 if length > 0 else -1.0
        n_full, rest = divmod(abs(length), step)
        for _ in range(int(n_full)):
            x = x + sign * step * self.direction(x)
        if rest > 1e-12:
            x = x + sign * rest * self.direction(x)
        return x
