"""BigGAN-deep generators in the layout of the published PyTorch port (biggan-deep-128/256/512).

A checkpoint is a ``config.json`` plus a ``pytorch_model.bin`` state dict, as written by the
``pytorch-pretrained-biggan`` package; this module is our own implementation of the same
network, so the state dicts are interchangeable and the images agree to float precision.

Network (z_dim = 128, ch = channel_width, C = num_classes)::

    e      = E · y                                   y: one-hot or mix [B, C], E: Linear(C, z_dim)
    c_i    = [z_i, e]                                one condition vector per block, [B, 2·z_dim]
    x      = gen_z(c_0)  -> [B, 16·ch, 4, 4]         (TF layout: view as [B, 4, 4, 16·ch], permute)
    x      = GenBlock_k(x, c_{k+1}, t)  for k = 0..n-1, SelfAttn before block `attention_layer_position`
    image  = tanh(conv_to_rgb(relu(BN(x, t)))[:, :3])  in [-1, 1], [B, 3, R, R]

The released model feeds the same c to every block; Latent Studio's per-layer latents
``[B, num_blocks + 1, z_dim]`` give each block its own z as GANSpace's "layer-wise" BigGAN does.

Two port behaviours are reproduced on purpose (the weights were converted with them):

- spectral norm in eval mode: ``W_sn = W / σ`` with ``σ = uᵀ·mat(W)·v`` from the *stored*
  ``weight_u``/``weight_v`` buffers, no power iteration (the port's torch.nn.utils.spectral_norm);
- truncation-dependent batch norm: statistics were measured at truncations ``t_k = k/(n_stats-1)``
  and between grid points the port blends them with swapped weights (see `BigGANBatchNorm`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator, LoadError
from .bounded import InputLimitError, check_model_size, module_bytes, short_repr

#: where the 1000 ImageNet class names live, one per line, in class-index order
CLASS_NAMES_FILE = Path(__file__).resolve().parent.parent / "resources" / "imagenet_classes.txt"

#: channel multipliers per resolution stage (4², 8², …) of the published models; each stage
#: after the first is two blocks: (no upsample, a -> a), (upsample, a -> b)
_PUBLISHED_STAGES: dict[int, list[int]] = {
    128: [16, 16, 8, 4, 2, 1],
    256: [16, 16, 8, 8, 4, 2, 1],
    512: [16, 16, 8, 8, 4, 2, 1, 1],
}


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (``resources/imagenet_classes.txt``)."""
    try:
        names = CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return tuple(f"class {i}" for i in range(1000))
    return tuple(n.strip() for n in names if n.strip())


# ---------------------------------------------------------------------------------- config
#: bounds on config.json's numbers (the published files: n_stats 51, ≤ 1000 classes, ≤ 16 layers)
MAX_N_STATS = 1001
MAX_CONFIG_INT = 1 << 20
MAX_LAYERS = 64
MAX_MULTIPLIER = 1024

