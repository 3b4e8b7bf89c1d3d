"""Linear semantics of GANs (LinearGAN, METHODS.md §6): semantic extractors trained from a few
masks, LinearGAN's mIoU, semantic-conditional sampling (SCS) and semantic image editing (SIE).

No Qt.  The GUI and `cli.semantics` call:

- `SemanticExtractor.load(path, G)` / `.save(path)` / `.predict(G, latents)` — live segmentation;
- `read_mask_folder`, `write_mask_folder`, `append_mask`, `read_mask`, `write_mask`,
  `colorize`, `overlay` — the paint mode's files and drawing;
- `train_extractor(G, latents, masks, classes, colors, TrainConfig, progress, cancel)`;
- `evaluate_extractor`, `miou`;
- `semantic_sample(G, ext, target, SCSConfig, progress, cancel, preview)` (SCS) and
  `semantic_edit(G, ext, latents, target, region, SIEConfig, progress, cancel, preview)` (SIE).
"""
from .common import DEFAULT_COLORS, IGNORE, SemanticsError, default_colors
from .extractors import KINDS, SemanticExtractor, default_feature_layers
from .manipulation import SCSConfig, SemanticResult, SIEConfig, agreement, semantic_edit, semantic_sample
from .masks import (
    LABELS_FILE,
    MaskFolder,
    MaskItem,
    append_mask,
    colorize,
    overlay,
    read_mask,
    read_mask_folder,
    write_mask,
    write_mask_folder,
)
from .metrics import MIoU, aggregate_iou, iou_per_image, miou
from .training import TrainConfig, class_weights, evaluate_extractor, train_extractor

__all__ = [
    "DEFAULT_COLORS", "IGNORE", "KINDS", "LABELS_FILE", "MIoU", "MaskFolder", "MaskItem", "SCSConfig", "SIEConfig",
    "SemanticExtractor", "SemanticResult", "SemanticsError", "TrainConfig", "agreement", "aggregate_iou", "append_mask",
    "class_weights", "colorize", "default_colors", "default_feature_layers", "evaluate_extractor", "iou_per_image", "miou",
    "overlay", "read_mask", "read_mask_folder", "semantic_edit", "semantic_sample", "train_extractor", "write_mask",
    "write_mask_folder",
]
