"""StyleGAN3-T and StyleGAN3-R (Karras et al. 2021, "Alias-Free GANs") in plain PyTorch.

Entry names and shapes are those of NVIDIA's ``training/networks_stylegan3.py``
(``synthesis.input.*``, ``synthesis.L{i}_{size}_{channels}.*``, ``mapping.*``), so a
snapshot's ``G_ema`` loads with ``strict=True``.  No custom CUDA ops: the filtered leaky
ReLU is NVIDIA's reference formulation (``_filtered_lrelu_ref``) written with ``conv2d``.

Synthesis, for W+ ``[B, num_ws, w_dim]`` (``num_ws = num_layers + 2``)::

    input  (ws[0]):  t = affine(w) / ‖t[:, :2]‖;  T = m_r(t0, t1) @ m_t(t2, t3) @ transform
                     freqs' = freqs @ T[:2, :2];  phases' = phases + freqs @ T[:2, 2]
                     x = sin(2π(grid · freqs' + phases')) · amp(‖freqs'‖) @ (weight/√C)ᵀ
    L{i} (ws[i+1]):  modulated conv (input gain rsqrt(magnitude_ema)), then
                     upfirdn2d(x + b, up_filter, up, pad) -> clamp(lrelu·gain, ±256) -> upfirdn2d(·, down_filter, down)
    image = x · output_scale (0.25), float32, not clamped

The ``transform`` buffer (identity in every snapshot) is the user's view transform: NVIDIA's
viewer and ``gen_images.py`` set it to the inverse of the matrix built from a translation
and a rotation (`user_transform`).  `StyleGAN3Generator.synthesize` takes it per call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .nvidia_mapping import MappingNetwork, NvidiaGenerator
from .stylegan2 import SQRT2, EqualLinear


# ====================================================================== layout
@dataclass(frozen=True)
class SG3Config:
    """A StyleGAN3 generator's init kwargs with NVIDIA's class defaults filled in."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping_layers: int = 2
    lr_multiplier: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    num_fp16_res: int = 4
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2


@dataclass(frozen=True)
class LayerSpec:
    """One synthesis layer's derived numbers (NVIDIA stores the same in each layer's state)."""

    name: str
    is_torgb: bool
    is_critically_sampled: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    conv_kernel: int
    tmp_sampling_rate: int
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool
    padding: tuple[int, int, int, int]
    conv_clamp: float | None


@dataclass(frozen=True)
class SG3Layout:
    input_channels: int
    input_size: int
    input_sampling_rate: float
    input_bandwidth: float
    layers: list[LayerSpec] = field(default_factory=list)


def sg3_layout(cfg: SG3Config) -> SG3Layout:
    """Cutoffs, stopbands, sampling rates, sizes and channels of every layer (paper §3 / NVIDIA's formulas)."""
    R, N = cfg.img_resolution, cfg.num_layers
    last_cutoff = R / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    e = np.minimum(np.arange(N + 1) / (N - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** e
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** e
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, R))))
    half = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + cfg.margin_size * 2
    sizes[-2:] = R
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    layers = []
    for i in range(N + 1):
        p = max(i - 1, 0)
        torgb = i == N
        critical = i >= N - cfg.num_critical
        in_rate, out_rate = int(rates[p]), int(rates[i])
        tmp = max(in_rate, out_rate) * (1 if torgb else cfg.lrelu_upsampling)
        up = int(np.rint(tmp / in_rate))
        down = int(np.rint(tmp / out_rate))
        up_taps = cfg.filter_size * up if up > 1 and not torgb else 1
        down_taps = cfg.filter_size * down if down > 1 and not torgb else 1
        k = 1 if torgb else cfg.conv_kernel
        in_size, out_size = int(sizes[p]), int(sizes[i])
        pad_total = (out_size - 1) * down + 1 - (in_size + k - 1) * up + up_taps + down_taps - 2
        lo = (pad_total + up) // 2
        hi = pad_total - lo
        layers.append(LayerSpec(
            name=f"L{i}_{out_size}_{int(channels[i])}", is_torgb=torgb, is_critically_sampled=critical,
            in_channels=int(channels[p]), out_channels=int(channels[i]), in_size=in_size, out_size=out_size,
            in_sampling_rate=in_rate, out_sampling_rate=out_rate, in_cutoff=float(cutoffs[p]),
            out_cutoff=float(cutoffs[i]), in_half_width=float(half[p]), out_half_width=float(half[i]),
            conv_kernel=k, tmp_sampling_rate=tmp, up_factor=up, down_factor=down, up_taps=up_taps,
            down_taps=down_taps, down_radial=cfg.use_radial_filters and not critical,
            padding=(lo, hi, lo, hi), conv_clamp=cfg.conv_clamp,
        ))
    return SG3Layout(int(channels[0]), int(sizes[0]), float(rates[0]), float(cutoffs[0]), layers)


