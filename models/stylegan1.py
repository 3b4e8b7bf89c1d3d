"""StyleGAN (v1, Karras et al. 2019) generators in two PyTorch layouts, in plain PyTorch.

- ``lernapparat``: Thomas Viehmann's port as GANSpace uses it (``g_mapping.*``,
  ``g_synthesis.*``; e.g. ``karras2019stylegan-ffhq-1024x1024.for_g_all.pt`` and GANSpace's
  ``stylegan_<class>_<res>.pt``).  The file has no average W and no noise maps: the average
  is estimated at load (a note says so) and the fixed noise is GANSpace's ``set_noise_seed(0)``,
  ``randn(1, 1, r, r)`` from a CPU generator seeded 0 for every noise layer.
- ``genforce``: the genforce/sefa model zoo StyleGAN (``stylegan_*.pth``, the
  ``generator_smooth`` entry, see `models.genforce`), with ``truncation.w_avg`` and the noise
  maps stored.

Both are the same network (per-layer latents ``w [B, L, w_dim]``, ``L = 2·log2(R) − 2``)::

    mapping:  x = pn(z); n×: x = lrelu(x @ (W·√2/√in·0.01)ᵀ + b·0.01, 0.2)        (w = x)
    layer 0:  x = const                                                        [B, C4, 4, 4]
    layer j:  odd j: x = conv3x3(x, W·√2/√(9·in)); even j ≥ 2: x = blur(up_conv(x))
    every j:  x = lrelu(x + b + noise_w[c]·noise, 0.2)
              x = (x − mean_hw x) / √(mean_hw (x − mean)² + ε)                  instance norm
              s = w[:, j] @ (Ws/√w_dim)ᵀ + bs;  x = x·(s[:, :C] + 1) + s[:, C:]  AdaIN
    image  =  conv1x1(x, W/√C) + b                                             no tanh, no clamp

``up_conv`` is nearest 2× then the 3×3 conv below 128 px; from 128 px up it is the fused
transposed conv of the originals (the 3×3 kernel padded, summed into 4×4, stride-2
``conv_transpose2d``), which equals nearest-up followed by the *spatially flipped* kernel.
The two layouts differ only in ε: **1e-5** in the lernapparat port (``nn.InstanceNorm2d``'s
default; the official code uses 1e-8) and 1e-8 in genforce; each is kept as its file's code has it.
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

SQRT2 = math.sqrt(2.0)
LAYOUTS = ("lernapparat", "genforce")
NOISE_MODES = ("fixed", "random", "zero")
#: output resolution from which the up-convolution is the fused transposed conv (both layouts)
FUSED_FROM = 128
#: the truncation cutoff of the originals: rows < 8 (the port's Truncation(max_layer=8), sefa's trunc_layers)
TRUNCATION_CUTOFF = 8


class StyleShape:
    """Sizes derived from ``resolution``, ``mapping`` (widths ``[z_dim, hidden…, w_dim]``) and ``channels``."""

    resolution: int
    mapping: tuple[int, ...]

    @property
    def z_dim(self) -> int:
        return self.mapping[0]

    @property
    def w_dim(self) -> int:
        return self.mapping[-1]

    @property
    def num_layers(self) -> int:
        """W+ rows: ``2·log2(R) − 2`` (12 at 128 px, 18 at 1024)."""
        return 2 * int(math.log2(self.resolution)) - 2

    def resolutions(self) -> list[int]:
        """4, 8, …, resolution."""
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]


@dataclass(frozen=True)
class StyleGAN1Config(StyleShape):
    """Everything needed to build a `StyleGAN1Net` without weights."""

    layout: str
    resolution: int
    #: widths of the mapping network ``[z_dim, hidden…, w_dim]`` (n layers -> n + 1 entries)
    mapping: tuple[int, ...]
    #: channels at 4, 8, …, resolution
    channels: Mapping[int, int] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return 1e-5 if self.layout == "lernapparat" else 1e-8

    def layer_resolution(self, j: int) -> int:
        return 4 * 2 ** (j // 2)

    @classmethod
    def from_fmaps(cls, layout: str, resolution: int, z_dim: int = 512, w_dim: int = 512, mapping_fmaps: int = 512,
                   mapping_layers: int = 8, fmap_base: int = 8192, fmap_max: int = 512) -> "StyleGAN1Config":
        """The originals' channel rule ``C_r = min(fmap_base // (r/2), fmap_max)`` (the full-size files: 8192, 512)."""
        chans = {r: min(fmap_base // (r // 2), fmap_max) for r in [2**i for i in range(2, int(math.log2(resolution)) + 1)]}
        widths = (z_dim, *([mapping_fmaps] * (mapping_layers - 1)), w_dim)
        return cls(layout, resolution, widths, chans)


def _epilogue(channels: int, w_dim: int) -> nn.Module:
    """lernapparat's ``LayerEpilogue`` names: ``top_epi.noise.weight`` and ``style_mod.lin.{weight,bias}``."""
    return Container(top_epi=Container(noise=Params(weight=(channels,))),
                   style_mod=Container(lin=Params(weight=(2 * channels, w_dim), bias=(2 * channels,))))


@dataclass(frozen=True)
class _LayerPaths:
    """Where one synthesis layer's tensors live in the state dict (dotted names)."""

    weight: str | None  # conv weight; None for layer 0 (the constant)
    const: str | None
    bias: str
    noise_weight: str
    noise: str  # the fixed noise map (a checkpoint buffer, or ours)
    style_weight: str
    style_bias: str
    blur: str | None


class StyleGAN1Net(nn.Module):
    """Mapping and synthesis with the layout's state-dict names; ``forward(w+)`` -> image."""

    def __init__(self, config: StyleGAN1Config):
        super().__init__()
        if config.layout not in LAYOUTS:
            raise ValueError(f"layout {config.layout!r} is not one of {', '.join(LAYOUTS)}")
        self.config = cfg = config
        ch, wd = cfg.channels, cfg.w_dim
        dense = {f"dense{i}": Params(weight=(o, n), bias=(o,)) for i, (n, o) in enumerate(zip(cfg.mapping[:-1], cfg.mapping[1:]))}
        paths: list[_LayerPaths] = []
        R = cfg.resolution
        if cfg.layout == "lernapparat":
            self.g_mapping = Container(**dense)
            blocks = nn.ModuleDict()
            for r in cfg.resolutions():
                c = ch[r]
                key = f"{r}x{r}"
                pre = f"g_synthesis.blocks.{key}"
                if r == 4:
                    blocks[key] = Container(epi1=_epilogue(c, wd), conv=Params(weight=(c, c, 3, 3), bias=(c,)), epi2=_epilogue(c, wd))
                    blocks[key].register_parameter("const", nn.Parameter(torch.empty(1, c, 4, 4)))
                    blocks[key].register_parameter("bias", nn.Parameter(torch.empty(c)))
                    first = _LayerPaths(None, f"{pre}.const", f"{pre}.bias", "", "", "", "", None)
                    second = _LayerPaths(f"{pre}.conv.weight", None, f"{pre}.conv.bias", "", "", "", "", None)
                else:
                    up = Params(weight=(c, ch[r // 2], 3, 3), bias=(c,))
                    up.add_module("intermediate", Container(buffers={"kernel": _blur_kernel()[None, None]}))
                    blocks[key] = Container(conv0_up=up, epi1=_epilogue(c, wd), conv1=Params(weight=(c, c, 3, 3), bias=(c,)),
                                          epi2=_epilogue(c, wd))
                    first = _LayerPaths(f"{pre}.conv0_up.weight", None, f"{pre}.conv0_up.bias", "", "", "", "",
                                        f"{pre}.conv0_up.intermediate.kernel")
                    second = _LayerPaths(f"{pre}.conv1.weight", None, f"{pre}.conv1.bias", "", "", "", "", None)
                for epi, p in (("epi1", first), ("epi2", second)):
                    j = len(paths)
                    paths.append(_LayerPaths(p.weight, p.const, p.bias, f"{pre}.{epi}.top_epi.noise.weight", f"fixed_noise_{j}",
                                             f"{pre}.{epi}.style_mod.lin.weight", f"{pre}.{epi}.style_mod.lin.bias", p.blur))
            self.g_synthesis = Container(torgb=Params(weight=(3, ch[R], 1, 1), bias=(3,)), blocks=blocks)
            # GANSpace's set_noise_seed(0): every noise layer gets torch.manual_seed(0); randn(1, 1, r, r)
            for j in range(cfg.num_layers):
                r = cfg.layer_resolution(j)
                noise = torch.empty(1, 1, r, r)
                if noise.device.type != "meta":  # (a meta-device build only measures the layout)
                    noise = torch.randn(1, 1, r, r, generator=torch.Generator().manual_seed(0))
                self.register_buffer(f"fixed_noise_{j}", noise, persistent=False)
            self._rgb = "g_synthesis.torgb"
        else:
            self.mapping = Container(**dense)
            self.truncation = Container(buffers={"w_avg": torch.zeros(wd)})
            synth = Container(buffers={"lod": torch.zeros(())})
            for k, r in enumerate(cfg.resolutions()):
                for j in (2 * k, 2 * k + 1):
                    c_in = ch[r // 2] if j % 2 == 0 and j > 0 else ch[r]
                    layer = nn.Module()
                    layer.register_parameter("bias", nn.Parameter(torch.empty(ch[r])))
                    if j == 0:
                        layer.register_parameter("const", nn.Parameter(torch.empty(1, ch[r], 4, 4)))
                    else:
                        layer.register_parameter("weight", nn.Parameter(torch.empty(ch[r], c_in, 3, 3)))
                    noise = Params(weight=(ch[r],))
                    noise.register_buffer("noise", torch.zeros(1, 1, r, r))
                    layer.add_module("apply_noise", noise)
                    layer.add_module("style", Params(weight=(2 * ch[r], wd), bias=(2 * ch[r],)))
                    up = j % 2 == 0 and j > 0
                    if up:
                        layer.add_module("blur", Container(buffers={"kernel": _blur_kernel()[None, None].repeat(ch[r], 1, 1, 1)}))
                    synth.add_module(f"layer{j}", layer)
                    pre = f"synthesis.layer{j}"
                    paths.append(_LayerPaths(None if j == 0 else f"{pre}.weight", f"{pre}.const" if j == 0 else None,
                                             f"{pre}.bias", f"{pre}.apply_noise.weight", f"{pre}.apply_noise.noise",
                                             f"{pre}.style.weight", f"{pre}.style.bias", f"{pre}.blur.kernel" if up else None))
                synth.add_module(f"output{k}", Params(bias=(3,), weight=(3, ch[r], 1, 1)))
            self.synthesis = synth
            self._rgb = f"synthesis.output{len(cfg.resolutions()) - 1}"
        self._paths = paths
        # hook points for `features`: identity modules on each layer's output and on the image
        self.taps = nn.ModuleList([nn.Identity() for _ in range(cfg.num_layers + 1)])

    # ------------------------------------------------------------------ tensors by name
    def _t(self, name: str) -> torch.Tensor:
        mod, _, leaf = name.rpartition(".")
        owner = self.get_submodule(mod) if mod else self
        return getattr(owner, leaf)

    @property
    def dtype(self) -> torch.dtype:
        return self._t(self._rgb + ".weight").dtype

    def style_weights(self) -> list[torch.Tensor]:
        """Each layer's AdaIN affine weight ``[2C, w_dim]`` (stored, un-scaled), by W+ row."""
        return [self._t(p.style_weight) for p in self._paths]

    # ------------------------------------------------------------------ forward
    def mapping_forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, z_dim]`` -> w ``[B, w_dim]``: pixel norm, then the equalized dense layers with leaky ReLU."""
        x = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + 1e-8)
        prefix = "g_mapping" if self.config.layout == "lernapparat" else "mapping"
        for i, n_in in enumerate(self.config.mapping[:-1]):
            w, b = self._t(f"{prefix}.dense{i}.weight"), self._t(f"{prefix}.dense{i}.bias")
            x = F.leaky_relu(F.linear(x, w * (SQRT2 / math.sqrt(n_in) * 0.01), b * 0.01), 0.2)
        return x

    def w_avg(self) -> torch.Tensor | None:
        """The stored average W (genforce), or None (lernapparat stores none)."""
        return self.truncation.w_avg if self.config.layout == "genforce" else None

    def noise_inputs(self, batch: int, mode: str, like: torch.Tensor) -> list[torch.Tensor | None]:
        """Per-layer noise ``[1 or B, 1, r, r]`` for ``mode``: the fixed maps, fresh ``randn``, or None."""
        if mode == "fixed":
            return [self._t(p.noise) for p in self._paths]
        if mode == "random":
            return [torch.randn(batch, 1, r, r, device=like.device, dtype=like.dtype)
                    for r in (self.config.layer_resolution(j) for j in range(self.config.num_layers))]
        if mode == "zero":
            return [None] * self.config.num_layers
        raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")

    def forward(self, latents: torch.Tensor, noise_mode: str = "fixed") -> torch.Tensor:
        """W+ ``[B, L, w_dim]`` -> image ``[B, 3, R, R]``, raw (nominally [-1, 1], not clamped)."""
        cfg = self.config
        b = latents.shape[0]
        noises = self.noise_inputs(b, noise_mode, latents)
        x = None
        for j, p in enumerate(self._paths):
            if j == 0:
                x = self._t(p.const).expand(b, -1, -1, -1)
            else:
                w = self._t(p.weight)
                scale = SQRT2 / math.sqrt(w.shape[1] * 9)
                if p.blur is None:
                    x = F.conv2d(x, w * scale, padding=1)
                else:
                    x = _up_conv(x, w * scale, fused=cfg.layer_resolution(j) >= FUSED_FROM)
                    k = self._t(p.blur)
                    x = F.conv2d(x, k[:1].expand(x.shape[1], 1, 3, 3), padding=1, groups=x.shape[1])
            x = x + self._t(p.bias).view(1, -1, 1, 1)
            if noises[j] is not None:
                x = x + self._t(p.noise_weight).view(1, -1, 1, 1) * noises[j]
            x = F.leaky_relu(x, 0.2)
            x = x - x.mean(dim=(2, 3), keepdim=True)
            x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + cfg.eps)
            sw = self._t(p.style_weight)
            s = F.linear(latents[:, j], sw * (1.0 / math.sqrt(sw.shape[1])), self._t(p.style_bias))
            c = x.shape[1]
            x = x * (s[:, :c, None, None] + 1) + s[:, c:, None, None]
            x = self.taps[j](x)
        w_rgb = self._t(self._rgb + ".weight")
        img = F.conv2d(x, w_rgb * (1.0 / math.sqrt(w_rgb.shape[1])), self._t(self._rgb + ".bias"))
        return self.taps[-1](img)


def _blur_kernel() -> torch.Tensor:
    """``[1,2,1]ᵀ[1,2,1] / 16``, ``[3, 3]``."""
    k = torch.tensor([1.0, 2.0, 1.0])
    k = k[:, None] * k[None, :]
    return k / k.sum()


def _up_conv(x: torch.Tensor, w: torch.Tensor, fused: bool) -> torch.Tensor:
    """2× upsampling conv ``[B, in, r, r] -> [B, out, 2r, 2r]`` with the (already scaled) 3×3 ``w [out, in, 3, 3]``.

    ``fused``: the originals' transposed conv, ``w`` padded to 5×5 and summed over 2×2
    neighbours into 4×4, ``conv_transpose2d(stride 2, padding 1)``; else nearest 2× then conv.
    """
    if not fused:
        return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
    w = F.pad(w.permute(1, 0, 2, 3), (1, 1, 1, 1))
    w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
    return F.conv_transpose2d(x, w, stride=2, padding=1)


# ====================================================================== reading state dicts
_LERN_DENSE = re.compile(r"^g_mapping\.dense(\d+)\.weight$")
_GF_DENSE = re.compile(r"^mapping\.dense(\d+)\.weight$")
_LERN_BLOCK = re.compile(r"^g_synthesis\.blocks\.(\d+)x\1\.")
_GF_OUTPUT = re.compile(r"^synthesis\.output(\d+)\.weight$")


def sniff_layout(sd: Mapping[str, Any]) -> str | None:
    """``"lernapparat"``, ``"genforce"`` or None, from key names alone."""
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(k, str) for k in sd):
        return None
    if "g_synthesis.blocks.4x4.const" in sd or ("g_synthesis.torgb.weight" in sd):
        return "lernapparat"
    if "synthesis.layer0.const" in sd:
        return "genforce"
    return None


def _shape(sd: Mapping[str, Any], key: str, dims: int, what: str) -> tuple[int, ...]:
    t = sd.get(key)
    if t is None:
        raise LoadError(f"the {what} state dict lacks {key!r}")
    if not isinstance(t, torch.Tensor) or t.dim() != dims:
        shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise LoadError(f"{key!r} is {shape}; a {what} has a tensor of {dims} dimensions there")
    return tuple(int(s) for s in t.shape)


def _mapping_widths(sd: Mapping[str, Any], pattern: re.Pattern, prefix: str, what: str, missing: str) -> tuple[int, ...]:
    idx = sorted(int(m.group(1)) for k in sd if (m := pattern.match(k)))
    if not idx:
        raise LoadError(missing)
    if idx != list(range(len(idx))):
        raise LoadError(f"the {what} mapping layers are not numbered dense0, dense1, … without gaps")
    widths = [_shape(sd, f"{prefix}.dense0.weight", 2, what)[1]]
    for i in idx:
        out, n_in = _shape(sd, f"{prefix}.dense{i}.weight", 2, what)
        if n_in != widths[-1]:
            raise LoadError(f"{prefix}.dense{i}.weight takes {n_in} inputs but the layer before gives {widths[-1]}")
        widths.append(out)
    return tuple(widths)


def config_from_state_dict(sd: Mapping[str, Any], layout: str) -> StyleGAN1Config:
    """Resolution, mapping widths and channels from the tensor shapes; `LoadError` when they do not fit."""
    what = "StyleGAN"
    if layout == "lernapparat":
        mapping = _mapping_widths(
            sd, _LERN_DENSE, "g_mapping", what,
            "the StyleGAN file has a synthesis network (g_synthesis.*) but no mapping network (g_mapping.dense0.weight, …); "
            "save the whole StyleGAN_G, not only g_synthesis")
        res = sorted({int(m.group(1)) for k in sd if (m := _LERN_BLOCK.match(k))})
        if not res or res != [2**i for i in range(2, 2 + len(res))]:
            raise LoadError("the g_synthesis blocks are not 4x4, 8x8, … without gaps")
        chans = {4: _shape(sd, "g_synthesis.blocks.4x4.const", 4, what)[1]}
        for r in res[1:]:
            chans[r] = _shape(sd, f"g_synthesis.blocks.{r}x{r}.conv1.weight", 4, what)[0]
    else:
        mapping = _mapping_widths(sd, _GF_DENSE, "mapping", what,
                                  "the genforce StyleGAN generator has no mapping network (mapping.dense0.weight, …)")
        outs = sorted(int(m.group(1)) for k in sd if (m := _GF_OUTPUT.match(k)))
        if not outs or outs != list(range(len(outs))):
            raise LoadError("the genforce StyleGAN's ToRGB layers are not numbered output0, output1, … without gaps")
        res = [4 * 2**k for k in outs]
        chans = {4: _shape(sd, "synthesis.layer0.const", 4, what)[1]}
        for k, r in enumerate(res[1:], start=1):
            chans[r] = _shape(sd, f"synthesis.layer{2 * k + 1}.weight", 4, what)[0]
    return StyleGAN1Config(layout, res[-1], mapping, chans)


def net_from_state_dict(sd: Mapping[str, Any], layout: str | None = None) -> StyleGAN1Net:
    layout = layout or sniff_layout(sd)
    if layout is None:
        raise LoadError("the state dict is not a StyleGAN (v1) generator (g_mapping/g_synthesis or genforce synthesis.layer0.const)")
    cfg = config_from_state_dict(sd, layout)
    widest = max(c * r * r for r, c in cfg.channels.items())
    net = build_within_budget(lambda: StyleGAN1Net(cfg), widest, cfg.resolution, "StyleGAN")
    load_state_dict_checked(net, sd, f"{cfg.resolution}px StyleGAN ({layout} layout)")
    if layout == "genforce" and float(net.synthesis.lod) != 0.0:
        raise LoadError(f"the StyleGAN was saved mid-training at level of detail {float(net.synthesis.lod):g}; "
                        "only finished generators (lod 0) are opened")
    return net


# ====================================================================== the Generator
class WPlusMixin:
    """What the StyleGAN generators here share (their nets have ``mapping_forward(z)`` and
    ``forward(w+, noise_mode)``): `map`, `synthesize`, a ``noise_mode`` and truncation with a row cutoff.

    `truncate` pulls every row by default (``truncate(lat, 0.7)`` is genforce's
    ``trunc_layers = L``); ``truncate(lat, psi, cutoff=G.truncation_cutoff)`` is the
    originals' default of the first 8 rows only.
    """

    truncation_cutoff = TRUNCATION_CUTOFF
    _noise_mode = "fixed"

    @property
    def noise_mode(self) -> str:
        """``"fixed"`` (the stored or GANSpace noise maps), ``"random"`` or ``"zero"``."""
        return self._noise_mode

    @noise_mode.setter
    def noise_mode(self, mode: str) -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode {mode!r} is not one of {', '.join(NOISE_MODES)}")
        self._noise_mode = mode

    def truncate(self, latents: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """``avg + psi·(latents − avg)`` on rows ``< cutoff`` (every row when None), as genforce's ``truncation``."""
        out = Generator.truncate(self, latents, psi)  # type: ignore[arg-type]
        if cutoff is None or psi == 1.0:
            return out
        out = out.clone()
        out[:, cutoff:] = latents[:, cutoff:]
        return out

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[n, z_dim]`` -> W+ ``[n, L, w_dim]`` (w repeated on every row)."""
        w = self.net.mapping_forward(z.to(self.device, torch.float32))
        return w[:, None, :].repeat(1, self.num_layers, 1)

    def synthesize(self, latents, classes=None, truncation=None, noise_mode=None) -> torch.Tensor:
        """W+ ``[B, L, w_dim]`` -> raw image ``[B, 3, R, R]`` (nominally [-1, 1], not clamped)."""
        if latents.dim() != 3 or tuple(latents.shape[1:]) != (self.num_layers, self.latent_dim):
            raise ValueError(f"latents must be [B, {self.num_layers}, {self.latent_dim}], got {list(latents.shape)}")
        mode = self._noise_mode if noise_mode is None else noise_mode  # the net refuses unknown modes
        return self.net(latents.to(self.device, torch.float32), noise_mode=mode)


class StyleGAN1Generator(WPlusMixin, Generator):
    """A StyleGAN (v1) behind the `Generator` interface; the editing space is W+ ``[B, L, w_dim]``."""

    family = "stylegan1"
    default_truncation = 0.7
    default_pca_layer = "latent"  # GANSpace's StyleGAN PCA is on W (g_mapping)

    def __init__(self, net: StyleGAN1Net, device: torch.device | str = "cpu", name: str = "stylegan1",
                 fingerprint: str = "", noise_mode: str = "fixed", latent_avg: torch.Tensor | None = None):
        super().__init__(net, device, name, fingerprint)
        cfg = net.config
        self.config = cfg
        self.layout = cfg.layout
        self.z_dim, self.latent_dim = cfg.z_dim, cfg.w_dim
        self.num_layers = cfg.num_layers
        self.resolution = cfg.resolution
        self.noise_mode = noise_mode
        # GANSpace floors clip(0.5·(x+1))·255; sefa rounds half up (see `models.frames.to_uint8`)
        self.uint8_convention = "floor" if cfg.layout == "lernapparat" else "half_up"
        avg = net.w_avg() if latent_avg is None else latent_avg
        if avg is None:
            avg = self.estimate_latent_avg()
            self.notes.append("The checkpoint stores no average W, so the truncation centre is the mean W "
                              "of 10,000 mapped samples (seed 0).")
        self._latent_avg = avg.detach().to(self.device, torch.float32).clone()
        self._named = {f"layer{j}": net.taps[j] for j in range(cfg.num_layers)}
        self._named["output"] = net.taps[-1]

    @property
    def latent_avg(self) -> torch.Tensor:
        return self._latent_avg

    def estimate_latent_avg(self, n: int = 10_000, seed: int = 0, batch: int = 1000) -> torch.Tensor:
        """Mean of the mapped w over ``n`` standard-normal z from ``seed``, ``[w_dim]`` float32."""
        from .stylegan2 import mean_mapped

        return mean_mapped(self.net.mapping_forward, self.z_dim, self.device, torch.float32, n, seed, batch)

    def _layers(self) -> dict[str, nn.Module]:
        """``layer{j}``: the AdaIN output ``[B, C, r, r]`` styled by W+ row j; ``output``: the image."""
        return self._named

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """Each row's AdaIN affine ``[2C, w_dim]`` (stored weights), as sefa factorises ``style.weight``."""
        return [(j, "conv", w.detach()) for j, w in enumerate(self.net.style_weights())]

    def describe_layers(self) -> list[str]:
        return [f"{j}: {self.config.layer_resolution(j)}²" for j in range(self.num_layers)]

    def info(self) -> dict:
        return {**super().info(), "layout": self.layout}


#: where lernapparat's notebook keeps the average W when its ``Truncation`` module is saved with the net
LERN_AVG_KEY = "truncation.avg_latent"


def build_generator(sd: Mapping[str, Any], device, name: str, fingerprint: str, layout: str | None = None) -> StyleGAN1Generator:
    """A StyleGAN (v1) state dict -> `StyleGAN1Generator`.  A lernapparat file saved with the
    notebook's ``truncation`` module (``truncation.avg_latent [w_dim]``) gives its average W."""
    avg = None
    if LERN_AVG_KEY in sd and (layout or sniff_layout(sd)) == "lernapparat":
        sd = dict(sd)
        avg = sd.pop(LERN_AVG_KEY)
    net = net_from_state_dict(sd, layout)
    if avg is not None:
        if not isinstance(avg, torch.Tensor) or avg.numel() != net.config.w_dim or not bool(torch.isfinite(avg).all()):
            raise LoadError(f"{LERN_AVG_KEY!r} is not a finite vector of {net.config.w_dim} values (the average W)")
        avg = avg.reshape(-1).float()
    return StyleGAN1Generator(net, device, name, fingerprint, latent_avg=avg)


def is_lernapparat_checkpoint(obj: Any) -> bool:
    """A lernapparat/GANSpace ``StyleGAN_G`` state dict, or a near miss of one (``g_synthesis`` without ``g_mapping``)."""
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(k, str) for k in obj) and (
        any(k.startswith("g_synthesis.") for k in obj) or any(k.startswith("g_mapping.dense") for k in obj))


def load_checkpoint(obj: Any, path, device, name: str, fingerprint: str) -> StyleGAN1Generator:
    """Builder for `models.loading.register_family` (lernapparat layout)."""
    from pathlib import Path

    fname = Path(path).name
    if not any(k.startswith("g_synthesis.") for k in obj):
        raise LoadError(f"{fname} holds a StyleGAN mapping network (g_mapping.*) but no synthesis network (g_synthesis.*)")
    try:
        return build_generator(obj, device, name, fingerprint, "lernapparat")
    except LoadError as exc:
        raise LoadError(f"{fname}: {exc}") from None
