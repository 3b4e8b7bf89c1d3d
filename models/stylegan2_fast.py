"""A fast inference path for StyleGAN2 frames: W+ latents -> host ``uint8 [B, R, R, 3]``.

The reference forward (`models.stylegan2.StyleGAN2Net`) modulates the *weights* per
sample and runs one grouped convolution: exact, and the layout of the original code,
but it rebuilds every weight tensor every frame.  Here the weights stay fixed and the
*activations* are modulated instead (StyleGAN2's "non-fused" form, equal in exact
arithmetic):

    s' = A_l · w_row + b_l                      (the modulation, with c = 1/√(in·k²) folded in)
    d  = rsqrt(s'² @ wsqᵀ + 1e-8)               (demodulation, always float32)
    y  = d ⊙ conv(x ⊙ s', W)                    (upsampling layers: transposed conv, then the 4x blur)
    x  = leaky_relu(y + n·noise + b, 0.2) · √2

so the convolutions see constant weights that can be stored once in the layout and
precision that run fastest: channels-last, and float16 from a chosen resolution up
(``half_from``).  The RGB skip, the modulations and demodulations stay float32.
`calibrate_half_from` picks the lowest resolution from which float16 keeps every probe
image within 1/255 of the float32 image, so half precision is used only where it is
invisible.

On CUDA, `FastRenderer.frames` also captures the whole frame — modulations,
convolutions, the conversion to ``uint8`` HWC — as one CUDA graph per batch size and
noise mode and replays it, copying the result to pinned host memory: one launch and one
copy per frame.  Graphs are used for the ``fixed`` and ``zero`` noise modes; ``random``
noise runs eagerly.  On the CPU the same code runs eagerly (float32 by default).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .stylegan2 import NOISE_MODES, SQRT2, ModulatedConv2d, StyleGAN2Net, ToRGB, upfirdn2d

#: max |Δ| between a float16-path image and the float32 image, in [0, 1] image units
HALF_TOLERANCE = 1.0 / 255.0


@dataclass
class _Styled:
    """One modulated convolution with its constants, prepared for a device and dtype."""

    row: int  # the W+ row that styles it
    resolution: int  # output resolution
    dtype: torch.dtype  # the dtype its convolution runs in
    A: torch.Tensor  # [in, style_dim] float32: modulation weight · lr scale · c
    b: torch.Tensor  # [in] float32: modulation bias · lr_mul · c
    weight: torch.Tensor  # [out, in, k, k] (transposed conv: [in, out, k, k]) in ``dtype``
    wsq: torch.Tensor | None  # [out, in] float32 Σ_k W², None without demodulation
    upsample: bool
    padding: int
    blur_taps: torch.Tensor | None = None  # [out, 1, 4, 4] in ``dtype`` (flipped FIR · 4)
    blur_pad: tuple[int, int] = (0, 0)
    noise_weight: torch.Tensor | None = None  # [] float32 noise strength n
    noise_map: torch.Tensor | None = None  # [1, 1, r, r] in ``dtype``: n · stored noise
    bias: torch.Tensor | None = None  # [1, out, 1, 1] in ``dtype`` (conv) or float32 (ToRGB)

    def styles(self, latents: torch.Tensor) -> torch.Tensor:
        """s' ``[B, in]`` float32 from W+ ``[B, L, D]``."""
        return F.linear(latents[:, self.row].float(), self.A, self.b)

    def conv(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``d ⊙ conv(x ⊙ s', W)`` for ``x [B, in, H, W]`` in ``dtype``; output in ``dtype``."""
        x = x * s.to(self.dtype)[:, :, None, None]
        if self.upsample:
            y = F.conv_transpose2d(x, self.weight, stride=2)
        else:
            y = F.conv2d(x, self.weight, padding=self.padding)
        if self.wsq is not None:
            d = torch.rsqrt(s.square() @ self.wsq.t() + 1e-8)  # [B, out], float32
            y = y * d.to(self.dtype)[:, :, None, None]
        if self.upsample:
            y = upfirdn2d(y, self.blur_taps, pad=self.blur_pad)
        return y


def _prepare(mod: ModulatedConv2d, row: int, resolution: int, device: torch.device, dtype: torch.dtype,
             channels_last: bool) -> _Styled:
    lin = mod.modulation
    A = (lin.weight.detach().float() * (lin.scale * mod.scale)).to(device)
    b = (lin.bias.detach().float() * (lin.lr_mul * mod.scale)).to(device)
    w = mod.weight.detach()[0].float()  # [out, in, k, k]
    wsq = mod.wsq.detach().float().to(device) if mod.demodulate else None  # the module's derived Σ_k W²
    if mod.upsample:
        w = w.transpose(0, 1)  # conv_transpose2d wants [in, out, k, k]
    w = w.to(device, dtype)
    if channels_last:
        w = w.contiguous(memory_format=torch.channels_last)
    layer = _Styled(row, resolution, dtype, A, b, w, wsq, mod.upsample, mod.padding)
    if mod.upsample:
        layer.blur_taps = mod.blur.taps.detach().to(device, dtype)
        layer.blur_pad = mod.blur.pad
    return layer


class FastRenderer:
    """Frames of one `StyleGAN2Net` on one device, with float16 from ``half_from`` px up.

    ``half_from=None`` runs every layer in float32 (the default on the CPU, where float16
    convolutions are slow).  The network's weights are copied once at construction; build
    a new renderer after changing them.
    """

    def __init__(self, net: StyleGAN2Net, device: torch.device | str, half_from: int | None = None,
                 channels_last: bool = True, graphs: bool = True):
        self.net = net
        self.device = torch.device(device)
        self.half_from = half_from
        self.channels_last = channels_last
        self.graphs = graphs and self.device.type == "cuda"
        self.resolution = net.resolution
        self.num_layers = net.n_latent
        self._graphs: dict[tuple[int, str], _GraphedFrame] = {}
        self._build()

    # ------------------------------------------------------------------ set-up
    def dtype_at(self, resolution: int) -> torch.dtype:
        """The dtype convolutions producing ``resolution`` px run in."""
        if self.half_from is not None and resolution >= self.half_from:
            return torch.float16
        return torch.float32

    def _build(self) -> None:
        net, dev, cl = self.net, self.device, self.channels_last
        const_dtype = self.dtype_at(4)
        x = net.input.input.detach().to(dev, const_dtype)
        self.const = x.contiguous(memory_format=torch.channels_last) if cl else x
        self.convs: list[_Styled] = []
        self.rgbs: list[_Styled] = []
        self.skip_up: list[torch.Tensor] = []  # per to_rgbs[k]: the float32 upsampling taps of the skip
        noise_bufs = [getattr(net.noises, n) for n in net._noise_names]
        styled = [(net.conv1, 0, 4)]
        for k in range(len(net.to_rgbs)):
            r = 8 * 2**k
            styled += [(net.convs[2 * k], 2 * k + 1, r), (net.convs[2 * k + 1], 2 * k + 2, r)]
        for i, (mod, row, r) in enumerate(styled):
            dtype = self.dtype_at(r)
            layer = _prepare(mod.conv, row, r, dev, dtype, cl)
            layer.noise_weight = mod.noise.weight.detach().float().reshape(()).to(dev)
            layer.noise_map = (mod.noise.weight.detach().float() * noise_bufs[i].float()).to(dev, dtype)
            layer.bias = mod.activate.bias.detach().to(dev, dtype).view(1, -1, 1, 1)
            self.convs.append(layer)
        rgbs: list[tuple[ToRGB, int, int]] = [(net.to_rgb1, 1, 4)]
        rgbs += [(t, 2 * k + 3, 8 * 2**k) for k, t in enumerate(net.to_rgbs)]
        for t, row, r in rgbs:
            layer = _prepare(t.conv, row, r, dev, self.dtype_at(r), cl)
            layer.bias = t.bias.detach().float().to(dev)
            self.rgbs.append(layer)
            if hasattr(t, "upsample"):
                self.skip_up.append(t.upsample.taps.detach().float().to(dev))
        self.skip_pad = net.to_rgbs[0].upsample.pad if len(net.to_rgbs) else (0, 0)

    # ------------------------------------------------------------------ the forward
    def _noise(self, layer: _Styled, mode: str, batch: int) -> torch.Tensor | None:
        if mode == "fixed":
            return layer.noise_map
        if mode == "zero":
            return None
        h = w = layer.resolution
        return layer.noise_weight.to(layer.dtype) * torch.randn(batch, 1, h, w, device=self.device, dtype=layer.dtype)

    def _styled_conv(self, i: int, x: torch.Tensor, latents: torch.Tensor, mode: str) -> torch.Tensor:
        layer = self.convs[i]
        x = x.to(layer.dtype)
        y = layer.conv(x, layer.styles(latents))
        noise = self._noise(layer, mode, x.shape[0])
        if noise is not None:
            y = y + noise
        return F.leaky_relu(y + layer.bias, 0.2) * SQRT2

    def _to_rgb(self, k: int, x: torch.Tensor, latents: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        layer = self.rgbs[k]
        rgb = layer.conv(x.to(layer.dtype), layer.styles(latents)).float() + layer.bias.view(1, 3, 1, 1)
        if skip is not None:
            rgb = rgb + upfirdn2d(skip, self.skip_up[k - 1], up=2, pad=self.skip_pad)
        return rgb

    def images(self, latents: torch.Tensor, noise_mode: str = "fixed") -> torch.Tensor:
        """W+ ``[B, n_latent, style_dim]`` -> float32 images ``[B, 3, R, R]`` on the device (eager)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise mode {noise_mode!r} is not one of {', '.join(NOISE_MODES)}")
        if latents.dim() != 3 or latents.shape[1] != self.num_layers:
            raise ValueError(f"latents must be [B, {self.num_layers}, D], got {list(latents.shape)}")
        with torch.no_grad():
            latents = latents.to(self.device, torch.float32)
            b = latents.shape[0]
            x = self.const.expand(b, -1, -1, -1)
            x = self._styled_conv(0, x, latents, noise_mode)
            skip = self._to_rgb(0, x, latents, None)
            for k in range(1, len(self.rgbs)):
                x = self._styled_conv(2 * k - 1, x, latents, noise_mode)
                x = self._styled_conv(2 * k, x, latents, noise_mode)
                skip = self._to_rgb(k, x, latents, skip)
            return skip.contiguous()

    def _uint8(self, latents: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """``uint8 [B, R, R, 3]`` on the device, by `models.frames.to_uint8`'s formula."""
        img = self.images(latents, noise_mode)
        return ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def frames(self, latents: torch.Tensor, noise_mode: str = "fixed") -> np.ndarray:
        """W+ ``[B, n_latent, style_dim]`` -> host ``uint8 [B, R, R, 3]`` RGB.

        On CUDA with ``graphs``, the first call for a (batch, noise mode) captures a CUDA
        graph and every later one replays it (``random`` noise always runs eagerly).
        """
        if self.graphs and noise_mode != "random":
            key = (int(latents.shape[0]), noise_mode)
            graph = self._graphs.get(key)
            if graph is None:
                graph = self._graphs[key] = _GraphedFrame(self, key[0], noise_mode)
            return graph(latents)
        return self._uint8(latents, noise_mode).cpu().numpy()


class _GraphedFrame:
    """One captured CUDA graph: static latents in, pinned host ``uint8`` frame out."""

    def __init__(self, renderer: FastRenderer, batch: int, noise_mode: str, warmup: int = 3):
        dev = renderer.device
        self.latents = torch.zeros(batch, renderer.num_layers, renderer.net.style_dim, device=dev)
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):  # kernel selection and allocator warm-up, outside the capture
            for _ in range(warmup):
                renderer._uint8(self.latents, noise_mode)
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = renderer._uint8(self.latents, noise_mode)
        self.host = torch.empty(self.out.shape, dtype=torch.uint8, pin_memory=True)

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        self.latents.copy_(latents, non_blocking=True)
        self.graph.replay()
        self.host.copy_(self.out, non_blocking=True)
        torch.cuda.current_stream(self.latents.device).synchronize()
        return self.host.numpy().copy()


# ====================================================================== choosing float16
def max_image_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| of two ``[-1, 1]`` image batches after clamping, in [0, 1] image units."""
    return float(((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)).abs().max() / 2).item())


def calibrate_half_from(
    net: StyleGAN2Net, device: torch.device | str, probes: torch.Tensor,
    tolerance: float = HALF_TOLERANCE, candidates: Sequence[int] | None = None,
) -> tuple[int | None, float, dict[int, float]]:
    """The lowest resolution from which float16 keeps every probe image within ``tolerance``.

    ``probes``: W+ latents ``[N, n_latent, style_dim]`` (e.g. truncated samples).  Tries
    ``candidates`` (default 8, 16, …, R) and returns ``(half_from or None, its max error,
    {candidate: max error})``; None when even the top resolution alone in float16 exceeds
    the tolerance.  Fixed noise; float32 reference from the same fast path.
    """
    reference = FastRenderer(net, device, None, graphs=False).images(probes)
    if candidates is None:
        candidates = [2**i for i in range(3, int(math.log2(net.resolution)) + 1)]
    errors: dict[int, float] = {}
    best: tuple[int | None, float] = (None, 0.0)
    for r in sorted(candidates, reverse=True):  # least float16 first: stop at the first failure
        err = max_image_error(FastRenderer(net, device, r, graphs=False).images(probes), reference)
        errors[r] = err
        if err > tolerance:
            break
        best = (r, err)
    return best[0], best[1], errors