@dataclass(frozen=True)
class BigGANConfig:
    """The fields of the port's ``config.json`` that shape the network.

    ``layers`` holds one ``(upsample, in_mult, out_mult)`` per GenBlock; channels are
    ``channel_width · mult``.  ``class_embed_dim`` is ignored by the port (the class
    embedding always has ``z_dim`` entries), and so it is here.
    """

    output_dim: int = 128
    z_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: tuple[tuple[bool, int, int], ...] = ()
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51

    @classmethod
    def published(cls, resolution: int = 128, channel_width: int = 128) -> "BigGANConfig":
        """The layout of biggan-deep-``resolution`` (128, 256 or 512), optionally narrower."""
        stages = _PUBLISHED_STAGES[resolution]
        layers: list[tuple[bool, int, int]] = []
        for a, b in zip(stages[:-1], stages[1:]):
            layers += [(False, a, a), (True, a, b)]
        return cls(output_dim=resolution, channel_width=channel_width, layers=tuple(layers))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "BigGANConfig":
        """Validate a parsed ``config.json``; missing keys take the port's defaults (the 128 model)."""
        default = cls.published(128)

        def integer(key: str, default_value: int, minimum: int = 1, maximum: int = MAX_CONFIG_INT) -> int:
            value = raw.get(key, default_value)
            if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
                raise LoadError(f"config.json's {key} is {short_repr(value)}, but a BigGAN config needs an integer "
                                f"from {minimum} to {maximum}")
            return value

        layers_raw = raw.get("layers", default.layers)
        layers: list[tuple[bool, int, int]] = []
        if not isinstance(layers_raw, (list, tuple)) or not layers_raw or len(layers_raw) > MAX_LAYERS:
            raise LoadError(f"config.json's layers must be a list of 1 to {MAX_LAYERS} [upsample, in, out] entries")
        for i, entry in enumerate(layers_raw):
            ok = (
                isinstance(entry, (list, tuple))
                and len(entry) == 3
                and isinstance(entry[0], bool)
                and all(isinstance(m, int) and not isinstance(m, bool) and 0 < m <= MAX_MULTIPLIER for m in entry[1:])
            )
            if not ok:
                raise LoadError(f"config.json's layers[{i}] is {short_repr(entry)}, not an [upsample, in, out] entry such as [true, 16, 8]")
            layers.append((bool(entry[0]), int(entry[1]), int(entry[2])))
        eps = raw.get("eps", default.eps)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
            raise LoadError(f"config.json's eps is {short_repr(eps)}, but it must be a number between 0 and 1")
        attention = raw.get("attention_layer_position", default.attention_layer_position)
        if isinstance(attention, bool) or not isinstance(attention, int) or abs(attention) > MAX_CONFIG_INT:
            raise LoadError(f"config.json's attention_layer_position is {short_repr(attention)}, not an integer")
        cfg = cls(
            output_dim=integer("output_dim", default.output_dim),
            z_dim=integer("z_dim", default.z_dim),
            channel_width=integer("channel_width", default.channel_width),
            num_classes=integer("num_classes", default.num_classes),
            layers=tuple(layers),
            attention_layer_position=attention,
            eps=float(eps),
            n_stats=integer("n_stats", default.n_stats, minimum=2, maximum=MAX_N_STATS),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise `LoadError` unless the blocks chain into a 3-channel image of ``output_dim`` pixels."""
        width = 16
        for i, (_up, cin, cout) in enumerate(self.layers):
            if cin != width:
                raise LoadError(f"config.json's layers[{i}] takes {cin}·channel_width channels but the layer before gives {width}·channel_width")
            c_in, c_out = cin * self.channel_width, cout * self.channel_width
            # the residual path keeps x or drops its second half: out = in or in / 2
            if c_out != c_in and (c_in % 2 or c_out != c_in // 2):
                raise LoadError(f"config.json's layers[{i}] goes from {cin} to {cout}; a BigGAN-deep block keeps or halves its channels")
            if c_in < 4:
                raise LoadError(f"config.json's layers[{i}] has {c_in} channels, fewer than the 4 a bottleneck block needs")
            width = cout
        if width != 1:
            raise LoadError(f"config.json's last layer ends at {width}·channel_width channels, but conv_to_rgb takes 1·channel_width")
        if self.channel_width < 3:
            raise LoadError(f"config.json's channel_width is {self.channel_width}; the RGB output needs at least 3")
        if 0 <= self.attention_layer_position < len(self.layers):
            c = self.layers[self.attention_layer_position][1] * self.channel_width
            if c % 8:
                raise LoadError(f"the attention layer has {c} channels; self-attention needs a multiple of 8")
        if self.resolutions()[-1] != self.output_dim:
            raise LoadError(f"config.json says output_dim {self.output_dim} but its layers make {self.resolutions()[-1]}-pixel images")

    def resolutions(self) -> list[int]:
        """Output side length of the input layer and of each block: ``[4, r_0, r_1, …]``."""
        res = [4]
        for up, _cin, _cout in self.layers:
            res.append(res[-1] * 2 if up else res[-1])
        return res

    @property
    def has_attention(self) -> bool:
        return 0 <= self.attention_layer_position < len(self.layers)

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` content (what the port writes, ``class_embed_dim`` included)."""
        return {
            "output_dim": self.output_dim,
            "z_dim": self.z_dim,
            "class_embed_dim": self.z_dim,
            "channel_width": self.channel_width,
            "num_classes": self.num_classes,
            "layers": [list(layer) for layer in self.layers],
            "attention_layer_position": self.attention_layer_position,
            "eps": self.eps,
            "n_stats": self.n_stats,
        }


def looks_like_biggan_config(raw: Any) -> bool:
    """Whether a parsed ``config.json`` is meant for this family (it names BigGAN's own keys)."""
    return isinstance(raw, dict) and "layers" in raw and "channel_width" in raw


# ---------------------------------------------------------------------------------- layers
def _spectral_weight(module: nn.Module) -> torch.Tensor:
    """``W / σ`` with ``σ = uᵀ · mat(W) · v`` from the stored vectors (no power iteration).

    ``mat(W)`` flattens all but the output axis.  The result is cached per module and
    recomputed when ``weight_orig``, ``weight_u`` or ``weight_v`` change (load, ``.to()``,
    in-place edits); while ``weight_orig`` requires grad it is recomputed every call.
    """
    w, u, v = module.weight_orig, module.weight_u, module.weight_v

    def compute() -> torch.Tensor:
        sigma = torch.dot(u, torch.mv(w.reshape(w.shape[0], -1), v))
        return w / sigma

    if w.requires_grad:
        return compute()
    key = (w.data_ptr(), w._version, u.data_ptr(), u._version, v.data_ptr(), v._version, w.dtype, w.device)
    cached = module._sn_cache
    if cached is None or cached[0] != key:
        # a normal tensor even under inference_mode, so later autograd passes may save it
        with torch.inference_mode(False), torch.no_grad():
            cached = (key, compute())
        module._sn_cache = cached  # one assignment: safe if two threads race
    return cached[1]


class SNLinear(nn.Module):
    """Linear layer with a spectrally normalised weight: ``y = x · (W/σ)ᵀ + b``, x ``[B, in]``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("weight_u", torch.empty(out_features))
        self.register_buffer("weight_v", torch.empty(in_features))
        self._sn_cache: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, _spectral_weight(self), self.bias)


class SNConv2d(nn.Module):
    """k×k convolution (stride 1, 'same' padding) with a spectrally normalised weight, x ``[B, in, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, bias: bool = True):
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_orig = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("weight_u", torch.empty(out_channels))
        self.register_buffer("weight_v", torch.empty(in_channels * kernel_size * kernel_size))
        self._sn_cache: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, _spectral_weight(self), self.bias, padding=self.padding)


