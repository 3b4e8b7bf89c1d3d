"""Projection (GAN inversion): a target image -> per-layer latents whose image is close to it.

METHODS.md §10.  Optimisation-based, as StyleGAN2's projector (stylegan2-ada-pytorch
``projector.py``), with these spaces:

* StyleGAN families (``"stylegan" in G.family``): ``"w"`` optimises one w ``[D]`` broadcast over
  every row; ``"w+"`` (the default) first runs ``w_fraction`` of the steps in W, then
  optimises every row ``[L, D]`` from there (W first, then W+).  ``"z"`` optimises z through
  the mapping network.
* DCGAN, ProGAN and other z-space families: z ``[z_dim]`` with the Gaussian prior term
  ``λ‖z‖²/d`` (``prior_weight``), the MAP term of z ~ N(0, I).
* BigGAN: z shared by every block, and the class: soft class weights ``softmax(logits)``
  are optimised jointly for the first ``class_fraction`` of the steps, then snapped to the
  two strongest classes (an `EditState` holds a class and an optional second one with a
  weight, ``class_mix``) and z is refined for the remaining steps with that class fixed.

Start: ``init="mean"`` (w_avg, as the projector; zero z) or ``"best"``: the best of
``candidates`` random samples by the loss (avoids bad local minima for z spaces, §10).

Optimiser, as the projector: Adam (β = 0.9, 0.999), learning rate ``lr`` with a 5 %
linear ramp-up and a cosine ramp-down over the last 25 % of the steps, and Gaussian
noise added to the latent, of std ``0.05·σ_w·max(0, 1 − t/0.75)²`` where σ_w is the RMS
distance of 10 000 samples' latents to their mean (t = step / steps).  In z spaces the
noise is off by default: on ``dcgan-faces`` it cost 1–8 dB at 150 steps (4 images); there
the starts matter more, so the ``restarts`` best of ``candidates`` random samples are
optimised side by side (a batch) and the best kept (METHODS.md §10: "avoid bad local minima").

Loss, and where we deliberately differ from the projector:

* LPIPS(VGG16) needs downloaded weights, so it is replaced by pixel MSE on a Gaussian
  pyramid (the image and its 2×, 4×, … average-pooled copies down to 8 px, each level's
  MSE weighted equally), plus a *structure* term: the same pyramid's MSE of horizontal and
  vertical finite differences (image gradients), weight ``structure_weight``.  It acts as
  the perceptual term: it weighs edges and texture, which plain MSE blurs away, and needs
  no weights at all.  A discriminator's features (rosinality ``d``, NVIDIA ``D``, genforce
  ``discriminator``) were considered and not used: none of the checkpoints we ship or test
  with (``dcgan-faces``, the StyleGAN2 fixture) has one, so a loss built on it could not be
  tested, and a discriminator trained to tell real from fake is not a similarity metric.
* The projector also optimises StyleGAN's per-layer noise maps with a multi-scale
  autocorrelation regulariser (weight 1e5).  Here the noise maps stay the model's stored
  ("fixed") buffers: an `EditState` and a preset hold only latents, and the result must
  render the same through ``render --preset`` bit for bit.  With nothing to regularise,
  the noise term is left out; W+ makes up much of what the noise maps would have fitted.

The target is centre-cropped to a square and resized (area interpolation) to the
model's resolution.  Any image projects; the PSNR of the reconstruction says how well.
Progress is reported every step and the job stops at the next step when cancelled.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .jobs import CancelFn, MethodError, ProgressFn, check_cancel, never_cancel, no_progress

SPACES = ("auto", "w", "w+", "z")
INITS = ("auto", "mean", "best")
MAX_TARGET_PIXELS = 64_000_000
CONTINUE_LR = 0.25  # "keep optimising" runs the ramp again at this share of the learning rate  # a decoded image larger than this is refused before resizing

#: preview(step, frame uint8 [H, W, 3], psnr in dB): called every ``preview_every`` steps
PreviewFn = Callable[[int, np.ndarray, float], None]


@dataclass(frozen=True)
class ProjectionConfig:
    space: str = "auto"  # auto: w+ for StyleGAN families, z otherwise
    steps: int = 300
    lr: float = 0.1  # initial learning rate (the projector's)
    init: str = "auto"  # auto: mean for W spaces, best of `candidates` for z spaces
    candidates: int = 64  # for init "best": forward passes only, cheap beside the steps, and the start matters most
    restarts: int = 4  # for init "best": the best candidates optimised side by side, the best result kept
    seed: int = 0  # of the random candidates and the latent noise
    w_fraction: float = 0.5  # w+: share of the steps spent in W first
    class_fraction: float = 0.5  # BigGAN: share of the steps with the class optimised
    prior_weight: float = 1e-3  # z spaces: λ of λ‖z‖²/d
    structure_weight: float = 0.5  # the image-gradient (perceptual) term
    noise_factor: float = -1.0  # latent noise relative to σ_w; -1: the projector's 0.05 in W, none in z
    noise_ramp: float = 0.75
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    preview_every: int = 10
    class_index: int = -1  # conditional models: -1 optimises the class, else it is fixed
    truncation: float = 0.0  # BigGAN's batch-norm truncation; 0 = the model's default


@dataclass
class ProjectionResult:
    """``latents``: ``[1, L, D]`` float32 in the editing space (what an EditState's base holds)."""

    latents: torch.Tensor
    target: np.ndarray  # uint8 [R, R, 3], the cropped and resized target
    reconstruction: np.ndarray  # uint8 [R, R, 3]
    psnr: float
    steps: int
    seconds: float
    space: str
    class_index: int | None = None
    class_mix: tuple[int, float] | None = None
    truncation: float = 1.0
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, PSNR) every preview
    config: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"psnr": round(self.psnr, 3), "steps": self.steps, "seconds": round(self.seconds, 3), "space": self.space}


