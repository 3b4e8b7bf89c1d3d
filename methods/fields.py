"""Vector fields over the latent space, stored as plain arrays (no pickle, no code).

A field control (METHODS.md §0, kind 3) moves a latent along ``v(x) = f(x) / ‖f(x)‖`` by
Euler steps of length ε: ``x_{i+1} = x_i + sign(t)·ε·v(x_i)``.  The field types:

* ``linear`` — LatentCLR's linear-conditional model: ``f(x) = W x (+ b)``.
* ``mlp`` — LatentCLR's non-linear model: Linear, then (affine batch-norm, ReLU, Linear)
  repeated; the batch norms are in eval form, ``(h − μ)/sqrt(σ² + 1e-5)·γ + β``.
* ``rbf`` — WarpedGANSpace's warping: ``f(x) = Σ_i a_i exp(−γ‖x − v_i‖²)``, whose gradient
  ``∇f(x) = −2γ Σ_i a_i exp(−γ‖x − v_i‖²)(x − v_i)`` is the field (γ included, as the
  corrected original).  Its direction is computed stably (`rbf_direction`): the largest
  exponent is subtracted before exponentiating and the sum normalised after, so it is
  exact wherever the gradient is merely small, and finite even where the original's
  float32 gradient underflows to 0/0 = NaN.
* ``shift`` — not a field of the latent: Voynov–Babenko's ``linear``, ``proj`` and ``fc``
  deformators, whose shift ``A(s·e_k)`` is a non-linear function of the magnitude s alone.
  `integrate` moves by it in closed form, ``x + A(L·e_k)`` (zero-padded or cut to D),
  so an imported deformator gives the original's latents exactly (`methods.released`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

FIELD_TYPES = ("linear", "mlp", "rbf", "shift")
SHIFT_NETS = ("linear", "proj", "fc")
#: most Euler steps one slider value may cost (a full slider at the default steps takes ~50)
MAX_EULER_STEPS = 1000
_NORM_EPS = 1e-8


def rbf_direction(x: torch.Tensor, support: torch.Tensor, weights: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """``∇f/‖∇f‖`` ``[B, L, D]`` for latents ``x`` ``[B, L, D]``, RBF centres ``support`` ``[B, M, D]``,
    weights ``weights`` ``[B, M]`` and ``gamma`` ``[B]`` (γ > 0), differentiable in all of them.

    ``∇f = −2γ Σ_i a_i exp(−γ‖x − v_i‖²)(x − v_i)``.  The direction does not depend on the
    gradient's scale, so with ``l_i = log|a_i| − γ‖x − v_i‖²`` and ``m = max_i l_i``
    (log-sum-exp style),

        ∇f / ‖∇f‖ = −h / ‖h‖,    h = Σ_i sign(a_i) exp(l_i − m) (x − v_i)

    where the largest term has weight 1: nothing underflows, however small ∇f is.  The
    original normalises ∇f itself and gets 0/0 = NaN where its float32 exponentials all
    underflow; here only where h truly cancels to 0 (a critical point of f, or all
    weights 0) does the field fall back to the axis ``v⁺ − v⁻`` of the nearest dipole
    (rows 2j, 2j+1), oriented along the ascent of f (0 if that axis is 0 too).
    """
    # ‖x − v_i‖² without a [B, L, M, D] tensor
    d2 = ((x * x).sum(-1, keepdim=True) + (support * support).sum(-1)[:, None, :]
          - 2.0 * x @ support.transpose(1, 2)).clamp_min(0)  # [B, L, M]
    logits = torch.log(weights.abs())[:, None, :] - gamma[:, None, None] * d2
    m = logits.amax(-1, keepdim=True).detach()
    w = torch.sign(weights)[:, None, :] * torch.exp(logits - m)  # [B, L, M], the largest |w| is 1
    h = x * w.sum(-1, keepdim=True) - w @ support  # Σ_i w_i (x − v_i)
    g = -h
    norm = g.norm(dim=-1, keepdim=True)
    weak = ~(norm > 0) | ~torch.isfinite(norm)  # true cancellation (or no usable weight at all)
    if bool(weak.any()) and support.shape[1] >= 2:
        pos, neg = support[:, 0::2], support[:, 1::2]  # [B, N, D]
        n = min(pos.shape[1], neg.shape[1])
        pos, neg = pos[:, :n], neg[:, :n]
        axes = torch.sign(weights[:, 0:2 * n:2] - weights[:, 1:2 * n:2])[..., None] * (pos - neg)
        nearest = torch.cdist(x, (pos + neg) / 2).argmin(-1)  # [B, L]
        fallback = torch.gather(axes, 1, nearest[..., None].expand(-1, -1, x.shape[-1]))
        g = torch.where(weak, fallback, torch.nan_to_num(g))
        norm = g.norm(dim=-1, keepdim=True)
    return g / norm.clamp_min(torch.finfo(g.dtype).tiny)


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
    ``shift``: params ``{"net": linear|proj|fc, "index": k, "input_dim": n, "dim": D}``;
    linear/proj: ``W`` [out, n], ``b`` [out]; fc: ``fc{1..4}_W``, ``fc{1..4}_b`` and
    ``bn{1..3}_{mean,var,weight,bias}`` (eval form), with out = n.
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
            if self.type == "shift":
                return self._shift_dim()
            support, weights = a["support"], a["weights"]
            if support.ndim != 2 or weights.shape != (support.shape[0],):
                raise FieldError("an rbf field needs support [M, D] and weights [M]")
            gamma = float(self.params.get("gamma", float("nan")))
            if not (math.isfinite(gamma) and gamma > 0):
                raise FieldError("an rbf field needs a positive params.gamma")
            return int(support.shape[1])
        except KeyError as exc:
            raise FieldError(f"a {self.type} field lacks array {exc.args[0]!r}") from None

    def _shift_dim(self) -> int:
        a, p = self.arrays, self.params
        net = p.get("net")
        if net not in SHIFT_NETS:
            raise FieldError(f"a shift field's net must be one of {', '.join(SHIFT_NETS)}")
        try:
            n, k, dim = int(p["input_dim"]), int(p["index"]), int(p["dim"])
        except (KeyError, TypeError, ValueError):
            raise FieldError("a shift field needs integer params input_dim, index and dim") from None
        if not (0 <= k < n and dim >= 1):
            raise FieldError("a shift field's index must be below its input_dim, and dim at least 1")
        if net in ("linear", "proj"):
            W, b = a["W"], a["b"]
            if W.ndim != 2 or W.shape[1] != n or b.shape != (W.shape[0],):
                raise FieldError("a shift field needs W [out, input_dim] and b [out]")
            return dim
        width = n
        for i in range(1, 5):
            W, b = a[f"fc{i}_W"], a[f"fc{i}_b"]
            if W.ndim != 2 or b.shape != (W.shape[0],) or W.shape[1] != width:
                raise FieldError(f"shift field array fc{i}_W does not chain with the layer before")
            width = int(W.shape[0])
            if i < 4:
                for part in ("mean", "var", "weight", "bias"):
                    if a[f"bn{i}_{part}"].shape != (width,):
                        raise FieldError(f"shift field array bn{i}_{part} must have {width} entries")
        if width != n or a["fc2_W"].shape != a["fc3_W"].shape or a["fc2_W"].shape[0] != a["fc1_W"].shape[0]:
            raise FieldError("an fc shift field must map its input size to itself through equal widths")
        return dim

    def shift(self, lengths: torch.Tensor) -> torch.Tensor:
        """``shift`` fields: the deformator's shift ``A(s·e_k)`` ``[m, D]`` for magnitudes ``lengths`` ``[m]``."""
        p = self.params
        like = lengths.reshape(-1, 1)
        n, k, dim = int(p["input_dim"]), int(p["index"]), int(p["dim"])
        x = torch.zeros(like.shape[0], n, dtype=like.dtype, device=like.device)
        x[:, k] = like[:, 0]  # one_hot(input_dim, s, k)
        if p["net"] in ("linear", "proj"):
            out = x @ self._t("W", like).T + self._t("b", like)
            if p["net"] == "proj":  # the shift's length is |s|, its direction that of s·W_k + b
                out = out * (x.norm(dim=1, keepdim=True) / out.norm(dim=1, keepdim=True).clamp_min(1e-30))
        else:
            def lin(i: int, h: torch.Tensor) -> torch.Tensor:
                return h @ self._t(f"fc{i}_W", like).T + self._t(f"fc{i}_b", like)

            def bn(i: int, h: torch.Tensor) -> torch.Tensor:
                h = (h - self._t(f"bn{i}_mean", like)) / torch.sqrt(self._t(f"bn{i}_var", like) + 1e-5)
                return torch.nn.functional.elu(h * self._t(f"bn{i}_weight", like) + self._t(f"bn{i}_bias", like))

            x1 = lin(1, x)
            x2 = lin(2, bn(1, x1))
            x3 = lin(3, bn(2, x2 + x1))
            out = lin(4, bn(3, x3 + x2 + x1)) + x
        if out.shape[1] < dim:
            out = torch.cat([out, out.new_zeros(out.shape[0], dim - out.shape[1])], dim=1)
        return out[:, :dim]

    def _t(self, name: str, like: torch.Tensor) -> torch.Tensor:
        cache = self.__dict__.setdefault("_tensor_cache", {})
        key = (name, str(like.device), like.dtype)
        if key not in cache:
            cache[key] = torch.as_tensor(self.arrays[name], device=like.device, dtype=like.dtype)
        return cache[key]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` (unnormalised) for latents ``x`` ``[n, D]``."""
        if self.type == "shift":
            raise FieldError("a shift field has no value at a point; see `shift`")
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
        """The unit field ``v(x) = f(x)/‖f(x)‖`` ``[n, D]`` (rbf: computed stably, in float64, by `rbf_direction`)."""
        if self.type == "shift":
            raise FieldError("a shift field moves by its deformator's shift, not along a direction at each point")
        if self.type == "rbf":
            x64 = x.double()
            v = rbf_direction(x64[None], self._t("support", x64)[None], self._t("weights", x64)[None],
                              torch.tensor([float(self.params["gamma"])], dtype=torch.float64, device=x.device))
            return v[0].to(x.dtype)
        f = self.raw(x)
        return f / f.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)

    def integrate(self, x: torch.Tensor, length: float, step: float) -> torch.Tensor:
        """Follow ``sign(length)·v`` from ``x`` ``[n, D]`` for a path of ``|length|`` latent units.

        Whole steps of ``step``, then one partial step for the remainder, so the end
        point moves continuously with the slider.  At most `MAX_EULER_STEPS` steps are taken
        for one value: a path longer than that many steps is walked in `MAX_EULER_STEPS` equal
        steps instead (the original papers' exporters have no bound, so a tiny step or a huge
        slider value would loop for hours; a longer step is the documented difference).
        """
        if length == 0:
            return x
        if not (math.isfinite(length) and math.isfinite(step) and step > 0):
            raise FieldError(f"a field path needs a finite length and a positive step, not {length!r} and {step!r}")
        if self.type == "shift":  # closed form: x + A(L·e_k), the same for every row
            return x + self.shift(torch.tensor([float(length)], dtype=x.dtype, device=x.device))
        sign = 1.0 if length > 0 else -1.0
        if abs(length) / step > MAX_EULER_STEPS:
            step = abs(length) / MAX_EULER_STEPS
        n_full, rest = divmod(abs(length), step)
        for _ in range(int(n_full)):
            x = x + sign * step * self.direction(x)
        if rest > 1e-12:
            x = x + sign * rest * self.direction(x)
        return x
