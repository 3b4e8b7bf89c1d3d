"""Import the directions that the original methods' code writes into `ControlSet`s, with provenance.

`import_controls(path, G)` recognises the file (or its run folder) by its layout:

| layout | module |
|---|---|
| GANSpace ``cache/components/*.npz``, viewer ``out/directions/*.pkl`` | `ganspace` |
| LatentCLR ``best_model.pt`` + ``.hydra/config.yaml`` | `latentclr` |
| GANLatentDiscovery ``models/deformator_*.pt`` + ``args.json`` | `voynov` |
| WarpedGANSpace ``models/support_sets.pt`` + ``args.json`` | `warped` |
| InterFaceGAN ``*.npy`` boundaries | `interfacegan` |

Nothing runs code from a file: checkpoints load with ``weights_only=True`` on the CPU,
pickles through a numpy-only unpickler, npz/npy with ``allow_pickle=False``.  A file for
another latent size or space is a one-sentence `ReleasedFileError`.  The ControlSet's
``config`` records the format, each file's sha256 and the original's own settings.
"""
from __future__ import annotations

from pathlib import Path

from ..controls import ControlSet
from . import ganspace, interfacegan, latentclr, voynov, warped
from .common import ReleasedFileError, read_json_object

FORMATS = ("ganspace", "latentclr", "voynov", "warped", "interfacegan")


def detect(path: Path) -> str:
    """Which original wrote ``path`` (a file or a run folder); a one-sentence error if none did."""
    if not path.exists():
        raise ReleasedFileError(f"{path} does not exist")
    if path.is_dir():
        if (path / ".hydra" / "config.yaml").is_file():
            return "latentclr"
        if (path / "args.json").is_file():
            args = read_json_object(path / "args.json")
            if "num_support_sets" in args:
                return "warped"
            if "deformator" in args:
                return "voynov"
        models = path / "models"
        if models.is_dir() and any(models.glob("deformator_*.pt")):
            return "voynov"
        if models.is_dir() and any(models.glob("support_sets*.pt")):
            return "warped"
        if (path / "boundary.npy").is_file():
            return "interfacegan"
        raise ReleasedFileError(f"{path} is not a GANSpace, LatentCLR, Voynov, WarpedGANSpace or InterFaceGAN run folder")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "ganspace"
    if suffix == ".npy":
        return "interfacegan"
    if suffix == ".pkl" or ganspace.looks_like_pickle(path):
        return "ganspace"
    if path.name.startswith("deformator_"):
        return "voynov"
    if path.name.startswith("support_sets"):
        return "warped"
    if (path.parent / ".hydra" / "config.yaml").is_file():
        return "latentclr"
    raise ReleasedFileError(f"{path.name} is not a direction file of GANSpace, LatentCLR, Voynov, WarpedGANSpace or InterFaceGAN")


def import_controls(path: str | Path, G, step: float | None = None) -> ControlSet:
    """The directions in ``path`` (a released file or its run folder) as controls for generator ``G``.

    ``step``: the Euler step of field controls (LatentCLR conditional models: default 0.25;
    WarpedGANSpace: default 0.2, the original traversal's ε).
    """
    path = Path(path)
    fmt = detect(path)
    if fmt == "ganspace":
        return ganspace.import_npz(path, G) if path.suffix.lower() == ".npz" else ganspace.import_pkl(path, G)
    if fmt == "latentclr":
        return latentclr.import_run(path, G, step)
    if fmt == "voynov":
        return voynov.import_run(path, G)
    if fmt == "warped":
        return warped.import_run(path, G, step)
    return interfacegan.import_boundary(path / "boundary.npy" if path.is_dir() else path, G)


__all__ = ["FORMATS", "ReleasedFileError", "detect", "import_controls"]
