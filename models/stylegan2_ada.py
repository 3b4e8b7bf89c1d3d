"""StyleGAN2 as NVIDIA builds it (stylegan2-ada-pytorch and the stylegan3 repo), in plain PyTorch.

Entry names and shapes are NVIDIA's (``synthesis.b{res}.conv0/conv1/torgb``, ``mapping.fc*``),
so a snapshot's ``G_ema`` state dict loads with ``strict=True``.  The maths is that of our
rosinality-layout StyleGAN2 (`models.stylegan2`), whose pieces it reuses: equalized linear
layers, pixel norm and the FIR ``upfirdn2d``.  Per conv layer, for w ``[B, w_dim]``::

    s   = affine(w)                                            [B, in]   (bias init 1)
    W'  = weight · s;   W' ·= rsqrt(Σ_{in,kh,kw} W'² + 1e-8)   per sample and output channel
    x   = conv(x, W')   (conv0: transposed stride-2 conv, then the [1,3,3,1] FIR, gain 4)
    x  += noise_const · noise_strength                          ('fixed'; 'random': N(0,1); 'zero': none)
    x   = clamp(lrelu(x + bias, 0.2) · √2, ±conv_clamp)
    ToRGB: s = affine(w)/√in, no demodulation, x + bias, clamped; img = up2(img) + torgb(x)

NVIDIA flags the last ``num_fp16_res`` blocks to run in float16 on a GPU.  Here every layer
runs in float32 on every device, which is what the stylegan3 repo does off the GPU and what
stylegan2-ada-pytorch does with ``force_fp32=True`` (the references are float32; its fp16
path differs from them by ~2e-3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .nvidia_mapping import NOISE_ALIASES, MappingNetwork, NvidiaGenerator
from .stylegan2 import NOISE_MODES, SQRT2, EqualLinear, describe_w_rows, make_kernel, upfirdn2d


@dataclass(frozen=True)
class SG2Config:
    """The numbers a NVIDIA StyleGAN2 generator is built from (its init kwargs with defaults filled in)."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping_layers: int = 8
    embed_features: int | None = None
    layer_features: int | None = None
    lr_multiplier: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None

    @property
    def resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """``2·log2(R) − 2``: one w per conv plus the last ToRGB's."""
        return 2 * len(self.resolutions)


def _resample_filter() -> torch.Tensor:
    return make_kernel([1, 3, 3, 1])  # outer([1,3,3,1], [1,3,3,1]) / 64


def _fir_taps(f: torch.Tensor, gain: float, channels: int) -> torch.Tensor:
    """A stored ``[k, k]`` filter as ``upfirdn2d``'s flipped per-channel taps ``[C, 1, k, k]``."""
    k = (f * gain).flip(0, 1)
    return k.expand(channels, 1, *k.shape)


