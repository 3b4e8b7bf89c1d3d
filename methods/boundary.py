"""InterFaceGAN boundaries (Shen et al. 2020): a direction from latents labelled "has it" / "doesn't".

METHODS.md §9.  As the original's ``utils/manipulator.py: train_boundary``: the labelled
latents are split 70/30 (positives and negatives each, shuffled by ``seed``), a linear
``sklearn.svm.SVC(kernel="linear")`` is fitted on the training part, its accuracy on the
held-out part is reported, and the boundary is the unit normal ``coef / ‖coef‖``.  It
becomes one linear control whose scale σ is the standard deviation of the labelled
latents' projections on it (one slider unit = one σ along the normal).  Where we
differ: the original keeps only the most confident 2 % of each tail when given scores;
with labels (a CSV, the gallery) every labelled sample is used, and with scores (an
extractor's class area) ``tails`` > 0 keeps that fraction of each tail as the original
does, ``tails`` = 0 labels all samples by ``area_threshold``.

Spaces: the editing space's row.  z for z-space families (DCGAN, ProGAN, BigGAN: the
truncated z every block reads), W for StyleGAN families (every row of a sampled latent
holds the same w); ``layers`` A:B picks a W+ row range: the features are the mean of
those rows and the control edits only them.  A z boundary of a StyleGAN would not be a
linear edit of its W+ latents, so it is refused.  The latents of a seed are the ones the
window shows for it: sampled, then truncated at ``truncation`` (0 = the model's default).

Labels:

* ``labels``: a CSV of ``seed,label`` rows (a header row is allowed); label 1 / yes / true /
  has = positive, 0 / -1 / no / false / not = negative, empty or ``skip`` = ignored;
* ``extractor`` + ``area_class``: seeds ``seed .. seed+samples-1`` are labelled by the
  share of the image a semantic extractor (``main.py semantics train``) assigns to the
  class: more than ``area_threshold`` is positive.

Conditional manipulation (the original's ``project_boundary``): ``orthogonal_to`` lists
controls ``FILE.npz:INDEX`` (comma-separated); the normal is projected onto the
orthogonal complement of their span, n₁ − Σ (n₁ᵀqᵢ) qᵢ over an orthonormal basis qᵢ of it
(for one condition n₁ − (n₁ᵀn₂) n₂), and normalised — e.g. "smile without changing age".
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .controls import ControlSet, ControlSetError, LinearControl, ModelRef
from .jobs import CancelFn, MethodError, ProgressFn, check_cancel, never_cancel, no_progress
from .sefa import parse_rows

MAX_LABEL_BYTES = 16 * 1024 * 1024
MAX_LABELS = 1_000_000
POSITIVE = {"1", "+1", "yes", "true", "has", "has it", "positive", "y"}
NEGATIVE = {"0", "-1", "no", "false", "not", "doesn't", "doesnt", "negative", "n"}


@dataclass(frozen=True)
class BoundaryConfig:
    labels: str = ""  # CSV of seed,label
    space: str = "auto"  # auto | z | w
    layers: str = ""  # W+ rows A:B the boundary is fitted on and edits ("" = all)
    extractor: str = ""  # semantic extractor file: labels from a class's area instead of a CSV
    area_class: str = ""
    area_threshold: float = 0.2
    tails: float = 0.0  # with an extractor: keep this fraction of each tail of the areas (0 = all, by threshold)
    samples: int = 1000  # seeds labelled by the extractor
    seed: int = 0  # first seed for the extractor; shuffles the train/validation split
    split: float = 0.7  # share of the samples the SVM is trained on
    svm_c: float = 1.0  # SVC's C (the original leaves sklearn's default, 1)
    truncation: float = 0.0  # of the labelled seeds' latents; 0 = the model's default
    orthogonal_to: str = ""  # FILE.npz:INDEX[,FILE.npz:INDEX…]: conditions the direction is made orthogonal to
    name: str = ""  # the control's name (default: the area class, else "boundary")

    def input_digest(self) -> str:
        """SHA-256 of the files the settings name, so a cached result is not reused once they change."""
        h = hashlib.sha256()
        paths = [self.labels, self.extractor] + [c.rsplit(":", 1)[0] for c in self.orthogonal_to.split(",") if c.strip()]
        for p in paths:
            if p and Path(p).is_file():
                h.update(Path(p).read_bytes())
            h.update(b"\0")
        return h.hexdigest()


HELP = {
    "labels": "boundary: CSV of seed,label rows (1/yes = has it, 0/no = doesn't, skip = ignored)",
    "space": "boundary: auto (z, or W for StyleGAN), z or w",
    "extractor": "boundary: a semantic extractor (.pt) that labels seeds by a class's area instead of --labels",
    "area_class": "boundary: the extractor's class whose area labels a sample",
    "area_threshold": "boundary: an area share above this is 'has it'",
    "tails": "boundary with an extractor: keep this share of each tail of the areas, as InterFaceGAN (0 = all)",
    "samples": "boundary: seeds labelled by the extractor",
    "split": "boundary: share of the labelled samples the SVM is trained on (the rest measure its accuracy)",
    "svm_c": "boundary: the linear SVM's C",
    "truncation": "truncation of the labelled seeds' latents (0 = the model's default)",
    "orthogonal_to": "boundary: FILE.npz:INDEX[,…] controls the direction is made orthogonal to (conditional)",
    "name": "boundary: the control's name",
    "seed": "first seed the extractor labels; shuffles the train/validation split",
    "layers": "W+ rows A:B the boundary is fitted on and edits ('' = all)",
}


# ---------------------------------------------------------------------- labels
def read_labels(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``seed,label`` CSV -> (seeds int64 ``[N]``, labels int ``[N]`` of 0/1); skipped rows left out."""
    p = Path(path)
    if not p.is_file():
        raise MethodError(f"labels file {p} does not exist")
    if p.stat().st_size > MAX_LABEL_BYTES:
        raise MethodError(f"labels file {p.name} is larger than {MAX_LABEL_BYTES // (1024 * 1024)} MB")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MethodError(f"labels file {p.name} is not UTF-8 text") from None
    seeds, labels = [], []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 2:
            raise MethodError(f"{p.name} line {n}: expected seed,label")
        seed_text, label = row[0].strip(), row[1].strip().lower()
        if n == 1 and not seed_text.isdigit():
            continue  # a header
        if not seed_text.isdigit() or int(seed_text) >= 2**63:
            raise MethodError(f"{p.name} line {n}: {seed_text!r} is not a seed (a whole number ≥ 0)")
        if label in ("", "skip", "?"):
            continue
        if label in POSITIVE:
            value = 1
        elif label in NEGATIVE:
            value = 0
        else:
            raise MethodError(f"{p.name} line {n}: label {row[1].strip()!r} is not 1/0, yes/no or skip")
        seeds.append(int(seed_text))
        labels.append(value)
        if len(seeds) > MAX_LABELS:
            raise MethodError(f"{p.name} has more than {MAX_LABELS} labels")
    return np.array(seeds, dtype=np.int64), np.array(labels, dtype=np.int64)


