"""Generator output to pixels: images ``[B, 3, H, W]`` in [-1, 1] to ``uint8`` RGB.

One formula for every layer that shows or scores frames (the render path, the exporter,
the semantics proxies): ``round((clamp(x, -1, 1) + 1) * 127.5)``.
"""
from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images ``[B, 3, H, W]`` in [-1, 1] -> ``uint8 [B, H, W, 3]`` RGB on the host."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()
