"""Few-shot training of semantic extractors from a handful of masks, and their evaluation.

Following LinearGAN's train_fewshot.py (METHODS.md §6), adapted to run interactively:

- the features of the N annotated images are extracted once and cached; for families with
  noise inputs (StyleGAN2) they are re-extracted with fresh noise (``noise_mode="random"``)
  after every ``redraw_noise_every`` epochs — augmentation by noise resampling;
- each optimiser step sees all N images (the original accumulates the gradients of N
  single-image steps, which is the same average);
- loss: per-pixel cross-entropy of the logits against the mask, unpainted pixels (255)
  ignored, optional class weights ``w_c ∝ f_c^(-1/2)`` (``f_c`` = pixel frequency of class
  c in the masks) normalised so that ``Σ_c f_c · w_c = 1`` and capped at 10, which keeps rare
  classes (eyes, mouth) from being drowned by background and skin;
- Adam (lr, the layer weight θ at 10× lr as in SELearner), the lr divided by 10 after
  ``milestone`` of the epochs (the original: epoch 20 of 50).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from methods.jobs import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress

from .common import IGNORE, SemanticsError
from .extractors import KINDS, LW_TYPES, SemanticExtractor, default_lse_layers, extract_features
from .metrics import MIoU, miou

MAX_SHOTS = 256


@dataclass(frozen=True)
class TrainConfig:
    """Options of `train_extractor`.

    ``kind``: "lse", "nse1" or "nse2"; ``layers``: feature layers (None = the family's default);
    ``epochs`` × ``steps_per_epoch`` full-batch Adam steps at ``lr``; ``lw_type``: layer
    weighting of LSE/NSE-1 ("none" = plain sum, the few-shot setting; "softplus"; "sigmoid");
    ``class_weights``: re-weight rare classes; ``redraw_noise_every``: epochs between
    feature re-extractions with random noise (0 = never; only families with noise);
    ``seed``: initialisation of the extractor's weights.
    """

    kind: str = "lse"
    layers: tuple[str, ...] | None = None
    epochs: int = 20
    steps_per_epoch: int = 8
    lr: float = 0.01
    lw_type: str = "none"
    class_weights: bool = True
    milestone: float = 0.4
    redraw_noise_every: int = 1
    seed: int = 0
    weight_decay: float = 0.0  # Adam's L2 penalty on the heads
    feature_norm: bool = False  # train on per-channel standardised features (LSE/NSE-1); folded into the heads after
    holdout: int = 0  # early stopping: the last `holdout` shots are held out; the best epoch on them is kept

    @classmethod
    def defaults(cls, kind: str, G=None) -> "TrainConfig":
        """The defaults for ``kind`` on ``G``'s family: an LSE on a DCGAN trains 100 epochs at lr 0.05 on
        its two finest layers (`default_lse_layers`), which brings 8-shot LSE within 0.05 held-out mIoU
        of NSE-1 on dcgan-faces for two labellings (README "Linear semantics"); the rest: the fields' defaults."""
        if kind == "lse" and G is not None and getattr(G, "family", "") == "dcgan":
            return cls(kind=kind, epochs=100, lr=0.05)
        return cls(kind=kind)

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise SemanticsError(f"extractor kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.lw_type not in LW_TYPES:
            raise SemanticsError(f"layer weighting {self.lw_type!r} is not one of {', '.join(LW_TYPES)}")
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise SemanticsError("training needs at least one epoch of at least one step")
        if not self.lr > 0:
            raise SemanticsError("the learning rate must be positive")
        if not 0 <= self.milestone <= 1:
            raise SemanticsError("the lr milestone is a fraction of the epochs, 0 to 1")
        if self.redraw_noise_every < 0:
            raise SemanticsError("redraw_noise_every must not be negative")
        if not self.weight_decay >= 0:
            raise SemanticsError("weight_decay must not be negative")
        if self.holdout < 0:
            raise SemanticsError("holdout must not be negative")
        if self.feature_norm and self.kind == "nse2":
            raise SemanticsError("feature_norm applies to the per-layer heads of LSE and NSE-1, not NSE-2")


def class_weights(masks: torch.Tensor, n_class: int, cap: float = 10.0) -> torch.Tensor:
    """Inverse-square-root frequency weights ``[n_class]`` from masks ``[N, H, W]``.

    ``w_c = f_c^(-1/2) / Σ_k f_k^(1/2)`` (so ``Σ_c f_c w_c = 1``), capped at ``cap``;
    classes that never occur get weight 0 (they contribute no pixels anyway).
    """
    valid = masks[masks != IGNORE]
    counts = torch.bincount(valid.flatten(), minlength=n_class)[:n_class].double()
    freq = counts / counts.sum().clamp(min=1)
    w = torch.zeros(n_class, dtype=torch.float64)
    present = freq > 0
    if present.any():
        w[present] = freq[present].rsqrt() / freq[present].sqrt().sum()
    return w.clamp(max=cap).float()


def _has_noise(G) -> bool:
    return hasattr(G, "noise_mode")


def _extract_all(G, latents: torch.Tensor, layers: Sequence[str], noise: str | None, batch: int = 16) -> list[torch.Tensor]:
    """Features of all latents, ``[N, dims_i, r_i, r_i]`` per layer, with the given noise mode
    (None: the generator's own), passed to each call so a shared generator is never changed."""
    parts: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for s in range(0, latents.shape[0], batch):
            parts.append([f.detach() for f in extract_features(G, latents[s: s + batch], layers, noise_mode=noise)])
    # channels-last: the extractors' 1x1 heads read pixels as matrix rows without a copy
    return [torch.cat([p[i] for p in parts]).contiguous(memory_format=torch.channels_last) for i in range(len(layers))]


def train_extractor(
    G,
    latents: torch.Tensor,
    masks: torch.Tensor,
    classes: Sequence[str],
    colors: Sequence | None = None,
    config: TrainConfig = TrainConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> SemanticExtractor:
    """Train an extractor on N annotated images (N = 1 … 256, full batch; the paper uses 1–16).

    ``latents``: per-layer latents ``[N, L, D]`` of the annotated images; ``masks``: class
    maps ``[N, S, S]`` (int, 255 = not painted) at the model's resolution S; ``classes``:
    names, class 0 = background.  Returns the extractor (on ``G.device``, in eval mode) with
    its training figures in ``info`` (``train_miou``, ``seconds``, ``shots``, the config).
    Raises `Cancelled` when ``cancel()`` turns true and `SemanticsError` on bad input.
    """
    config.validate()
    t0 = time.perf_counter()
    n = int(latents.shape[0])
    if n < 1 or n > MAX_SHOTS:
        raise SemanticsError(f"few-shot training takes 1 to {MAX_SHOTS} annotated images, not {n}")
    if config.holdout and config.holdout >= n:
        raise SemanticsError(f"holding out {config.holdout} of {n} annotated images leaves none to train on")
    if masks.shape[0] != n or masks.dim() != 3:
        raise SemanticsError(f"{n} latents but masks of shape {list(masks.shape)}; give one [H, W] mask per image")
    if tuple(masks.shape[1:]) != (G.resolution, G.resolution):
        raise SemanticsError(f"masks are {masks.shape[2]}x{masks.shape[1]} but {G.name} makes {G.resolution}x{G.resolution} images")
    n_class = len(classes)
    masks = masks.long().to(G.device)
    labelled = masks[masks != IGNORE]
    if labelled.numel() == 0:
        raise SemanticsError("the masks have no painted pixels")
    if int(labelled.max()) >= n_class or int(labelled.min()) < 0:
        raise SemanticsError(f"the masks hold class {int(labelled.max())} but there are only {n_class} classes")

    arch = {"lw_type": config.lw_type} if config.kind in ("lse", "nse1") else {}
    layers = config.layers or (default_lse_layers(G) if config.kind == "lse" else None)
    ext = SemanticExtractor.create(G, config.kind, classes, colors, layers, arch, seed=config.seed)
    net = ext.net.train()
    weight = class_weights(masks.cpu(), n_class).to(G.device) if config.class_weights else None

    params = [p for name, p in net.named_parameters() if name != "layer_weight"]
    groups = [{"params": params, "lr": config.lr}]
    if hasattr(net, "layer_weight") and config.kind != "nse2" and config.lw_type != "none":
        groups.append({"params": [net.layer_weight], "lr": 10 * config.lr})
    opt = torch.optim.Adam(groups, weight_decay=config.weight_decay)
    milestone_epoch = int(round(config.milestone * config.epochs))
    redraw = _has_noise(G) and config.redraw_noise_every > 0

    progress(0.0, "extracting features")
    all_feats = _extract_all(G, latents, ext.layers, None)
    # per-channel scales s_i (feature_norm): train on F_i / s_i, fold 1/s_i into the heads after
    scales = ([f.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6) for f in all_feats]
              if config.feature_norm else [None] * len(all_feats))
    n_train = n - config.holdout
    all_masks = masks
    masks = all_masks[:n_train]
    val_masks = all_masks[n_train:]

    def prepared(fs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        normed = [f if sc is None else f / sc for f, sc in zip(fs, scales)]
        return [f[:n_train] for f in normed], [f[n_train:] for f in normed]

    feats, val_feats = prepared(all_feats)
    best_state, best_val = None, -1.0
    total = config.epochs * config.steps_per_epoch
    step = 0
    last_loss = float("nan")
    gen = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        if epoch == milestone_epoch and epoch > 0:
            for g in opt.param_groups:
                g["lr"] *= 0.1
        if redraw and epoch > 0 and epoch % config.redraw_noise_every == 0:
            noise_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            devices = [G.device.index or 0] if G.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):  # fresh noise, reproducibly, without touching the caller's RNG
                torch.manual_seed(noise_seed)
                feats, val_feats = prepared(_extract_all(G, latents, ext.layers, "random"))
        for _ in range(config.steps_per_epoch):
            check_cancel(cancel)
            logits = ext.logits_from_features(feats)
            loss = F.cross_entropy(logits, masks, weight=weight, ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            last_loss = float(loss.detach())
        if config.holdout:
            with torch.no_grad():
                val = miou(ext.logits_from_features(val_feats).argmax(1).cpu(), val_masks.cpu(), n_class).value
            if val == val and val > best_val:  # NaN (no class present) never wins
                best_val, best_state = val, {k: v.detach().clone() for k, v in net.state_dict().items()}
        progress(step / total, f"epoch {epoch + 1}/{config.epochs}, loss {last_loss:.3f}")

    opt.zero_grad(set_to_none=True)  # the trained extractor carries no stale gradients
    if best_state is not None:
        net.load_state_dict(best_state)
    if config.feature_norm:
        _fold_scales(net, scales)
    masks = all_masks
    net.eval()
    with torch.no_grad():
        feats = _extract_all(G, latents, ext.layers, None)
        pred = ext.logits_from_features(feats).argmax(1)
    score = miou(pred.cpu(), masks.cpu(), n_class)
    cfg = asdict(config)
    cfg["layers"] = list(ext.layers)
    ext.info = {
        "shots": n,
        "holdout_miou": round(best_val, 6) if config.holdout and best_val >= 0 else None,
        "train_miou": None if score.value != score.value else round(score.value, 6),
        "final_loss": round(last_loss, 6),
        "seconds": round(time.perf_counter() - t0, 3),
        "config": cfg,
    }
    progress(1.0, "done")
    return ext


def _fold_scales(net, scales: list[torch.Tensor]) -> None:
    """Heads trained on ``F_i / s_i`` read raw ``F_i``: the first conv's input weights become ``W / s_i``
    (still one linear map per layer for LSE), so the saved extractor needs no extra state."""
    with torch.no_grad():
        for head, sc in zip(net.heads, scales):
            conv = head if isinstance(head, torch.nn.Conv2d) else head[0]
            conv.weight.div_(sc.reshape(1, -1, 1, 1))


def evaluate_extractor(
    G, extractor: SemanticExtractor, latents: torch.Tensor, masks: torch.Tensor, batch: int = 32,
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel,
) -> MIoU:
    """LinearGAN mIoU of the extractor's predictions on ``latents [N, L, D]`` against ``masks [N, S, S]``."""
    extractor.check_model(G)
    if masks.shape[0] != latents.shape[0]:
        raise SemanticsError(f"{latents.shape[0]} images but {masks.shape[0]} masks")
    if tuple(masks.shape[1:]) != (extractor.size, extractor.size):
        raise SemanticsError(f"masks are {masks.shape[2]}x{masks.shape[1]}, the extractor makes {extractor.size}x{extractor.size}")
    preds = []
    for s in range(0, latents.shape[0], batch):
        check_cancel(cancel)
        preds.append(extractor.predict(G, latents[s: s + batch]).cpu())
        progress(min(1.0, (s + batch) / max(1, latents.shape[0])), "evaluating")
    pred = torch.cat(preds) if preds else torch.zeros(0, extractor.size, extractor.size, dtype=torch.long)
    return miou(pred, masks.long().cpu(), extractor.n_class)