class BigGANBatchNorm(nn.Module):
    """Batch norm with fixed statistics chosen by the truncation, class-conditional or plain.

    ``running_means``/``running_vars`` ``[n_stats, C]`` hold statistics measured at
    ``t_k = k · s``, ``s = 1/(n_stats-1)``.  With ``k + f = t / s`` (integer k, 0 ≤ f < 1) the
    port uses, and so do we (note the weights: f goes to the *lower* grid point)::

        μ(t) = f · μ_k + (1 - f) · μ_{k+1}      (f > 0),      μ(t) = μ_k  (f = 0)

    so e.g. t = 0.2 (10.000000000000002 steps) reads μ_11, not μ_10.  Then
    conditional:  ``y = (x - μ) / sqrt(σ² + eps) · (1 + scale(c)) + offset(c)``;
    plain:        ``y = (x - μ) / sqrt(σ² + eps) · weight + bias``.
    The conditional case is computed as one fused ``y = x·a + b`` with
    ``a = (1 + scale(c)) / sqrt(σ² + eps)``, ``b = offset(c) - μ·a`` (equal to float rounding).
    """

    def __init__(self, num_features: int, condition_dim: int | None, n_stats: int, eps: float):
        super().__init__()
        self.eps = eps
        self.step_size = 1.0 / (n_stats - 1)
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.conditional = condition_dim is not None
        if condition_dim is not None:
            self.scale = SNLinear(condition_dim, num_features, bias=False)
            self.offset = SNLinear(condition_dim, num_features, bias=False)
        else:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ(t), σ²(t))``, each ``[C]``, blended exactly as the port does."""
        coef, start = math.modf(truncation / self.step_size)
        start = int(start)
        if coef != 0.0:
            mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
            var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
        else:
            mean, var = self.running_means[start], self.running_vars[start]
        return mean, var

    def forward(self, x: torch.Tensor, truncation: float, condition: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = self.statistics(truncation)
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)
        a = (1 + self.scale(condition)) * torch.rsqrt(var + self.eps)          # [B, C]
        b = self.offset(condition) - mean * a                                 # [B, C]
        return torch.addcmul(b[:, :, None, None], x, a[:, :, None, None])


class SelfAttn(nn.Module):
    """SAGAN self-attention, x ``[B, C, H, W]`` -> ``x + γ · o(g · softmax(θᵀφ)ᵀ)``.

    θ: 1×1 conv to C/8 at full resolution; φ (C/8) and g (C/2) are 2×2 max-pooled.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        theta = self.snconv1x1_theta(x).view(b, c // 8, h * w)                       # [B, C/8, N]
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).view(b, c // 8, h * w // 4)     # [B, C/8, N/4]
        attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)         # [B, N, N/4]
        g = F.max_pool2d(self.snconv1x1_g(x), 2).view(b, c // 2, h * w // 4)         # [B, C/2, N/4]
        attn_g = torch.bmm(g, attn.permute(0, 2, 1)).view(b, c // 2, h, w)           # [B, C/2, H, W]
        return x + self.gamma * self.snconv1x1_o_conv(attn_g)


class GenBlock(nn.Module):
    """Bottleneck residual block of BigGAN-deep; x ``[B, in, H, W]`` -> ``[B, out, H·u, W·u]``.

    main: BN-ReLU-conv1×1 (in -> in/4), BN-ReLU-[up]-conv3×3, BN-ReLU-conv3×3, BN-ReLU-conv1×1 (-> out);
    skip: x, its first ``out`` channels when out < in, [up]; every BN is conditioned on c.
    """

    def __init__(self, in_size: int, out_size: int, condition_dim: int, up_sample: bool, n_stats: int, eps: float):
        super().__init__()
        self.up_sample = up_sample
        self.drop_channels = in_size != out_size
        middle = in_size // 4
        self.bn_0 = BigGANBatchNorm(in_size, condition_dim, n_stats, eps)
        self.conv_0 = SNConv2d(in_size, middle, 1)
        self.bn_1 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_1 = SNConv2d(middle, middle, 3)
        self.bn_2 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_2 = SNConv2d(middle, middle, 3)
        self.bn_3 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_3 = SNConv2d(middle, out_size, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, truncation: float) -> torch.Tensor:
        skip = x
        # (in-place ReLUs act on fresh batch-norm outputs only)
        x = self.conv_0(F.relu(self.bn_0(x, truncation, condition), inplace=True))
        x = F.relu(self.bn_1(x, truncation, condition), inplace=True)
        if self.up_sample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv_1(x)
        x = self.conv_2(F.relu(self.bn_2(x, truncation, condition), inplace=True))
        x = self.conv_3(F.relu(self.bn_3(x, truncation, condition), inplace=True))
        if self.drop_channels:
            skip = skip[:, : skip.shape[1] // 2]
        if self.up_sample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return x + skip


class BigGANSynthesis(nn.Module):
    """The port's ``generator``: per-block conditions ``[B, L, 2·z_dim]`` -> image ``[B, 3, R, R]``."""

    def __init__(self, config: BigGANConfig):
        super().__init__()
        ch = config.channel_width
        cond = 2 * config.z_dim
        self.channel_width = ch
        self.gen_z = SNLinear(cond, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for i, (up, cin, cout) in enumerate(config.layers):
            if i == config.attention_layer_position:
                layers.append(SelfAttn(ch * cin))
            layers.append(GenBlock(ch * cin, ch * cout, cond, up, config.n_stats, config.eps))
        self.layers = nn.ModuleList(layers)
        self.bn = BigGANBatchNorm(ch, None, config.n_stats, config.eps)
        self.conv_to_rgb = SNConv2d(ch, ch, 3)

    def forward(self, conditions: torch.Tensor, truncation: float) -> torch.Tensor:
        b = conditions.shape[0]
        # TF weights: the linear output is laid out [B, 4, 4, 16·ch]; move channels first
        x = self.gen_z(conditions[:, 0]).view(b, 4, 4, 16 * self.channel_width).permute(0, 3, 1, 2).contiguous()
        block = 0
        for layer in self.layers:
            if isinstance(layer, GenBlock):
                block += 1
                x = layer(x, conditions[:, block], truncation)
            else:
                x = layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation), inplace=True))
        return torch.tanh(x[:, :3])


class BigGANNet(nn.Module):
    """``embeddings`` + ``generator`` with the port's module names, so its state dicts load as they are."""

    def __init__(self, config: BigGANConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.Linear(config.num_classes, config.z_dim, bias=False)
        self.generator = BigGANSynthesis(config)

    def forward(self, z: torch.Tensor, class_vector: torch.Tensor, truncation: float) -> torch.Tensor:
        """z ``[B, z_dim]`` (shared) or ``[B, L, z_dim]`` (per block), class_vector ``[B, C]`` -> ``[B, 3, R, R]``.

        ``c_i = [z_i, E·y]``; with ``z`` shared this is the port's ``BigGAN.forward``.
        """
        layers = len(self.config.layers) + 1
        if z.dim() == 2:
            z = z[:, None].expand(-1, layers, -1)
        embed = self.embeddings(class_vector)                                   # [B, z_dim]
        conditions = torch.cat((z, embed[:, None].expand(-1, z.shape[1], -1)), dim=2)
        return self.generator(conditions, truncation)

    @torch.no_grad()
    def randomize_(self, seed: int = 0, power_iterations: int = 8) -> "BigGANNet":
        """Random but well-behaved weights (benchmarks, tests): settled u/v, varied statistics."""
        gen = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith("gamma"):
                p.fill_(0.5)
            elif name.endswith("bn.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        for module in self.modules():
            if isinstance(module, BigGANBatchNorm):
                module.running_means.copy_(0.1 * torch.randn(module.running_means.shape, generator=gen))
                module.running_vars.copy_(0.5 + torch.rand(module.running_vars.shape, generator=gen))
            if isinstance(module, (SNLinear, SNConv2d)):
                # a few power iterations from a random v, so σ = uᵀ W v = |W v| is close to
                # the top singular value and activations keep their scale through the blocks
                mat = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                v = F.normalize(torch.randn(mat.shape[1], generator=gen), dim=0)
                for _ in range(power_iterations):
                    u = F.normalize(mat @ v, dim=0)
                    v = F.normalize(mat.t() @ u, dim=0)
                module.weight_v.copy_(v)
                module.weight_u.copy_(F.normalize(mat @ v, dim=0))
        return self


# ---------------------------------------------------------------------------------- loading
def _describe_weights(sd: Mapping[str, Any]) -> str:
    """What the tensor shapes say about the network (for mismatch messages)."""
    facts = []
    gz = sd.get("generator.gen_z.weight_orig")
    if isinstance(gz, torch.Tensor) and gz.dim() == 2:
        facts.append(f"channel_width={gz.shape[0] // 256}, z_dim={gz.shape[1] // 2}")
    emb = sd.get("embeddings.weight")
    if isinstance(emb, torch.Tensor) and emb.dim() == 2:
        facts.append(f"num_classes={emb.shape[1]}")
    blocks = {k.split(".")[2] for k in sd if k.startswith("generator.layers.")}
    if blocks:
        facts.append(f"{len(blocks)} entries in generator.layers")
    return "; the weights look like " + ", ".join(facts) if facts else ""


def load_weights(net: BigGANNet, state_dict: Any) -> None:
    """Check ``state_dict`` against the network ``config.json`` describes and load it (`LoadError` if not)."""
    if not isinstance(state_dict, Mapping) or not all(isinstance(k, str) for k in state_dict):
        raise LoadError("pytorch_model.bin does not hold a state dict (a mapping of names to tensors)")
    own = net.state_dict()
    hint = _describe_weights(state_dict)
    missing = [k for k in own if k not in state_dict]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise LoadError(f"pytorch_model.bin lacks {missing[0]}{more} that config.json's network needs, so they do not belong together{hint}")
    unexpected = [k for k in state_dict if k not in own]
    if unexpected:
        more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
        raise LoadError(f"pytorch_model.bin holds {unexpected[0]}{more}, which config.json's network does not have, so they do not belong together{hint}")
    for key, want in own.items():
        got = state_dict[key]
        if not isinstance(got, torch.Tensor):
            raise LoadError(f"pytorch_model.bin's {key} is a {type(got).__name__}, not a tensor")
        if tuple(got.shape) != tuple(want.shape):
            raise LoadError(
                f"pytorch_model.bin's {key} has shape {tuple(got.shape)} where config.json implies {tuple(want.shape)}{hint}"
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise LoadError(f"pytorch_model.bin's {key} holds NaN or infinite values, so the file is damaged")
    net.load_state_dict({k: state_dict[k] for k in own}, strict=True)


def check_biggan_size(cfg: BigGANConfig) -> None:
    """`LoadError` when ``config.json``'s network would not fit the memory budget, measured before
    building it (weights on the meta device; activations ~4× the largest block output, 4 bytes)."""
    try:
        params = module_bytes(lambda: BigGANNet(cfg))
        ch = cfg.channel_width
        res = cfg.resolutions()
        acts = 4 * 4 * max([16 * ch * 16] + [ch * max(cin, cout) * r * r for (_u, cin, cout), r in zip(cfg.layers, res[1:])])
        check_model_size(params, acts, what="this BigGAN config", resolution=cfg.output_dim)
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None


def build_from_checkpoint(config: Mapping[str, Any], state_dict: Any, device, name: str, fingerprint: str) -> "BigGANGenerator":
    """A parsed ``config.json`` and its state dict -> `BigGANGenerator` (or a `LoadError`)."""
    cfg = BigGANConfig.from_dict(config)
    check_biggan_size(cfg)
    net = BigGANNet(cfg)
    load_weights(net, state_dict)
    gen = BigGANGenerator(net, device, name, fingerprint)
    if "class_embed_dim" in config and config["class_embed_dim"] != cfg.z_dim:
        gen.notes.append(f"config.json's class_embed_dim {config['class_embed_dim']} is ignored; the embedding has z_dim entries")
    return gen


# ---------------------------------------------------------------------------------- interface
def truncated_normal(shape: Sequence[int] | int, generator: torch.Generator, bound: float = 2.0) -> torch.Tensor:
    """Standard normal restricted to ``[-bound, bound]`` (resampling draws outside), like scipy's truncnorm(-2, 2)."""
    x = torch.randn(shape, generator=generator)
    outside = x.abs() > bound
    while bool(outside.any()):
        x[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = x.abs() > bound
    return x


class BigGANGenerator(Generator):
    """BigGAN-deep behind the `Generator` interface; per-layer latents are one z per block.

    Latents ``[B, L, z_dim]`` with ``L = num_blocks + 1``: row 0 feeds ``generator.gen_z``,
    row i feeds block i-1 (all through ``[z_i, class embedding]``).  Two truncations exist:

    - `sample` draws z from the standard normal truncated to ``[-2, 2]`` and
      ``truncate(latents, psi)`` scales it toward 0 (``psi · z``: the latent average is 0),
      so ``truncate(sample(n, s), t)`` is BigGAN's ``t · truncnorm(-2, 2)``;
    - ``synthesize(truncation=t)`` picks the batch-norm statistics measured for truncation t
      (default ``self.truncation``); the network needs it to match the z it is given.
      `editing.render` passes the same psi to both.
    """

    family = "biggan"
    default_truncation = 0.4
    default_pca_layer = "generator.gen_z"
    #: class used when `synthesize` is given none (207: golden retriever)
    default_class = 207

    def __init__(self, net: BigGANNet, device: torch.device | str, name: str, fingerprint: str):
        super().__init__(net, device, name, fingerprint)
        cfg = net.config
        self.config = cfg
        self.z_dim = self.latent_dim = cfg.z_dim
        self.num_layers = len(cfg.layers) + 1
        self.resolution = cfg.output_dim
        names = imagenet_class_names()
        self.classes = list(names) if cfg.num_classes == len(names) else [f"class {i}" for i in range(cfg.num_classes)]
        self.default_class = min(self.default_class, cfg.num_classes - 1)
        #: batch-norm truncation `synthesize` uses when none is given
        self.truncation = self.default_truncation

    # ---------------------------------------------------------------- sampling
    def sample_z(self, n: int, seed: int) -> torch.Tensor:
        """Truncated-normal z ``[n, z_dim]`` in ``[-2, 2]`` (scale it with `truncate`); row i depends only on ``seed + i``."""
        gen = torch.Generator()
        rows = []
        for i in range(n):
            gen.manual_seed((int(seed) + i) % (2**63))
            rows.append(truncated_normal(self.z_dim, gen))
        z = torch.stack(rows) if rows else torch.zeros(0, self.z_dim)
        return z.to(self.device)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[n, z_dim]`` -> the same z for every block ``[n, num_layers, z_dim]`` (a copy, safe to edit)."""
        return z[:, None, :].repeat(1, self.num_layers, 1)

    def truncate(self, latents: torch.Tensor, psi: float) -> torch.Tensor:
        """``psi · latents`` (BigGAN's latent average is 0); the batch-norm truncation is `synthesize`'s."""
        return super().truncate(latents, psi)

    # ---------------------------------------------------------------- synthesis
    @staticmethod
    def _check_truncation(truncation: float) -> float:
        t = float(truncation)
        if not 0.0 < t <= 1.0:
            raise ValueError(f"BigGAN's truncation must be in (0, 1], not {truncation}")
        return t

    def class_vector(self, classes: Any, batch: int) -> torch.Tensor:
        """Class indices (int, list or LongTensor ``[B]``/``[1]``) or weights ``[B, C]``/``[C]`` -> ``[B, C]`` float."""
        c = self.config.num_classes
        if classes is None:
            classes = self.default_class
        if not isinstance(classes, torch.Tensor):
            classes = torch.as_tensor(classes)
        classes = classes.to(self.device)
        if classes.is_floating_point():
            vec = classes.float()
            if vec.dim() == 1:
                vec = vec[None]
            if vec.dim() != 2 or vec.shape[1] != c:
                raise ValueError(f"a class vector must be [B, {c}], not {list(classes.shape)}")
        else:
            idx = classes.long().reshape(-1)
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= c):
                raise ValueError(f"class indices must lie in 0..{c - 1}")
            vec = F.one_hot(idx, c).float()
        if vec.shape[0] == 1 and batch != 1:
            vec = vec.expand(batch, -1)
        if vec.shape[0] != batch:
            raise ValueError(f"{vec.shape[0]} classes were given for a batch of {batch}")
        return vec

    def synthesize(
        self,
        latents: torch.Tensor,
        classes: Any = None,
        truncation: float | None = None,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        """Per-block z ``[B, num_layers, z_dim]`` (or shared ``[B, z_dim]``) -> images ``[B, 3, R, R]`` in [-1, 1].

        ``classes``: indices ``[B]`` or weights ``[B, num_classes]`` (a one-hot or a mix),
        default `default_class`; ``truncation`` in (0, 1] picks the batch-norm statistics.
        BigGAN has no noise inputs, so ``noise_mode`` is ignored.
        """
        t = self._check_truncation(self.truncation if truncation is None else truncation)
        latents = latents.to(self.device, torch.float32)
        if latents.dim() == 3 and latents.shape[1:] != (self.num_layers, self.z_dim):
            raise ValueError(f"BigGAN latents must be [B, {self.num_layers}, {self.z_dim}], not {list(latents.shape)}")
        if latents.dim() not in (2, 3) or latents.shape[-1] != self.z_dim:
            raise ValueError(f"BigGAN latents must be [B, {self.num_layers}, {self.z_dim}], not {list(latents.shape)}")
        return self.net(latents, self.class_vector(classes, latents.shape[0]), t)

    # ---------------------------------------------------------------- layers
    def _layers(self) -> dict[str, nn.Module]:
        """``generator.gen_z`` (the linear input layer, ``[B, 256·ch]``), then ``generator.layers.{k}``."""
        gen = self.net.generator
        named: dict[str, nn.Module] = {"generator.gen_z": gen.gen_z}
        for k, layer in enumerate(gen.layers):
            named[f"generator.layers.{k}"] = layer
        return named

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """``generator.gen_z`` reads ``[z, class embedding]``: its z columns ``[out, z_dim]`` (latent row 0)."""
        w = _spectral_weight(self.net.generator.gen_z)
        return [(0, "conv", w.detach()[:, : self.z_dim])]

    def describe_layers(self) -> list[str]:
        """``"0: input (4²)"``, ``"1: block 0 (4²)"``, … with each block's output resolution."""
        res = self.config.resolutions()
        labels = [f"0: input ({res[0]}²)"]
        labels += [f"{i + 1}: block {i} ({r}²)" for i, r in enumerate(res[1:])]
        return labels

    def info(self) -> dict:
        out = super().info()
        out["default_class"] = self.default_class
        out["truncation"] = self.truncation
        return out