# ====================================================================== filter design
def _kaiser_beta(atten: float) -> float:
    """Kaiser's β for a stop-band attenuation in dB (Oppenheim & Schafer, as scipy.signal.kaiser_beta)."""
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def _kaiser_atten(numtaps: int, width: float) -> float:
    """Attenuation of a Kaiser FIR with ``numtaps`` taps and transition ``width`` (fraction of Nyquist)."""
    return 2.285 * (numtaps - 1) * math.pi * width + 7.95


def _bessel_j1(x: np.ndarray, steps: int = 256) -> np.ndarray:
    """J₁(x) = (1/2π)∫_{-π}^{π} cos(τ − x sin τ) dτ by the trapezoid rule (exact to ~1e-15 for |x| ≲ 100)."""
    tau = np.linspace(-np.pi, np.pi, steps, endpoint=False)
    return np.cos(tau - x[..., None] * np.sin(tau)).mean(axis=-1)


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """NVIDIA's ``design_lowpass_filter``: a Kaiser-windowed FIR, ``[numtaps]`` or radial ``[numtaps, numtaps]``.

    Separable: scipy's ``firwin(numtaps, cutoff, width=width, fs=fs)`` (windowed sinc scaled to
    unit DC gain).  Radial (SG3-R): the jinc ``J₁(2π·cutoff·r)/(π·r)`` times the outer product of
    Kaiser windows, normalised to sum 1.  None for one tap.
    """
    if numtaps == 1:
        return None
    beta = _kaiser_beta(_kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / (fs / 2)
        h = c * np.sinc(c * m) * window
        return torch.as_tensor(h / h.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = _bessel_j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    f *= np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


# ====================================================================== resampling
def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Zero-insert ``up``, pad ``[x0, x1, y0, y1]`` (negative crops), FIR filter, keep every ``down``-th sample.

    ``f`` ``[k]`` is applied separably (width, then height, each pass times √gain), ``[k, k]``
    in 2-D (times gain); None is the identity times gain.  Filters here are symmetric, so
    correlation equals convolution.  ``[N, C, H, W] -> [N, C, H', W']``.
    """
    n, c, h, w = x.shape
    if up > 1 and f is not None and f.dim() == 1:
        return _upsample_separable(x, f, up, padding, gain, down)
    if up > 1:
        buf = x.new_zeros(n, c, h * up, w * up)
        buf[:, :, ::up, ::up] = x
        x = buf
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    if f is None:
        x = x * gain if gain != 1 else x
        return x[:, :, ::down, ::down] if down > 1 else x
    f = f.to(x.dtype)
    if f.dim() == 2:
        k = (f * gain).flip(0, 1)[None, None].expand(c, 1, *f.shape)
        return F.conv2d(x, k, stride=down, groups=c)
    k = (f * math.sqrt(gain)).flip(0)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, down), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(down, 1), groups=c)


def _upsample_separable(x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int], gain: float,
                        down: int) -> torch.Tensor:
    """`upfirdn2d` with ``up > 1`` and a 1-D filter, without materialising the inserted zeros.

    Zero-insertion, padding ``p0`` and convolution with ``f`` (length K) equal a stride-``up``
    transposed convolution ``z[m] = Σ_i x[i]·f[m − up·i]`` read from ``m = K − 1 − p0``: the
    output is ``z`` padded (or cropped, for negative amounts) by ``p0 − K + 1`` before and
    ``p1 − K + up`` after.  Same numbers, a quarter of the multiply-adds at ``up = 2``.
    """
    c = x.shape[1]
    K = f.shape[0]
    k = (f.to(x.dtype) * math.sqrt(gain))
    x0, x1, y0, y1 = padding
    x = F.conv_transpose2d(x, k.view(1, 1, 1, K).expand(c, 1, 1, K), stride=(1, up), groups=c)
    x = F.pad(x, [x0 - K + 1, x1 - K + up])
    x = F.conv_transpose2d(x, k.view(1, 1, K, 1).expand(c, 1, K, 1), stride=(up, 1), groups=c)
    x = F.pad(x, [0, 0, y0 - K + 1, y1 - K + up])
    return x[:, :, ::down, ::down] if down > 1 else x


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor, up: int,
                   down: int, padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """Bias, upsample (gain up²), leaky ReLU · gain, clamp, downsample: the alias-free nonlinearity."""
    x = x + b.view(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = F.leaky_relu(x, slope) * gain if slope != 1 else x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


# ====================================================================== modules
def user_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> np.ndarray:
    """The viewer's matrix ``[[cos a, sin a, tx], [-sin a, cos a, ty], [0, 0, 1]]``, ``a = 2π·rotate`` (turns).

    The ``transform`` buffer gets its inverse (`view_transform`), as in ``viz/renderer.py``.
    """
    a = 2 * math.pi * float(rotate)
    tx, ty = float(translate[0]), float(translate[1])
    return np.array([[math.cos(a), math.sin(a), tx], [-math.sin(a), math.cos(a), ty], [0.0, 0.0, 1.0]])


def view_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """What goes into ``synthesis.input.transform``: ``inv(user_transform(...))`` as float32 ``[3, 3]``."""
    return torch.from_numpy(np.linalg.inv(user_transform(translate, rotate))).float()


class SynthesisInput(nn.Module):
    """Fourier features ``[B, C0, size, size]`` from w, their frequencies and phases and the user transform."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size, self.sampling_rate, self.bandwidth = channels, size, sampling_rate, bandwidth
        self.affine = EqualLinear(w_dim, 4)
        self.weight = nn.Parameter(torch.empty(channels, channels))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", torch.empty(channels, 2))
        self.register_buffer("phases", torch.empty(channels))

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        b = w.shape[0]
        base = self.transform if transform is None else transform.to(w.device, torch.float32)
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).repeat(b, 1, 1)
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).repeat(b, 1, 1)
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        T = m_r @ m_t @ base[None]  # [B, 3, 3]
        freqs = self.freqs[None]  # [1, C, 2]
        phases = self.phases[None] + (freqs @ T[:, :2, 2:]).squeeze(2)  # [B, C]
        freqs = freqs @ T[:, :2, :2]  # [B, C, 2]
        amp = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta[None], [1, 1, self.size, self.size], align_corners=False)  # [1, H, W, 2]
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [B, H, W, C]
        x = torch.sin((x + phases[:, None, None, :]) * (2 * math.pi)) * amp[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """``L{i}_{size}_{channels}``: modulated conv (input gain from ``magnitude_ema``), then `filtered_lrelu`."""

    def __init__(self, spec: LayerSpec, w_dim: int):
        super().__init__()
        self.spec = spec
        self.affine = EqualLinear(w_dim, spec.in_channels)
        k = spec.conv_kernel
        self.weight = nn.Parameter(torch.empty(spec.out_channels, spec.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(spec.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", lowpass_filter(spec.up_taps, spec.in_cutoff, spec.in_half_width * 2,
                                                         spec.tmp_sampling_rate))
        self.register_buffer("down_filter", lowpass_filter(spec.down_taps, spec.out_cutoff, spec.out_half_width * 2,
                                                           spec.tmp_sampling_rate, radial=spec.down_radial))
        self.gain = 1.0 if spec.is_torgb else SQRT2
        self.slope = 1.0 if spec.is_torgb else 0.2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        sp = self.spec
        b, cin, h, wd = x.shape
        k = sp.conv_kernel
        s = self.affine(w)  # [B, in]
        weight = self.weight
        if sp.is_torgb:
            s = s / math.sqrt(cin * k * k)
        else:  # pre-normalisation (cancels after demodulation except through the 1e-8)
            weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            s = s * s.square().mean().rsqrt()
        wm = weight[None] * s[:, None, :, None, None]  # [B, out, in, k, k]
        if not sp.is_torgb:
            wm = wm * (wm.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
        wm = wm * self.magnitude_ema.rsqrt()  # input gain
        y = F.conv2d(x.reshape(1, b * cin, h, wd), wm.reshape(b * sp.out_channels, cin, k, k), padding=k - 1, groups=b)
        y = y.view(b, sp.out_channels, y.shape[-2], y.shape[-1])
        return filtered_lrelu(y, self.up_filter, self.down_filter, self.bias, sp.up_factor, sp.down_factor,
                              sp.padding, self.gain, self.slope, sp.conv_clamp)


class SynthesisNetwork(nn.Module):
    """W+ ``[B, num_ws, w_dim]`` -> image ``[B, img_channels, R, R]`` (``× output_scale``, not clamped)."""

    def __init__(self, cfg: SG3Config):
        super().__init__()
        self.layout = lay = sg3_layout(cfg)
        self.output_scale = cfg.output_scale
        self.input = SynthesisInput(cfg.w_dim, lay.input_channels, lay.input_size, lay.input_sampling_rate,
                                    lay.input_bandwidth)
        self.layer_names = [spec.name for spec in lay.layers]
        for spec in lay.layers:
            setattr(self, spec.name, SynthesisLayer(spec, cfg.w_dim))

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        x = self.input(ws[:, 0], transform)
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x, ws[:, i + 1])
        return x * self.output_scale


class SG3Net(nn.Module):
    """``synthesis`` then ``mapping``, NVIDIA's ``Generator`` names and order."""

    def __init__(self, cfg: SG3Config):
        super().__init__()
        self.config = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.mapping_layers, lr_multiplier=cfg.lr_multiplier)

    @torch.no_grad()
    def randomize(self, seed: int = 0) -> "SG3Net":
        """NVIDIA-style random weights: N(0,1) weights, unit affine biases ([1,0,0,0] for the input),
        zero other biases, random frequencies in the input band and phases; filters as designed."""
        gen = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            if name == "synthesis.input.affine.weight":
                p.zero_()
            elif name == "synthesis.input.affine.bias":
                p.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
            elif name.endswith("affine.bias"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen))
        inp = self.synthesis.input
        freqs = torch.randn(inp.channels, 2, generator=gen)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * inp.bandwidth
        inp.freqs.copy_(freqs)
        inp.phases.copy_(torch.rand(inp.channels, generator=gen) - 0.5)
        return self


