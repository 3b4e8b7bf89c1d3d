"""GANSpace (Härkönen et al. 2020): PCA of activations or latents -> linear controls.

METHODS.md §1.  Two cases, chosen by the layer:

* ``layer == "latent"`` (case A, StyleGAN's W): PCA of the latents themselves.
  Components are unit latent directions; σ_i is the stdev of ``w·v_i`` over fresh samples.
* any other layer l (case B, e.g. BigGAN ``generator.gen_z``, DCGAN ``block1``):
  PCA of the flattened activations ``G_l(z)`` gives ``V`` ``[C, D_act]``, μ and
  ``s_i = sqrt(λ_i)``.  The components are carried to latent space by least squares on
  fresh samples: with ``A = V (G_l(z) − μ) / s`` ``[n, C]``, solve ``min_M ‖A M − Z‖²``;
  the rows of M, normalised (not orthogonalised), are the latent directions u_i, and
  one slider unit is the stdev of ``z·u_i`` (1 in a standard-normal z space).

Everything runs in torch on the generator's device in batches, so memory is bounded
whatever the sample count, with progress and cancellation.

Class-conditional models: ``class_index`` picks the class of the samples.  BigGAN's
``generator.gen_z`` is linear in ``[z, class embedding]``, so there the class only moves
the mean, which PCA removes: the components (and latent directions) are the same for
every class, in the original too.  Per-class components differ from the first
``generator.layers.k`` on, where class-conditional batch norm acts.

The PCA estimator is chosen explicitly (``estimator``, `methods.pca.choose_estimator`)
and the ControlSet's stats say which ran and why:

* ``exact-covariance`` — float64 covariance accumulated by chunks, then ``eigh``: for
  narrow layers (W, gen_z of small models) and, on a GPU, up to 16 384 wide;
* ``exact-svd`` — SVD of the centred samples when N ≤ 2 000.  The original is exact
  there too: its incremental PCA fits one chunk of max(B, 2000, 3C) rows;
* ``incremental`` — otherwise.  We differ from the original here: it feeds 2 000-row
  chunks to scikit-learn's IncrementalPCA keeping C components; we keep
  max(2C + 8, 128) components in chunks of twice that, which holds every top-20
  component within 1−|cos| ≤ 1e-4 of exact on dcgan-faces block1 and is more accurate
  than the original at large N (top-20 overlap 0.99999 against 0.99988 at N = 10 000).

Under ``torchrun`` (`methods.distributed`) rank r draws the seeds of its contiguous share
(`distributed.share`) of each pass, and the ranks combine their statistics once per pass:

* ``exact-covariance`` all-reduces the float64 sums (n, Σx, Σxxᵀ) with the random
  baseline's, so the components equal a single process's on the same seeds up to float
  rounding; pass 2's sums (AᵀA, AᵀZ and the latent moments) are all-reduced the same way;
* ``exact-svd`` (N ≤ 2 000) all-gathers the kept rows in rank (= seed) order: the same
  rows as one process;
* ``incremental`` runs on each rank's own chunks, then all-gathers each rank's low-rank
  summary (n, μ, S, V) and merges them in rank order (`IncrementalPCA.merge`).  The chunks
  differ from one process's, so the result agrees with it within incremental PCA's own
  accuracy, not to rounding.

The stats record ``world_size`` and each rank's seed ranges.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import distributed
from .controls import ControlSet, LinearControl, ModelRef
from .jobs import CancelFn, MethodError, ProgressFn, check_cancel, never_cancel, no_progress
from .pca import CovariancePCA, ExactPCA, IncrementalPCA, choose_estimator


@dataclass(frozen=True)
class GANSpaceConfig:
    """Options of `discover`; every field is a CLI option and a field of the GUI dialog."""

    layer: str = ""  # empty: the family's default (G.default_pca_layer)
    samples: int = 20_000  # N, samples for the PCA
    components: int = 40  # C, number of components kept
    seed: int = 1  # seed of the first sample (GANSpace's SEED_SAMPLING)
    batch: int = 250  # generator batch size (memory, not results)
    regression_samples: int = 0  # 0: max(10 000, N) fresh samples for case B
    stdev_samples: int = 5_000  # fresh samples for σ_i in case A
    class_index: int = -1  # class-conditional models: the class the components are for (-1: the model's default)
    truncation: float = 1.0  # samples are truncated with this psi before the decomposition
    estimator: str = "auto"  # auto | exact | incremental (methods.pca.choose_estimator)


HELP = {
    "layer": "layer whose activations are decomposed ('latent' = PCA of the latents themselves)",
    "samples": "number of samples N for the PCA",
    "components": "number of components C kept",
    "seed": "seed of the first sample",
    "batch": "generator batch size (affects memory only)",
    "regression_samples": "fresh samples for the transfer to latent directions (0: max(10000, N))",
    "stdev_samples": "fresh samples for each component's σ in latent mode",
    "class_index": "class-conditional models: the class the components are computed for (-1: the model's default)",
    "truncation": "truncation psi of the samples (1 = none)",
    "estimator": "PCA estimator: auto (exact where cheap: narrow layers, N ≤ 2000, wide layers on a GPU), exact, or incremental",
}


def _rounds(total: int, batch: int, world: distributed.World):
    """``(round, start, n, done, last)`` for this rank's share of ``total`` samples, in batches.

    Every rank goes through the same number of rounds (its share's batches, then empty
    rounds with ``n = 0``), so a collective cancel check per round stays in step;
    ``done`` counts the samples all ranks have drawn after the round.
    """
    shares = [distributed.share(total, r, world.size) for r in range(world.size)]
    first, count = shares[world.rank]
    rounds = max(-(-c // batch) for _, c in shares)
    for j in range(rounds):
        start = first + j * batch
        n = max(0, min(batch, first + count - start))
        done = sum(min(c, (j + 1) * batch) for _, c in shares)
        yield j, start, n, done, j == rounds - 1


def _seed_ranges(first_seed: int, total: int, world: distributed.World) -> list[list[int]]:
    """``[first, last + 1)`` seeds of each rank's share."""
    out = []
    for r in range(world.size):
        start, count = distributed.share(total, r, world.size)
        out.append([first_seed + start, first_seed + start + count])
    return out