class SynthesisLayer(nn.Module):
    """One modulated 3x3 conv with noise and a clamped biased leaky ReLU (``conv0`` upsamples 2x)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int, conv_clamp: float | None):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution, self.up = in_channels, out_channels, resolution, up
        self.conv_clamp = conv_clamp
        self.affine = EqualLinear(w_dim, in_channels)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("resample_filter", _resample_filter())
        self.register_buffer("noise_const", torch.empty(resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        b, cin, h, wd = x.shape
        s = self.affine(w)  # [B, in]
        weight = self.weight[None] * s[:, None, :, None, None]  # [B, out, in, 3, 3]
        weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        cout = self.out_channels
        xg = x.reshape(1, b * cin, h, wd)
        if self.up == 2:
            # conv_transpose2d takes [in, out/groups, k, k] per group; the weight is used as stored
            wt = weight.transpose(1, 2).reshape(b * cin, cout, 3, 3)
            y = F.conv_transpose2d(xg, wt, stride=2, groups=b)  # [1, B·out, 2H+1, 2W+1]
            y = y.view(b, cout, y.shape[-2], y.shape[-1])
            y = upfirdn2d(y, _fir_taps(self.resample_filter, 4.0, cout), pad=(1, 1))  # [B, out, 2H, 2W]
        else:
            y = F.conv2d(xg, weight.reshape(b * cout, cin, 3, 3), padding=1, groups=b).view(b, cout, h, wd)
        if noise_mode == "fixed":
            y = y + self.noise_const * self.noise_strength
        elif noise_mode == "random":
            y = y + torch.randn(b, 1, y.shape[-2], y.shape[-1], device=y.device, dtype=y.dtype) * self.noise_strength
        y = F.leaky_relu(y + self.bias.view(1, -1, 1, 1), 0.2) * SQRT2
        if self.conv_clamp is not None:
            y = y.clamp(-self.conv_clamp, self.conv_clamp)
        return y


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to ``img_channels`` without demodulation, plus bias, clamped."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None):
        super().__init__()
        self.in_channels, self.out_channels, self.conv_clamp = in_channels, out_channels, conv_clamp
        self.affine = EqualLinear(w_dim, in_channels)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        b, cin, h, wd = x.shape
        s = self.affine(w) * self.weight_gain  # [B, in]
        weight = self.weight[None] * s[:, None, :, None, None]  # [B, out, in, 1, 1]
        y = F.conv2d(x.reshape(1, b * cin, h, wd), weight.reshape(b * self.out_channels, cin, 1, 1), groups=b)
        y = y.view(b, self.out_channels, h, wd) + self.bias.view(1, -1, 1, 1)
        if self.conv_clamp is not None:
            y = y.clamp(-self.conv_clamp, self.conv_clamp)
        return y


class SynthesisBlock(nn.Module):
    """Block ``b{res}``: (const at 4 px | conv0 up 2x), conv1, torgb; the RGB skip is upsampled and summed."""

    def __init__(self, in_channels: int, out_channels: int, cfg: SG2Config, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.num_conv = 1 if resolution == 4 else 2
        if resolution == 4:
            self.const = nn.Parameter(torch.empty(out_channels, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, cfg.w_dim, resolution, 2, cfg.conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, cfg.w_dim, resolution, 1, cfg.conv_clamp)
        self.torgb = ToRGBLayer(out_channels, cfg.img_channels, cfg.w_dim, cfg.conv_clamp)
        self.register_buffer("resample_filter", _resample_filter())

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: list[torch.Tensor], noise_mode: str):
        """``ws``: the block's ``num_conv + 1`` w's ``[B, w_dim]``; returns ``(x, img)``."""
        if self.resolution == 4:
            x = self.conv1(self.const[None].expand(ws[0].shape[0], -1, -1, -1), ws[0], noise_mode)
        else:
            x = self.conv0(x, ws[0], noise_mode)
            x = self.conv1(x, ws[1], noise_mode)
        if img is not None:
            img = upfirdn2d(img, _fir_taps(self.resample_filter, 4.0, img.shape[1]), up=2, pad=(2, 1))
        y = self.torgb(x, ws[-1])
        return x, (y if img is None else img + y)


class SynthesisNetwork(nn.Module):
    """W+ ``[B, num_ws, w_dim]`` -> image ``[B, img_channels, R, R]`` (raw skip sum, no tanh, no clamp)."""

    def __init__(self, cfg: SG2Config):
        super().__init__()
        self.num_ws = cfg.num_ws
        self.block_resolutions = cfg.resolutions
        for res in cfg.resolutions:
            cin = cfg.channels(res // 2) if res > 4 else 0
            setattr(self, f"b{res}", SynthesisBlock(cin, cfg.channels(res), cfg, res))

    def forward(self, ws: torch.Tensor, noise_mode: str = "fixed") -> torch.Tensor:
        x = img = None
        i = 0
        for res in self.block_resolutions:
            block: SynthesisBlock = getattr(self, f"b{res}")
            x, img = block(x, img, [ws[:, i + j] for j in range(block.num_conv + 1)], noise_mode)
            i += block.num_conv
        return img


class SG2Net(nn.Module):
    """``synthesis`` then ``mapping``, in the order (and with the names) of NVIDIA's ``Generator``."""

    def __init__(self, cfg: SG2Config):
        super().__init__()
        self.config = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.mapping_layers, cfg.embed_features,
                                      cfg.layer_features, cfg.lr_multiplier)

    @torch.no_grad()
    def randomize(self, seed: int = 0) -> "SG2Net":
        """NVIDIA-style random weights (N(0,1) weights, unit affine biases, zero other biases)."""
        gen = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith("affine.bias"):
                p.fill_(1.0)
            elif name.endswith("bias") or name.endswith("noise_strength"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen))
        for name, buf in self.named_buffers():
            if name.endswith("noise_const"):
                buf.copy_(torch.randn(buf.shape, generator=gen))
        return self


