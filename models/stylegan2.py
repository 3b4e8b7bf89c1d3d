"""StyleGAN2 generators in the layout of rosinality/stylegan2-pytorch, in plain PyTorch.

Checkpoints are dicts holding ``g_ema`` (the generator's state dict) and optionally
``latent_avg``, ``g``, ``d``, ``g_optim``, ``d_optim``, ``args`` and ``ada_aug_p`` — the
format GANSpace, LatentCLR and WarpedGANSpace load.  Every architectural number
(resolution, style size, mapping depth, channels per resolution) is read from the
tensor shapes, and the modules built here carry exactly the reference's state-dict
names and shapes, so weights load with ``strict=True``.

Forward pass, for per-layer latents ``w`` of shape ``[B, n_latent, style_dim]``:

    x      = const                                          [B, C4, 4, 4]
    x      = conv1(x, w[:,0], noise_0);  skip = to_rgb1(x, w[:,1])
    for k  = 0, 1, …:
        x    = convs[2k]  (x, w[:,2k+1], noise_{2k+1})      (2x upsampling conv)
        x    = convs[2k+1](x, w[:,2k+2], noise_{2k+2})
        skip = to_rgbs[k] (x, w[:,2k+3]) + upsample(skip)
    image  = skip                                           [B, 3, R, R], no tanh, no clamp

No CUDA extensions: the FIR resampling (``upfirdn2d``) is a zero-insertion, a pad and a
``conv2d`` with the flipped kernel; the fused leaky ReLU is ``leaky_relu(x + b, 0.2)·√2``.
Modulated convolutions fold the batch into the groups of one grouped convolution.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator, LoadError
from .bounded import InputLimitError, check_model_size, module_bytes

if TYPE_CHECKING:
    import numpy as np

SQRT2 = math.sqrt(2.0)
#: noise modes of `StyleGAN2Net.forward` and `StyleGAN2Generator.noise_mode`
NOISE_MODES = ("fixed", "random", "zero")
#: the top-level entries a rosinality training or conversion script writes
CHECKPOINT_KEYS = frozenset({"g_ema", "latent_avg", "g", "d", "g_optim", "d_optim", "args", "ada_aug_p"})


# ====================================================================== configuration
def standard_channels(channel_multiplier: int = 2, divisor: int = 1) -> dict[int, int]:
    """The reference channel table (resolution -> channels), optionally divided by ``divisor``.

    4…32 px -> 512; 64 -> 256·m, 128 -> 128·m, 256 -> 64·m, 512 -> 32·m, 1024 -> 16·m.
    """
    m = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * m, 128: 128 * m, 256: 64 * m, 512: 32 * m, 1024: 16 * m}
    return {r: c // divisor for r, c in table.items()}


@dataclass(frozen=True)
class StyleGAN2Config:
    """Everything needed to build a `StyleGAN2Net` without weights."""

    resolution: int
    style_dim: int = 512
    n_mlp: int = 8
    #: channels at every resolution 4, 8, …, ``resolution``
    channels: Mapping[int, int] = field(default_factory=dict)
    #: learning-rate multiplier of the mapping network; not stored in checkpoints, 0.01 in all real ones
    lr_mlp: float = 0.01
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)

    @classmethod
    def standard(
        cls, resolution: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2, channel_divisor: int = 1
    ) -> "StyleGAN2Config":
        """The reference ``Generator(resolution, style_dim, n_mlp, channel_multiplier)`` configuration."""
        table = standard_channels(channel_multiplier, channel_divisor)
        res = [4 * 2**i for i in range(int(math.log2(resolution)) - 1)]
        return cls(resolution, style_dim, n_mlp, {r: table[r] for r in res})

    @property
    def log_size(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def n_latent(self) -> int:
        """W+ depth: ``2·log2(R) - 2`` (18 at 1024 px)."""
        return 2 * self.log_size - 2

    @property
    def num_noises(self) -> int:
        """Noise inputs (one per styled conv): ``2·log2(R) - 3``."""
        return 2 * self.log_size - 3

    def resolutions(self) -> list[int]:
        """4, 8, …, resolution."""
        return [2**i for i in range(2, self.log_size + 1)]


# ====================================================================== FIR resampling
def make_kernel(taps: Sequence[float]) -> torch.Tensor:
    """Separable FIR kernel ``[k, k]``: the outer product of ``taps`` with itself, summing to 1."""
    k = torch.tensor(list(taps), dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def scatter_padding(k: int, up: int, down: int, pad: tuple[int, int]) -> tuple[int, int] | None:
    """``(padding, output_padding)`` of the transposed convolution that equals upsampling by
    ``up`` with a ``k``-tap filter and ``pad`` (no downsampling), or None where none does.

    It scatters x[i] to ``up·i + t - padding`` with the unflipped taps f[t], the same sums
    as filtering the inserted zeros, without them (3-4x faster on the CPU).
    """
    crop, extra = k - 1 - pad[0], pad[1] - pad[0] + up - 1
    return (crop, extra) if up > 1 and down == 1 and crop >= 0 and 0 <= extra < up else None


def upfirdn2d(x: torch.Tensor, taps: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0),
              bias: torch.Tensor | None = None) -> torch.Tensor:
    """Upsample by zero-insertion, pad, filter, downsample: ``[N, C, H, W] -> [N, C, H', W']``.

    ``taps`` is the FIR kernel *already flipped* (filtering is a true convolution, and
    ``conv2d`` correlates), shaped ``[C, 1, kh, kw]`` (one copy per channel: a depthwise
    conv, the fast path) or ``[1, 1, kh, kw]`` (any C).  The same ``up``, ``down`` and
    ``pad = (before, after)`` apply to both axes, and
    ``H' = (H·up + pad0 + pad1 - kh) // down + 1``.  Pads must be non-negative.
    ``bias [C]``, if given, is added to the result by the same convolution.
    """
    n, c, h, w = x.shape
    p0, p1 = pad
    if p0 < 0 or p1 < 0:
        raise ValueError("upfirdn2d here supports non-negative pads only")
    if taps.shape[0] != c:
        taps = taps[:1].expand(c, 1, taps.shape[-2], taps.shape[-1])
    if up > 1:
        scatter = scatter_padding(taps.shape[-1], up, down, pad) if taps.shape[-2] == taps.shape[-1] else None
        if scatter is not None:
            return F.conv_transpose2d(x, taps.flip(-2, -1), bias, stride=up, padding=scatter[0],
                                      output_padding=scatter[1], groups=c)
        # zero-insertion and padding in one buffer: sample (i, j) lands at (p0 + up·i, p0 + up·j)
        hu, wu = h * up, w * up
        buf = x.new_zeros(n, c, hu + p0 + p1, wu + p0 + p1)
        buf[:, :, p0 : p0 + hu : up, p0 : p0 + wu : up] = x
        return F.conv2d(buf, taps, bias, stride=down, groups=c)
    if p0 == p1:
        return F.conv2d(x, taps, bias, stride=down, padding=p0, groups=c)
    return F.conv2d(F.pad(x, (p0, p1, p0, p1)), taps, bias, stride=down, groups=c)


class _Derived(nn.Module):
    """A module with non-persistent buffers derived from its weights (flipped kernels,
    squared-weight sums), recomputed whenever the weights change through
    ``load_state_dict`` or a device/dtype move, so no forward call recomputes them."""

    def __init__(self) -> None:
        super().__init__()
        # after this module's children are loaded too (a modulation's weights feed `mod_weight`)
        self.register_load_state_dict_post_hook(lambda module, _keys: module._refresh())

    def _refresh(self) -> None:
        raise NotImplementedError

    def _apply(self, fn, recurse: bool = True):  # .to(), .double(), .cuda(), …
        super()._apply(fn, recurse)
        self._refresh()
        return self


class _FIR(_Derived):
    """A fixed FIR filter on ``channels`` channels: persistent ``kernel [k, k]`` (as in the
    checkpoint) and derived ``taps [channels, 1, k, k]``, the flipped kernel per channel."""

    def __init__(self, blur_kernel: Sequence[int], gain: float, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("kernel", make_kernel(blur_kernel) * gain)
        self.register_buffer("taps", torch.empty(0), persistent=False)
        self._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        k = self.kernel.flip(0, 1)
        self.taps = k.expand(self.channels, 1, *k.shape).contiguous()


class Blur(_FIR):
    """FIR low-pass with padding ``pad``, no resampling: ``[N, C, H, W] -> [N, C, H + p0 + p1 - k + 1, …]``.

    After a stride-2 transposed 3x3 conv the kernel is multiplied by 4 (= up²) and pad is (1, 1).
    """

    def __init__(self, blur_kernel: Sequence[int], pad: tuple[int, int], channels: int, upsample_factor: int = 1):
        super().__init__(blur_kernel, gain=upsample_factor**2, channels=channels)
        self.pad = pad

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        return upfirdn2d(x, self.taps, pad=self.pad, bias=bias)


class Upsample(_FIR):
    """2x FIR upsampling of the RGB skip: ``[N, C, H, W] -> [N, C, 2H, 2W]`` (up=2, pad (2, 1))."""

    def __init__(self, blur_kernel: Sequence[int], channels: int = 3, factor: int = 2):
        self.factor = factor
        p = len(blur_kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)
        self.scatter_padding = scatter_padding(len(blur_kernel), factor, 1, self.pad)
        super().__init__(blur_kernel, gain=factor**2, channels=channels)

    @torch.no_grad()
    def _refresh(self) -> None:
        super()._refresh()
        self.scatter = self.taps.flip(-2, -1)  # [C, 1, k, k]: `upfirdn2d`'s transposed-conv form, unflipped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scatter_padding is not None and x.shape[1] == self.channels:  # `upfirdn2d`'s sums, flip derived
            padding, extra = self.scatter_padding
            return F.conv_transpose2d(x, self.scatter, stride=self.factor, padding=padding, output_padding=extra,
                                      groups=self.channels)
        return upfirdn2d(x, self.taps, up=self.factor, pad=self.pad)


# ====================================================================== layers
class PixelNorm(nn.Module):
    """``x · rsqrt(mean(x², dim=1) + 1e-8)`` for ``[B, D]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalized-learning-rate linear layer, ``[B, in] -> [B, out]``.

    ``y = x @ (W · lr_mul / √in)ᵀ + b · lr_mul``, then, with ``activate``,
    ``leaky_relu(y, 0.2) · √2``.  Stored weights are the un-scaled ``W``.
    """

    def __init__(self, in_dim: int, out_dim: int, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.empty(out_dim))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (x·s) @ Wᵀ = x @ (W·s)ᵀ: the scalar scale goes on the small side
        y = F.linear(x * self.scale, self.weight, self.bias * self.lr_mul)
        if self.activate:
            y = F.leaky_relu(y, 0.2).mul_(SQRT2)
        return y


class ModulatedConv2d(_Derived):
    """Style-modulated convolution ``[B, in, H, W], w [B, style_dim] -> [B, out, H', W']``.

    ``s = modulation(w)`` (≈ 1, one scale per input channel), then per sample
    ``W'[o,i] = W[o,i] · c · s[i]`` with ``c = 1/√(in·k²)``, and with ``demodulate``
    ``W''[o,i] = W'[o,i] · rsqrt(Σ_{i,kh,kw} W'[o,i]² + 1e-8)``.  Demodulation uses the
    derived ``wsq[o,i] = Σ_{kh,kw} W[o,i]²``, so ``Σ W'² = c² · (s² @ wsqᵀ)``.
    The batch is folded into the groups of one convolution.  With ``upsample``, a
    stride-2 transposed conv (``[H, W] -> [2H+1, 2W+1]``) followed by a 4x blur, pad (1, 1).

    A single image (``B = 1``, every frame the program renders) takes the same products
    ``W'' = W · coef`` in a channels-last layout: the style-independent part, ``W``
    permuted to ``[out, k, k, in]`` (transposed conv: ``[in, k, k, out]``), is kept as
    the derived ``weight_cl``, so the per-frame multiply writes the modulated weights
    straight into the layout oneDNN convolves fastest, with no transposed copy, and the
    activations stay channels-last from layer to layer.  The 1x1 ToRGB (3 outputs) is a
    matrix product there: oneDNN's 1x1 kernel splits its sum over the input channels
    across threads, so its result moved with the thread count (see `editing.render`).
    Without gradients, ``c · s`` comes from the derived products ``mod_weight`` and
    ``mod_bias`` in one product (rosinality scales the weight the same way, per call), and a
    single frame takes `_frame_coef`'s vector form (``addmv``, ε as the derived ``eps``).
    """

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        self._is_product = kernel_size == 1 and not demodulate and not upsample  # ToRGB
        if upsample:  # registered before `modulation`: the reference's state-dict order
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), channels=out_channel, upsample_factor=factor)
        self.weight = nn.Parameter(torch.empty(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel)
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.register_buffer("wsq", torch.empty(0), persistent=False)
        self.register_buffer("weight_cl", torch.empty(0), persistent=False)
        self.register_buffer("mod_weight", torch.empty(0), persistent=False)
        self.register_buffer("mod_bias", torch.empty(0), persistent=False)
        self.register_buffer("wsq_half", torch.empty(0), persistent=False)
        self.register_buffer("eps", torch.empty(0), persistent=False)
        self.register_buffer("eps_half", torch.empty(0), persistent=False)
        self._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        # s = c · modulation(w) as one product: W·(lr_mul/√style_dim)·c and b·lr_mul·c (no activation)
        m = self.modulation
        self.mod_weight = m.weight * (m.scale * self.scale)
        self.mod_bias = m.bias * (m.lr_mul * self.scale)
        if self.demodulate:
            self.wsq = self.weight[0].square().sum(dim=(2, 3))  # [out, in]
            self.wsq_half = self.wsq * 0.5  # rsqrt(s²@(wsq/2)ᵀ + 1e-8/2) = √2 · d: the activation gain folded in
            self.eps = torch.full_like(self.wsq[:, 0], 1e-8)  # [out], the demodulation's ε as addmv's input
            self.eps_half = torch.full_like(self.wsq[:, 0], 0.5e-8)
        # [out, in, k, k] -> [out, k, k, in]; transposed conv: -> [in, k, k, out]
        order = (1, 2, 3, 0) if self.upsample else (0, 2, 3, 1)
        self.weight_cl = self.weight[0].permute(*order).contiguous()
        if self._is_product:
            self.weight_cl = self.weight_cl[:, 0, 0, :]  # [out, in]: ToRGB's 1x1 conv is a matrix product

    def _coef(self, w: torch.Tensor) -> torch.Tensor:
        """``coef = c · s · d`` ``[B, out, in]`` (``[B, 1, in]`` without demodulation)."""
        if torch.is_grad_enabled():  # gradients reach the modulation's own parameters
            s = self.modulation(w) * self.scale  # [B, in], equalization constant folded in
        else:  # frames: the same scales from the derived products, one operation
            s = F.linear(w, self.mod_weight, self.mod_bias)
        if self.demodulate:
            d = (s.square() @ self.wsq.t()).add_(1e-8).rsqrt_()  # [B, out]
            return s[:, None, :] * d[:, :, None]
        return s[:, None, :]

    def _frame_coef(self, w: torch.Tensor, times_sqrt2: bool = False) -> torch.Tensor:
        """`_coef` of one frame without gradients, from ``w [style_dim]``, shaped to multiply
        ``weight_cl``: ``[out, 1, 1, in]`` (transposed conv: ``[in, 1, 1, out]``; without
        demodulation ``[in]``).  The same products as `_coef`, in fewer operations.
        ``times_sqrt2``: ``√2 · coef``, for a caller that takes the leaky ReLU's gain out of
        its activation (`StyledConv`)."""
        s = torch.addmv(self.mod_bias, self.mod_weight, w)  # [in]
        if not self.demodulate:
            return s
        if times_sqrt2:
            d = torch.addmv(self.eps_half, self.wsq_half, s.square()).rsqrt_()  # [out], √2 · d
        else:
            d = torch.addmv(self.eps, self.wsq, s.square()).rsqrt_()  # [out]
        if self.upsample:
            return s.view(-1, 1, 1, 1) * d
        return d.view(-1, 1, 1, 1) * s

    def _single_layout(self, coef: torch.Tensor) -> torch.Tensor:
        """`_coef`'s ``[1, out or 1, in]`` in `_frame_coef`'s layout."""
        if not self.demodulate:
            return coef[0, 0]
        c = coef[0].t() if self.upsample else coef[0]
        return c[:, None, None, :]

    def _forward_single(self, x: torch.Tensor, coef: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """One image, channels-last: ``x [1, in, H, W]``, ``coef`` as `_frame_coef` lays it out;
        ``bias [out]`` is added by the last convolution (or product) itself."""
        x = x.contiguous(memory_format=torch.channels_last)
        if self._is_product:  # ToRGB
            weight = self.weight_cl * coef  # [out, in]
            out = F.linear(x.permute(0, 2, 3, 1), weight, bias)  # [1, H, W, out]
            return out.permute(0, 3, 1, 2)
        weight = self.weight_cl * coef  # [out, k, k, in]; transposed conv: [in, k, k, out]
        if self.upsample:
            out = F.conv_transpose2d(x, weight.permute(0, 3, 1, 2), stride=2)
            return self.blur(out, bias)
        return F.conv2d(x, weight.permute(0, 3, 1, 2), bias, padding=self.padding)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        b, cin, h, wd = x.shape
        k, cout = self.kernel_size, self.out_channel
        if b == 1:
            if torch.is_grad_enabled():
                return self._forward_single(x, self._single_layout(self._coef(w)))
            return self._forward_single(x, self._frame_coef(w[0]))
        coef = self._coef(w)
        weight = self.weight * coef[..., None, None]  # [B, out, in, k, k]
        x = x.reshape(1, b * cin, h, wd)
        if self.upsample:
            # conv_transpose2d wants [in, out/groups, k, k] per group
            weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=b)
            out = self.blur(out.view(b, cout, out.shape[-2], out.shape[-1]))
        else:
            out = F.conv2d(x, weight.reshape(b * cout, cin, k, k), padding=self.padding, groups=b)
            out = out.view(b, cout, h, wd)
        return out


class NoiseInjection(nn.Module):
    """``x + weight · noise``; ``noise`` is ``[1 or B, 1, H, W]``, or None for no noise."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    """``leaky_relu(x + bias, 0.2) · √2`` with a per-channel ``bias [C]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.empty(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2).mul_(SQRT2)