def _combine_pass1(est, rsum: torch.Tensor, rsq: torch.Tensor, N: int, world: distributed.World):
    """Every rank's pass-1 statistics combined on every rank (the estimator, Σp and Σp² of the baseline)."""
    if not world.active:
        return est, rsum, rsq
    C = rsum.shape[0]
    if isinstance(est, CovariancePCA):
        # One all-reduce of the float64 sums (n, Σx, Σxxᵀ) and the baseline's
        D = est.dim
        flat = torch.cat([torch.tensor([float(est.n)], dtype=torch.float64, device=rsum.device),
                          est.sum, est.outer.reshape(-1), rsum, rsq])
        flat = distributed.all_sum(flat)
        est.n = int(round(float(flat[0])))
        est.sum = flat[1 : 1 + D].clone()
        est.outer = flat[1 + D : 1 + D + D * D].reshape(D, D).clone()
        return est, flat[-2 * C : -C].clone(), flat[-C:].clone()
    both = distributed.all_sum(torch.cat([rsum, rsq]))
    counts = [distributed.share(N, r, world.size)[1] for r in range(world.size)]
    if isinstance(est, ExactPCA):
        mine = torch.cat(est.rows) if est.rows else torch.zeros(0, est.dim, device=rsum.device)
        merged = ExactPCA(est.dim, est.n_components, est.device)
        merged.partial_fit(distributed.gather_rows(mine, counts))  # rank order = seed order
        return merged, both[:C], both[C:]
    assert isinstance(est, IncrementalPCA)
    n, mean, m2, s, v = est.summary()
    k, D = est.n_components, est.dim
    packed = torch.zeros(1, 1 + 2 * D + k + k * D, dtype=torch.float64, device=est.device)
    packed[0, 0] = float(n)
    packed[0, 1 : 1 + D], packed[0, 1 + D : 1 + 2 * D] = mean, m2
    packed[0, 1 + 2 * D : 1 + 2 * D + s.shape[0]] = s  # zero-padded: a zero singular value adds nothing
    packed[0, 1 + 2 * D + k :].view(k, D)[: v.shape[0]] = v
    merged = IncrementalPCA(D, k, est.device)
    for row in distributed.gather_rows(packed, [1] * world.size):
        body = row[1 + 2 * D :]
        merged.merge(int(round(float(row[0]))), row[1 : 1 + D], row[1 + D : 1 + 2 * D], body[:k], body[k:].reshape(k, D))
    return merged, both[:C], both[C:]


