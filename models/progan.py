"""ProGAN (Karras et al. 2018) generators in the three PyTorch layouts the research uses.

- ``netdissect``: GANSpace's ``netdissect.proggan.ProgressiveGenerator`` (the LSUN files
  ``*_lsun.pth``): ``layerN.conv.weight``, ``layerN.wscale.b``, ``output_RxR.*``; the
  equalized-learning-rate scale is the He constant ``√2/√(in·k²)`` (1/√in for ToRGB).
- ``ptrblck``: ptrblck/prog_gans_pytorch_inference, as GANLatentDiscovery and
  WarpedGANSpace load it (``100_celeb_hq_network-snapshot-010403.pth``): ``features.N.*``
  and ``output.*`` with a stored scalar ``wscale.scale`` per layer, used as stored (it is
  the RMS of the Theano initial weights, close to but not the He constant).  netdissect's
  ``from_old_pt_dict`` ignores that scalar; we do not, because the file's own code uses it.
  The same names *without* any ``wscale.scale`` are netdissect's "old" form and get the
  He constant.
- ``genforce``: the genforce/sefa model zoo PGGAN (``pggan_*.pth``, the
  ``generator_smooth`` entry, see `models.genforce`): ``layerN.weight``/``.bias``, a
  ``lod`` buffer and one ToRGB ``output{k}`` per resolution, of which the last is used.

Forward pass, the same maths in every layout (z ``[B, z_dim]``)::

    x = z.view(B, z_dim, 1, 1)               (genforce pixel-normalises z once more first)
    layer 1 (dense):  x = lrelu(conv4x4(pn(x), W, pad 3)·s + b, 0.2)           -> 4×4
    odd layers:       x = lrelu(conv3x3(pn(x), W, pad 1)·s + b, 0.2)
    up layers:        x = lrelu(conv3x3(up2(pn(x)), W, pad 1)·s + b, 0.2)       (nearest 2×)
    ToRGB:            img = conv1x1(pn(x), W)·s + b                              no tanh, no clamp
    pn(x) = x / √(mean_c(x²) + 1e-8)

The image is nominally [-1, 1] and is returned raw (it overshoots; see `uint8_convention`).
Every architectural number (z_dim, channels per resolution, resolution) is read from the
tensor shapes; the modules carry the layout's exact state-dict names and shapes, so the
weights load with ``strict=True``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator, LoadError
from .layout import Params, build_within_budget, load_state_dict_checked

LAYOUTS = ("netdissect", "ptrblck", "genforce")
SQRT2 = math.sqrt(2.0)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / √(mean over channels of x² + eps)`` for ``[B, C, …]`` (ProGAN's PixelNorm)."""
    return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + eps)


class ProBlock(nn.Module):
    """``pn -> [nearest 2×] -> conv -> ·scale + b -> [leaky ReLU 0.2]``: ``[B, in, r, r] -> [B, out, r', r']``.

    ``layout`` only decides where the tensors live (state-dict names) and where the scale
    comes from: the He constant ``gain/√(in·k²)`` (netdissect, genforce) or the stored
    ``wscale.scale`` (ptrblck).  genforce multiplies the weight, the others the conv output,
    as the originals do.
    """

    def __init__(self, layout: str, c_in: int, c_out: int, kernel: int, padding: int,
                 upsample: bool, activate: bool, gain: float):
        super().__init__()
        self.layout, self.padding, self.upsample, self.activate = layout, padding, upsample, activate
        self.he_scale = gain / math.sqrt(c_in * kernel * kernel)
        shape = (c_out, c_in, kernel, kernel)
        if layout == "genforce":
            self.weight = nn.Parameter(torch.empty(shape))
            self.bias = nn.Parameter(torch.empty(c_out))
        else:
            self.conv = Params(weight=shape)
            self.wscale = Params(scale=(1,), b=(c_out,)) if layout == "ptrblck" else Params(b=(c_out,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.layout == "genforce":
            x = F.conv2d(x, self.weight * self.he_scale, self.bias, padding=self.padding)
        else:
            scale = self.wscale.scale if self.layout == "ptrblck" else self.he_scale
            x = F.conv2d(x, self.conv.weight, padding=self.padding) * scale + self.wscale.b.view(1, -1, 1, 1)
        return F.leaky_relu(x, 0.2) if self.activate else x


@dataclass(frozen=True)
class ProGANConfig:
    """``sizes = [z_dim, c4, c8, …, c_R]`` (netdissect's ``sizes``) and the layout."""

    sizes: tuple[int, ...]
    layout: str = "netdissect"

    @property
    def z_dim(self) -> int:
        return self.sizes[0]

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.sizes) - 2)

    @property
    def n_convs(self) -> int:
        return 2 * (len(self.sizes) - 1)


