"""A layer's activations as pictures (the layer view): normalised channels, tiled in a grid.

Pure NumPy on ``float32 [C, H, W]`` arrays (`editing.render.layer_activations`), as in
NVIDIA's StyleGAN3 viewer's layer widget: each channel scaled on its own, the whole layer
on one scale, or signed around zero.
"""
from __future__ import annotations

import math

import numpy as np

#: normalisations: name -> what it means (the layer view's menu)
NORMALISATIONS = {
    "channel": "each channel from its own min to max",
    "layer": "the whole layer from its min to max",
    "signed": "zero is mid-grey, ±max |x| of the layer are black and white",
}


def normalise(acts: np.ndarray, mode: str = "channel") -> np.ndarray:
    """``[C, H, W]`` activations to ``[0, 1]`` by one of `NORMALISATIONS`."""
    a = np.asarray(acts, dtype=np.float32)
    if mode == "channel":
        lo = a.min(axis=(1, 2), keepdims=True)
        hi = a.max(axis=(1, 2), keepdims=True)
        return (a - lo) / np.maximum(hi - lo, 1e-12)
    if mode == "layer":
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / max(hi - lo, 1e-12)
    if mode == "signed":
        m = max(float(np.abs(a).max()), 1e-12)
        return 0.5 + 0.5 * a / m
    raise ValueError(f"unknown normalisation {mode!r}; use one of {', '.join(NORMALISATIONS)}")


def grid_columns(channels: int) -> int:
    return max(1, math.ceil(math.sqrt(channels)))


def channel_grid(acts01: np.ndarray, gap: int = 1) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] to one grey ``uint8 [rows·(H+gap)-gap, cols·(W+gap)-gap]`` image."""
    c, h, w = acts01.shape
    cols = grid_columns(c)
    rows = math.ceil(c / cols)
    out = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap), np.uint8)
    img = np.clip(np.round(acts01 * 255), 0, 255).astype(np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, k * (w + gap): k * (w + gap) + w] = img[i]
    return out


def locate(shape: tuple[int, int, int], grid: bool, channel: int, x: float, y: float, gap: int = 1):
    """Which ``(channel, row, column)`` the point ``(x, y)`` of the picture (in its pixels) shows, or None."""
    c, h, w = shape
    if not grid:
        i, j = int(y), int(x)
        return (channel, i, j) if 0 <= i < h and 0 <= j < w and 0 <= channel < c else None
    cols = grid_columns(c)
    r, ri = divmod(int(y), h + gap)
    k, kj = divmod(int(x), w + gap)
    ch = r * cols + k
    if ri >= h or kj >= w or not 0 <= ch < c or k >= cols:
        return None
    return ch, ri, kj