class StyleGAN3Generator(NvidiaGenerator):
    """StyleGAN3-T or -R behind the `Generator` API; W+ ``[B, num_ws, w_dim]``, no noise inputs.

    ``transform`` (the viewer's translate/rotate) is a per-call argument of `synthesize`:
    a ``[3, 3]`` matrix for the ``transform`` buffer, see `view_transform`.
    """

    family = "stylegan3"
    default_pca_layer = "latent"

    def __init__(self, net: SG3Net, device: torch.device | str = "cpu", name: str = "stylegan3", fingerprint: str = ""):
        super().__init__(net, device, name, fingerprint, net.config.num_ws)
        self.config = net.config
        self.resolution = net.config.img_resolution
        self.radial = net.config.use_radial_filters
        syn = net.synthesis
        self._named_layers = {"input": syn.input, **{n: getattr(syn, n) for n in syn.layer_names}}

    def view_transform(self, translate: tuple[float, float] = (0.0, 0.0), rotate_degrees: float = 0.0) -> torch.Tensor:
        """The ``transform`` for `synthesize` of a view translated by ``translate`` and rotated by degrees."""
        return view_transform(translate, float(rotate_degrees) / 360.0)

    @property
    def kind(self) -> str:
        """``"StyleGAN3-R"`` (radial filters, 1x1 convs) or ``"StyleGAN3-T"``."""
        return "StyleGAN3-R" if self.radial else "StyleGAN3-T"

    def synthesize(self, latents: torch.Tensor, classes: Any = None, truncation: float | None = None,
                   noise_mode: str | None = None, transform: torch.Tensor | None = None) -> torch.Tensor:
        """W+ ``[B, num_ws, w_dim]`` -> image ``[B, 3, R, R]`` float32 (not clamped).

        ``transform``: the input's view transform ``[3, 3]`` for this call (None: the stored
        buffer, the identity).  ``classes``, ``truncation`` and ``noise_mode`` are unused.
        """
        return self.net.synthesis(self.check_latents(latents), transform)

    def _layers(self) -> dict[str, nn.Module]:
        """``input`` (Fourier features ``[B, C0, s, s]``), then every ``L{i}_{size}_{channels}`` layer."""
        return self._named_layers

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """The affine of every layer ``[in, w_dim]`` by its W+ row (the ToRGB's as ``"rgb"``).

        The input's 4-output affine (rotation and translation of the Fourier features) is
        left out: it modulates no channels.
        """
        syn = self.net.synthesis
        out = []
        for i, name in enumerate(syn.layer_names):
            layer = getattr(syn, name)
            out.append((i + 1, "rgb" if layer.spec.is_torgb else "conv", layer.affine.weight.detach()))
        return out

    def describe_layers(self) -> list[str]:
        """``"0: input"``, then ``"i: L{i-1} 36² ×512"`` style labels."""
        syn = self.net.synthesis
        labels = ["0: input (Fourier features)"]
        for i, name in enumerate(syn.layer_names):
            sp = getattr(syn, name).spec
            labels.append(f"{i + 1}: {name}" + (" (ToRGB)" if sp.is_torgb else ""))
        return labels

    def info(self) -> dict:
        out = super().info()
        out["kind"] = self.kind
        return out