class ProGANNet(nn.Module):
    """The generator: z ``[B, z_dim]`` -> image ``[B, 3, R, R]`` (raw, not clamped), layout-named modules."""

    def __init__(self, config: ProGANConfig):
        super().__init__()
        if config.layout not in LAYOUTS:
            raise ValueError(f"layout {config.layout!r} is not one of {', '.join(LAYOUTS)}")
        if len(config.sizes) < 2:
            raise ValueError("sizes needs z_dim and at least the 4x4 channel count")
        self.config = cfg = config
        lay = cfg.layout
        blocks: list[ProBlock] = []
        chans = cfg.sizes[1:]
        for i in range(cfg.n_convs):
            res = i // 2  # resolution index: 4·2^res
            if i == 0:
                blocks.append(ProBlock(lay, cfg.z_dim, chans[0], 4, 3, False, True, SQRT2))
            elif i % 2 == 1:
                blocks.append(ProBlock(lay, chans[res], chans[res], 3, 1, False, True, SQRT2))
            else:
                blocks.append(ProBlock(lay, chans[res - 1], chans[res], 3, 1, True, True, SQRT2))
        rgb = [ProBlock(lay, c, 3, 1, 0, False, False, 1.0) for c in chans]  # one per resolution
        if lay == "ptrblck":
            self.features = nn.ModuleList(blocks)
            self.output = rgb[-1]
        elif lay == "netdissect":
            for i, b in enumerate(blocks):
                self.add_module(f"layer{i + 1}", b)
            self.add_module(f"output_{cfg.resolution}x{cfg.resolution}", rgb[-1])
        else:  # genforce: lod, then layer2k, layer2k+1, output_k per resolution (its state-dict order)
            self.register_buffer("lod", torch.zeros(()))
            for k in range(len(chans)):
                self.add_module(f"layer{2 * k}", blocks[2 * k])
                self.add_module(f"layer{2 * k + 1}", blocks[2 * k + 1])
                self.add_module(f"output{k}", rgb[k])
        # forward-order handles on the registered modules (plain attributes, not registered twice)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "to_rgb", rgb[-1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.config.layout == "genforce":
            z = pixel_norm(z)  # genforce's PGGANGenerator normalises z before layer0 normalises it again
        x = z.view(z.shape[0], self.config.z_dim, 1, 1)
        for block in self.blocks:
            x = block(x)
        return self.to_rgb(x)


# ====================================================================== reading state dicts
_NETDISSECT = re.compile(r"^layer(\d+)\.(conv\.weight|wscale\.b)$")
_NETDISSECT_RGB = re.compile(r"^output_(\d+)x(\d+)\.(conv\.weight|wscale\.b)$")
_PTRBLCK = re.compile(r"^features\.(\d+)\.(conv\.weight|wscale\.b|wscale\.scale)$|^output\.(conv\.weight|wscale\.b|wscale\.scale)$")
_GENFORCE = re.compile(r"^(layer|output)(\d+)\.(weight|bias)$|^lod$")


def sniff_layout(sd: Mapping[str, Any]) -> str | None:
    """``"netdissect"``, ``"ptrblck"``, ``"genforce"`` or None, from the key names alone."""
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(k, str) for k in sd):
        return None
    keys = list(sd)
    if "layer1.conv.weight" in sd and any(_NETDISSECT_RGB.match(k) for k in keys):
        return "netdissect"
    if "features.0.conv.weight" in sd and any(k.startswith("output.") for k in keys):
        return "ptrblck"
    if "layer0.weight" in sd and "output0.weight" in sd:
        return "genforce"
    return None


def _tensor(sd: Mapping[str, Any], key: str, dims: int) -> torch.Tensor:
    t = sd.get(key)
    if t is None:
        raise LoadError(f"the ProGAN state dict lacks {key!r}")
    if not isinstance(t, torch.Tensor) or t.dim() != dims or not t.is_floating_point():
        shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise LoadError(f"{key!r} is {shape}, a ProGAN has a floating tensor of {dims} dimensions there")
    return t