def write_labels(path: str | Path, labels: dict[int, int | None]) -> None:
    """``{seed: 1, 0 or None (skip)}`` -> a ``seed,label`` CSV, atomically (what the gallery saves)."""
    from models.atomic import atomic_open

    with atomic_open(path, "w") as f:
        f.write("seed,label\n")
        for seed in sorted(labels):
            v = labels[seed]
            f.write(f"{int(seed)},{'skip' if v is None else int(bool(v))}\n")


# ---------------------------------------------------------------------- latents
def resolve_space(G, space: str) -> str:
    style = "stylegan" in str(getattr(G, "family", ""))
    if space not in ("auto", "z", "w"):
        raise MethodError(f"space must be auto, z or w, not {space!r}")
    if space == "auto":
        return "w" if style else "z"
    if space == "z" and style:
        raise MethodError(f"{G.name}'s editing space is W+, where a z boundary is not a linear edit; use space w")
    if space == "w" and not style:
        raise MethodError(f"{G.name} is a {G.family} model, whose editing space is z; use space z")
    return space


def seed_latents(G, seeds: np.ndarray, truncation: float, batch: int = 500) -> torch.Tensor:
    """The window's latents of ``seeds``: ``[N, L, D]`` float32 on the host (sampled, then truncated)."""
    out = []
    with torch.no_grad():
        for s in range(0, len(seeds), batch):
            z = torch.cat([G.sample_z(1, int(v)) for v in seeds[s : s + batch]])
            out.append(G.truncate(G.map(z), truncation).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, G.num_layers, G.latent_dim)