class StyleGAN2ADAGenerator(NvidiaGenerator):
    """An NVIDIA StyleGAN2 (either repo) behind the `Generator` API; editing space W+ ``[B, num_ws, w_dim]``.

    `features` names its layers as Latent Studio's StyleGAN2 family does (``conv1``, ``to_rgb1``,
    ``convs.k``, ``to_rgbs.k``), so every method's per-family settings apply.
    """

    family = "stylegan2"

    def __init__(self, net: SG2Net, device: torch.device | str = "cpu", name: str = "stylegan2-ada",
                 fingerprint: str = "", noise_mode: str = "fixed"):
        super().__init__(net, device, name, fingerprint, net.config.num_ws)
        self.config = net.config
        self.resolution = net.config.img_resolution
        self.noise_mode = noise_mode
        syn = net.synthesis
        named: dict[str, nn.Module] = {"conv1": syn.b4.conv1, "to_rgb1": syn.b4.torgb}
        for k, res in enumerate(syn.block_resolutions[1:]):
            block = getattr(syn, f"b{res}")
            named[f"convs.{2 * k}"], named[f"convs.{2 * k + 1}"], named[f"to_rgbs.{k}"] = block.conv0, block.conv1, block.torgb
        self._named_layers = named

    @property
    def noise_mode(self) -> str:
        """``"fixed"`` (NVIDIA's ``const``: the stored maps), ``"random"`` or ``"zero"`` (``none``)."""
        return self._noise_mode

    @noise_mode.setter
    def noise_mode(self, mode: str) -> None:
        if mode not in NOISE_ALIASES:
            raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")
        self._noise_mode = NOISE_ALIASES[mode]

    def synthesize(self, latents: torch.Tensor, classes: Any = None, truncation: float | None = None,
                   noise_mode: str | None = None) -> torch.Tensor:
        """W+ ``[B, num_ws, w_dim]`` -> image ``[B, 3, R, R]`` float32, roughly [-1, 1] (not clamped).

        ``classes`` is unused (the class is in W+); ``noise_mode`` ("fixed"/"const",
        "random", "zero"/"none") is for this call only.
        """
        mode = self._noise_mode if noise_mode is None else noise_mode
        if mode not in NOISE_ALIASES:
            raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")
        return self.net.synthesis(self.check_latents(latents), noise_mode=NOISE_ALIASES[mode])

    def _layers(self) -> dict[str, nn.Module]:
        """Convs give ``[B, C, r, r]``; ``to_rgb*`` give that block's RGB contribution ``[B, 3, r, r]``."""
        return self._named_layers

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """Every ``affine.weight`` ``[in, w_dim]`` by the W+ row that feeds it (ToRGB as ``"rgb"``)."""
        syn = self.net.synthesis
        out, i = [], 0
        for res in syn.block_resolutions:
            block = getattr(syn, f"b{res}")
            convs = [block.conv1] if res == 4 else [block.conv0, block.conv1]
            for j, conv in enumerate(convs):
                out.append((i + j, "conv", conv.affine.weight.detach()))
            out.append((i + len(convs), "rgb", block.torgb.affine.weight.detach()))
            i += len(convs)
        return out

    def describe_layers(self) -> list[str]:
        return describe_w_rows(self.num_layers)
