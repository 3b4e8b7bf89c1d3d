"""Generator output to pixels: images ``[B, 3, H, W]`` in [-1, 1] to ``uint8`` RGB.

One formula for every layer that shows or scores frames (the render path, the exporter,
the semantics proxies): ``round((clamp(x, -1, 1) + 1) * 127.5)`` — except for NVIDIA's
snapshots, whose generators say ``uint8_convention = "nvidia"``: their frames are made the
way NVIDIA's ``gen_images.py`` and viewer make them, ``(x·127.5 + 128).clamp(0, 255)``
truncated toward zero, so they equal NVIDIA's byte for byte.
Other families whose originals convert differently say so too (``"floor"``: GANSpace,
``"half_up"``: sefa), so every family's bytes are its original's.
"""
from __future__ import annotations

import numpy as np
import torch


#: every value of a generator's ``uint8_convention``
CONVENTIONS = ("round", "nvidia", "floor", "half_up")


def to_uint8(images: torch.Tensor, convention: str = "round") -> np.ndarray:
    """Images ``[B, 3, H, W]``, nominally [-1, 1], -> ``uint8 [B, H, W, 3]`` RGB on the host.

    Generators return raw images that overshoot [-1, 1]; the values are clipped here, at the
    byte conversion, and nowhere before.  ``convention`` (a generator's ``uint8_convention``)
    follows the family's original code:

    - ``"round"``: ``round((clip(x, -1, 1) + 1)·127.5)``, half to even (Latent Studio's own, and
      the rosinality/DCGAN/BigGAN families', which have no converter of their own to follow);
    - ``"nvidia"``: ``(x·127.5 + 128).clamp(0, 255)`` truncated (module doc);
    - ``"floor"``: ``floor(clip(0.5·(x + 1), 0, 1)·255)``, GANSpace's ``sample_np`` followed by
      ``(img·255).astype(np.uint8)``.  GANLatentDiscovery's ``to_image`` truncates the same way but
      calls ``tensor.clamp(0, 1)`` without keeping the result, so its out-of-range pixels wrap
      around in the ``uint8`` cast (a bug); its ProGAN files are converted with the clip instead;
    - ``"half_up"``: ``floor(clip((x + 1)·255/2 + 0.5, 0, 255))``, genforce/sefa's ``postprocess``.

    Clipping before or after the affine scaling gives the same bytes; only the rounding differs
    (by one level, for values that fall between two).
    """
    x = images.detach().float()
    if convention == "nvidia":
        x = (x * 127.5 + 128).clamp(0, 255)
    elif convention == "round":
        x = ((x.clamp(-1, 1) + 1) * 127.5).round()
    elif convention == "floor":
        x = ((0.5 * (x + 1)).clamp(0, 1) * 255).floor()
    elif convention == "half_up":
        x = ((x + 1) * 255 / 2 + 0.5).clamp(0, 255).floor()
    else:
        raise ValueError(f"uint8 convention {convention!r} is not one of {', '.join(CONVENTIONS)}")
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()