def area_scores(G, extractor, latents: torch.Tensor, class_index: int, truncation: float, batch: int = 16,
                progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel) -> np.ndarray:
    """Share of each image ``[N]`` in [0, 1] that ``extractor`` assigns to class ``class_index``."""
    out = []
    for s in range(0, latents.shape[0], batch):
        check_cancel(cancel)
        pred = extractor.predict(G, latents[s : s + batch].to(G.device), truncation=truncation)
        out.append((pred == class_index).float().mean((1, 2)).cpu().numpy())
        progress(0.8 * min(1.0, (s + batch) / latents.shape[0]), f"labelling {min(s + batch, latents.shape[0])} samples")
    return np.concatenate(out) if out else np.zeros(0)


# ---------------------------------------------------------------------- the SVM
def train_boundary(x: np.ndarray, y: np.ndarray, split: float = 0.7, c: float = 1.0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Linear SVM on features ``x`` ``[N, D]`` with 0/1 labels ``y`` -> (unit normal ``[D]`` float64, figures).

    Positives and negatives are each shuffled and split ``split`` / ``1 − split`` (as the
    original); the normal points toward the positives.
    """
    from sklearn.svm import SVC

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) < 2 or len(neg) < 2:
        raise MethodError(f"a boundary needs at least 2 samples with and 2 without the attribute; got {len(pos)} and {len(neg)}")
    if not 0.0 < split <= 1.0:
        raise MethodError("split must lie in (0, 1]")
    if not (c > 0 and math.isfinite(c)):
        raise MethodError("svm_c must be positive")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for idx in (pos, neg):
        idx = rng.permutation(idx)
        k = max(1, min(len(idx), int(round(len(idx) * split))))
        train.append(idx[:k])
        val.append(idx[k:])
    train, val = np.concatenate(train), np.concatenate(val)
    svm = SVC(kernel="linear", C=c)
    svm.fit(x[train], y[train])
    coef = svm.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    if not norm > 0:
        raise MethodError("the SVM found no separating direction (are the labels all alike?)")
    figures = {
        "train_accuracy": float(svm.score(x[train], y[train])),
        "val_accuracy": float(svm.score(x[val], y[val])) if len(val) else None,
        "train_samples": int(len(train)),
        "val_samples": int(len(val)),
        "positives": int(len(pos)),
        "negatives": int(len(neg)),
    }
    return coef / norm, figures


def orthogonalize(n: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """``n`` ``[D]`` projected onto the orthogonal complement of the rows of ``conditions`` ``[K, D]``, unit length.

    One condition: n − (nᵀc)c with c unit (InterFaceGAN's ``project_boundary``); several:
    the same with an orthonormal basis of their span.
    """
    if len(conditions) == 0:
        return n
    q, _ = np.linalg.qr(np.asarray(conditions, dtype=np.float64).T)  # [D, K], orthonormal columns
    out = n - q @ (q.T @ n)
    norm = float(np.linalg.norm(out))
    if norm < 1e-6:
        raise MethodError("the direction lies in the span of the conditions; nothing is left once they are removed")
    return out / norm


def read_conditions(spec: str, G) -> tuple[np.ndarray, list[str]]:
    """``FILE.npz:INDEX[,…]`` -> (unit directions ``[K, D]``, their names)."""
    dirs, names = [], []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if ":" not in part:
            raise MethodError(f"orthogonal_to {part!r}: expected FILE.npz:INDEX")
        path, idx = part.rsplit(":", 1)
        try:
            i = int(idx)
        except ValueError:
            raise MethodError(f"orthogonal_to {part!r}: {idx!r} is not a control index") from None
        try:
            cs = ControlSet.load(path)
            cs.check_model(G)
        except ControlSetError as exc:
            raise MethodError(str(exc)) from None
        if not 0 <= i < len(cs):
            raise MethodError(f"orthogonal_to {part!r}: {Path(path).name} has controls 0 to {len(cs) - 1}")
        c = cs[i]
        if c.kind != "linear":
            raise MethodError(f"orthogonal_to {part!r}: control {c.name!r} is a {c.kind} control, not a direction")
        d = c.direction.astype(np.float64)
        dirs.append(d / max(float(np.linalg.norm(d)), 1e-12))
        names.append(f"{Path(path).name}:{i} ({c.name})")
    return np.array(dirs).reshape(-1, G.latent_dim), names


# ---------------------------------------------------------------------- the method
def discover(G, config: BoundaryConfig = BoundaryConfig(), progress: ProgressFn = no_progress,
             cancel: CancelFn = never_cancel) -> ControlSet:
    """Labelled seeds -> one linear control, the SVM's unit normal (optionally conditional)."""
    resolve_space(G, config.space)  # a wrong space fails before any labelling
    parse_rows(config.layers, G.num_layers)
    psi = config.truncation or float(getattr(G, "default_truncation", 1.0))
    source: dict = {}
    name = config.name.strip()
    if config.labels and config.extractor:
        raise MethodError("give labels (a CSV) or an extractor, not both")
    if config.labels:
        seeds, y = read_labels(config.labels)
        source = {"labels": str(config.labels)}
        progress(0.1, f"{len(seeds)} labelled seeds")
        lat = None
    elif config.extractor:
        from .semantics import SemanticExtractor

        if not 2 <= config.samples <= MAX_LABELS:
            raise MethodError(f"samples must be between 2 and {MAX_LABELS}")
        ext = SemanticExtractor.load(config.extractor, G)
        if config.area_class not in ext.classes:
            raise MethodError(f"the extractor has no class {config.area_class!r}; it has {', '.join(ext.classes)}")
        seeds = np.arange(config.seed, config.seed + config.samples, dtype=np.int64)
        lat = seed_latents(G, seeds, psi)
        scores = area_scores(G, ext, lat, ext.classes.index(config.area_class), psi, progress=progress, cancel=cancel)
        if config.tails > 0:
            if not config.tails <= 0.5:
                raise MethodError("tails must lie in (0, 0.5]")
            k = max(2, int(round(config.tails * len(scores))))
            order = np.argsort(scores, kind="stable")
            keep = np.concatenate([order[-k:], order[:k]])
            y = np.concatenate([np.ones(k, np.int64), np.zeros(k, np.int64)])
            lat, seeds = lat[keep], seeds[keep]
        else:
            y = (scores > config.area_threshold).astype(np.int64)
        source = {"extractor": str(config.extractor), "area_class": config.area_class,
                  "mean_area": float(scores.mean()) if len(scores) else 0.0}
        name = name or f"has {config.area_class}"
    else:
        raise MethodError("a boundary needs labels: a CSV of seed,label (labels) or an extractor and its class")
    return boundary_from_labels(G, seeds, y, config, source, name, lat, progress, cancel)


def boundary_from_labels(G, seeds: np.ndarray, y: np.ndarray, config: BoundaryConfig = BoundaryConfig(),
                         source: dict | None = None, name: str = "", latents: torch.Tensor | None = None,
                         progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel) -> ControlSet:
    """Seeds ``[N]`` with 0/1 labels ``y`` ``[N]`` -> the boundary's ControlSet (the gallery calls this).

    ``latents``: the seeds' latents ``[N, L, D]`` when already computed (else sampled and
    truncated at ``config.truncation``).  ``source``: where the labels came from, for the provenance.
    """
    space = resolve_space(G, config.space)
    start, end = parse_rows(config.layers, G.num_layers)
    psi = config.truncation or float(getattr(G, "default_truncation", 1.0))
    conditions, cond_names = read_conditions(config.orthogonal_to, G) if config.orthogonal_to.strip() else (np.zeros((0, G.latent_dim)), [])
    seeds, y = np.asarray(seeds, dtype=np.int64), np.asarray(y, dtype=np.int64)
    lat = latents if latents is not None else seed_latents(G, seeds, psi)
    check_cancel(cancel)
    x = lat[:, start:end].mean(1).double().numpy()  # [N, D]: the row range's latent (all rows equal when sampled)
    progress(0.85, "fitting the linear SVM")
    normal, figures = train_boundary(x, y, config.split, config.svm_c, config.seed)
    unconditional = normal
    if len(conditions):
        normal = orthogonalize(normal, conditions)
        figures["cosine_to_unconditional"] = float(normal @ unconditional)
        figures["conditions"] = cond_names
    proj = x @ normal
    sigma = float(proj.std())
    if not sigma > 0:
        sigma = 1.0
    rng = None if (start, end) == (0, G.num_layers) else (start, end)
    control = LinearControl(name or config.name.strip() or "boundary", normal.astype(np.float32), sigma, rng)
    stats = {"space": space, "layers": [start, end], "truncation": psi, **figures, **(source or {}),
             "separation_sigma": float((proj[y == 1].mean() - proj[y == 0].mean()) / sigma)}
    progress(1.0, f"held-out accuracy {figures['val_accuracy']:.3f}" if figures["val_accuracy"] is not None else "done")
    return ControlSet([control], ModelRef.of(G), "boundary", asdict(config), seed=config.seed, samples=int(len(y)),
                      extras={"seeds": seeds, "labels": y.astype(np.int8)}, stats=stats)
