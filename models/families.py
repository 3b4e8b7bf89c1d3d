"""Registers every generator family with `load_generator`, most specific first."""
from __future__ import annotations

from typing import Any

#: (family, the files it opens) for `main.py models`; one row per registered layout
CHECKPOINT_LAYOUTS: list[tuple[str, str]] = [
    ("dcgan", "DCGAN tutorial state dicts (netG_state_dict or main.* keys)"),
    ("stylegan2", "rosinality StyleGAN2 .pt files (g_ema)"),
    ("biggan", "BigGAN-deep folders (config.json + pytorch_model.bin)"),
    ("nvidia", "NVIDIA stylegan2-ada-pytorch / stylegan3 network snapshots (.pkl), read without running their code"),
    ("progan", "ProGAN state dicts: netdissect/GANSpace *_lsun.pth (layerN.*), ptrblck/GANLatentDiscovery .pth (features.N.*)"),
    ("stylegan1", "StyleGAN (v1) in the lernapparat/GANSpace layout (g_mapping.* + g_synthesis.*)"),
    ("genforce", "genforce/sefa model-zoo .pth: PGGAN, StyleGAN, StyleGAN2 (generator_smooth / generator)"),
]

from .dcgan import DCGANGenerator
from .loading import register_family
from .stylegan2 import is_stylegan2_checkpoint, load_checkpoint as _load_stylegan2


def _dcgan_state_dict(obj: Any) -> dict | None:
    """The state dict of a DCGAN checkpoint: ``{'netG_state_dict': sd}`` or ``sd`` itself."""
    if isinstance(obj, dict) and isinstance(obj.get("netG_state_dict"), dict):
        obj = obj["netG_state_dict"]
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and k.startswith("main.") for k in obj):
        return obj
    return None


register_family(
    "dcgan",
    lambda obj: _dcgan_state_dict(obj) is not None,
    lambda obj, path, device, name, fingerprint: DCGANGenerator(_dcgan_state_dict(obj), device, name, fingerprint),
)


# StyleGAN2 in the rosinality/stylegan2-pytorch layout ({'g_ema': state dict, 'latent_avg': …}).
# Training files without 'g_ema' (discriminator or optimizer only) are claimed too, so
# they fail with a sentence that says what is missing.
register_family("stylegan2", is_stylegan2_checkpoint, _load_stylegan2)


# BigGAN-deep in the layout of its published PyTorch port: config.json + pytorch_model.bin
# (the loader hands such pairs over as a ConfiguredCheckpoint).
def _biggan_accepts(obj: Any) -> bool:
    from .biggan import looks_like_biggan_config
    from .loading import ConfiguredCheckpoint

    return isinstance(obj, ConfiguredCheckpoint) and looks_like_biggan_config(obj.config)


def _biggan_build(obj: Any, path, device, name, fingerprint):
    from .biggan import build_from_checkpoint

    return build_from_checkpoint(obj.config, obj.state_dict, device, name, fingerprint)


register_family("biggan", _biggan_accepts, _biggan_build)


# NVIDIA's stylegan2-ada-pytorch / stylegan3 snapshots, read by the restricted unpickler
# (`read_checkpoint` hands them over as an NvidiaSnapshot).
def _nvidia_accepts(obj: Any) -> bool:
    from .nvidia_pickle import NvidiaSnapshot

    return isinstance(obj, NvidiaSnapshot)


def _nvidia_build(obj: Any, path, device, name, fingerprint):
    from pathlib import Path

    from .nvidia import generator_from_snapshot

    return generator_from_snapshot(obj, device, name, fingerprint, fname=Path(path).name)


register_family("nvidia", _nvidia_accepts, _nvidia_build)


# The research generators of GANSpace, GANLatentDiscovery, WarpedGANSpace and sefa (issue 14):
# ProGAN state dicts (netdissect layer1.*, ptrblck features.*, bare genforce layer0.*), StyleGAN1
# in the lernapparat layout (g_mapping.* + g_synthesis.*), and the genforce model-zoo dicts.
def _research_families() -> None:
    from . import genforce, progan, stylegan1

    register_family("genforce", genforce.is_zoo_checkpoint, genforce.load_checkpoint)
    register_family("progan", progan.is_progan_checkpoint, progan.load_checkpoint)
    register_family("stylegan1", stylegan1.is_lernapparat_checkpoint, stylegan1.load_checkpoint)


_research_families()
