"""Named models that install with the program (no downloads, ever)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    description: str
    locate: Callable[[], Path | None]  # the weights file, or None when not installed
    install_hint: str


def _gan_face_generate_weights() -> Path | None:
    """``gan_face_generate/weights.tar`` from the installed PyPI package.

    `find_spec` locates the package folder without importing it: we read the
    weights file as data and never run that package's code.
    """
    try:
        spec = importlib.util.find_spec("gan_face_generate")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights.tar"
        if path.is_file():
            return path
    return None


REGISTRY: dict[str, RegistryEntry] = {
    "dcgan-faces": RegistryEntry(
        name="dcgan-faces",
        description="DCGAN trained on DigiFace-1M: 64x64 RGB faces, z of 100 (PyPI gan-face-generate 1.1.1, MIT)",
        locate=_gan_face_generate_weights,
        install_hint="pip install --no-deps --ignore-requires-python gan-face-generate==1.1.1",
    ),
}

DEFAULT_MODEL = "dcgan-faces"
