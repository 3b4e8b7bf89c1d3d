"""NVIDIA snapshots -> generators: the family from the state-dict keys, the net from the init kwargs.

* ``synthesis.input.freqs`` -> StyleGAN3 (a 2-D ``down_filter`` anywhere: StyleGAN3-R);
* ``synthesis.b4.const`` -> StyleGAN2 (stylegan2-ada-pytorch nests its synthesis arguments
  under ``synthesis_kwargs``; the stylegan3 repo passes them flat with other defaults).

``_init_kwargs`` hold only what the caller passed; the class defaults are filled in here.
The built net must then have exactly the snapshot's entry names and shapes, else the file
is refused (init kwargs that do not match the tensors).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from .base import LoadError
from .bounded import InputLimitError, check_model_size, check_tensors
from .nvidia_pickle import NvidiaSnapshot, read_snapshot
from .stylegan2_ada import SG2Config, SG2Net, StyleGAN2ADAGenerator
from .stylegan3 import SG3Config, SG3Net, StyleGAN3Generator

#: keys of a generator's init kwargs that are not synthesis arguments
_TOP_KEYS = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs"}
#: synthesis arguments that change nothing at inference (training speed, memory layout, fusing)
_INERT = {"fused_modconv_default", "channels_last", "fp16_channels_last", "magnitude_ema_beta", "w_avg_beta",
          "resample_filter", "architecture", "use_noise", "kernel_size", "activation"}


def detect_family(sd: Mapping[str, torch.Tensor]) -> str:
    """``"stylegan3"`` or ``"stylegan2"`` from the entry names; `LoadError` for anything else."""
    if "synthesis.input.freqs" in sd:
        return "stylegan3"
    if "synthesis.b4.const" in sd:
        return "stylegan2"
    raise LoadError("its G_ema is neither a StyleGAN2 (no synthesis.b4.const) nor a StyleGAN3 (no synthesis.input.freqs)")


def _int(kw: Mapping, key: str, default: Any = None, low: int = 0, high: int = 1 << 16) -> int:
    value = kw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LoadError(f"init kwarg {key}={value!r} is not an integer in {low} … {high}")
    return value


def _num(kw: Mapping, key: str, default: Any, allow_none: bool = False) -> Any:
    value = kw.get(key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value == value or abs(value) > 1e9:
        raise LoadError(f"init kwarg {key}={value!r} is not a number")
    return value


def _split(kw: Mapping) -> tuple[dict, dict]:
    """(mapping kwargs, synthesis kwargs): nested ``synthesis_kwargs`` and flat extras together."""
    mapping = kw.get("mapping_kwargs") or {}
    synthesis = kw.get("synthesis_kwargs") or {}
    if not isinstance(mapping, Mapping) or not isinstance(synthesis, Mapping):
        raise LoadError("init kwargs mapping_kwargs/synthesis_kwargs are not dicts")
    synthesis = {**synthesis, **{k: v for k, v in kw.items() if k not in _TOP_KEYS}}
    return dict(mapping), synthesis


def _dims(kw: Mapping) -> dict:
    res = _int(kw, "img_resolution", None, 4, 1 << 14)
    if res & (res - 1):
        raise LoadError(f"init kwarg img_resolution={res} is not a power of two")
    return {"z_dim": _int(kw, "z_dim", None, 0, 1 << 14), "c_dim": _int(kw, "c_dim", 0, 0, 1 << 16),
            "w_dim": _int(kw, "w_dim", None, 1, 1 << 14), "img_resolution": res,
            "img_channels": _int(kw, "img_channels", 3, 1, 4)}


def _mapping(m: Mapping, default_layers: int) -> dict:
    if m.get("activation", "lrelu") != "lrelu":
        raise LoadError(f"the mapping activation {m.get('activation')!r} is not supported (only lrelu)")
    return {"mapping_layers": _int(m, "num_layers", default_layers, 1, 64),
            "lr_multiplier": _num(m, "lr_multiplier", 0.01)}


def sg2_config(kw: Mapping) -> SG2Config:
    """StyleGAN2 init kwargs -> `SG2Config`, with the defaults of the repo that wrote them.

    stylegan2-ada-pytorch (nested ``synthesis_kwargs``): ``num_fp16_res=0``, ``conv_clamp=None``;
    the stylegan3 repo (flat): ``num_fp16_res=4``, ``conv_clamp=256``.
    """
    mapping, syn = _split(kw)
    ada = "synthesis_kwargs" in kw
    arch = syn.get("architecture", "skip")
    if arch != "skip":
        raise LoadError(f"architecture {arch!r} is not supported (only 'skip', the default of every NVIDIA config)")
    extra = {"embed_features": mapping.get("embed_features"), "layer_features": mapping.get("layer_features")}
    for key, value in extra.items():
        if value is not None:
            _int(mapping, key, None, 1, 1 << 14)
    return SG2Config(**_dims(kw), **_mapping(mapping, 8), **extra,
                     channel_base=_int(syn, "channel_base", 32768, 1, 1 << 24),
                     channel_max=_int(syn, "channel_max", 512, 1, 1 << 14),
                     num_fp16_res=_int(syn, "num_fp16_res", 0 if ada else 4, 0, 64),
                     conv_clamp=_num(syn, "conv_clamp", None if ada else 256, allow_none=True))


def sg3_config(kw: Mapping) -> SG3Config:
    """StyleGAN3 init kwargs -> `SG3Config` (NVIDIA's ``networks_stylegan3`` defaults)."""
    mapping, syn = _split(kw)
    d = SG3Config(z_dim=0, c_dim=0, w_dim=1, img_resolution=4, img_channels=3)
    return SG3Config(
        **_dims(kw), **_mapping(mapping, 2),
        channel_base=_int(syn, "channel_base", d.channel_base, 1, 1 << 24),
        channel_max=_int(syn, "channel_max", d.channel_max, 1, 1 << 14),
        num_layers=_int(syn, "num_layers", d.num_layers, 3, 64),
        num_critical=_int(syn, "num_critical", d.num_critical, 0, 8),
        first_cutoff=_num(syn, "first_cutoff", d.first_cutoff), first_stopband=_num(syn, "first_stopband", d.first_stopband),
        last_stopband_rel=_num(syn, "last_stopband_rel", d.last_stopband_rel),
        margin_size=_int(syn, "margin_size", d.margin_size, 0, 256), output_scale=_num(syn, "output_scale", d.output_scale),
        num_fp16_res=_int(syn, "num_fp16_res", d.num_fp16_res, 0, 64),
        conv_kernel=_int(syn, "conv_kernel", d.conv_kernel, 1, 7),
        filter_size=_int(syn, "filter_size", d.filter_size, 1, 16),
        lrelu_upsampling=_int(syn, "lrelu_upsampling", d.lrelu_upsampling, 1, 4),
        use_radial_filters=bool(syn.get("use_radial_filters", d.use_radial_filters)),
        conv_clamp=_num(syn, "conv_clamp", d.conv_clamp, allow_none=True),
    )


def build_net(family: str, init_kwargs: Mapping) -> SG2Net | SG3Net:
    """The network NVIDIA's constructor would build from ``init_kwargs``, without weights (on the meta device)."""
    cfg = sg3_config(init_kwargs) if family == "stylegan3" else sg2_config(init_kwargs)
    size = cfg.img_resolution
    if cfg.z_dim == 0 and cfg.c_dim == 0:
        raise LoadError("init kwargs give neither z_dim nor c_dim, so the generator has no input")
    if size > 4096:
        raise LoadError(f"a {size}px generator is beyond what Latent Studio renders")
    try:
        with torch.device("meta"):
            net = SG3Net(cfg) if family == "stylegan3" else SG2Net(cfg)
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise LoadError(f"the init kwargs do not describe a buildable network ({exc})") from None
    try:
        params = sum(t.numel() * t.element_size() for t in list(net.parameters()) + list(net.buffers()))
        check_model_size(params, activation_bytes(net), what=f"this {family} snapshot", resolution=size)
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None
    return net


def activation_bytes(net: SG2Net | SG3Net) -> int:
    """Float32 activations one image needs at the widest layer, before building its weights.

    StyleGAN3: input, upsampled copy and activation of the filtered leaky ReLU at the
    temporary rate (``(out_size·down)²·C`` each); StyleGAN2: ~4 maps of ``C·R²``.
    """
    if isinstance(net, SG3Net):
        return 4 * 3 * max(sp.out_channels * (sp.out_size * sp.down_factor + sp.down_taps) ** 2
                           for sp in net.synthesis.layout.layers)
    cfg = net.config
    return 4 * 4 * max(cfg.channels(r) * r * r for r in cfg.resolutions)


def _check_entries(net: torch.nn.Module, sd: Mapping[str, torch.Tensor]) -> None:
    ours = net.state_dict()
    for key, t in ours.items():
        if key not in sd:
            raise LoadError(f"its init kwargs describe a network with {key!r}, which the weights lack")
        if tuple(sd[key].shape) != tuple(t.shape):
            raise LoadError(f"{key!r} has shape {list(sd[key].shape)} but its init kwargs need {list(t.shape)}")
    extra = [k for k in sd if k not in ours]
    if extra:
        raise LoadError(f"the weights hold {extra[0]!r}, which its init kwargs do not describe")


def generator_from_weights(init_kwargs: Mapping, state_dict: Mapping[str, torch.Tensor], device: torch.device | str = "cpu",
                           name: str = "nvidia", fingerprint: str = "", fname: str = "the snapshot"
                           ) -> StyleGAN2ADAGenerator | StyleGAN3Generator:
    """Build the family's net from the init kwargs, check every entry, load the weights (float32)."""
    try:
        family = detect_family(state_dict)
        try:
            check_tensors(dict(state_dict), what="its G_ema")
        except InputLimitError as exc:
            raise LoadError(str(exc)) from None
        net = build_net(family, init_kwargs)
        _check_entries(net, state_dict)
        net = net.to_empty(device="cpu")
        sd = {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in state_dict.items()}
        net.load_state_dict(sd, strict=True)
    except LoadError as exc:
        raise LoadError(f"{fname}: {exc}") from None
    if family == "stylegan3":
        return StyleGAN3Generator(net, device, name, fingerprint)  # type: ignore[arg-type]
    return StyleGAN2ADAGenerator(net, device, name, fingerprint)  # type: ignore[arg-type]


def generator_from_snapshot(snap: NvidiaSnapshot, device: torch.device | str = "cpu", name: str = "nvidia",
                            fingerprint: str = "", fname: str = "the snapshot") -> StyleGAN2ADAGenerator | StyleGAN3Generator:
    """A snapshot's ``G_ema`` as a generator (see `generator_from_weights`)."""
    return generator_from_weights(snap.init_kwargs, snap.state_dict, device, name, fingerprint, fname)


def load_snapshot(path: Path | str, device: torch.device | str = "cpu") -> StyleGAN2ADAGenerator | StyleGAN3Generator:
    """Open an NVIDIA ``.pkl`` straight into a generator (`models.loading.load_generator` does the same)."""
    path = Path(path)
    return generator_from_snapshot(read_snapshot(path), device, str(path), fname=path.name)


def random_generator(family: str, init_kwargs: Mapping, seed: int = 0, device: torch.device | str = "cpu",
                     name: str = "random") -> StyleGAN2ADAGenerator | StyleGAN3Generator:
    """A generator of the configuration ``init_kwargs`` describes, with random weights (benchmarks, tests).

    The StyleGAN3 filters are designed as NVIDIA designs them (`models.stylegan3.lowpass_filter`).
    """
    if family == "stylegan3":
        return StyleGAN3Generator(SG3Net(sg3_config(init_kwargs)).randomize(seed), device, name)
    return StyleGAN2ADAGenerator(SG2Net(sg2_config(init_kwargs)).randomize(seed), device, name)