def config_from_state_dict(sd: Mapping[str, Any], layout: str) -> ProGANConfig:
    """``sizes`` from the conv shapes (netdissect's ``sizes_from_state_dict``); `LoadError` when they do not fit."""
    if layout == "netdissect":
        first, conv = "layer1.conv.weight", "layer{}.conv.weight"
        n = max(int(m.group(1)) for k in sd if (m := _NETDISSECT.match(k)))
        index = list(range(1, n + 1))
    elif layout == "ptrblck":
        first, conv = "features.0.conv.weight", "features.{}.conv.weight"
        n = 1 + max(int(m.group(1)) for k in sd if (m := _PTRBLCK.match(k)) and m.group(1) is not None)
        index = list(range(n))
    else:
        first, conv = "layer0.weight", "layer{}.weight"
        n = 1 + max(int(m.group(2)) for k in sd if (m := _GENFORCE.match(k)) and m.group(1) == "layer")
        index = list(range(n))
    if n < 2 or n % 2:
        raise LoadError(f"the ProGAN state dict has {n} conv layers; a ProGAN has two per resolution")
    w0 = _tensor(sd, first, 4)
    if tuple(w0.shape[2:]) != (4, 4):
        raise LoadError(f"{first!r} has kernel {tuple(w0.shape[2:])}; a ProGAN's first layer is a 4x4 conv")
    sizes = [int(w0.shape[1])]
    for k in range(n // 2):
        sizes.append(int(_tensor(sd, conv.format(index[2 * k]), 4).shape[0]))
    cfg = ProGANConfig(tuple(sizes), layout)
    if min(sizes) < 1:
        raise LoadError("the ProGAN state dict has a layer with no channels")
    return cfg


def net_from_state_dict(sd: Mapping[str, Any], layout: str | None = None) -> ProGANNet:
    """Sniff (or take) the layout, infer the sizes, build and load the net; `LoadError` when it does not fit."""
    layout = layout or sniff_layout(sd)
    if layout is None:
        raise LoadError("the state dict is not in a ProGAN layout (netdissect layer1.*, ptrblck features.*, genforce layer0.*)")
    if layout == "ptrblck":
        layers = [k.removesuffix(".conv.weight") for k in sd if k.endswith(".conv.weight")]
        scaled = [n for n in layers if f"{n}.wscale.scale" in sd]
        if not scaled:
            layout = "netdissect-old"  # netdissect's "old" names: no stored scales, He constants
        elif len(scaled) != len(layers):
            missing = next(n for n in layers if n not in scaled)
            raise LoadError(f"the ProGAN state dict lacks {missing + '.wscale.scale'!r}: every ptrblck layer stores its weight scale")
    if layout == "netdissect-old":
        sd = _rename_old(sd)
        layout = "netdissect"
    cfg = config_from_state_dict(sd, layout)
    widest = max(c * (4 * 2**i) ** 2 for i, c in enumerate(cfg.sizes[1:]))
    net = build_within_budget(lambda: ProGANNet(cfg), widest, cfg.resolution, "ProGAN")
    load_state_dict_checked(net, sd, f"{cfg.resolution}px ProGAN ({layout} layout)")
    if layout == "genforce" and float(net.lod) != 0.0:
        raise LoadError(
            f"the PGGAN was saved mid-training at level of detail {float(net.lod):g}; only finished generators (lod 0) are opened"
        )
    return net


def _rename_old(sd: Mapping[str, Any]) -> dict[str, Any]:
    """netdissect's ``from_old_pt_dict`` renaming: ``features.N`` -> ``layer{N+1}``, ``output`` -> ``output_RxR``."""
    n = 1 + max(int(m.group(1)) for k in sd if (m := _PTRBLCK.match(k)) and m.group(1) is not None)
    res = 4 * 2 ** (n // 2 - 1)
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if key.startswith("features."):
            idx, rest = key[len("features."):].split(".", 1)
            out[f"layer{int(idx) + 1}.{rest}"] = value
        elif key.startswith("output."):
            out[f"output_{res}x{res}." + key[len("output."):]] = value
        else:
            out[key] = value
    return out


# ====================================================================== the Generator
class ProGANGenerator(Generator):
    """A ProGAN behind the `Generator` interface: one global latent, ``[B, 1, z_dim]`` (z itself).

    GANSpace, GANLatentDiscovery and sefa all edit ProGAN's z directly (no layer-wise z),
    so ``num_layers = 1``; `map` is ``z[:, None]``.  ProGAN has no truncation: the latent
    average is 0 and `truncate` scales z, which pixel norm then undoes (``G(c·z) = G(z)``),
    so the default truncation is 1.
    """

    family = "progan"
    default_truncation = 1.0
    #: GANSpace's activation-space PCA on the first block's output (4×4), as BigGAN's first linear layer
    default_pca_layer = "layer1"
    #: how the original turns images into bytes (`models.frames.to_uint8`): GANSpace floors
    #: ``clip(0.5·(x+1), 0, 1)·255``, and so does GANLatentDiscovery except that its clamp is
    #: discarded (out-of-range pixels wrap around; we clip, deliberately); sefa's ``postprocess``
    #: rounds half up, ``floor(clip((x+1)·127.5 + 0.5, 0, 255))``.  Set per layout in ``__init__``.
    uint8_convention = "floor"

    def __init__(self, net: ProGANNet, device: torch.device | str = "cpu", name: str = "progan", fingerprint: str = ""):
        super().__init__(net, device, name, fingerprint)
        cfg = net.config
        self.layout = cfg.layout
        self.z_dim = self.latent_dim = cfg.z_dim
        self.num_layers = 1
        self.resolution = cfg.resolution
        self.uint8_convention = "half_up" if cfg.layout == "genforce" else "floor"
        named: dict[str, nn.Module] = {f"layer{i + 1}": b for i, b in enumerate(net.blocks)}
        named["output"] = net.to_rgb
        self._named = named

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[n, z_dim]`` -> ``[n, 1, z_dim]``."""
        return z.to(self.device, torch.float32)[:, None, :]

    def synthesize(self, latents, classes=None, truncation=None, noise_mode=None) -> torch.Tensor:
        """``[B, 1, z_dim]`` -> raw image ``[B, 3, R, R]``, nominally [-1, 1] (not clamped); no noise, no classes."""
        if latents.dim() != 3 or tuple(latents.shape[1:]) != (1, self.latent_dim):
            raise ValueError(f"latents must be [B, 1, {self.latent_dim}], got {list(latents.shape)}")
        return self.net(latents[:, 0].to(self.device, torch.float32))

    def _layers(self) -> dict[str, nn.Module]:
        """``layer1`` … ``layerN`` (each conv block's activation ``[B, C, r, r]``; layer1 is 4×4) and ``output`` (the image)."""
        return self._named

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """The first 4x4 conv on the 1x1 z is linear in z: ``A [c4·4·4, z_dim]``, one row per output
        value, as sefa factorises PGGAN's ``layer0`` (its pixel norm only rescales z)."""
        w = self.net.blocks[0]
        weight = w.weight if self.layout == "genforce" else w.conv.weight  # [c4, z, 4, 4]
        return [(0, "conv", weight.detach().permute(0, 2, 3, 1).reshape(-1, weight.shape[1]))]

    def describe_layers(self) -> list[str]:
        return [f"z ({self.resolution}² image)"]

    def info(self) -> dict:
        return {**super().info(), "layout": self.layout}


def build_generator(sd: Mapping[str, Any], device, name: str, fingerprint: str, layout: str | None = None) -> ProGANGenerator:
    """A state dict in any ProGAN layout -> `ProGANGenerator` (`LoadError` when it does not fit)."""
    net = net_from_state_dict(sd, layout)
    gen = ProGANGenerator(net, device, name, fingerprint)
    if layout is None and "features.0.conv.weight" in sd and "features.0.wscale.scale" not in sd:
        gen.notes.append("The file has ptrblck's names but no wscale.scale, so the He constant is used as netdissect does.")
    return gen


def unwrap(obj: Any) -> Any:
    """netdissect's ``{'state_dict': sd}`` wrapper, removed."""
    if isinstance(obj, dict) and set(obj) == {"state_dict"} and isinstance(obj["state_dict"], dict):
        return obj["state_dict"]
    return obj


def is_progan_checkpoint(obj: Any) -> bool:
    """A plain (or ``{'state_dict': …}``-wrapped) netdissect or ptrblck ProGAN state dict, or a
    genforce PGGAN generator state dict on its own."""
    return sniff_layout(unwrap(obj)) is not None


def load_checkpoint(obj: Any, path, device, name: str, fingerprint: str) -> ProGANGenerator:
    """Builder for `models.loading.register_family`."""
    from pathlib import Path

    try:
        return build_generator(unwrap(obj), device, name, fingerprint)
    except LoadError as exc:
        raise LoadError(f"{Path(path).name}: {exc}") from None
