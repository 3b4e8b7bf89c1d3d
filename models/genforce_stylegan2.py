"""StyleGAN2 in the layout of the genforce/sefa model zoo (``stylegan2_*.pth``, ``generator_smooth``).

The maths is rosinality's (`models.stylegan2`, whose building blocks are reused: the FIR
``upfirdn2d``, the equalized ``EqualLinear``, ``PixelNorm``); the layout differs in names,
in shapes (4-D conv weights, per-layer ``noise``/``noise_strength``/``filter.kernel``) and in
two places the numbers depend on:

- the style affine adds a constant **+1** in the code (``s = A·w + b + 1``, with the stored
  ``style.bias`` ≈ 0), where rosinality stores the bias ≈ 1;
- the up-convolution's weight is stored as TensorFlow has it and **flipped at run time**
  (``conv_transpose2d`` with the spatially flipped kernel), where rosinality's converter
  stores it pre-flipped.

Per-layer latents are W+ ``[B, L, w_dim]`` with ``L = 2·log2(R) − 2``: ``layer0`` reads row 0
and ``output0`` row 1; at the k-th higher resolution ``layer{2k−1}`` (the 2× up-conv) reads
row 2k−1, ``layer{2k}`` row 2k and ``output{k}`` row 2k+1.  Architecture ``skip`` (genforce's
default): ``img = output_k(x) + up(img)``, raw, no tanh, no clamp.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator, LoadError
from .layout import Container, Params, build_within_budget, load_state_dict_checked
from .stylegan1 import NOISE_MODES, StyleShape, WPlusMixin, _mapping_widths, _shape
from .stylegan2 import SQRT2, EqualLinear, PixelNorm, make_kernel, upfirdn2d


@dataclass(frozen=True)
class GenforceStyleGAN2Config(StyleShape):
    """Everything needed to build a `GenforceStyleGAN2Net` without weights."""

    resolution: int
    mapping: tuple[int, ...]  # [z_dim, hidden…, w_dim]
    channels: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def from_fmaps(cls, resolution: int, z_dim: int = 512, w_dim: int = 512, mapping_fmaps: int = 512,
                   mapping_layers: int = 8, fmaps_base: int = 32 << 10, fmaps_max: int = 512) -> "GenforceStyleGAN2Config":
        """genforce's channel rule ``min(fmaps_base // r, fmaps_max)`` (defaults: the 1024 px zoo files)."""
        res = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        return cls(resolution, (z_dim, *([mapping_fmaps] * (mapping_layers - 1)), w_dim),
                   {r: min(fmaps_base // r, fmaps_max) for r in res})


class ModulatedLayer(nn.Module):
    """genforce's ``ModulateConvBlock``: ``[B, in, r, r], w [B, w_dim] -> [B, out, r or 2r, …]``.

    ``s = style(w) + 1``; ``W' = W/√(in·k²)·s[in]``, demodulated ``W' /= √(Σ_{in,k,k} W'² + 1e-8)``
    (not in ToRGB); up layers: ``conv_transpose2d(x, flip(W'), stride 2)`` then the 4×4 FIR
    (``filter.kernel``, gain 4) with pad (1, 1).  Conv layers then add ``noise·noise_strength``
    and the bias and apply ``√2·leaky_relu(·, 0.2)``; ToRGB only adds the bias.
    """

    def __init__(self, c_in: int, c_out: int, w_dim: int, kernel: int, res: int, upsample: bool, rgb: bool):
        super().__init__()
        self.c_in, self.c_out, self.k, self.upsample, self.rgb = c_in, c_out, kernel, upsample, rgb
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.empty(c_out))
        if not rgb:
            self.noise_strength = nn.Parameter(torch.empty(()))
            self.register_buffer("noise", torch.zeros(1, 1, res, res))
        if upsample:
            self.filter = Container(buffers={"kernel": (make_kernel((1, 3, 3, 1)) * 4)[None, None]})
        self.style = EqualLinear(w_dim, c_in)
        self.scale = 1.0 / math.sqrt(c_in * kernel * kernel)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        b, cin, h, wd = x.shape
        s = (self.style(w) + 1.0) * self.scale  # [B, in]; +1 is genforce's additional_bias
        weight = self.weight[None] * s[:, None, :, None, None]  # [B, out, in, k, k]
        if not self.rgb:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        x = x.reshape(1, b * cin, h, wd)
        if self.upsample:
            # flipped at run time (genforce stores the TF kernel); transposed conv wants [in, out, k, k] per group
            weight = weight.flip(3, 4).transpose(1, 2).reshape(b * cin, self.c_out, self.k, self.k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=b)
            out = out.view(b, self.c_out, out.shape[-2], out.shape[-1])
            out = upfirdn2d(out, self.filter.kernel.flip(-2, -1), pad=(1, 1))
        else:
            out = F.conv2d(x, weight.reshape(b * self.c_out, cin, self.k, self.k), padding=self.k // 2, groups=b)
            out = out.view(b, self.c_out, h, wd)
        if self.rgb:
            return out + self.bias.view(1, -1, 1, 1)
        if noise is not None:
            out = out + noise * self.noise_strength
        return F.leaky_relu(out + self.bias.view(1, -1, 1, 1), 0.2) * SQRT2


class GenforceStyleGAN2Net(nn.Module):
    """``mapping``, ``truncation.w_avg`` and ``synthesis`` with genforce's names; ``forward(w+)`` -> image."""

    def __init__(self, config: GenforceStyleGAN2Config):
        super().__init__()
        self.config = cfg = config
        ch, wd = cfg.channels, cfg.w_dim
        self.mapping = Container(**{f"dense{i}": EqualLinear(n, o, lr_mul=0.01, activate=True)
                                  for i, (n, o) in enumerate(zip(cfg.mapping[:-1], cfg.mapping[1:]))})
        self.truncation = Container(buffers={"w_avg": torch.zeros(wd)})
        synth = Container(early_layer=Params(const=(1, ch[4], 4, 4)))
        convs: list[ModulatedLayer] = []
        rgbs: list[ModulatedLayer] = []
        for k, r in enumerate(cfg.resolutions()):
            if k == 0:
                convs.append(ModulatedLayer(ch[4], ch[4], wd, 3, 4, False, False))
                synth.add_module("layer0", convs[-1])
            else:
                for up in (True, False):
                    convs.append(ModulatedLayer(ch[r // 2] if up else ch[r], ch[r], wd, 3, r, up, False))
                    synth.add_module(f"layer{len(convs) - 1}", convs[-1])
            rgbs.append(ModulatedLayer(ch[r], 3, wd, 1, r, False, True))
            synth.add_module(f"output{k}", rgbs[-1])
        synth.add_module("upsample", Container(buffers={"kernel": (make_kernel((1, 3, 3, 1)) * 4)[None, None]}))
        self.synthesis = synth
        self.pixel_norm = PixelNorm()
        object.__setattr__(self, "convs", convs)
        object.__setattr__(self, "rgbs", rgbs)
        # hook points for `features` (rosinality's names): each conv's output and the running image
        self.conv_taps = nn.ModuleList([nn.Identity() for _ in convs])
        self.rgb_taps = nn.ModuleList([nn.Identity() for _ in rgbs])

    def mapping_forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, z_dim]`` -> w ``[B, w_dim]``: pixel norm, then ``√2·lrelu`` equalized dense layers (lr_mul 0.01)."""
        x = self.pixel_norm(z)
        for layer in self.mapping.children():
            x = layer(x)
        return x

    def noise_inputs(self, batch: int, mode: str, like: torch.Tensor) -> list[torch.Tensor | None]:
        if mode == "fixed":
            return [c.noise for c in self.convs]
        if mode == "random":
            return [torch.randn(batch, 1, *c.noise.shape[-2:], device=like.device, dtype=like.dtype) for c in self.convs]
        if mode == "zero":
            return [None] * len(self.convs)
        raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")

    def forward(self, latents: torch.Tensor, noise_mode: str = "fixed") -> torch.Tensor:
        """W+ ``[B, L, w_dim]`` -> image ``[B, 3, R, R]`` (raw sum of the skips, nominally [-1, 1])."""
        b = latents.shape[0]
        noise = self.noise_inputs(b, noise_mode, latents)
        x = self.synthesis.early_layer.const.expand(b, -1, -1, -1)
        x = self.conv_taps[0](self.convs[0](x, latents[:, 0], noise[0]))
        img = self.rgb_taps[0](self.rgbs[0](x, latents[:, 1], None))
        up = self.synthesis.upsample.kernel.flip(-2, -1)
        for k in range(1, len(self.rgbs)):
            i = 2 * k - 1
            x = self.conv_taps[i](self.convs[i](x, latents[:, i], noise[i]))
            x = self.conv_taps[i + 1](self.convs[i + 1](x, latents[:, i + 1], noise[i + 1]))
            img = self.rgb_taps[k](self.rgbs[k](x, latents[:, i + 2], None) + upfirdn2d(img, up, up=2, pad=(2, 1)))
        return img


# ====================================================================== reading state dicts
_DENSE = re.compile(r"^mapping\.dense(\d+)\.weight$")
_OUTPUT = re.compile(r"^synthesis\.output(\d+)\.weight$")


def is_state_dict(sd: Any) -> bool:
    return isinstance(sd, Mapping) and "synthesis.early_layer.const" in sd


def config_from_state_dict(sd: Mapping[str, Any]) -> GenforceStyleGAN2Config:
    what = "StyleGAN2"
    mapping = _mapping_widths(sd, _DENSE, "mapping", what,
                              "the genforce StyleGAN2 generator has no mapping network (mapping.dense0.weight, …)")
    outs = sorted(int(m.group(1)) for k in sd if (m := _OUTPUT.match(k)))
    if not outs or outs != list(range(len(outs))):
        raise LoadError("the genforce StyleGAN2's ToRGB layers are not numbered output0, output1, … without gaps")
    res = [4 * 2**k for k in outs]
    chans = {4: _shape(sd, "synthesis.early_layer.const", 4, what)[1]}
    for k, r in enumerate(res[1:], start=1):
        chans[r] = _shape(sd, f"synthesis.layer{2 * k}.weight", 4, what)[0]
    return GenforceStyleGAN2Config(res[-1], mapping, chans)


def net_from_state_dict(sd: Mapping[str, Any]) -> GenforceStyleGAN2Net:
    cfg = config_from_state_dict(sd)
    widest = max(c * r * r for r, c in cfg.channels.items())
    net = build_within_budget(lambda: GenforceStyleGAN2Net(cfg), widest, cfg.resolution, "genforce StyleGAN2")
    load_state_dict_checked(net, sd, f"{cfg.resolution}px StyleGAN2 (genforce layout)")
    return net


# ====================================================================== the Generator
class GenforceStyleGAN2Generator(WPlusMixin, Generator):
    """A genforce StyleGAN2 behind the `Generator` interface (family ``stylegan2``, W+ editing space).

    Feature layers carry rosinality's names so every StyleGAN2 tool applies: ``conv1``
    (``layer0``), ``to_rgb1`` (``output0``), ``convs.{2k}``/``convs.{2k+1}`` (``layer{2k+1}``,
    ``layer{2k+2}``) and ``to_rgbs.k`` (``output{k+1}``, the running image).
    """

    family = "stylegan2"
    default_truncation = 0.7
    default_pca_layer = "latent"
    layout = "genforce"
    #: sefa's postprocess: ``floor(clip((x+1)·127.5 + 0.5, 0, 255))`` (see `models.frames.to_uint8`)
    uint8_convention = "half_up"

    def __init__(self, net: GenforceStyleGAN2Net, device: torch.device | str = "cpu", name: str = "stylegan2",
                 fingerprint: str = "", noise_mode: str = "fixed"):
        super().__init__(net, device, name, fingerprint)
        cfg = net.config
        self.config = cfg
        self.z_dim, self.latent_dim = cfg.z_dim, cfg.w_dim
        self.num_layers = cfg.num_layers
        self.resolution = cfg.resolution
        self.noise_mode = noise_mode
        named: dict[str, nn.Module] = {"conv1": net.conv_taps[0], "to_rgb1": net.rgb_taps[0]}
        for k in range(1, len(net.rgbs)):
            named[f"convs.{2 * k - 2}"] = net.conv_taps[2 * k - 1]
            named[f"convs.{2 * k - 1}"] = net.conv_taps[2 * k]
            named[f"to_rgbs.{k - 1}"] = net.rgb_taps[k]
        self._named = named

    @property
    def latent_avg(self) -> torch.Tensor:
        return self.net.truncation.w_avg

    def _layers(self) -> dict[str, nn.Module]:
        return self._named

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """Style affines ``[in, w_dim]`` by W+ row: ``layer{j}`` reads row j (conv), ``output{k}`` row 2k+1 (rgb)."""
        net = self.net
        out = [(j, "conv", c.style.weight.detach()) for j, c in enumerate(net.convs)]
        out += [(2 * k + 1, "rgb", r.style.weight.detach()) for k, r in enumerate(net.rgbs)]
        return sorted(out, key=lambda t: (t[0], t[1] == "conv"))

    def describe_layers(self) -> list[str]:
        labels = ["0: 4² conv"]
        for i in range(1, self.num_layers):
            if i % 2 == 1:
                r = 2 ** ((i + 3) // 2)
                labels.append(f"{i}: {r}² rgb" + (f", {2 * r}² conv" if i < self.num_layers - 1 else ""))
            else:
                labels.append(f"{i}: {2 ** (i // 2 + 2)}² conv")
        return labels

    def info(self) -> dict:
        return {**super().info(), "layout": self.layout}


def build_generator(sd: Mapping[str, Any], device, name: str, fingerprint: str) -> GenforceStyleGAN2Generator:
    return GenforceStyleGAN2Generator(net_from_state_dict(sd), device, name, fingerprint)
