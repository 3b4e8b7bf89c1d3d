"""`load_generator`: a registry name or a path in, a `Generator` out, or a `LoadError`.

Files are sniffed by content, not by name.  Every checkpoint is read with
``torch.load(..., weights_only=True)`` so a hostile pickle cannot run code; NVIDIA's
persistent-object pickles (``network-snapshot-*.pkl``) go to our own restricted unpickler
(`models.nvidia_pickle`), which never runs the source they embed.  The one
layout of two files (a folder with ``config.json`` + ``pytorch_model.bin``, or either file)
pairs them by name and reaches the families as a `ConfiguredCheckpoint`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .base import Generator, LoadError
from .bounded import InputLimitError, quote_name, read_json_file, safe_torch_load
from .digests import file_digest
from .nvidia_pickle import SNIFF_BYTES, looks_like_nvidia_pickle, read_snapshot
from .diagnose import diagnose_checkpoint, error_sentence, json_problem, pickle_problem, truncation_sentence
from .registry import REGISTRY

#: (family name, test on the loaded object, builder(obj, path, device, name, fingerprint))
Family = tuple[str, Callable[[Any], bool], Callable[..., Generator]]
_FAMILIES: list[Family] = []


#: file names of the config-folder layout (BigGAN's published PyTorch port, Hugging Face style)
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"


@dataclass(frozen=True)
class ConfiguredCheckpoint:
    """A checkpoint that comes as a ``config.json`` plus a weights file; families receive this object."""

    config: dict
    state_dict: Any
    config_path: Path
    weights_path: Path


def register_family(name: str, accepts: Callable[[Any], bool], build: Callable[..., Generator]) -> None:
    """Make `load_generator` recognise a checkpoint layout (families call this on import)."""
    _FAMILIES.append((name, accepts, build))


def fingerprint_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, hex, first 16 characters (enough to tell models apart)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def read_checkpoint(path: Path) -> Any:
    """`torch.load` with ``weights_only=True`` on the CPU, failures turned into `LoadError`.

    An NVIDIA snapshot (recognised by its content) comes back as an `NvidiaSnapshot`.
    """
    if not path.exists():
        raise LoadError(f"{path} does not exist")
    if path.is_dir():
        raise LoadError(f"{path} is a folder without a {CONFIG_NAME}; give the checkpoint file inside it")
    if path.stat().st_size == 0:
        raise LoadError(f"{path} is empty")
    if looks_like_nvidia_pickle(_head(path, SNIFF_BYTES)):
        return read_snapshot(path)
    problem = diagnose_checkpoint(path)
    if problem is not None:
        raise LoadError(problem)
    try:
        # rosinality's train.py stores its argparse.Namespace under 'args': a plain
        # attribute bag, the one non-tensor class allowed besides weights_only's own.
        # Declared sizes are checked before torch reads them, the tensors after.
        return safe_torch_load(path, what=path.name, allowed=[argparse.Namespace])
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None
    except EOFError:
        raise LoadError(truncation_sentence(path)) from None
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "dnnlib" in text or "tflib" in text:
            raise LoadError(
                f"{path.name} is an NVIDIA/TensorFlow pickle (dnnlib.tflib, from the original StyleGAN/StyleGAN2), "
                "which holds code; convert it with NVIDIA's legacy.py to a PyTorch snapshot first"
            ) from None
        if "truncated" in text or "ran out of input" in text.lower():
            raise LoadError(truncation_sentence(path)) from None
        if "global" in text.lower():  # inside a PyTorch archive: torch names the class
            raise LoadError(
                f"{path.name} holds pickled objects other than tensors, so it is not loaded (only plain weights are safe to open)"
            ) from None
        problem = pickle_problem(path) if not zipfile.is_zipfile(path) else None
        raise LoadError(problem or f"{path.name} is not a checkpoint (its pickle holds no plain weights)") from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse a stranger's file is a LoadError
        raise LoadError(f"{path.name} is not a readable PyTorch checkpoint ({error_sentence(exc)})") from None


def _is_json_file(path: Path) -> bool:
    """Whether a file's first non-blank byte is ``{`` (a JSON object, not a pickle or zip)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def _weights_beside(config: Path) -> Path:
    """``pytorch_model.bin`` beside a config, or ``<prefix>pytorch_model.bin`` for ``<prefix>config.json``."""
    if config.name.endswith(CONFIG_NAME) and config.name != CONFIG_NAME:
        paired = config.with_name(config.name[: -len(CONFIG_NAME)] + WEIGHTS_NAME)
        if paired.is_file():
            return paired
    return config.with_name(WEIGHTS_NAME)