class StyledConv(_Derived):
    """Modulated 3x3 conv, noise, biased leaky ReLU: ``[B, in, H, W] -> [B, out, H or 2H, …]``.

    Derived: ``noise_gain = √2·a`` ``[1]`` and ``bias_gain = √2·b`` ``[out]`` (the
    activation's gain moved before it, for single frames, where the bias is added by the
    convolution itself).
    """

    def __init__(self, in_channel: int, out_channel: int, style_dim: int, upsample: bool, blur_kernel: Sequence[int]):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, 3, style_dim, True, upsample, blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)
        self.register_buffer("noise_gain", torch.empty(0), persistent=False)
        self.register_buffer("bias_gain", torch.empty(0), persistent=False)
        self._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        self.noise_gain = self.noise.weight * SQRT2
        self.bias_gain = self.activate.bias * SQRT2  # [out], added by the convolution
        self._noise_memo: tuple = ()

    def _noise_term(self, noise: torch.Tensor) -> torch.Tensor:
        """``√2·a · noise`` ``[1 or B, 1, H, W]``; the last one is kept, so the stored
        ("fixed") noise maps are multiplied once, not per frame.  Keyed by the tensors'
        identity and version: a map edited in place or a new gain misses."""
        memo = self._noise_memo  # one read: another thread may replace it, never mutate it
        if memo and memo[0] is noise and memo[1] == noise._version and memo[2] is self.noise_gain:
            return memo[3]
        term = noise * self.noise_gain
        self._noise_memo = (noise, noise._version, self.noise_gain, term)
        return term

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if torch.is_grad_enabled():
            return self.activate(self.noise(self.conv(x, w), noise))
        if x.shape[0] == 1 and self.conv.demodulate:
            # one frame: leaky(y + n·a + b)·√2 = leaky(√2y + n·√2a + √2b), the leaky ReLU being
            # positively homogeneous; √2 rides on the demodulation and the derived gains
            out = self.conv._forward_single(x, self.conv._frame_coef(w[0], times_sqrt2=True), self.bias_gain)
            if noise is not None:
                out.add_(self._noise_term(noise))
            return F.leaky_relu_(out, 0.2)
        # inference: the same operations, in place on the fresh convolution output
        out = self.conv(x, w)
        if noise is not None:
            out.add_(self.noise.weight * noise)
        out.add_(self.activate.bias.view(1, -1, 1, 1))
        return F.leaky_relu_(out, 0.2).mul_(SQRT2)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) plus bias plus the 2x upsampled skip: ``[B, 3, H, W]``."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool, blur_kernel: Sequence[int]):
        super().__init__()
        self.bias = nn.Parameter(torch.empty(1, 3, 1, 1))
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[0] == 1 and not torch.is_grad_enabled():  # one frame: the bias inside the product
            out = self.conv._forward_single(x, self.conv._frame_coef(w[0]), self.bias.view(3))
            return out if skip is None else out.add_(self.upsample(skip))
        out = self.conv(x, w) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    """The learned 4x4 constant, ``input [1, C, 4, 4]``, broadcast to the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.empty(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


# ====================================================================== the network
class StyleGAN2Net(_Derived):
    """The generator network: mapping ``style`` and synthesis, with the reference's module names.

    Derived: the mapping's equalized weights and biases, pre-scaled (``W·lr_mul/√in``,
    ``b·lr_mul``), for mapping without gradients in one product per layer.
    """

    def __init__(self, config: StyleGAN2Config, init: bool = True, seed: int = 0):
        """Build the modules of ``config``; ``init=False`` leaves weights uninitialised (to be loaded)."""
        super().__init__()
        self.config = cfg = config
        missing = [r for r in cfg.resolutions() if r not in cfg.channels]
        if missing:
            raise ValueError(f"channel table lacks resolutions {missing}")
        ch, bk, sd = cfg.channels, cfg.blur_kernel, cfg.style_dim
        self.style_dim, self.n_latent, self.resolution = sd, cfg.n_latent, cfg.resolution
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(sd, sd, cfg.lr_mlp, activate=True) for _ in range(cfg.n_mlp)])
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], sd, upsample=False, blur_kernel=bk)
        self.to_rgb1 = ToRGB(ch[4], sd, upsample=False, blur_kernel=bk)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        prev = ch[4]
        for res in cfg.resolutions()[1:]:
            self.convs.append(StyledConv(prev, ch[res], sd, upsample=True, blur_kernel=bk))
            self.convs.append(StyledConv(ch[res], ch[res], sd, upsample=False, blur_kernel=bk))
            self.to_rgbs.append(ToRGB(ch[res], sd, upsample=True, blur_kernel=bk))
            prev = ch[res]
        self.noises = nn.Module()
        for i in range(cfg.num_noises):
            res = 2 ** ((i + 5) // 2)  # 4, 8, 8, 16, 16, …
            self.noises.register_buffer(f"noise_{i}", torch.empty(1, 1, res, res))
        self._noise_names = [f"noise_{i}" for i in range(cfg.num_noises)]
        if init:
            self.reset_parameters(seed)
        else:
            self._refresh()  # of the uninitialised weights; loading refreshes again

    @torch.no_grad()
    def reset_parameters(self, seed: int = 0) -> None:
        """Reference-style random initialisation from ``seed``: weights N(0,1) (mapping N(0,1)/lr_mlp),
        modulation biases 1, other biases and noise strengths 0, noise maps N(0,1)."""
        gen = torch.Generator().manual_seed(seed)

        def randn_(t: torch.Tensor, scale: float = 1.0) -> None:
            t.copy_(torch.randn(t.shape, generator=gen) * scale)

        for layer in self.style:
            if isinstance(layer, EqualLinear):
                randn_(layer.weight, 1.0 / layer.lr_mul)
                layer.bias.zero_()
        randn_(self.input.input)
        for mod in self.modules():
            if isinstance(mod, ModulatedConv2d):
                randn_(mod.weight)
                randn_(mod.modulation.weight)
                mod.modulation.bias.fill_(1.0)
            elif isinstance(mod, NoiseInjection):
                mod.weight.zero_()
            elif isinstance(mod, (FusedLeakyReLU, ToRGB)):
                mod.bias.zero_()
        for name in self._noise_names:
            randn_(getattr(self.noises, name))
        self.refresh()

    def refresh(self) -> None:
        """Recompute the derived buffers (flipped FIR taps, demodulation sums) after editing
        weights in place; ``load_state_dict`` and ``.to()``/``.double()`` do this themselves.
        The derived buffers carry no gradient: the weights are meant to be frozen."""
        for mod in self.modules():
            if isinstance(mod, _Derived):
                mod._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        self._mapping_products = tuple((m.weight * m.scale, m.bias * m.lr_mul) for m in self.style
                                       if isinstance(m, EqualLinear))

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, style_dim]`` -> w ``[B, style_dim]`` (PixelNorm, then n_mlp equalized FC + lrelu)."""
        if torch.is_grad_enabled():
            return self.style(z)
        x = self.style[0](z)
        for weight, bias in self._mapping_products:
            x = F.leaky_relu_(F.linear(x, weight, bias), 0.2).mul_(SQRT2)
        return x

    def noise_inputs(self, batch: int, mode: str, like: torch.Tensor) -> list[torch.Tensor | None]:
        """The per-conv noise list for ``mode``: the stored buffers, fresh ``randn [B,1,H,W]``, or None."""
        bufs = [getattr(self.noises, n) for n in self._noise_names]
        if mode == "fixed":
            return bufs
        if mode == "random":
            return [torch.randn(batch, 1, b.shape[-2], b.shape[-1], device=like.device, dtype=like.dtype) for b in bufs]
        if mode == "zero":
            return [None] * len(bufs)
        raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")

    def forward(
        self,
        latents: torch.Tensor,
        noise: Sequence[torch.Tensor | None] | None = None,
        noise_mode: str = "fixed",
    ) -> torch.Tensor:
        """W+ ``[B, n_latent, style_dim]`` -> image ``[B, 3, R, R]`` (raw sum of skips, roughly [-1, 1]).

        ``noise``: explicit per-conv noise maps (``num_noises`` tensors ``[1 or B, 1, H, W]``,
        None entries meaning no noise); otherwise ``noise_mode`` picks them.
        """
        b = latents.shape[0]
        if noise is None:
            noise = self.noise_inputs(b, noise_mode, latents)
        elif len(noise) != len(self._noise_names):
            raise ValueError(f"expected {len(self._noise_names)} noise maps, got {len(noise)}")
        x = self.conv1(self.input(b), latents[:, 0], noise[0])
        skip = self.to_rgb1(x, latents[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            x = self.convs[2 * k](x, latents[:, i], noise[i])
            x = self.convs[2 * k + 1](x, latents[:, i + 1], noise[i + 1])
            skip = to_rgb(x, latents[:, i + 2], skip)
            i += 2
        return skip.contiguous()


def build_net(config: StyleGAN2Config, init: bool = True, seed: int = 0) -> StyleGAN2Net:
    """A network for ``config`` alone (random weights from ``seed``, or uninitialised with ``init=False``)."""
    return StyleGAN2Net(config, init=init, seed=seed)


# ====================================================================== reading checkpoints
_STYLE_KEY = re.compile(r"^style\.(\d+)\.weight$")
_INDEXED = re.compile(r"^(convs|to_rgbs)\.(\d+)\.")


def config_from_state_dict(sd: Mapping[str, Any]) -> StyleGAN2Config:
    """Infer resolution, style_dim, n_mlp and the channel table from ``g_ema`` tensor shapes.

    Raises `LoadError` with one sentence when the shapes do not form a StyleGAN2 generator.
    """
    if not isinstance(sd, Mapping) or not sd:
        raise LoadError("'g_ema' is not a state dict of tensors")
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise LoadError(f"'g_ema' entry {key!r} is not a named tensor, so it is not a StyleGAN2 state dict")

    def need(key: str, dims: int) -> torch.Tensor:
        t = sd.get(key)
        if t is None:
            raise LoadError(f"the StyleGAN2 state dict lacks {key!r}, so its layout cannot be inferred")
        if t.dim() != dims:
            raise LoadError(f"{key!r} has shape {tuple(t.shape)}, a StyleGAN2 generator has {dims} dimensions there")
        return t

    style_idx = sorted(int(m.group(1)) for k in sd if (m := _STYLE_KEY.match(k)))
    if not style_idx or style_idx != list(range(1, len(style_idx) + 1)):
        raise LoadError("the mapping network entries style.1.weight, style.2.weight, … are missing or not numbered from 1")
    style_dim = int(need("style.1.weight", 2).shape[1])
    for i in style_idx:
        if tuple(need(f"style.{i}.weight", 2).shape) != (style_dim, style_dim):
            raise LoadError(f"style.{i}.weight is not {style_dim}x{style_dim} like the first mapping layer")
    c4 = int(need("input.input", 4).shape[1])
    n_rgbs = 1 + max((int(m.group(2)) for k in sd if (m := _INDEXED.match(k)) and m.group(1) == "to_rgbs"), default=-1)
    n_convs = 1 + max((int(m.group(2)) for k in sd if (m := _INDEXED.match(k)) and m.group(1) == "convs"), default=-1)
    if n_convs != 2 * n_rgbs:
        raise LoadError(f"the state dict has {n_convs} convs and {n_rgbs} to_rgbs; a StyleGAN2 has two convs per to_rgb")
    resolution = 4 * 2**n_rgbs
    channels = {4: c4}
    for k in range(n_rgbs):
        channels[8 * 2**k] = int(need(f"convs.{2 * k + 1}.conv.weight", 5).shape[1])
    return StyleGAN2Config(resolution=resolution, style_dim=style_dim, n_mlp=len(style_idx), channels=channels)


def _check_shapes(net: StyleGAN2Net, sd: Mapping[str, torch.Tensor]) -> None:
    """One-sentence `LoadError` for the first missing, unexpected or mis-shaped entry."""
    ours = net.state_dict()
    for key, t in ours.items():
        if key not in sd:
            raise LoadError(f"the StyleGAN2 state dict lacks {key!r} (inferred a {net.resolution}px generator)")
        if tuple(sd[key].shape) != tuple(t.shape):
            raise LoadError(
                f"{key!r} has shape {tuple(sd[key].shape)} but a {net.resolution}px StyleGAN2 with these channels "
                f"needs {tuple(t.shape)}"
            )
    extra = [k for k in sd if k not in ours]
    if extra:
        raise LoadError(f"the state dict has {extra[0]!r}, which a rosinality StyleGAN2 generator does not")


def check_stylegan2_size(config: StyleGAN2Config) -> None:
    """`LoadError` when the inferred layout would not fit the memory budget, measured before building.

    Weights from a meta-device build; activations for one image: at each resolution the
    modulated conv keeps its input, upsampled copy and output (~4× channels·R²·4 bytes).
    """
    if config.resolution > 1 << 16:
        raise LoadError(f"the state dict implies a {config.resolution}px generator, which no real StyleGAN2 is")
    try:
        params = module_bytes(lambda: build_net(config, init=False))
        acts = 4 * 4 * max(config.channels.get(r, 0) * r * r for r in config.resolutions())
        check_model_size(params, acts, what="this StyleGAN2 checkpoint", resolution=config.resolution)
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None


def net_from_state_dict(sd: Mapping[str, torch.Tensor]) -> StyleGAN2Net:
    """Infer the configuration, build the net and load ``sd`` with ``strict=True``."""
    config = config_from_state_dict(sd)
    check_stylegan2_size(config)
    net = build_net(config, init=False)
    _check_shapes(net, sd)
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:  # pragma: no cover - _check_shapes catches what strict loading would
        lines = str(exc).strip().splitlines()
        raise LoadError(f"the StyleGAN2 weights do not fit the inferred layout ({lines[-1].strip()})") from None
    return net


def is_stylegan2_checkpoint(obj: Any) -> bool:
    """True for rosinality-layout checkpoints: ``g_ema`` dicts, training files without it
    (so they get a clear error), and bare generator state dicts."""
    if not isinstance(obj, dict) or not obj:
        return False
    if "g_ema" in obj:
        return True
    keys = set(obj)
    if keys <= CHECKPOINT_KEYS and keys & {"g", "d", "g_optim", "d_optim"}:
        return True
    return all(isinstance(k, str) for k in obj) and "input.input" in obj and "conv1.conv.weight" in obj


def load_checkpoint(obj: Any, path: Path, device: torch.device | str, name: str, fingerprint: str) -> "StyleGAN2Generator":
    """Builder for `models.loading.register_family`: a loaded checkpoint -> `StyleGAN2Generator`."""
    fname = Path(path).name
    notes: list[str] = []
    latent_avg = None
    if "g_ema" in obj:
        sd = obj["g_ema"]
        latent_avg = obj.get("latent_avg")
    elif isinstance(obj.get("g"), dict):
        sd = obj["g"]
        latent_avg = obj.get("latent_avg")
        notes.append("The checkpoint has no g_ema, so the non-averaged training generator 'g' is used.")
    elif "d" in obj:
        raise LoadError(
            f"{fname} holds only a StyleGAN2 discriminator ('d') and no generator ('g_ema'); load a checkpoint saved with its generator"
        )
    elif "g_optim" in obj or "d_optim" in obj:
        raise LoadError(
            f"{fname} holds only optimizer states ('g_optim'/'d_optim'), not generator weights; load the checkpoint that has 'g_ema'"
        )
    elif "input.input" in obj:
        sd = obj
    else:
        raise LoadError(f"{fname} has no generator weights ('g_ema'); expected a rosinality StyleGAN2 checkpoint")
    try:
        net = net_from_state_dict(sd)
    except LoadError as exc:
        raise LoadError(f"{fname}: {exc}") from None
    if latent_avg is not None:
        if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != net.style_dim:
            shape = tuple(latent_avg.shape) if isinstance(latent_avg, torch.Tensor) else type(latent_avg).__name__
            raise LoadError(f"{fname}: 'latent_avg' is {shape}, expected a vector of {net.style_dim} values (the mean W)")
        latent_avg = latent_avg.reshape(net.style_dim).float()
    gen = StyleGAN2Generator(net, device, name, fingerprint, latent_avg=latent_avg)
    gen.notes[:0] = notes
    return gen


# ====================================================================== W+ helpers
@torch.no_grad()
def mean_mapped(mapping, z_dim: int, device: torch.device, dtype: torch.dtype = torch.float32,
                n: int = 10_000, seed: int = 0, batch: int = 1000) -> torch.Tensor:
    """Mean of ``mapping(z)`` over ``n`` standard-normal z ``[·, z_dim]`` drawn from ``seed`` (float64 sum), float32.

    The truncation centre of checkpoints that store no average W.
    """
    gen = torch.Generator().manual_seed(seed)
    total = None
    for start in range(0, n, batch):
        z = torch.randn(min(batch, n - start), z_dim, generator=gen)
        part = mapping(z.to(device, dtype)).sum(0, dtype=torch.float64)
        total = part if total is None else total + part
    return (total / n).float()


def mix(latents_a: torch.Tensor, latents_b: torch.Tensor, start: int, end: int | None = None) -> torch.Tensor:
    """Style mixing in W+: a copy of ``latents_a [B, L, D]`` with rows ``start .. end-1`` from ``latents_b``.

    ``mix(map(z), map(z2), 4)`` is the reference's ``inject_index=4`` crossover.
    """
    out = latents_a.clone()
    out[:, start:end] = latents_b[:, start:end]
    return out


def describe_w_rows(num_rows: int) -> list[str]:
    """One label per StyleGAN2 W+ row, naming the layers it styles, e.g. ``"1: 4² rgb, 8² conv"``.

    Row 0 styles conv1 (4²); row 2k+1 the ToRGB at r and the upsampling conv at 2r;
    row 2k+2 the second conv at 2r; the last row only the final ToRGB.
    """
    labels = ["0: 4² conv"]
    for i in range(1, num_rows):
        if i % 2 == 1:
            r = 2 ** ((i + 3) // 2)  # ToRGB resolution fed by row i
            labels.append(f"{i}: {r}² rgb" + (f", {2 * r}² conv" if i < num_rows - 1 else ""))
        else:
            labels.append(f"{i}: {2 ** (i // 2 + 2)}² conv")
    return labels


# ====================================================================== the Generator
class StyleGAN2Generator(Generator):
    """A StyleGAN2 behind the `Generator` interface; the editing space is W+ ``[B, n_latent, style_dim]``."""

    family = "stylegan2"
    default_truncation = 0.7
    default_pca_layer = "latent"  # GANSpace on W
    cpu_frames_onednn = True  # its only thread-dependent oneDNN layer, the 1x1 ToRGB, is a matmul at B = 1

    def __init__(
        self,
        net: StyleGAN2Net,
        device: torch.device | str = "cpu",
        name: str = "stylegan2",
        fingerprint: str = "",
        latent_avg: torch.Tensor | None = None,
        noise_mode: str = "fixed",
    ):
        super().__init__(net, device, name, fingerprint)
        cfg = net.config
        self.config = cfg
        self.z_dim = self.latent_dim = cfg.style_dim
        self.num_layers = cfg.n_latent
        self.resolution = cfg.resolution
        self.noise_mode = noise_mode
        self._named_layers = self._build_layer_table()
        if latent_avg is None:
            latent_avg = self.estimate_latent_avg()
            self.notes.append(
                "The checkpoint has no latent_avg, so the truncation centre is the mean W of 10,000 mapped samples (seed 0)."
            )
        self._latent_avg = latent_avg.to(self.device, torch.float32)
        self._fast = None  # the `models.stylegan2_fast.FastRenderer` of `fast_frames`, built on first use
        self.fast_info: dict = {}

    # ---------------------------------------------------------------- properties
    @property
    def noise_mode(self) -> str:
        """``"fixed"`` (the stored noise maps, deterministic), ``"random"`` or ``"zero"``."""
        return self._noise_mode

    @noise_mode.setter
    def noise_mode(self, mode: str) -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")
        self._noise_mode = mode

    @property
    def dtype(self) -> torch.dtype:
        """The network's floating dtype (float32 unless ``G.net.double()`` was called)."""
        return self.net.input.input.dtype

    @property
    def latent_avg(self) -> torch.Tensor:
        """Mean W ``[style_dim]`` on the device (stored in the checkpoint or estimated at load)."""
        return self._latent_avg

    # ---------------------------------------------------------------- maps
    def estimate_latent_avg(self, n: int = 10_000, seed: int = 0, batch: int = 1000) -> torch.Tensor:
        """Mean of ``map(z)`` over ``n`` standard-normal z drawn from ``seed``, ``[style_dim]`` float32."""
        return mean_mapped(self.net.mapping, self.z_dim, self.device, self.dtype, n, seed, batch)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[n, style_dim]`` -> W+ ``[n, n_latent, style_dim]`` (the mapped w repeated on every row)."""
        w = self.net.mapping(z.to(self.device, self.dtype))
        return w[:, None, :].repeat(1, self.num_layers, 1)

    mix = staticmethod(mix)

    def synthesize(
        self,
        latents: torch.Tensor,
        classes: torch.Tensor | None = None,
        truncation: float | None = None,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        """W+ ``[B, n_latent, style_dim]`` -> image ``[B, 3, R, R]``, roughly [-1, 1] (not clamped).

        ``classes`` and ``truncation`` are unused (unconditional; truncate with `truncate`).
        Noise follows ``noise_mode`` for this call, else the generator's `noise_mode`.
        Passing it here (not setting the attribute) is what a generator shared between
        threads needs: nothing another thread does can change this call's noise.
        """
        if latents.dim() != 3 or tuple(latents.shape[1:]) != (self.num_layers, self.latent_dim):
            raise ValueError(
                f"latents must be [B, {self.num_layers}, {self.latent_dim}], got {list(latents.shape)}"
            )
        mode = self._noise_mode if noise_mode is None else noise_mode  # the net refuses unknown modes
        return self.net(latents.to(self.device, self.dtype), noise_mode=mode)

    # ---------------------------------------------------------------- fast frames
    #: devices on which `has_fast_path` is true: the fast path is for GPUs (on the CPU the
    #: reference path's reproducible kernels matter more than its ~1.3x speed-up)
    fast_path_devices: tuple[str, ...] = ("cuda",)

    @property
    def has_fast_path(self) -> bool:
        """Whether `fast_frames` is meant for this generator's device."""
        return self.device.type in self.fast_path_devices

    def fast_frames(self, latents: torch.Tensor, noise_mode: str | None = None) -> "np.ndarray":
        """W+ ``[B, n_latent, style_dim]`` -> host ``uint8 [B, R, R, 3]`` through the fast path.

        Built on first use for the current device: on CUDA with float16 from the resolution
        `calibrate_half_from` picks on 8 truncated samples (each image within 1/255 of
        float32) and CUDA graphs; elsewhere float32.  ``fast_info`` says what was chosen.
        Frames may differ from `synthesize` by one level in a few pixels, so exports and
        presets use `synthesize`; the window's preview uses this.
        """
        from .stylegan2_fast import FastRenderer, calibrate_half_from

        if self._fast is None or self._fast.device != self.device:
            half_from, err, errors = None, 0.0, {}
            if self.device.type == "cuda":
                probes = self.truncate(self.sample(8, 0), self.default_truncation)
                half_from, err, errors = calibrate_half_from(self.net, self.device, probes)
            self._fast = FastRenderer(self.net, self.device, half_from)
            self.fast_info = {"device": str(self.device), "half_from": half_from, "max_error": err,
                              "calibration": errors, "graphs": self._fast.graphs}
        mode = self._noise_mode if noise_mode is None else noise_mode
        return self._fast.frames(latents, mode)

    def release_fast_path(self) -> None:
        """Drop the fast path's weight copies and CUDA graphs (e.g. before moving devices)."""
        self._fast = None
        self.fast_info = {}

    # ---------------------------------------------------------------- layers
    def _build_layer_table(self) -> dict[str, nn.Module]:
        net: StyleGAN2Net = self.net  # type: ignore[assignment]
        named: dict[str, nn.Module] = {"conv1": net.conv1, "to_rgb1": net.to_rgb1}
        for k, to_rgb in enumerate(net.to_rgbs):
            named[f"convs.{2 * k}"] = net.convs[2 * k]
            named[f"convs.{2 * k + 1}"] = net.convs[2 * k + 1]
            named[f"to_rgbs.{k}"] = to_rgb
        return named

    def _layers(self) -> dict[str, nn.Module]:
        """``conv1``, ``to_rgb1``, then ``convs.2k``, ``convs.2k+1``, ``to_rgbs.k`` per resolution, in forward order.

        Styled convs give ``[B, C, r, r]`` activations; ``to_rgb*`` give the running RGB image ``[B, 3, r, r]``.
        """
        return self._named_layers

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """Style modulations ``[in_channels, style_dim]`` (stored weights), by the W+ row that feeds them."""
        net = self.net
        out = [(0, "conv", net.conv1.conv.modulation.weight), (1, "rgb", net.to_rgb1.conv.modulation.weight)]
        for k, to_rgb in enumerate(net.to_rgbs):
            out.append((2 * k + 1, "conv", net.convs[2 * k].conv.modulation.weight))
            out.append((2 * k + 2, "conv", net.convs[2 * k + 1].conv.modulation.weight))
            out.append((2 * k + 3, "rgb", to_rgb.conv.modulation.weight))
        return [(row, kind, w.detach()) for row, kind, w in out]

    def describe_layers(self) -> list[str]:
        return describe_w_rows(self.num_layers)
