"""Semantic extractors over generator feature maps (METHODS.md §6): LSE, NSE-1, NSE-2.

An extractor reads the activations ``F_i [B, dims_i, r_i, r_i]`` of a set of generator
layers (``G.features``) and returns class logits ``Y [B, n_class, S, S]`` at the label
resolution ``S`` (the model's image resolution).

- LSE:   ``y_i = C_i · F_i`` (1x1 conv, no bias);  ``Y = Σ_i w_i · up(y_i)``.
  Both steps are linear, so Y is linear in the concatenated features.
- NSE-1: ``y_i = conv(mid→C)(ReLU(conv(mid→mid)(… ReLU(conv(dims_i→mid)(F_i)))))``,
  ``mid = (dims_i + C) // 2``, bias on; the same weighted sum.
- NSE-2: ``h = ReLU(conv3x3(F_0))``; for i ≥ 1: ``h = up2_nearest(h)`` when the resolution
  doubles, ``h = ReLU(conv3x3_rev(h)) + ReLU(conv3x3(F_i))``; ``Y = up(conv3x3(h → C))``.

``up`` is bilinear resizing with ``align_corners=True``.  Layer weights:
``w = softplus(θ) / Σ softplus(θ)`` ("softplus"), ``sigmoid(θ) / Σ sigmoid(θ)`` ("sigmoid"),
or a plain sum ``Y = Σ_i up(y_i)`` ("none", the few-shot setting).

Files are ``torch.save`` of a plain dict — ``format``, ``version``, ``meta`` (a JSON string:
kind, architecture, layers, classes, colours, the model's identity, training figures) and
``state`` (a dict of tensors) — so `torch.load(weights_only=True)` reads them.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from models.atomic import atomic_path
from models.bounded import InputLimitError, loads_json, safe_torch_load

from .common import SemanticsError, check_classes, check_colors, default_colors, model_identity

FORMAT = "latent-studio.semantics"
VERSION = 1
KINDS = ("lse", "nse1", "nse2")
LW_TYPES = ("softplus", "sigmoid", "none")


# ====================================================================== layers
def default_feature_layers(G) -> list[str]:
    """The family's feature maps before the image, in forward order.

    DCGAN: ``block1 .. blockN`` (every up-block's ReLU output); StyleGAN2: ``conv1`` and every
    ``convs.k`` (the synthesis convs, not the ToRGBs, as LinearGAN does); BigGAN:
    ``generator.layers.k``.  Other families: every named layer but the last.
    """
    names = [n for n in G.layer_names() if n != "latent"]
    family = getattr(G, "family", "")
    if family == "dcgan":
        return [n for n in names if n.startswith("block")]
    if family == "stylegan2":
        return [n for n in names if n == "conv1" or n.startswith("convs.")]
    if family == "biggan":
        return [n for n in names if n.startswith("generator.layers.")]
    return names[:-1]


def default_lse_layers(G) -> list[str]:
    """The layers an LSE reads by default: `default_feature_layers`, but on DCGANs only the two finest.

    DCGAN features are not normalised (StyleGAN2's are, by its modulation), and 8-shot LSEs on
    dcgan-faces memorise the 512-channel 4×4 ``block1`` (and the 8×8 ``block2``): without them
    held-out mIoU rose from 0.48/0.41 to 0.57/0.67 for the proxy/grey labellings
    (benchmarks/lse_generalisation.py; README "Linear semantics").
    """
    layers = default_feature_layers(G)
    return layers[-2:] if getattr(G, "family", "") == "dcgan" and len(layers) > 2 else layers


def feature_shapes(G, layers: Sequence[str], classes: torch.Tensor | None = None) -> list[tuple[int, int, int]]:
    """Per-sample shapes ``(C, H, W)`` of ``layers`` (one forward pass of one sample)."""
    with torch.no_grad():
        feats = G.features(G.sample(1, 0), list(layers), classes=classes)
    shapes = []
    for name in layers:
        shape = tuple(feats[name].shape[1:])
        if len(shape) != 3:
            raise SemanticsError(f"layer {name!r} gives activations of shape {list(shape)}, not a feature map [C, H, W]")
        shapes.append(shape)  # type: ignore[arg-type]
    return shapes  # type: ignore[return-value]


def extract_features(
    G, latents: torch.Tensor, layers: Sequence[str], classes: torch.Tensor | None = None,
    truncation: float | None = None, noise_mode: str | None = None,
) -> list[torch.Tensor]:
    """``[F_i [B, dims_i, r_i, r_i]]`` for per-layer latents ``[B, L, D]``; gradients flow when enabled.

    ``noise_mode`` as in `models.base.Generator.synthesize` (None: the generator's own)."""
    feats = G.features(latents, list(layers), classes=classes, truncation=truncation, noise_mode=noise_mode)
    return [feats[n] for n in layers]


_INTERP: dict[tuple, torch.Tensor] = {}


def interp_matrix(n_in: int, n_out: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """1-D linear interpolation with ``align_corners=True`` as a matrix ``A [n_out, n_in]``.

    Output sample i sits at ``t = i·(n_in−1)/(n_out−1)``; ``A[i, ⌊t⌋] = 1 − frac(t)``,
    ``A[i, ⌊t⌋+1] = frac(t)``.  Bilinear resizing of ``x [.., h, w]`` is ``A_h · x · A_wᵀ``.
    """
    key = (n_in, n_out, str(device), dtype)
    a = _INTERP.get(key)
    if a is None:
        a64 = torch.zeros(n_out, n_in, dtype=torch.float64)
        if n_in == 1 or n_out == 1:
            a64[:, 0] = 1.0
        else:
            t = torch.arange(n_out, dtype=torch.float64) * (n_in - 1) / (n_out - 1)
            lo = t.floor().long().clamp(max=n_in - 2)
            frac = t - lo
            a64[torch.arange(n_out), lo] = 1 - frac
            a64[torch.arange(n_out), lo + 1] += frac
        a = _INTERP[key] = a64.to(device, dtype)
    return a


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize ``[B, C, h, w] -> [B, C, size, size]`` (align_corners=True); identity if equal.

    Computed as two small matrix products (same values as ``F.interpolate(..., "bilinear",
    align_corners=True)`` to float rounding), whose backward pass is much faster on CPUs.
    """
    h, w = x.shape[-2], x.shape[-1]
    if h == size and w == size:
        return x
    ah = interp_matrix(h, size, x.device, x.dtype)
    aw = ah if w == h else interp_matrix(w, size, x.device, x.dtype)
    lead = x.shape[:-2]
    y = torch.mm(x.reshape(-1, w), aw.t())  # [(…·h), S]: along the width
    y = y.view(-1, h, size).transpose(1, 2).reshape(-1, h)  # [(…·S), h]
    y = torch.mm(y, ah.t())  # [(…·S_w), S_h]: along the height
    return y.view(-1, size, size).transpose(1, 2).reshape(*lead, size, size)


def _pointwise(mod: nn.Module) -> bool:
    """True for modules that act on each pixel alone: 1x1 convolutions (stride 1, no padding) and ReLUs."""
    if isinstance(mod, nn.ReLU):
        return True
    return (isinstance(mod, nn.Conv2d) and mod.kernel_size == (1, 1) and mod.stride == (1, 1)
            and mod.padding == (0, 0) and mod.groups == 1 and mod.dilation == (1, 1))


def _run(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A conv head (a Conv2d or a Sequential of Conv2d/ReLU) on ``x [B, C, h, w]``.

    Heads made only of 1x1 convolutions and ReLUs run on the pixels as rows of one matrix
    (``[B·h·w, C] @ Wᵀ``), which on CPUs is several times faster than ``conv2d`` for these
    small maps; the result is the same.
    """
    mods = [head] if isinstance(head, nn.Conv2d) else list(head)
    if not all(_pointwise(m) for m in mods):
        return head(x)
    b, c, h, w = x.shape
    y = x.permute(0, 2, 3, 1).reshape(-1, c)  # [B·h·w, C]
    for m in mods:
        if isinstance(m, nn.Conv2d):
            wt = m.weight.view(m.out_channels, -1).t()
            y = torch.addmm(m.bias, y, wt) if m.bias is not None else torch.mm(y, wt)
        else:
            y = F.relu(y)
    return y.view(b, h, w, -1).permute(0, 3, 1, 2)


# ====================================================================== networks
class LayerwiseExtractor(nn.Module):
    """Base of LSE and NSE-1: one head per layer, heads' logits resized and combined."""

    def __init__(self, dims: Sequence[int], n_class: int, lw_type: str):
        super().__init__()
        if lw_type not in LW_TYPES:
            raise SemanticsError(f"layer weighting {lw_type!r} is not one of {', '.join(LW_TYPES)}")
        self.dims, self.n_class, self.lw_type = list(dims), int(n_class), lw_type
        self.heads = nn.ModuleList()
        #: θ of the layer weights (unused with lw_type "none")
        self.layer_weight = nn.Parameter(torch.ones(len(self.dims)))

    def weights(self) -> torch.Tensor:
        """Layer weights ``w [n_layers]``: normalised softplus/sigmoid of θ, or ones for "none"."""
        if self.lw_type == "none":
            return torch.ones_like(self.layer_weight)
        w = F.softplus(self.layer_weight) if self.lw_type == "softplus" else torch.sigmoid(self.layer_weight)
        return w / w.sum()

    def layer_logits(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Each head's logits at its own resolution, ``[B, n_class, r_i, r_i]``."""
        if len(feats) != len(self.heads):
            raise SemanticsError(f"the extractor reads {len(self.heads)} feature maps, {len(feats)} were given")
        return [_run(head, f) for head, f in zip(self.heads, feats)]

    def forward(self, feats: Sequence[torch.Tensor], size: int) -> torch.Tensor:
        """Features -> logits ``[B, n_class, size, size]``: ``Σ_i w_i · up(y_i)``."""
        w = None if self.lw_type == "none" else self.weights()
        out = None
        for i, y in enumerate(self.layer_logits(feats)):
            term = _resize(y, size)
            if w is not None:
                term = term * w[i]
            out = term if out is None else out + term
        return out  # type: ignore[return-value]


class LSE(LayerwiseExtractor):
    """Linear semantic extractor: a bias-free 1x1 conv ``dims_i -> n_class`` per layer."""

    def __init__(self, dims: Sequence[int], n_class: int, lw_type: str = "softplus"):
        super().__init__(dims, n_class, lw_type)
        for d in self.dims:
            self.heads.append(nn.Conv2d(d, self.n_class, 1, bias=False))


class NSE1(LayerwiseExtractor):
    """NSE-1: per layer ``conv(d→mid) → ReLU → (n_layers−2)×[conv(mid→mid) → ReLU] → conv(mid→C)``."""

    def __init__(self, dims: Sequence[int], n_class: int, lw_type: str = "softplus", ksize: int = 1, n_layers: int = 3):
        super().__init__(dims, n_class, lw_type)
        if ksize not in (1, 3):
            raise SemanticsError(f"NSE-1 kernel size must be 1 or 3, not {ksize}")
        if n_layers < 2:
            raise SemanticsError(f"NSE-1 needs at least 2 convolutions per layer, not {n_layers}")
        self.ksize, self.n_layers = ksize, n_layers
        pad = ksize // 2
        for d in self.dims:
            mid = (d + self.n_class) // 2
            mods: list[nn.Module] = [nn.Conv2d(d, mid, ksize, padding=pad), nn.ReLU()]
            for _ in range(n_layers - 2):
                mods += [nn.Conv2d(mid, mid, ksize, padding=pad), nn.ReLU()]
            mods.append(nn.Conv2d(mid, self.n_class, ksize, padding=pad))
            self.heads.append(nn.Sequential(*mods))


class NSE2(nn.Module):
    """NSE-2, generator-like: a hidden map carried from coarse to fine layers, revised at each."""

    def __init__(self, dims: Sequence[int], n_class: int, ksize: int = 3):
        super().__init__()
        self.dims, self.n_class, self.ksize = list(dims), int(n_class), ksize
        pad = ksize // 2
        self.extract = nn.ModuleList([nn.Conv2d(d, d, ksize, padding=pad) for d in self.dims])
        self.revise = nn.ModuleList([nn.Conv2d(a, b, ksize, padding=pad) for a, b in zip(self.dims[:-1], self.dims[1:])])
        self.visualize = nn.Conv2d(self.dims[-1], self.n_class, ksize, padding=pad)

    def forward(self, feats: Sequence[torch.Tensor], size: int) -> torch.Tensor:
        """Features (coarse to fine) -> logits ``[B, n_class, size, size]``."""
        if len(feats) != len(self.extract):
            raise SemanticsError(f"the extractor reads {len(self.extract)} feature maps, {len(feats)} were given")
        hidden = F.relu(self.extract[0](feats[0]))
        for i in range(1, len(feats)):
            f = feats[i]
            if hidden.shape[-2:] != f.shape[-2:]:
                # 2x nearest upsampling when the resolution doubles (any other ratio: nearest resize)
                hidden = F.interpolate(hidden, size=tuple(f.shape[-2:]), mode="nearest")
            hidden = F.relu(self.revise[i - 1](hidden)) + F.relu(self.extract[i](f))
        return _resize(self.visualize(hidden), size)


def build_net(kind: str, dims: Sequence[int], n_class: int, arch: dict) -> nn.Module:
    """The network of ``kind`` ("lse", "nse1", "nse2") for layer widths ``dims``."""
    if kind == "lse":
        return LSE(dims, n_class, arch.get("lw_type", "softplus"))
    if kind == "nse1":
        return NSE1(dims, n_class, arch.get("lw_type", "softplus"), int(arch.get("ksize", 1)), int(arch.get("n_layers", 3)))
    if kind == "nse2":
        return NSE2(dims, n_class, int(arch.get("ksize", 3)))
    raise SemanticsError(f"extractor kind {kind!r} is not one of {', '.join(KINDS)}")


# ====================================================================== the extractor object
@dataclass
class SemanticExtractor:
    """A trained extractor with everything needed to use and save it.

    ``net``: the LSE/NSE module; ``layers``: the generator layers it reads (forward order);
    ``dims``: their channel counts; ``size``: label resolution S (logits are ``[B, C, S, S]``);
    ``classes``/``colors``: names and RGB colours, class 0 = background; ``model``: the
    generator's identity (`common.model_identity`); ``arch``: architecture options;
    ``info``: JSON-able training figures.
    """

    net: nn.Module
    kind: str
    layers: list[str]
    dims: list[int]
    size: int
    classes: list[str]
    colors: list[tuple[int, int, int]]
    model: dict
    arch: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @classmethod
    def create(
        cls, G, kind: str, classes: Sequence[str], colors: Sequence | None = None, layers: Sequence[str] | None = None,
        arch: dict | None = None, seed: int = 0,
    ) -> "SemanticExtractor":
        """A freshly initialised (seeded) extractor for ``G`` reading ``layers`` (default: `default_feature_layers`)."""
        classes = check_classes(list(classes), "extractor")
        colors = check_colors(list(colors), len(classes), "extractor") if colors is not None else default_colors(len(classes))
        layers = list(layers) if layers else default_feature_layers(G)
        known = set(G.layer_names())
        bad = [n for n in layers if n not in known or n == "latent"]
        if bad:
            raise SemanticsError(f"layer {bad[0]!r} is not a feature layer of {G.name} ({', '.join(n for n in known if n != 'latent')})")
        dims = [s[0] for s in feature_shapes(G, layers)]
        arch = dict(arch or {})
        if kind in ("lse", "nse1"):
            arch.setdefault("lw_type", "softplus")
        if kind == "nse1":
            arch.setdefault("ksize", 1)
            arch.setdefault("n_layers", 3)
        if kind == "nse2":
            arch.setdefault("ksize", 3)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_net(kind, dims, len(classes), arch)
        net = net.to(G.device)
        return cls(net, kind, layers, dims, int(G.resolution), classes, colors, model_identity(G), arch)

    @property
    def n_class(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> "SemanticExtractor":
        self.net = self.net.to(device)
        return self

    # ------------------------------------------------------------------ use
    def check_model(self, G) -> None:
        """Raise `SemanticsError` unless this extractor was trained on ``G``'s weights."""
        m = self.model
        if m.get("fingerprint") and G.fingerprint != m["fingerprint"]:
            raise SemanticsError(
                f"this extractor was trained for model {m.get('name')} (weights {m['fingerprint']}), "
                f"not for {G.name} (weights {G.fingerprint})"
            )
        if int(m.get("resolution", G.resolution)) != int(G.resolution):
            raise SemanticsError(f"this extractor makes {m['resolution']}px masks but {G.name} makes {G.resolution}px images")
        missing = [n for n in self.layers if n not in G.layer_names()]
        if missing:
            raise SemanticsError(f"this extractor reads layer {missing[0]!r}, which {G.name} does not have")

    def logits_from_features(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Features (in `layers` order) -> logits ``[B, n_class, size, size]``."""
        for name, d, f in zip(self.layers, self.dims, feats):
            if f.dim() != 4 or f.shape[1] != d:
                raise SemanticsError(f"layer {name!r} gives {list(f.shape[1:])} activations, the extractor expects {d} channels")
        return self.net(list(feats), self.size)

    def logits(self, G, latents: torch.Tensor, classes: torch.Tensor | None = None, truncation: float | None = None) -> torch.Tensor:
        """Per-layer latents ``[B, L, D]`` -> logits ``[B, n_class, S, S]``; differentiable in the latents."""
        return self.logits_from_features(extract_features(G, latents, self.layers, classes, truncation))

    @torch.no_grad()
    def predict(self, G, latents: torch.Tensor, batch: int = 32, classes: torch.Tensor | None = None,
                truncation: float | None = None) -> torch.Tensor:
        """Per-layer latents ``[B, L, D]`` -> class map ``[B, S, S]`` (int64, argmax of the logits)."""
        out = []
        for s in range(0, latents.shape[0], batch):
            cl = classes[s: s + batch] if classes is not None else None
            out.append(self.logits(G, latents[s: s + batch], cl, truncation).argmax(1))
        return torch.cat(out) if out else torch.zeros(0, self.size, self.size, dtype=torch.long)

    # ------------------------------------------------------------------ files
    def meta(self) -> dict:
        return {
            "kind": self.kind, "layers": list(self.layers), "dims": list(self.dims), "size": int(self.size),
            "classes": list(self.classes), "colors": [list(c) for c in self.colors], "model": dict(self.model),
            "arch": dict(self.arch), "info": dict(self.info),
        }

    def save(self, path: str | Path) -> None:
        """Write the extractor atomically (``torch.save`` of plain data, readable with weights_only=True)."""
        info = dict(self.info)
        info.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        self.info = info
        blob = {
            "format": FORMAT,
            "version": VERSION,
            "meta": json.dumps(self.meta()),
            "state": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
        }
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)

    @classmethod
    def load(cls, path: str | Path, G=None, device: torch.device | str | None = None) -> "SemanticExtractor":
        """Read an extractor file; with ``G``, also check it belongs to ``G`` and move it to ``G.device``."""
        path = Path(path)
        name = path.name
        if not path.is_file():
            raise SemanticsError(f"extractor file {path} does not exist")
        try:
            blob = safe_torch_load(path, what=name)
        except InputLimitError as exc:
            raise SemanticsError(str(exc)) from None
        except Exception:  # noqa: BLE001 - any unreadable or unsafe file gets the same sentence
            raise SemanticsError(f"{name} is not a semantic extractor file (it could not be read as plain tensors)") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise SemanticsError(f"{name} is not a Latent Studio semantic extractor file")
        if not isinstance(blob.get("version"), int) or blob["version"] > VERSION:
            raise SemanticsError(f"{name} was written by a newer version of Latent Studio (format version {blob.get('version')})")
        try:
            meta = loads_json(blob["meta"], what=f"{name}'s meta")
            state = blob["state"]
            kind, layers, dims = str(meta["kind"]), [str(x) for x in meta["layers"]], [int(x) for x in meta["dims"]]
            classes = check_classes(meta["classes"], name)
            colors = check_colors([tuple(c) if isinstance(c, list) else c for c in meta["colors"]], len(classes), name)
            size, model, arch, info = int(meta["size"]), dict(meta["model"]), dict(meta.get("arch", {})), dict(meta.get("info", {}))
        except SemanticsError:
            raise
        except InputLimitError as exc:
            raise SemanticsError(str(exc)) from None
        except (KeyError, TypeError, ValueError, OverflowError, json.JSONDecodeError):
            raise SemanticsError(f"{name}: the extractor description is damaged or incomplete") from None
        if not dims or len(dims) > 64 or not all(0 < d <= 1 << 16 for d in dims) or not 0 < size <= 8192:
            raise SemanticsError(f"{name}: the extractor description declares layer sizes or an image size out of range")
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise SemanticsError(f"{name}: the extractor weights are not a dict of tensors")
        net = build_net(kind, dims, len(classes), arch)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError:
            raise SemanticsError(f"{name}: the stored weights do not fit a {kind} extractor with these layers") from None
        ext = cls(net, kind, layers, dims, size, classes, colors, model, arch, info)
        if G is not None:
            ext.check_model(G)
            device = G.device
        if device is not None:
            ext.to(device)
        ext.net.eval()
        return ext
