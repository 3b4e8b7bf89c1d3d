"""What every importer of released direction files shares: safe reading, sizes, provenance.

Files come from the internet.  Checkpoints are read with ``torch.load(weights_only=True,
map_location="cpu")`` (the authors' files carry ``cuda:0`` storage tags), JSON and YAML as
text, all after a size check; every failure is a `ReleasedFileError` of one sentence.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.bounded import InputLimitError, read_json_file, safe_torch_load

#: direction files, side files and checkpoints larger than these are refused before reading
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TEXT_BYTES = 4 * 1024 * 1024


class ReleasedFileError(ValueError):
    """A released direction file cannot be imported; the message is one sentence."""


def check_size(path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """The file's size in bytes; a one-sentence error if it is missing, empty or over ``limit``."""
    if not path.is_file():
        raise ReleasedFileError(f"{path} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise ReleasedFileError(f"{path.name} is empty")
    if size > limit:
        raise ReleasedFileError(f"{path.name} is {size / 2**20:.0f} MiB, more than the {limit / 2**20:.0f} MiB a direction file may have")
    return size


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_text(path: Path) -> str:
    check_size(path, MAX_TEXT_BYTES)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleasedFileError(f"{path.name} is not a readable UTF-8 text file ({type(exc).__name__})") from None


def read_json_object(path: Path) -> dict:
    """A JSON object of settings (``args.json``), read by `models.bounded.read_json_file`."""
    check_size(path, MAX_TEXT_BYTES)
    try:
        obj = read_json_file(path, max_bytes=MAX_TEXT_BYTES)
    except (InputLimitError, OSError, UnicodeDecodeError) as exc:
        raise ReleasedFileError(f"{path.name} could not be read ({exc})") from None
    except ValueError as exc:
        raise ReleasedFileError(f"{path.name} is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise ReleasedFileError(f"{path.name} holds a JSON {type(obj).__name__}, expected an object of settings")
    return obj


def args_json_of(model_file: Path, what: str) -> Path:
    """The run's ``args.json``: beside ``model_file`` or beside its ``models`` folder."""
    for folder in (model_file.parent, model_file.parent.parent):
        if (folder / "args.json").is_file():
            return folder / "args.json"
    raise ReleasedFileError(f"{model_file.name} has no args.json beside its models folder, which says {what}")


def load_checkpoint(path: Path) -> Any:
    """`models.bounded.safe_torch_load`: CPU, ``weights_only=True``, sizes checked before and after."""
    check_size(path)
    try:
        return safe_torch_load(path, what=path.name, finite=False)  # `tensor` checks finiteness per array
    except InputLimitError as exc:
        raise ReleasedFileError(str(exc)) from None
    except pickle.UnpicklingError as exc:
        if "unsupported global" in str(exc).lower():
            raise ReleasedFileError(f"{path.name} holds pickled objects other than tensors, so it is not loaded") from None
        raise ReleasedFileError(f"{path.name} is not a readable PyTorch checkpoint (it may be truncated)") from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse a stranger's file is one sentence
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReleasedFileError(f"{path.name} is not a readable PyTorch checkpoint ({first[:160]})") from None


def tensor(state: dict, key: str, where: str, shape: tuple | None = None) -> np.ndarray:
    """``state[key]`` as a finite float32 array, optionally of ``shape`` (None entries: any size)."""
    t = state.get(key) if isinstance(state, dict) else None
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise ReleasedFileError(f"{where} has no float tensor {key!r}")
    a = t.detach().float().cpu().numpy()
    if shape is not None and (a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape))):
        want = "×".join("n" if s is None else str(s) for s in shape)
        raise ReleasedFileError(f"{where}: {key} has shape {'×'.join(map(str, a.shape))}, expected {want}")
    if not np.all(np.isfinite(a)):
        raise ReleasedFileError(f"{where}: {key} holds NaN or infinite values")
    return a.astype(np.float32)


def editing_space(G) -> str:
    """``"w"`` for StyleGAN families (W+ rows), ``"z"`` for the others (DCGAN, BigGAN z chunks)."""
    return "w" if "stylegan" in str(getattr(G, "family", "")) else "z"


def check_space(G, space: str, where: str) -> None:
    """Directions in ``space`` must be in G's editing space: a Z direction is not a linear W edit."""
    ours = editing_space(G)
    if space != ours:
        raise ReleasedFileError(
            f"{where} holds directions in {space.upper()} but {G.name} is edited in {ours.upper()}"
            + (" (a Z direction of a StyleGAN is not a linear edit of its W latents)" if ours == "w" else ""))


def check_dim(G, dim: int, where: str) -> None:
    if dim != G.latent_dim:
        raise ReleasedFileError(f"{where} was made for a latent size of {dim}, but {G.name} has {G.latent_dim}")


def contiguous_rows(rows: list[int] | None, num_layers: int, where: str) -> tuple[int, int] | None:
    """W+ row indices as one range [s, e) (None: all rows); indices ≥ num_layers are ignored, as the originals do."""
    if rows is None:
        return None
    kept = sorted({int(r) for r in rows if 0 <= int(r) < num_layers})
    if not kept:
        raise ReleasedFileError(f"{where} edits latent rows {rows}, none of which this model has (0 to {num_layers - 1})")
    if kept != list(range(kept[0], kept[-1] + 1)):
        raise ReleasedFileError(f"{where} edits latent rows {kept}, which are not one contiguous range")
    return None if (kept[0], kept[-1] + 1) == (0, num_layers) else (kept[0], kept[-1] + 1)


def provenance(fmt: str, files: list[Path], **extra: Any) -> dict:
    """The ControlSet config of an import: the format, each file's name and sha256, and the original's settings."""
    return {"imported": fmt, "files": {p.name: sha256(p) for p in files}, **extra}