def discover(
    G,
    config: GANSpaceConfig = GANSpaceConfig(),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> ControlSet:
    """Run GANSpace on generator ``G`` and return ``C`` linear controls named ``PC0``…"""
    layer = config.layer or G.default_pca_layer
    if layer not in G.layer_names():
        raise MethodError(f"layer {layer!r} does not exist; choose one of {', '.join(G.layer_names())}")
    if config.samples < 2 or config.components < 1 or config.batch < 1:
        raise MethodError("samples must be at least 2, and components and batch at least 1")
    if not 0 < config.truncation <= 1:
        raise MethodError("truncation must be in (0, 1]")
    class_index = -1
    if G.classes is not None:
        class_index = config.class_index if config.class_index >= 0 else int(getattr(G, "default_class", 0))
        if class_index >= len(G.classes):
            raise MethodError(f"class {class_index} is outside the model's {len(G.classes)} classes")
    N, C = config.samples, config.components
    # Case A decomposes one latent row (W is repeated over the rows of W+).
    act_dim = G.latent_dim if layer == "latent" else int(np.prod(G.layer_shape(layer)))
    C = min(C, act_dim, G.latent_dim, N)
    dev = G.device

    def feats(start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(activations [n, D_act] float32, latents [n, latent_dim]) for seeds start…"""
        classes = None if G.classes is None else torch.full((n,), class_index, dtype=torch.long, device=dev)
        # NVIDIA's conditional StyleGANs map the class with z: W then depends on it
        mapped = getattr(G, "class_in_mapping", False) and classes is not None
        lat = G.truncate(G.sample(n, start, classes=classes) if mapped else G.sample(n, start), config.truncation)
        if layer == "latent":
            return lat[:, 0].float(), lat[:, 0]
        with torch.no_grad():
            f = G.features(lat, [layer], classes=classes, truncation=config.truncation)[layer]
        return f.reshape(n, -1).float(), lat[:, 0]

    # --- pass 1: PCA of the chosen layer (and the random-direction baseline) ---------
    try:
        choice = choose_estimator(config.estimator, N, act_dim, C, dev)
    except ValueError as exc:
        raise MethodError(str(exc)) from None
    est = choice.make(act_dim, dev)
    world = distributed.world()
    if N < 2 * world.size:
        raise MethodError(f"samples {N} is too few for {world.size} processes (at least two each)")
    cancel = distributed.Cancel(cancel)  # collective: checked once per round on every rank
    # Chunks of exactly chunk_rows rows whatever the batch, so results do not depend on it.
    chunk_rows = choice.chunk_rows or config.batch
    rand_gen = torch.Generator().manual_seed(config.seed)
    rand_dirs = torch.randn(C, act_dim, generator=rand_gen).to(dev)
    rand_dirs = rand_dirs / rand_dirs.norm(dim=1, keepdim=True)
    rsum = torch.zeros(C, dtype=torch.float64, device=dev)
    rsq = torch.zeros(C, dtype=torch.float64, device=dev)
    pending: torch.Tensor | None = None
    for _j, start, n, done, last in _rounds(N, config.batch, world):
        check_cancel(cancel)
        if n:
            x, _ = feats(config.seed + start, n)
            p = (x @ rand_dirs.T).double()
            rsum += p.sum(0)
            rsq += (p**2).sum(0)
            pending = x if pending is None else torch.cat([pending, x])
        while pending is not None and (pending.shape[0] >= chunk_rows or last):
            est.partial_fit(pending[:chunk_rows])
            pending = pending[chunk_rows:] if pending.shape[0] > chunk_rows else None
        progress(0.6 * done / N, f"PCA of {layer} ({choice.name}): {done}/{N} samples")
    est, rsum, rsq = _combine_pass1(est, rsum, rsq, N, world)
    pca = est.result().top(C)
    random_stdevs = torch.sqrt((rsq / N - (rsum / N) ** 2).clamp_min(0) * N / (N - 1))
    act_stdev = pca.variances.sqrt()

    # --- pass 2: latent directions and their σ ----------------------------------------
    if layer == "latent":
        directions = pca.components  # [C, D] unit rows in the latent space
        extra_n = config.stdev_samples
    else:
        extra_n = config.regression_samples or max(10_000, N)
    ata = torch.zeros(C, C, dtype=torch.float64, device=dev)
    atz = torch.zeros(C, G.latent_dim, dtype=torch.float64, device=dev)
    lat_moments = CovariancePCA(G.latent_dim, 1, dev)  # used for its mean and covariance
    first = config.seed + N  # fresh seeds, never seen by pass 1
    if world.active and extra_n < 2 * world.size:
        raise MethodError(f"{extra_n} fresh samples are too few for {world.size} processes (at least two each)")
    for _j, start, n, done, _last in _rounds(extra_n, config.batch, world):
        check_cancel(cancel)
        if n:
            x, z = feats(first + start, n)
            z = z.double()
            lat_moments.partial_fit(z)
            if layer != "latent":
                a = ((x - pca.mean) @ pca.components.T).double() / act_stdev.clamp_min(1e-12)  # [n, C]
                ata += a.T @ a
                atz += a.T @ z
        what = "stdev of components" if layer == "latent" else "regression to latent directions"
        progress(0.6 + 0.4 * done / extra_n, f"{what}: {done}/{extra_n} samples")
    if world.active:  # one all-reduce of pass 2's float64 sums
        D = G.latent_dim
        flat = distributed.all_sum(torch.cat([torch.tensor([float(lat_moments.n)], dtype=torch.float64, device=dev),
                                              lat_moments.sum, lat_moments.outer.reshape(-1), ata.reshape(-1), atz.reshape(-1)]))
        lat_moments.n = int(round(float(flat[0])))
        lat_moments.sum = flat[1 : 1 + D].clone()
        lat_moments.outer = flat[1 + D : 1 + D + D * D].reshape(D, D).clone()
        rest = flat[1 + D + D * D :]
        ata, atz = rest[: C * C].reshape(C, C).clone(), rest[C * C :].reshape(C, D).clone()
    if layer != "latent":
        # Least squares M = argmin ‖A M − Z‖²  (normal equations, A is well conditioned: scaled PCA coordinates)
        M = torch.linalg.lstsq(ata, atz).solution  # [C, latent_dim]
        directions = (M / M.norm(dim=1, keepdim=True).clamp_min(1e-12)).float()
    # σ_i = stdev of (latent · u_i) over the fresh samples: uᵀ Cov u
    lat_mean, cov = lat_moments.mean(), lat_moments.covariance()
    d64 = directions.double()
    lat_stdev = torch.sqrt(torch.einsum("cd,de,ce->c", d64, cov, d64).clamp_min(0))
    progress(1.0, "done")

    dirs_np = directions.cpu().numpy().astype(np.float32)
    stdev_np = lat_stdev.cpu().numpy()
    controls = [LinearControl(f"PC{i}", dirs_np[i], float(stdev_np[i])) for i in range(C)]
    var_ratio = pca.var_ratio.cpu().numpy()
    extras = {
        "var_ratio": var_ratio,
        "act_stdev": act_stdev.cpu().numpy(),
        "random_stdevs": random_stdevs.cpu().numpy(),
        "lat_stdev": stdev_np,
        "lat_mean": lat_mean.float().cpu().numpy(),
        "act_mean": pca.mean.cpu().numpy(),
        "act_comp": pca.components.cpu().numpy(),
    }
    stats = {
        "layer": layer,
        **choice.provenance(),
        "explained_variance": float(var_ratio.sum()),
        "top_stdev_over_random": float(act_stdev[0] / random_stdevs.mean()),
        "components_above_random": int((act_stdev > random_stdevs.max()).sum()),
        "world_size": world.size,
        "seed_ranges": _seed_ranges(config.seed, N, world),  # pass 1, per rank: [first, last + 1)
        "fresh_seed_ranges": _seed_ranges(first, extra_n, world),  # pass 2, per rank
    }
    cfg = asdict(config) | {"layer": layer, "components": C, "class_index": class_index}
    if class_index >= 0:
        stats["class"] = G.classes[class_index]
    return ControlSet(controls, ModelRef.of(G), "ganspace", cfg, config.seed, N, extras=extras, stats=stats)
