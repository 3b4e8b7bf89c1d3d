"""Generator output to pixels: images ``[B, 3, H, W]`` in [-1, 1] to ``uint8`` RGB.

One formula for every layer that shows or scores frames (the render path, the exporter,
the semantics proxies): ``round((clamp(x, -1, 1) + 1) * 127.5)`` — except for NVIDIA's
snapshots, whose generators say ``uint8_convention = "nvidia"``: their frames are made the
way NVIDIA's ``gen_images.py`` and viewer make them, ``(x·127.5 + 128).clamp(0, 255)``
truncated toward zero, so they equal NVIDIA's byte for byte.
"""
from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor, convention: str = "round") -> np.ndarray:
    """Images ``[B, 3, H, W]`` in [-1, 1] -> ``uint8 [B, H, W, 3]`` RGB on the host.

    ``convention``: the generator's `uint8_convention`, ``"round"`` or ``"nvidia"`` (module doc).
    """
    if convention == "nvidia":
        x = (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    else:
        x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()
