"""The genforce/sefa model-zoo checkpoints: ``{'generator', 'discriminator', 'generator_smooth'}``.

Files such as ``pggan_celebahq1024.pth``, ``stylegan_ffhq1024.pth`` and ``stylegan2_ffhq1024.pth``
(as written by genforce's converters and downloaded by sefa) hold three state dicts.  Like
sefa's ``load_generator`` we use ``generator_smooth`` (the averaged generator) and fall back to
``generator`` (files trained with genforce itself may lack the smooth one; a note says so).
The discriminator is ignored.  Nothing in the file names the architecture; it is read from
the key names (``synthesis.early_layer.const``: StyleGAN2, ``synthesis.layer0.const``:
StyleGAN, top-level ``layer0.weight`` + ``output0.weight``: PGGAN) and the shapes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .base import Generator, LoadError

ZOO_KEYS = frozenset({"generator", "discriminator", "generator_smooth"})


def gan_type(sd: Any) -> str | None:
    """``"pggan"``, ``"stylegan"``, ``"stylegan2"`` or None for a genforce generator state dict."""
    if not isinstance(sd, Mapping) or not all(isinstance(k, str) for k in sd):
        return None
    if "synthesis.early_layer.const" in sd:
        return "stylegan2"
    if "synthesis.layer0.const" in sd:
        return "stylegan"
    if "layer0.weight" in sd and "output0.weight" in sd:
        return "pggan"
    return None


#: key names of the *older* genforce network code (genforce/interfacegan, AtlantixJJ/LinearGAN)
_OLDER_CODE_KEYS = ("mapping.dense0.linear.weight", "layer0.wscale.bias", "synthesis.layer0.epilogue.style_mod.dense.linear.weight")


def is_older_genforce(obj: Any) -> bool:
    """A state dict written by the older genforce network code (``*_generator_network.py``)."""
    return isinstance(obj, dict) and any(k in obj for k in _OLDER_CODE_KEYS)


def is_zoo_checkpoint(obj: Any) -> bool:
    """A zoo dict (any non-empty subset of its three entries, so that partial files get a clear
    error), a bare genforce StyleGAN/StyleGAN2 generator state dict, or (to be refused with
    the reason) one of the older genforce network code."""
    if not isinstance(obj, dict) or not obj:
        return False
    if set(obj) <= ZOO_KEYS:
        return True
    return gan_type(obj) in ("stylegan", "stylegan2") or is_older_genforce(obj)


def load_checkpoint(obj: Any, path, device, name: str, fingerprint: str) -> Generator:
    """Builder for `models.loading.register_family`: a zoo dict -> the generator of its type."""
    fname = Path(path).name
    notes: list[str] = []
    if set(obj) <= ZOO_KEYS:
        if "generator_smooth" in obj:
            sd, which = obj["generator_smooth"], "generator_smooth"
        elif "generator" in obj:
            sd, which = obj["generator"], "generator"
            notes.append("The checkpoint has no generator_smooth, so the non-averaged training generator is used.")
        else:
            raise LoadError(f"{fname} holds only a genforce discriminator and no generator "
                            "('generator_smooth' or 'generator'); load the model-zoo file that has one")
    elif is_older_genforce(obj):
        raise LoadError(f"{fname} uses the older genforce network code's names (interfacegan, LinearGAN), which are not "
                        "supported; the genforce/sefa model-zoo files of the same models open")
    else:
        sd, which = obj, "state dict"
    kind = gan_type(sd)
    if kind is None:
        raise LoadError(f"{fname}: its '{which}' is not a genforce PGGAN, StyleGAN or StyleGAN2 generator state dict")
    try:
        if kind == "pggan":
            from .progan import build_generator as build
            gen: Generator = build(sd, device, name, fingerprint, layout="genforce")
        elif kind == "stylegan":
            from .stylegan1 import build_generator as build
            gen = build(sd, device, name, fingerprint, layout="genforce")
        else:
            from .genforce_stylegan2 import build_generator as build
            gen = build(sd, device, name, fingerprint)
    except LoadError as exc:
        raise LoadError(f"{fname}: {exc}") from None
    gen.notes[:0] = notes
    return gen
