"""Visual concept vocabulary (Schwettmann et al. 2021; METHODS.md §5): LSDs and word distillation.

(a) Layer-selective directions — `discover_lsd`, registered as method ``lsd``.
    For each feature layer l from the last chosen one down to the first, find
    ``per_layer`` latent directions that move the latent by a fixed step α while
    changing G_l as little as possible::

        d̂ = P⊥ d / ‖P⊥ d‖,   P⊥ = I − Q Qᵀ,  Q = orthonormal basis (QR) of all directions found so far
        L(d) = 0.02 · mean_{z, units} (G_l(z + α·d̂) − G_l(z))²

    minimised by Adam (lr 0.01) over the raw parameter d, the projection re-applied inside
    every step (so d̂ stays orthogonal to the earlier directions).  Unlike the original
    code, which writes ``loss.backward`` without calling it (METHODS.md §5 pitfalls), the
    loss is really back-propagated; each direction's loss before and after optimisation
    is recorded to show it.

    The step α: the paper's α = 10 in BigGAN-Places z, whose samples have norm
    ≈ √(119·0.5) ≈ 7.7, so the step is ≈ 1.3 typical latent norms.  ``alpha = 0``
    (the default) keeps that ratio for any generator: α = 1.3 · RMS‖latent − avg‖ over
    256 samples (≈ 13 for ``dcgan-faces``, whose z has norm ≈ 10).  The direction is
    added to every per-layer latent row.  One slider unit of an LSD is one step α.

    Layer selectivity comes from BigGAN's skip-z (a direction that spares layer l still
    reaches later blocks through their own z chunk).  In a generator with a single
    latent input (DCGAN) it instead finds the directions to which layer l, and so the
    image as seen at that scale, is least sensitive.

(c) Distillation — `distill` / `distill_store`.  Annotations → binary bag of words
    W ``[n_annotations, n_words]`` (after `methods.text.preprocess`, words seen in fewer
    than ``min_count`` annotations dropped), D ``[n_annotations, latent_dim]`` the
    directions they describe; ridge regression::

        E = argmin ‖W E − D‖²_F + λ‖E‖²_F = (WᵀW + λI)⁻¹ Wᵀ D        ([n_words, latent_dim])

    λ, when not given, maximises the k-fold held-out reconstruction: the mean cosine of
    W_i E and D_i over held-out annotations (folds grouped by direction, so a direction's
    annotations are never split between training and test).  Word j's control is the unit
    vector e_j/‖e_j‖ with slider unit α.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from .controls import ControlSet, LinearControl, ModelRef
from .jobs import CancelFn, MethodError, ProgressFn, check_cancel, never_cancel, no_progress
from .text import lemmatize, preprocess, tokenize

if TYPE_CHECKING:
    from .annotations import AnnotationStore

#: the paper's step relative to the typical latent norm: α = 10 over ‖z‖ ≈ √(119·0.5)
ALPHA_OVER_NORM = 10.0 / math.sqrt(119 * 0.5)
LOSS_WEIGHT = 0.02
#: λ candidates tried by held-out selection
LAMBDA_GRID: tuple[float, ...] = tuple(float(x) for x in np.logspace(-3, 3, 13))


class VocabError(MethodError):
    """Bad options or data for LSDs or distillation; one sentence for the user."""


# ====================================================================== (a) LSDs
@dataclass(frozen=True)
class LSDConfig:
    """Options of `discover_lsd`; every field is a CLI option and a field of the GUI dialog."""

    layers: str = ""  # "A:B" feature layers (indices or names, inclusive); "" = the first three
    per_layer: int = 4  # directions per layer (the paper: 4)
    steps: int = 200  # Adam steps per direction (the paper: 2000; 200 is ~10x down on dcgan-faces)
    alpha: float = 0.0  # step α in latent units; 0 = auto (1.3 typical latent norms, the paper's ratio)
    seed: int = 0  # seeds of the latents and of the initial directions
    batch: int = 4  # latents per step (the paper: 1; a few make the directions generalise)
    lr: float = 0.01  # Adam learning rate (the paper: 0.01)


LSD_HELP = {
    "layers": "feature layers A:B (indices into the model's layers without 'latent', or names; inclusive), "
              "searched from B down to A; empty = the first three",
    "per_layer": "directions found per layer",
    "steps": "Adam steps per direction (the paper uses 2000)",
    "alpha": "fixed step α in latent units (0 = 1.3 × the typical latent norm, the paper's ratio)",
    "seed": "seed of the latents and the initial directions",
    "batch": "latents averaged in each step (the paper uses 1)",
    "lr": "Adam learning rate",
}


def feature_layers(G) -> list[str]:
    """The layers LSDs can be selective for: `G.layer_names()` without ``"latent"``, in forward order."""
    return [n for n in G.layer_names() if n != "latent"]


def resolve_layers(G, spec: str) -> list[str]:
    """Layer names for ``"A:B"`` / ``"A"`` (indices or names, inclusive), in forward order.

    Empty: the first three feature layers (the paper's start_layer = 2 … end_layer = 0).
    """
    names = feature_layers(G)
    if not names:
        raise VocabError(f"{G.name} exposes no feature layers")
    spec = (spec or "").strip()
    if not spec:
        return names[: min(3, len(names))]

    def one(tok: str) -> int:
        tok = tok.strip()
        if tok in names:
            return names.index(tok)
        try:
            i = int(tok)
        except ValueError:
            raise VocabError(f"layer {tok!r} does not exist; use an index 0…{len(names) - 1} or one of {', '.join(names)}") from None
        if not 0 <= i < len(names):
            raise VocabError(f"layer index {i} is outside 0…{len(names) - 1} ({', '.join(names)})")
        return i

    parts = spec.split(":")
    if len(parts) > 2:
        raise VocabError(f"layers {spec!r} must be A:B or a single layer")
    a, b = one(parts[0]), one(parts[-1])
    lo, hi = min(a, b), max(a, b)
    return names[lo : hi + 1]


def auto_alpha(G, n: int = 256, seed: int = 10_000_000) -> float:
    """α = `ALPHA_OVER_NORM` · RMS over samples and rows of ‖latent − latent_avg‖."""
    with torch.no_grad():
        lat = G.sample(n, seed).float()
        dev = lat - G.latent_avg.to(lat)
        rms = float(dev.pow(2).sum(-1).mean().sqrt())
    return ALPHA_OVER_NORM * rms


def _project(d: torch.Tensor, Q: torch.Tensor | None) -> torch.Tensor:
    """d̂ = P⊥d/‖P⊥d‖ with P⊥d = d − Q(Qᵀd); ``Q`` ``[D, k]`` orthonormal columns or None."""
    if Q is not None:
        d = d - Q @ (Q.T @ d)
    return d / d.norm().clamp_min(1e-12)


def lsd_loss(G, latents: torch.Tensor, reference: torch.Tensor, layer: str, alpha: float, dhat: torch.Tensor) -> torch.Tensor:
    """L = 0.02 · mean((G_l(x + α·d̂) − G_l(x))²); ``latents`` ``[B, L, D]``, ``reference`` = G_l(x), ``dhat`` ``[D]``."""
    moved = latents + alpha * dhat.to(latents.dtype)[None, None, :]
    f = G.features(moved, [layer])[layer]
    return LOSS_WEIGHT * (f.float() - reference).pow(2).mean()


def discover_lsd(
    G,
    config: LSDConfig = LSDConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Find layer-selective directions; returns ``len(layers)·per_layer`` LinearControls named ``"<layer> #k"``.

    Controls are listed in the order found (last layer first).  Each direction k uses the
    latents of seeds ``seed + k·batch …`` and starts from a seeded Gaussian d.
    Extras: ``loss_initial``/``loss_final`` [K] (L at the first step and after the last),
    ``layer_index`` [K] (index into `feature_layers`).
    """
    if config.per_layer < 1 or config.steps < 1 or config.batch < 1:
        raise VocabError("per_layer, steps and batch must be at least 1")
    if not (config.lr > 0 and math.isfinite(config.lr)) or not (config.alpha >= 0 and math.isfinite(config.alpha)):
        raise VocabError("lr must be positive and alpha positive (or 0 for automatic)")
    layers = resolve_layers(G, config.layers)
    all_layers = feature_layers(G)
    D = G.latent_dim
    total = len(layers) * config.per_layer
    if total > D:
        raise VocabError(f"{total} orthogonal directions do not fit in a latent space of size {D}")
    alpha = float(config.alpha) or auto_alpha(G)
    dev = G.device
    found: list[torch.Tensor] = []  # unit directions [D], float32
    names: list[str] = []
    loss0: list[float] = []
    loss1: list[float] = []
    layer_idx: list[int] = []
    k = 0
    for layer in reversed(layers):  # from the layer nearest the output down to the first
        for j in range(config.per_layer):
            check_cancel(cancel)
            with torch.no_grad():
                x = G.sample(config.batch, config.seed + k * config.batch).float()
                ref = G.features(x, [layer])[layer].float()
            # Q: orthonormal basis of everything found so far (QR of [D, k]); fixed during this search.
            Q = torch.linalg.qr(torch.stack(found, 1))[0] if found else None
            gen = torch.Generator().manual_seed(config.seed * 1_000_003 + k)
            d = torch.randn(D, generator=gen).to(dev)
            if Q is not None:
                d = d - Q @ (Q.T @ d)  # start in the complement, as the original does
            d.requires_grad_(True)
            opt = torch.optim.Adam([d], lr=config.lr)
            first = None
            for step in range(config.steps):
                loss = lsd_loss(G, x, ref, layer, alpha, _project(d, Q))
                value = float(loss.detach())
                if first is None:
                    first = value
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if step % 10 == 9:
                    check_cancel(cancel)
                    progress((k + (step + 1) / config.steps) / total,
                             f"{layer} #{j}: step {step + 1}/{config.steps}, loss {value:.3g}")
            with torch.no_grad():
                dhat = _project(d.detach(), Q)
                last = float(lsd_loss(G, x, ref, layer, alpha, dhat))
            found.append(dhat.float())
            names.append(f"{layer} #{j}")
            loss0.append(first)
            loss1.append(last)
            layer_idx.append(all_layers.index(layer))
            k += 1
    progress(1.0, "done")
    dirs = torch.stack(found).cpu().numpy().astype(np.float32)  # [K, D], orthonormal rows
    controls = [LinearControl(n, dirs[i], alpha) for i, n in enumerate(names)]
    l0, l1 = np.array(loss0), np.array(loss1)
    extras = {"loss_initial": l0, "loss_final": l1, "layer_index": np.array(layer_idx, dtype=np.int64)}
    stats = {
        "layers": layers,
        "alpha": alpha,
        "loss_initial_mean": float(l0.mean()),
        "loss_final_mean": float(l1.mean()),
        "loss_reduction": float(1.0 - l1.mean() / max(l0.mean(), 1e-30)),
        "orthogonality_error": float(np.abs(dirs @ dirs.T - np.eye(len(dirs))).max()),
    }
    cfg = asdict(config) | {"alpha": alpha, "layers": f"{layers[0]}:{layers[-1]}"}
    return ControlSet(controls, ModelRef.of(G), "lsd", cfg, config.seed, config.batch * total, extras=extras, stats=stats)


# ====================================================================== (c) distillation
@dataclass(frozen=True)
class DistillConfig:
    """Options of `distill`.

    ``lam``: ridge λ (None: chosen by ``folds``-fold held-out reconstruction over
    `LAMBDA_GRID`); ``min_count``: words in fewer annotations are dropped; ``alpha``:
    slider unit of the word controls in latent units (0: the median step of the described
    directions); ``stop_words``/``lemmatise``: text preprocessing switches.
    """

    lam: float | None = None
    min_count: int = 2
    folds: int = 5
    alpha: float = 0.0
    stop_words: bool = True
    lemmatise: bool = True
    seed: int = 0


@dataclass(frozen=True)
class BagOfWords:
    """``W`` ``[n, V]`` float64 binary; ``words`` [V]; ``support`` [V] annotation counts;
    ``rows`` indices (into the input texts) of the annotations that kept at least one word."""

    W: np.ndarray
    words: list[str]
    support: np.ndarray
    rows: np.ndarray


def bag_of_words(texts: Sequence[str], min_count: int = 1, stop_words: bool = True, lemmatise: bool = True) -> BagOfWords:
    """Binary bag of words: W_ij = 1 when word j occurs in annotation i (words by support, then a-z)."""
    tokens = [preprocess(t, stop_words, lemmatise) for t in texts]
    counts: dict[str, int] = {}
    for ts in tokens:
        for w in ts:
            counts[w] = counts.get(w, 0) + 1
    words = sorted((w for w, c in counts.items() if c >= max(1, min_count)), key=lambda w: (-counts[w], w))
    col = {w: j for j, w in enumerate(words)}
    W = np.zeros((len(texts), len(words)), dtype=np.float64)
    for i, ts in enumerate(tokens):
        for w in ts:
            j = col.get(w)
            if j is not None:
                W[i, j] = 1.0
    rows = np.flatnonzero(W.any(1)) if len(words) else np.zeros(0, dtype=np.int64)
    return BagOfWords(W[rows], words, np.array([counts[w] for w in words], dtype=np.int64), rows)


def ridge(W: np.ndarray, D: np.ndarray, lam: float) -> np.ndarray:
    """E = (WᵀW + λI)⁻¹ WᵀD ``[V, dim]``; λ = 0 gives the minimum-norm least-squares solution."""
    W = np.asarray(W, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if lam < 0 or not math.isfinite(lam):
        raise VocabError("λ must be a finite number ≥ 0")
    if lam == 0:
        return np.linalg.lstsq(W, D, rcond=None)[0]
    A = W.T @ W
    A[np.diag_indices_from(A)] += lam
    return np.linalg.solve(A, W.T @ D)


def _row_cosines(P: np.ndarray, D: np.ndarray) -> np.ndarray:
    """cos(P_i, D_i) per row; 0 where either is zero."""
    num = (P * D).sum(1)
    den = np.linalg.norm(P, axis=1) * np.linalg.norm(D, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def fold_labels(groups: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold index per row; rows of one group (direction) share a fold."""
    uniq = np.unique(groups)
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {g: int(perm[i] % folds) for i, g in enumerate(uniq)}
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


def heldout_scores(W: np.ndarray, D: np.ndarray, lams: Sequence[float], folds: int = 5,
                   groups: np.ndarray | None = None, seed: int = 0, cancel: CancelFn = never_cancel) -> np.ndarray:
    """Mean held-out cosine(W_i E_λ, D_i) for each λ, by k-fold over groups.

    One eigendecomposition WᵀW = U S Uᵀ per fold gives every λ:
    E_λ = U diag(1/(s + λ)) Uᵀ WᵀD.
    """
    n = W.shape[0]
    groups = np.arange(n) if groups is None else np.asarray(groups)
    k = min(folds, len(np.unique(groups)))
    if k < 2:
        raise VocabError("held-out selection of λ needs annotations of at least two directions; give λ")
    lab = fold_labels(groups, k, seed)
    total = np.zeros(len(lams))
    for f in range(k):
        check_cancel(cancel)
        tr, te = lab != f, lab == f
        Wt, Dt = W[tr], D[tr]
        s, U = np.linalg.eigh(Wt.T @ Wt)
        s = np.clip(s, 0, None)
        B = U.T @ (Wt.T @ Dt)  # [V, dim]
        Pu = W[te] @ U  # held-out rows in the eigenbasis
        tol = 1e-9 * max(float(s.max()), 1.0)
        for i, lam in enumerate(lams):
            # λ = 0: pseudo-inverse (drop null directions of WᵀW), as `ridge` does via lstsq
            inv = 1.0 / (s + lam) if lam > 0 else np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
            total[i] += _row_cosines(Pu @ (B * inv[:, None]), D[te]).sum()
    return total / n


def choose_lambda(W: np.ndarray, D: np.ndarray, grid: Sequence[float] = LAMBDA_GRID, folds: int = 5,
                  groups: np.ndarray | None = None, seed: int = 0, cancel: CancelFn = never_cancel) -> tuple[float, np.ndarray]:
    """(λ with the best held-out score — the smallest on ties —, scores over ``grid``)."""
    scores = heldout_scores(W, D, grid, folds, groups, seed, cancel)
    best = int(np.flatnonzero(scores >= scores.max() - 1e-12)[0])
    return float(grid[best]), scores


def distill(
    texts: Sequence[str],
    D: np.ndarray,
    model: ModelRef,
    config: DistillConfig = DistillConfig(),
    groups: np.ndarray | None = None,
    alpha: float = 0.0,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
    provenance: dict | None = None,
) -> ControlSet:
    """Words → directions by ridge regression; one LinearControl per word (most supported first).

    ``texts`` [n] annotations, ``D`` ``[n, latent_dim]`` the directions they describe,
    ``groups`` [n] direction ids (k-fold grouping; default: one group per row).
    ``alpha`` is used when ``config.alpha`` is 0 (callers pass the directions' own step).
    Extras: ``support`` [K] annotations per word, ``norm`` [K] ‖e_j‖, ``lambda_grid`` and
    ``lambda_score`` (held-out mean cosine per λ, when λ was chosen).
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != len(texts):
        raise VocabError(f"need one direction per annotation: {len(texts)} texts but D has shape {D.shape}")
    if D.shape[1] != model.latent_dim:
        raise VocabError(f"directions have size {D.shape[1]} but the model's latent size is {model.latent_dim}")
    if config.min_count < 1 or config.folds < 2:
        raise VocabError("min_count must be at least 1 and folds at least 2")
    if config.lam is not None and (config.lam < 0 or not math.isfinite(config.lam)):
        raise VocabError("λ must be a finite number ≥ 0")
    if len(texts) == 0:
        raise VocabError("there are no annotations to distil")
    bow = bag_of_words(texts, config.min_count, config.stop_words, config.lemmatise)
    if not bow.words:
        raise VocabError(f"no word occurs in at least {config.min_count} annotations; lower the minimum count or add annotations")
    W, Dk = bow.W, D[bow.rows]
    g = (np.arange(len(texts)) if groups is None else np.asarray(groups))[bow.rows]
    if config.lam is None and len(np.unique(g)) < 2:
        raise VocabError("held-out selection of λ needs annotations of at least two directions; give λ")
    extras: dict[str, np.ndarray] = {}
    if config.lam is None:
        progress(0.1, f"choosing λ by held-out reconstruction ({len(bow.words)} words)")
        lam, scores = choose_lambda(W, Dk, LAMBDA_GRID, config.folds, g, config.seed, cancel)
        extras |= {"lambda_grid": np.array(LAMBDA_GRID), "lambda_score": scores}
        how = f"{min(config.folds, len(np.unique(g)))}-fold held-out cosine"
    else:
        lam, how = float(config.lam), "given"
    check_cancel(cancel)
    progress(0.9, f"ridge regression, λ = {lam:g}")
    E = ridge(W, Dk, lam)  # [V, dim]
    norms = np.linalg.norm(E, axis=1)
    keep = np.flatnonzero(norms > 1e-12)
    step = float(config.alpha) or float(alpha) or 1.0
    controls = [LinearControl(bow.words[j], (E[j] / norms[j]).astype(np.float32), step) for j in keep]
    support = bow.support[keep]
    fit = _row_cosines(W @ E, Dk)
    extras |= {"support": support, "norm": norms[keep].astype(np.float64)}
    stats = {
        "lambda": lam,
        "lambda_chosen_by": how,
        "annotations": int(len(texts)),
        "annotations_used": int(len(bow.rows)),
        "directions": int(len(np.unique(g))),
        "words": len(controls),
        "min_count": config.min_count,
        "alpha": step,
        "train_cosine": float(fit.mean()),
        "support": {bow.words[j]: int(bow.support[j]) for j in keep},
    }
    if "lambda_score" in extras:
        stats["heldout_cosine"] = float(extras["lambda_score"].max())
    stats |= provenance or {}
    progress(1.0, f"{len(controls)} words")
    cfg = asdict(config)
    return ControlSet(controls, model, "vocab", cfg, config.seed, len(texts), extras=extras, stats=stats)


def distill_store(
    store: "AnnotationStore",
    config: DistillConfig = DistillConfig(),
    sources: Sequence[str] | None = None,
    latent_dim: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Distil every annotation in ``store`` (or those of some source keys / one latent size).

    The word controls belong to the generator of the annotated sets when they all share
    one fingerprint; otherwise to any generator of that latent size (empty fingerprint).
    """
    data = store.training_data(sources, latent_dim)
    if not data.texts:
        raise VocabError(f"{store.path.name} holds no annotations" + (" for that selection" if sources or latent_dim else ""))
    refs = {(s.model.name, s.model.family, s.model.fingerprint, s.model.latent_dim, s.model.num_layers) for s in data.sources}
    if len(refs) == 1 and next(iter(refs))[2]:
        model = ModelRef(*next(iter(refs)))
    else:
        fams = {r[1] for r in refs}
        model = ModelRef("vocabulary", fams.pop() if len(fams) == 1 else "any", "", data.vectors.shape[1],
                         max(r[4] for r in refs))
    prov = {"sources": [{"key": s.key, "name": s.name, "method": s.method, "model": s.model.name} for s in data.sources]}
    return distill(data.texts, data.vectors, model, config, data.direction_ids, float(np.median(data.scales)),
                   progress, cancel, prov)


# ====================================================================== using words
def word_support(cs: ControlSet) -> list[int]:
    """Annotations behind each control of a word set (0 where unknown, e.g. after `subset`)."""
    sup = cs.extras.get("support")
    if sup is not None and len(sup) == len(cs):
        return [int(s) for s in sup]
    table = cs.stats.get("support", {}) if isinstance(cs.stats.get("support"), dict) else {}
    return [int(table.get(c.name, 0)) for c in cs.controls]


def search_words(cs: ControlSet, query: str = "") -> list[tuple[int, str, int]]:
    """(control index, word, support) of the words matching ``query``, best first.

    Each query token matches a word equal to it or to its lemma (rank 0), starting with it
    (rank 1) or containing it (rank 2); within a rank, more support first.  An empty
    query lists every word by support.
    """
    support = word_support(cs)
    rows = [(i, c.name, support[i]) for i, c in enumerate(cs.controls)]
    toks = tokenize(query)
    if not toks:
        return sorted(rows, key=lambda r: (-r[2], r[1]))
    keys = {t for tok in toks for t in (tok, lemmatize(tok))}
    ranked = []
    for i, name, s in rows:
        low = name.lower()
        rank = 0 if low in keys else 1 if any(low.startswith(k) for k in keys) else 2 if any(k in low for k in keys) else None
        if rank is not None:
            ranked.append((rank, -s, name, i))
    return [(i, name, -ns) for rank, ns, name, i in sorted(ranked)]


__all__ = [
    "BagOfWords", "DistillConfig", "LSDConfig", "LSD_HELP", "VocabError", "auto_alpha", "bag_of_words",
    "choose_lambda", "discover_lsd", "distill", "distill_store", "feature_layers", "heldout_scores", "resolve_layers",
    "ridge", "search_words", "word_support",
]
