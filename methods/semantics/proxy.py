"""A proxy labelling of face images computed from pixels alone, for tests, figures and demos.

It stands in for the face-parsing network LinearGAN uses (which Latent Studio does not ship):
deterministic colour thresholds on a blurred image, three classes::

    0 background  everything that is neither skin nor dark (backgrounds, clothes, highlights)
    1 skin        hue ≤ 35° or ≥ 340°, saturation 0.18 … 0.75, value ≥ 0.30
    2 dark        value < 0.25 (hair, shadows, dark backgrounds), unless skin

computed on the HSV of the image after an 11×11 Gaussian blur with σ = 2 px, followed by a
5×5 median filter of the labels, so the classes are regions (as a segmenter's would be)
rather than pixel-level colour detail.  The labels are a function of the output pixels, so a
feature-space extractor has to learn them from the generator's representation.
"""
from __future__ import annotations

import cv2
import numpy as np

PROXY_CLASSES = ["background", "skin", "dark"]
PROXY_COLORS = [(0, 0, 0), (230, 170, 140), (60, 40, 140)]
#: blur of the image before thresholding (σ in pixels, kernel edge) and median filter of the labels
BLUR_SIGMA, BLUR_KERNEL, MEDIAN = 2.0, 11, 5


def proxy_labels(frames: np.ndarray) -> np.ndarray:
    """RGB frames ``uint8 [N, H, W, 3]`` (or one ``[H, W, 3]``) -> class maps ``uint8 [N, H, W]`` in 0..2."""
    single = frames.ndim == 3
    frames = frames[None] if single else frames
    out = np.zeros(frames.shape[:3], dtype=np.uint8)
    for i, f in enumerate(frames):
        blur = cv2.GaussianBlur(np.ascontiguousarray(f), (BLUR_KERNEL, BLUR_KERNEL), BLUR_SIGMA)
        hsv = cv2.cvtColor(blur, cv2.COLOR_RGB2HSV).astype(np.float32)
        h, s, v = hsv[..., 0] * 2.0, hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
        lab = np.zeros(f.shape[:2], dtype=np.uint8)
        lab[v < 0.25] = 2
        lab[((h <= 35) | (h >= 340)) & (s >= 0.18) & (s <= 0.75) & (v >= 0.30)] = 1
        out[i] = cv2.medianBlur(lab, MEDIAN)
    return out[0] if single else out


def proxy_masks(G, latents) -> np.ndarray:
    """Proxy labels of the images of per-layer latents ``[N, L, D]``: ``uint8 [N, S, S]``."""
    import torch

    from models.frames import to_uint8

    with torch.no_grad():
        return proxy_labels(to_uint8(G.synthesize(latents)))