def _config_beside(weights: Path) -> Path | None:
    """The ``config.json`` (or ``<prefix>config.json``) that lies beside a weights file, if any."""
    candidates = [weights.with_name(CONFIG_NAME)]
    if weights.name.endswith(WEIGHTS_NAME) and weights.name != WEIGHTS_NAME:
        candidates.insert(0, weights.with_name(weights.name[: -len(WEIGHTS_NAME)] + CONFIG_NAME))
    return next((c for c in candidates if c.is_file()), None)


def read_config(path: Path) -> dict:
    """A ``config.json`` parsed with `json`, failures turned into `LoadError`."""
    try:
        raw = read_json_file(path, max_bytes=1 << 20)
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None
    except OSError as exc:
        raise LoadError(f"{path.name} could not be read ({error_sentence(exc)})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path.name} is not valid JSON: {json_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise LoadError(f"{path.name} holds a JSON {type(raw).__name__}, not the object a model config is")
    return raw


def read_configured(config: Path, weights: Path) -> ConfiguredCheckpoint:
    """Config + weights -> `ConfiguredCheckpoint` (the weights read like any checkpoint)."""
    cfg = read_config(config)
    if not weights.is_file():
        raise LoadError(f"{config.name} has no {weights.name} beside it in {config.parent}; put the weights file there")
    return ConfiguredCheckpoint(cfg, read_checkpoint(weights), config, weights)


def load_generator(spec: str | Path, device: torch.device | str = "cpu") -> Generator:
    """A registry name (``"dcgan-faces"``) or a checkpoint path -> a `Generator` on ``device``."""
    from . import families  # noqa: F401  (registers every family)

    spec_str = str(spec)
    if spec_str in REGISTRY:
        entry = REGISTRY[spec_str]
        path = entry.locate()
        if path is None:
            raise LoadError(f"model {spec_str!r} is not installed; install it with: {entry.install_hint}")
        name = spec_str
    else:
        path = Path(spec_str).expanduser()
        if not path.exists():
            known = ", ".join(REGISTRY)
            raise LoadError(f"{quote_name(spec_str)} is neither a model name ({known}) nor an existing file")
        name = str(path)
    try:
        device = torch.device(device)
    except RuntimeError:
        raise LoadError(f"{quote_name(device)} is not a device name (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LoadError("device cuda was asked for but no CUDA GPU is available")
    # The config-folder layout: a folder with config.json, the config.json itself, or (below)
    # a weights file that no family takes alone but that has a config.json beside it.
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        obj: Any = read_configured(path / CONFIG_NAME, _weights_beside(path / CONFIG_NAME))
    elif path.is_file() and _is_json_file(path):
        obj = read_configured(path, _weights_beside(path))
    else:
        obj = read_checkpoint(path)
        config = _config_beside(path)
        if config is not None and not any(accepts(obj) for _f, accepts, _b in _FAMILIES):
            obj = ConfiguredCheckpoint(read_config(config), obj, config, path)
    weights = obj.weights_path if isinstance(obj, ConfiguredCheckpoint) else path
    fp = file_digest(weights, fingerprint_file)  # re-hashed only when the file changed
    for _family, accepts, build in _FAMILIES:
        if accepts(obj):
            return build(obj, path=weights, device=device, name=name, fingerprint=fp)
    if isinstance(obj, ConfiguredCheckpoint):
        raise LoadError(f"{obj.config_path.name} describes no model Latent Studio knows ({describe(obj.config)})")
    raise LoadError(f"{path.name} is a checkpoint of no layout Latent Studio knows ({describe(obj)})")


def describe(obj: Any) -> str:
    """A short account of what a loaded checkpoint holds, for error messages."""
    if isinstance(obj, dict):
        keys = list(obj.keys())[:4]
        return "a dict with keys " + ", ".join(repr(k) for k in keys) + ("…" if len(obj) > 4 else "")
    return f"a {type(obj).__name__}"
