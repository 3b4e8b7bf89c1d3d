"""The reconstructor R of Voynov–Babenko and WarpedGANSpace, and of the RCA measure.

R(img, img') sees an image pair concatenated as 6 channels ``[B, 6, H, W]`` (images in
[-1, 1]) and predicts which of K controls moved the first into the second (K logits)
and by how much (one scalar, the signed shift ε).  METHODS.md §3 step 4, §4 step 4:

    loss = λ_cls · CE(logits, k) + λ_reg · mean|ε̂ − ε|,   λ_cls = 1, λ_reg = 0.25

Two bodies, both ours and trained from scratch:

* ``resnet`` — ResNet-18-like: a 6-channel stem, four stages of two basic blocks
  (64, 128, 256, 512 channels × ``width``/64), global average pooling, then a linear
  class head and a linear magnitude head.  Images larger than ``max_size`` are first
  area-downsampled to it (the optional downsample for large generators).
* ``lenet`` — the small variant for small images: three 5×5/5×5/3×3 conv layers with
  batch norm (channels 6w, 16w, 60w for width w = 2), pooling, and two MLP heads
  (Linear, BatchNorm1d, ReLU, Linear).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RECONSTRUCTORS = ("lenet", "resnet")
LAMBDA_CLS = 1.0
LAMBDA_REG = 0.25


def _fit(x: torch.Tensor, max_size: int) -> torch.Tensor:
    """Area-downsample ``[B, C, H, W]`` so that its longer side is at most ``max_size``."""
    h, w = x.shape[-2:]
    if max(h, w) <= max_size:
        return x
    s = max_size / max(h, w)
    return F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")


class _Basic(nn.Module):
    """ResNet basic block: two 3×3 convs with batch norm and an identity (or 1×1) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = None
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNetReconstructor(nn.Module):
    """ResNet-18-like R: ``[B, 6, H, W]`` -> (logits ``[B, K]``, ε̂ ``[B]``).

    The stem is a 7×7/2 conv and a 3×3/2 max-pool for images of 128 px and more, and a
    3×3/1 conv for smaller ones (which a 4× stem would shrink to nothing).
    """

    def __init__(self, num_classes: int, resolution: int, width: int = 64, max_size: int = 256):
        super().__init__()
        self.max_size = max_size
        size = min(resolution, max_size)
        if size >= 128:
            self.stem = nn.Sequential(nn.Conv2d(6, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(6, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        chans = [width, 2 * width, 4 * width, 8 * width]
        blocks: list[nn.Module] = []
        c_in = width
        for i, c in enumerate(chans):
            blocks += [_Basic(c_in, c, 1 if i == 0 else 2), _Basic(c, c, 1)]
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.cls = nn.Linear(c_in, num_classes)
        self.mag = nn.Linear(c_in, 1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.blocks(self.stem(_fit(pair, self.max_size)))
        h = h.mean(dim=(2, 3))
        return self.cls(h), self.mag(h)[:, 0]


class LeNetReconstructor(nn.Module):
    """LeNet-like R of width w: ``[B, 6, H, W]`` -> (logits ``[B, K]``, ε̂ ``[B]``)."""

    def __init__(self, num_classes: int, resolution: int, width: int = 2, max_size: int = 64):
        super().__init__()
        self.max_size = max_size
        c1, c2, c3, hid = 6 * width, 16 * width, 60 * width, 42 * width
        self.features = nn.Sequential(
            nn.Conv2d(6, c1, 5, 1, 2), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, 1, 2), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, 1, 1), nn.BatchNorm2d(c3), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        )
        flat = 4 * c3

        def head(out: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(flat, hid), nn.BatchNorm1d(hid), nn.ReLU(), nn.Linear(hid, out))

        self.cls = head(num_classes)
        self.mag = head(1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(_fit(pair, self.max_size)).flatten(1)
        return self.cls(h), self.mag(h)[:, 0]


def make_reconstructor(kind: str, num_classes: int, resolution: int) -> nn.Module:
    """``"lenet"`` or ``"resnet"`` for K classes on images of ``resolution`` px."""
    if kind == "lenet":
        return LeNetReconstructor(num_classes, resolution)
    if kind == "resnet":
        return ResNetReconstructor(num_classes, resolution)
    raise ValueError(f"reconstructor {kind!r} is unknown (choose {' or '.join(RECONSTRUCTORS)})")


def pair(img: torch.Tensor, shifted: torch.Tensor) -> torch.Tensor:
    """The 6-channel input ``[B, 6, H, W]`` from two image batches ``[B, 3, H, W]``."""
    return torch.cat([img, shifted], dim=1)


def reconstructor_loss(
    logits: torch.Tensor, eps_hat: torch.Tensor, k: torch.Tensor, eps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy): ``CE(logits, k) + 0.25·mean|ε̂ − ε|`` and the fraction with argmax = k."""
    loss = LAMBDA_CLS * F.cross_entropy(logits.float(), k) + LAMBDA_REG * (eps_hat.float() - eps.float()).abs().mean()
    acc = (logits.argmax(1) == k).float().mean()
    return loss, acc