# ---------------------------------------------------------------------- target
def prepare_target(image: np.ndarray, resolution: int) -> np.ndarray:
    """An RGB ``uint8 [H, W, 3]`` (or grey ``[H, W]``, or RGBA) image -> centre-cropped, resized ``uint8 [R, R, 3]``."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise MethodError(f"the target image must be 8-bit, not {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise MethodError(f"the target image must be [height, width, 3], not {list(arr.shape)}")
    arr = arr[:, :, :3]
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    arr = np.ascontiguousarray(arr[top : top + side, left : left + side])
    if side != resolution:
        interp = cv2.INTER_AREA if side > resolution else cv2.INTER_CUBIC
        arr = cv2.resize(arr, (resolution, resolution), interpolation=interp)
    return arr


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, or None for other formats (read before decoding)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
    return None


MAX_FILE_BYTES = 256 * 1024 * 1024


def read_image(path) -> np.ndarray:
    """An image file -> RGB ``uint8 [H, W, 3]``; `MethodError` (one sentence) when it is not one.

    PNG and JPEG headers are checked against `MAX_TARGET_PIXELS` before anything is decoded
    (other formats are bounded by OpenCV's own limit and then checked).
    """
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise MethodError(f"{p} does not exist")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise MethodError(f"{p.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    data = p.read_bytes()
    size = image_size(data)
    if size is not None and size[0] * size[1] > MAX_TARGET_PIXELS:
        raise MethodError(f"{p.name} declares {size[0]}×{size[1]} pixels, more than {MAX_TARGET_PIXELS // 1_000_000} megapixels")
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if img is None:
        raise MethodError(f"{p.name} is not an image OpenCV can read (PNG, JPEG, BMP, WebP, …)")
    if img.shape[0] * img.shape[1] > MAX_TARGET_PIXELS:
        raise MethodError(f"{p.name} is larger than {MAX_TARGET_PIXELS // 1_000_000} megapixels")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise MethodError(f"{p.name} has {img.dtype} pixels; use an 8-bit image")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img[:, :, ::-1])  # BGR -> RGB


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint8`` images (peak 255); ``inf`` when identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


# ---------------------------------------------------------------------- loss
def _pyramid(x: torch.Tensor, min_size: int = 8) -> list[torch.Tensor]:
    levels = [x]
    while levels[-1].shape[-1] >= 2 * min_size:
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


def image_loss(image: torch.Tensor, target_levels: list[torch.Tensor], structure_weight: float) -> torch.Tensor:
    """Per-sample loss ``[B]``: mean over pyramid levels of pixel MSE + ``structure_weight`` × gradient MSE.

    ``image`` ``[B, 3, R, R]`` in [-1, 1]; ``target_levels``: `_pyramid` of the target ``[1, 3, R, R]``.
    """
    total = image.new_zeros(image.shape[0])
    levels = _pyramid(image)
    for x, t in zip(levels, target_levels):
        d = x - t
        total = total + d.pow(2).mean((1, 2, 3))
        if structure_weight:
            dx = d[..., :, 1:] - d[..., :, :-1]
            dy = d[..., 1:, :] - d[..., :-1, :]
            total = total + structure_weight * (dx.pow(2).mean((1, 2, 3)) + dy.pow(2).mean((1, 2, 3)))
    return total / len(levels)


def lr_schedule(t: float, config: ProjectionConfig) -> float:
    """The projector's learning-rate ramp at progress ``t`` in [0, 1): ramp-up, then cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / config.lr_rampup) if config.lr_rampup > 0 else ramp
    return config.lr * ramp


def noise_scale(t: float, sigma: float, config: ProjectionConfig) -> float:
    """Std of the Gaussian noise added to the latent at progress ``t``: ``σ·f·max(0, 1 − t/ramp)²``."""
    return sigma * max(config.noise_factor, 0.0) * max(0.0, 1.0 - t / config.noise_ramp) ** 2


# ---------------------------------------------------------------------- the job
def is_style_family(G) -> bool:
    return "stylegan" in str(getattr(G, "family", ""))


def resolve_space(G, space: str) -> str:
    if space not in SPACES:
        raise MethodError(f"space must be one of {', '.join(SPACES)}, not {space!r}")
    if space == "auto":
        return "w+" if is_style_family(G) else "z"
    if space in ("w", "w+") and not is_style_family(G):
        raise MethodError(f"{G.name} is a {G.family} model, whose editing space is z; use --space z")
    return space


def _check(config: ProjectionConfig) -> None:
    if config.init not in INITS:
        raise MethodError(f"init must be one of {', '.join(INITS)}, not {config.init!r}")
    if config.steps < 0 or config.steps > 100_000:
        raise MethodError("steps must be between 0 and 100000")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise MethodError("the learning rate must be positive")
    if not 1 <= config.candidates <= 4096:
        raise MethodError("candidates must be between 1 and 4096")
    if not 1 <= config.restarts <= 64:
        raise MethodError("restarts must be between 1 and 64")
    for name in ("w_fraction", "class_fraction"):
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise MethodError(f"{name} must lie in [0, 1]")
    if not (config.noise_factor == -1.0 or config.noise_factor >= 0):
        raise MethodError("noise_factor must be ≥ 0 (or -1 for the default)")
    for name in ("prior_weight", "structure_weight"):
        v = getattr(config, name)
        if not (v >= 0 and math.isfinite(v)):
            raise MethodError(f"{name} must be a finite number ≥ 0")
    if config.noise_ramp <= 0 or config.lr_rampdown <= 0 or config.lr_rampup < 0:
        raise MethodError("the ramp lengths must be positive")


class _Problem:
    """What one projection optimises: parameters -> per-layer latents and class weights."""

    def __init__(self, G, space: str, config: ProjectionConfig, target: torch.Tensor):
        self.G, self.space, self.config = G, space, config
        self.device = G.device
        self.target_levels = _pyramid(target)
        self.conditional = G.classes is not None
        self.truncation = (config.truncation or float(getattr(G, "default_truncation", 1.0))) if self.conditional else None
        self.n_classes = len(G.classes) if self.conditional else 0
        default_class = int(getattr(G, "default_class", 0)) if self.conditional else 0
        self.fixed_class = config.class_index if config.class_index >= 0 else None
        if self.conditional and self.fixed_class is not None and self.fixed_class >= self.n_classes:
            raise MethodError(f"class {self.fixed_class} is outside the model's {self.n_classes} classes")
        self.start_class = self.fixed_class if self.fixed_class is not None else default_class
        self.z_prior = space == "z"
        self.noise_kw = {"noise_mode": "fixed"} if hasattr(G, "noise_mode") else {}

    # z or w -> per-layer latents [B, L, D]
    def latents(self, param: torch.Tensor, space: str) -> torch.Tensor:
        G = self.G
        if space == "z":
            return G.map(param)
        if space == "w":
            return param[:, None, :].expand(-1, G.num_layers, -1)
        return param  # w+

    def synth(self, lat: torch.Tensor, classes) -> torch.Tensor:
        return self.G.synthesize(lat, classes=classes, truncation=self.truncation, **self.noise_kw)

    def loss(self, param: torch.Tensor, space: str, classes) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample loss [B], images [B, 3, R, R])."""
        images = self.synth(self.latents(param, space), classes)
        loss = image_loss(images, self.target_levels, self.config.structure_weight)
        if space == "z" and self.config.prior_weight:
            loss = loss + self.config.prior_weight * param.pow(2).mean(1)  # λ‖z‖²/d
        return loss, images

    def sigma(self, space: str, n: int = 10_000, batch: int = 1000) -> float:
        """RMS distance of sampled latents to their mean (the projector's w_std); √d for standard z."""
        G = self.G
        if space == "z":
            return math.sqrt(G.z_dim)
        with torch.no_grad():
            w = torch.cat([G.map(G.sample_z(min(batch, n - s), 10_000_000 + s))[:, 0].double() for s in range(0, n, batch)])
        return float((w - w.mean(0)).pow(2).sum(1).mean().sqrt())


def _candidates(prob: _Problem, space: str, seed: int, count: int, keep: int, classes_for) -> tuple[torch.Tensor, list[int]]:
    """The ``keep`` best of ``count`` random samples (and, for BigGAN, random classes) by the loss:
    (params ``[keep, ·]``, their classes)."""
    G = prob.G
    rng = np.random.default_rng(seed)
    params, losses, classes = [], [], []
    with torch.no_grad():
        for s in range(0, count, 8):
            n = min(8, count - s)
            z = G.sample_z(n, seed * 100_003 + s)
            param = z if space == "z" else G.map(z)[:, 0]
            if prob.conditional and prob.fixed_class is None:
                cls = [prob.start_class if s + i == 0 else int(rng.integers(prob.n_classes)) for i in range(n)]
            else:
                cls = [prob.start_class] * n
            loss, _ = prob.loss(param, space, classes_for(cls))
            params.append(param)
            losses.append(loss)
            classes.extend(cls)
    order = torch.argsort(torch.cat(losses))[: max(1, min(keep, count))].tolist()
    return torch.cat(params)[order].clone(), [classes[i] for i in order]


def project(
    G,
    image: np.ndarray,
    config: ProjectionConfig = ProjectionConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
    preview: PreviewFn | None = None,
    start: ProjectionResult | None = None,
) -> ProjectionResult:
    """Project ``image`` (RGB ``uint8 [H, W, 3]``, any size) into ``G``'s editing space.

    With ``init="best"``, the ``restarts`` best candidates are optimised side by side (one
    batch, each with its own Adam moments; the loss is a sum of per-start losses) and the
    best at the end is kept.  ``start``: keep optimising an earlier result (its latents and
    class; W+ for StyleGAN families, whatever ``config.space`` says, since its rows may
    already differ), with the learning-rate ramp run again at `CONTINUE_LR` of the rate and no
    latent noise; the result is never worse (by the loss) than ``start``.
    Raises `Cancelled` when ``cancel()`` turns true (checked every step).
    """
    _check(config)
    t0 = time.perf_counter()
    space = resolve_space(G, config.space)
    if start is not None and is_style_family(G) and space in ("w", "z"):
        space = "w+"
    target_u8 = prepare_target(image, int(G.resolution))
    target = torch.from_numpy(target_u8).to(G.device).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    prob = _Problem(G, space, config, target)
    init = config.init if config.init != "auto" else ("best" if space == "z" else "mean")

    def classes_for(idx) -> torch.Tensor | None:
        if not prob.conditional:
            return None
        return torch.tensor(idx, dtype=torch.long, device=G.device)

    progress(0.0, "choosing a starting point")
    cls_index = [prob.start_class]  # per start
    cls_mix: list[tuple[int, float] | None] = [None]
    stage_space = "w" if space == "w+" else space  # W first, then W+
    if start is not None:
        param = start.latents.detach().to(G.device, torch.float32).clone()
        if space == "z":
            param = param[:, 0]  # z families: every row holds the same z
            stage_space = "z"
        else:
            stage_space = "w+"
        if start.class_index is not None:
            cls_index, cls_mix = [start.class_index], [start.class_mix]
    elif init == "best":
        param, cls_index = _candidates(prob, "z" if space == "z" else "w", config.seed, config.candidates,
                                       config.restarts, classes_for)
        cls_mix = [None] * len(cls_index)
    elif space == "z":
        param = torch.zeros(1, G.z_dim, device=G.device)
    else:
        param = G.latent_avg.detach().float().reshape(1, -1).to(G.device).clone()
    check_cancel(cancel)
    k = param.shape[0]

    optimise_class = prob.conditional and prob.fixed_class is None and start is None and config.class_fraction > 0
    logits = None
    if optimise_class:
        logits = torch.full((k, prob.n_classes), -4.0, device=G.device)
        logits[torch.arange(k), torch.tensor(cls_index)] = 4.0
        logits.requires_grad_(True)

    def class_input():
        if not prob.conditional:
            return None
        if logits is not None:
            return torch.softmax(logits, 1)
        vec = torch.zeros(k, prob.n_classes, device=G.device)
        for i in range(k):
            if cls_mix[i] is None:
                vec[i, cls_index[i]] = 1.0
            else:
                vec[i, cls_index[i]] += 1.0 - cls_mix[i][1]
                vec[i, cls_mix[i][0]] += cls_mix[i][1]
        return vec

    def snap() -> None:
        nonlocal cls_index, cls_mix
        snapped = [_snap_classes(row) for row in logits.detach()]
        cls_index, cls_mix = [c for c, _ in snapped], [m for _, m in snapped]

    # continuing from a result: no latent noise (it is for exploring around a fresh start)
    factor = config.noise_factor if config.noise_factor >= 0 else (0.0 if space == "z" else 0.05)
    config = replace(config, noise_factor=factor)
    sigma = prob.sigma("z" if space == "z" else "w") if factor and start is None else 0.0
    gen = torch.Generator(device="cpu").manual_seed(config.seed + 1)
    if start is not None:
        # continuing: a smaller step (the result already sits in a basin), and never worse than it
        config = replace(config, lr=config.lr * CONTINUE_LR)
    initial = param.detach().clone()
    param = param.detach().requires_grad_(True)
    opt = torch.optim.Adam([param] + ([logits] if logits is not None else []), betas=(0.9, 0.999), lr=config.lr)
    w_steps = int(round(config.w_fraction * config.steps)) if (space == "w+" and start is None) else 0
    class_steps = int(round(config.class_fraction * config.steps)) if optimise_class else 0
    history: list[tuple[int, float]] = []
    n = config.steps
    for step in range(n):
        check_cancel(cancel)
        t = step / max(n, 1)
        if stage_space == "w" and space == "w+" and step >= w_steps:
            # W -> W+: every row starts at the W result and is optimised on its own from now on
            param = param.detach()[:, None, :].repeat(1, G.num_layers, 1).requires_grad_(True)
            opt = _carry_adam(opt, [param] + ([logits] if logits is not None else []), config.lr)
            stage_space = "w+"
        if logits is not None and step >= class_steps:
            snap()
            opt = _carry_adam(opt, [param], config.lr)
            logits = None
        lr = lr_schedule(t, config)
        for g in opt.param_groups:
            g["lr"] = lr
        sd = noise_scale(t, sigma, config)
        noisy = param + sd * torch.randn(param.shape, generator=gen).to(param.device) if sd > 0 else param
        loss, images = prob.loss(noisy, stage_space, class_input())
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # the starts are independent: each gets its own loss's gradient
        opt.step()
        best = int(torch.argmin(loss.detach()))
        every = max(1, config.preview_every)
        if preview is not None and (step % every == every - 1 or step == n - 1):
            frame = _to_u8(images.detach()[best : best + 1])[0]
            value = psnr(frame, target_u8)
            history.append((step + 1, value))
            preview(step + 1, frame, value)
        progress((step + 1) / max(n, 1), f"step {step + 1}/{n}, loss {float(loss.detach()[best]):.4f}")
    if logits is not None:
        snap()
    with torch.no_grad():
        lats = prob.latents(param.detach(), stage_space).float()
        vec = class_input()
        losses, _ = prob.loss(param.detach(), stage_space, vec)  # without the latent noise
        best = int(torch.argmin(losses))
        lat = lats[best : best + 1].contiguous().clone()
        if start is not None and float(prob.loss(initial, stage_space, vec)[0][0]) < float(losses[best]):
            lat = prob.latents(initial, stage_space).float().contiguous().clone()
        # the frame alone (batch 1), as the renderer makes it
        frame = _to_u8(prob.synth(lat, vec[best : best + 1] if vec is not None else None))[0]
    value = psnr(frame, target_u8)
    history.append((n, value))
    progress(1.0, f"done: PSNR {value:.2f} dB")
    return ProjectionResult(
        latents=lat, target=target_u8, reconstruction=frame, psnr=value, steps=n + (start.steps if start else 0),
        seconds=time.perf_counter() - t0 + (start.seconds if start else 0.0), space=space,
        class_index=cls_index[best] if prob.conditional else None, class_mix=cls_mix[best] if prob.conditional else None,
        truncation=prob.truncation if prob.truncation is not None else 1.0, history=history,
        config=asdict(replace(config, space=space)),
    )


def _to_u8(images: torch.Tensor) -> np.ndarray:
    """``[B, 3, H, W]`` in [-1, 1] -> ``uint8 [B, H, W, 3]`` (the same rounding as the renderer)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def _carry_adam(old: torch.optim.Optimizer, params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """A fresh Adam over ``params`` (the moments of a reshaped parameter do not carry over)."""
    return torch.optim.Adam(params, betas=(0.9, 0.999), lr=lr)


def _snap_classes(logits: torch.Tensor) -> tuple[int, tuple[int, float] | None]:
    """Soft class weights -> the strongest class and the second one with its share of the two."""
    p = torch.softmax(logits.float(), 0)
    top = torch.topk(p, 2)
    a, b = int(top.indices[0]), int(top.indices[1])
    wa, wb = float(top.values[0]), float(top.values[1])
    share = wb / (wa + wb)
    if share < 0.02:
        return a, None
    return a, (b, round(share, 6))
