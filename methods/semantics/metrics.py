"""mIoU exactly as LinearGAN computes it (evaluate.py / utils ``aggregate_iou``).

Per image and class c ≥ 1 (class 0, the background, is ignored as a class but its pixels
still count as false positives/negatives of the others — pytorch-lightning's ``iou`` with
``ignore_index=0, absent_score=-1``):

    IoU_c = TP_c / (TP_c + FP_c + FN_c),   or −1 ("absent") when the class is neither in
                                            the target nor in the prediction.

Per class: the mean of IoU_c over the images where it is not absent (IoU > −0.1); −1 if it
is absent everywhere.  mIoU: the mean over the classes that are not −1.  This is an
image-averaged IoU, not one confusion matrix over the data set.

Pixels labelled `IGNORE` (255, "not painted") in the target count nowhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import IGNORE


def confusion(pred: torch.Tensor, target: torch.Tensor, n_class: int) -> torch.Tensor:
    """Per-image confusion counts ``[N, n_class (target), n_class (prediction)]`` (int64).

    ``pred``, ``target``: integer class maps ``[N, H, W]``; target pixels equal to `IGNORE`
    are skipped.  Predictions outside ``[0, n_class)`` are an error.
    """
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"prediction {list(pred.shape)} and target {list(target.shape)} must both be [N, H, W]")
    pred = pred.long().reshape(pred.shape[0], -1)
    target = target.long().reshape(target.shape[0], -1)
    if pred.numel() and (pred.min() < 0 or pred.max() >= n_class):
        raise ValueError(f"predictions must be class indices 0..{n_class - 1}")
    valid = target != IGNORE
    if target.numel() and ((target[valid] < 0) | (target[valid] >= n_class)).any():
        raise ValueError(f"target labels must be class indices 0..{n_class - 1} (or {IGNORE} for unpainted)")
    n = pred.shape[0]
    img = torch.arange(n, device=pred.device)[:, None].expand_as(pred)
    flat = (img * n_class * n_class + target.clamp(0, n_class - 1) * n_class + pred)[valid]
    counts = torch.bincount(flat, minlength=n * n_class * n_class)
    return counts.reshape(n, n_class, n_class)


def iou_per_image(pred: torch.Tensor, target: torch.Tensor, n_class: int) -> torch.Tensor:
    """IoU of classes 1..n_class-1 per image, ``[N, n_class - 1]`` float64, −1 where absent."""
    cm = confusion(pred, target, n_class).double()
    tp = torch.diagonal(cm, dim1=1, dim2=2)
    fn = cm.sum(2) - tp  # in the target, predicted as something else
    fp = cm.sum(1) - tp  # predicted, but the target says otherwise
    denom = tp + fp + fn
    iou = torch.where(denom > 0, tp / denom.clamp(min=1), torch.full_like(tp, -1.0))
    return iou[:, 1:]


def aggregate_iou(ious: torch.Tensor) -> tuple[float, list[float]]:
    """``[M, K]`` per-image IoUs (−1 = absent) -> (mIoU, per-class IoU with −1 for never-present).

    mIoU is NaN when no class is present anywhere.
    """
    per_class: list[float] = []
    for k in range(ious.shape[1]):
        v = ious[:, k]
        v = v[v > -0.1]
        per_class.append(float(v.mean()) if v.numel() else -1.0)
    valid = [c for c in per_class if c > -0.1]
    return (sum(valid) / len(valid) if valid else float("nan")), per_class


@dataclass(frozen=True)
class MIoU:
    """Result of `miou`: ``value`` in [0, 1] (NaN if nothing to score), ``per_class[c-1]`` for
    class c ≥ 1 (−1 where never present), ``pixel_accuracy`` over non-ignored pixels, ``images``."""

    value: float
    per_class: list[float]
    pixel_accuracy: float
    images: int

    def as_dict(self, classes: list[str] | None = None) -> dict:
        """JSON-able summary (NaN and −1 become null)."""
        names = classes[1:] if classes else [str(i) for i in range(1, len(self.per_class) + 1)]
        return {
            "miou": None if self.value != self.value else round(self.value, 6),
            "per_class": {n: (None if v < -0.1 else round(v, 6)) for n, v in zip(names, self.per_class)},
            "pixel_accuracy": round(self.pixel_accuracy, 6),
            "images": self.images,
        }


def miou(pred: torch.Tensor, target: torch.Tensor, n_class: int) -> MIoU:
    """LinearGAN's mIoU of class maps ``pred`` against ``target``, both ``[N, H, W]``."""
    ious = iou_per_image(pred, target, n_class)
    value, per_class = aggregate_iou(ious)
    valid = target != IGNORE
    total = int(valid.sum())
    acc = float(((pred.long() == target.long()) & valid).sum()) / total if total else float("nan")
    return MIoU(value, per_class, acc, int(pred.shape[0]))
