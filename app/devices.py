"""Which device the window renders on, and how the status bar names it."""
from __future__ import annotations

from typing import Any


def pick_device(name: str | None = None) -> str:
    """``auto`` (default): the first CUDA GPU when there is one, else the CPU."""
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def device_label(device: Any) -> str:
    """``cpu``, or the GPU's name for CUDA devices."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(dev)} ({dev})"
    return str(dev)
