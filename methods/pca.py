"""PCA in torch with memory bounded whatever the number of samples.

Three estimators with the same ``partial_fit(X) / result()`` shape:

* `CovariancePCA` — exact: accumulates Σx and XᵀX in float64 by chunks (memory
  ``D²``), then ``eigh``; for small D (latent spaces), and on a GPU up to large D.
* `ExactPCA` — exact: keeps the N rows (float32) and takes the SVD of the data
  centred in float64 (through the smaller Gram matrix); for small N.
* `IncrementalPCA` — the incremental SVD of Ross et al. (2008), as scikit-learn's
  IncrementalPCA (GANSpace's "ipca"): memory ``(C + chunk)·D``; for the rest.

`choose_estimator` picks one by cost and accuracy and says why (the provenance
that GANSpace writes into its ControlSet).

Both return components ``V`` ``[C, D]`` (orthonormal rows, sign fixed so the
largest-magnitude entry is positive), their variances, the mean and the total
variance (trace of the covariance), so explained-variance ratios are exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PCAResult:
    components: torch.Tensor  # [C, D] orthonormal rows, float32
    variances: torch.Tensor  # [C] descending, float64 (eigenvalues of the covariance)
    mean: torch.Tensor  # [D] float32
    total_variance: float  # trace of the covariance
    count: int  # number of samples

    @property
    def var_ratio(self) -> torch.Tensor:
        return self.variances / self.total_variance

    def top(self, k: int) -> "PCAResult":
        """The leading ``k`` components only."""
        return PCAResult(self.components[:k], self.variances[:k], self.mean, self.total_variance, self.count)


def _fix_signs(components: torch.Tensor) -> torch.Tensor:
    """Flip each row so its largest-magnitude entry is positive (deterministic output)."""
    idx = components.abs().argmax(dim=1)
    signs = torch.sign(components[torch.arange(components.shape[0]), idx])
    signs[signs == 0] = 1
    return components * signs[:, None]


class _Moments:
    """Running mean and total variance of rows, float64 (Chan et al. parallel update)."""

    def __init__(self, dim: int, device: torch.device):
        self.n = 0
        self.mean = torch.zeros(dim, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(dim, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        x = x.to(torch.float64)
        bmean = x.mean(0)
        self.update_centred(x.shape[0], bmean, ((x - bmean) ** 2).sum(0))

    def update_centred(self, b: int, bmean: torch.Tensor, bm2: torch.Tensor) -> None:
        """Merge a chunk given as its row count, mean ``[D]`` and centred sum of squares ``[D]``."""
        n = self.n + b
        delta = bmean - self.mean
        self.mean = self.mean + delta * (b / n)
        self.m2 = self.m2 + bm2 + delta**2 * (self.n * b / n)
        self.n = n

    @property
    def total_variance(self) -> float:
        return float(self.m2.sum() / max(self.n - 1, 1))


class CovariancePCA:
    """Exact PCA from accumulated first and second moments (float64)."""

    def __init__(self, dim: int, n_components: int, device: torch.device | str = "cpu"):
        self.dim, self.n_components = dim, min(n_components, dim)
        device = torch.device(device)
        self.sum = torch.zeros(dim, dtype=torch.float64, device=device)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64, device=device)
        self.n = 0

    def partial_fit(self, x: torch.Tensor) -> None:
        """``x``: ``[b, D]`` rows of data."""
        x = x.to(torch.float64)
        self.sum += x.sum(0)
        self.outer += x.T @ x
        self.n += x.shape[0]

    def mean(self) -> torch.Tensor:
        """μ ``[D]`` float64."""
        return self.sum / self.n

    def covariance(self) -> torch.Tensor:
        """``(XᵀX − n·μμᵀ) / (n − 1)`` ``[D, D]`` float64."""
        mean = self.mean()
        return (self.outer - self.n * torch.outer(mean, mean)) / max(self.n - 1, 1)

    def result(self) -> PCAResult:
        if self.n < 2:
            raise ValueError("PCA needs at least two samples")
        mean, cov = self.mean(), self.covariance()
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        order = torch.argsort(evals, descending=True)[: self.n_components]
        comps = _fix_signs(evecs[:, order].T)
        return PCAResult(
            comps.float(), evals[order].clamp_min(0), mean.float(), float(torch.trace(cov)), self.n
        )


def _top_svd(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` singular values ``[k]`` and right singular vectors ``[k, D]`` of ``x`` ``[r, D]``.

    For wide chunks (r < D) this goes through the r×r Gram matrix: ``X Xᵀ = U S² Uᵀ``
    and ``V = S⁻¹ Uᵀ X`` — an order of magnitude faster than a full SVD on a CPU, and
    exact enough in float64 for the leading components we keep.
    """
    r, d = x.shape
    if r >= d:
        _u, s, vt = torch.linalg.svd(x, full_matrices=False)
        return s[:k], vt[:k]
    evals, u = torch.linalg.eigh(x @ x.T)  # ascending
    evals, u = evals.flip(0)[:k], u.flip(1)[:, :k]
    s = evals.clamp_min(0).sqrt()
    vt = (u.T @ x) / s.clamp_min(1e-300)[:, None]
    return s, vt


class IncrementalPCA:
    """Incremental PCA keeping the top ``n_components`` singular triplets.

    Each `partial_fit` stacks ``[diag(S)·V ; X_b − μ_b ; mean correction]`` and takes
    its SVD — the update of Ross et al. / scikit-learn. Chunks must hold at least
    ``n_components`` rows.
    """

    def __init__(self, dim: int, n_components: int, device: torch.device | str = "cpu"):
        self.dim, self.n_components = dim, min(n_components, dim)
        self.device = torch.device(device)
        self.moments = _Moments(dim, self.device)
        self.singular: torch.Tensor | None = None  # [C]
        self.components: torch.Tensor | None = None  # [C, D]

    def partial_fit(self, x: torch.Tensor) -> None:
        x = x.to(device=self.device, dtype=torch.float64)
        b = x.shape[0]
        n_prev, mean_prev = self.moments.n, self.moments.mean
        bmean = x.mean(0)
        xc = x - bmean  # centred once, in float64; the moments reuse it
        self.moments.update_centred(b, bmean, (xc * xc).sum(0))
        if self.components is not None:
            # sqrt(n_prev·b/n)·(μ_prev − μ_b) keeps the merged scatter exact.
            correction = ((n_prev * b / (n_prev + b)) ** 0.5) * (mean_prev - bmean)
            xc = torch.cat([self.singular[:, None] * self.components, xc, correction[None]], dim=0)
        s, vt = _top_svd(xc, self.n_components)
        self.singular, self.components = s, vt

    def summary(self) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """This estimator's low-rank summary: ``(n, mean [D], centred Σ of squares [D], S [k], V [k, D])``, float64.

        ``diag(S)·V`` reproduces the centred scatter of the rows seen up to the dropped
        tail, so summaries of disjoint row sets can be `merge`d (several processes).
        """
        d = self.dim
        if self.components is None:
            zero = torch.zeros(0, dtype=torch.float64, device=self.device)
            return 0, torch.zeros(d, dtype=torch.float64, device=self.device), torch.zeros_like(self.moments.m2), zero, zero.reshape(0, d)
        return self.moments.n, self.moments.mean, self.moments.m2, self.singular, self.components

    def merge(self, n: int, mean: torch.Tensor, m2: torch.Tensor, singular: torch.Tensor, components: torch.Tensor) -> None:
        """Fold in another estimator's `summary` (rows disjoint from this one's): Ross et al.'s update with the
        other side's rows replaced by its ``diag(S)·V``."""
        if n == 0:
            return
        mean, m2 = mean.to(self.device, torch.float64), m2.to(self.device, torch.float64)
        scaled = singular.to(self.device, torch.float64)[:, None] * components.to(self.device, torch.float64)
        n_prev, mean_prev = self.moments.n, self.moments.mean
        self.moments.update_centred(n, mean, m2)
        if self.components is not None:
            correction = ((n_prev * n / (n_prev + n)) ** 0.5) * (mean_prev - mean)
            scaled = torch.cat([self.singular[:, None] * self.components, scaled, correction[None]], dim=0)
        self.singular, self.components = _top_svd(scaled, self.n_components)

    def result(self) -> PCAResult:
        if self.components is None or self.moments.n < 2:
            raise ValueError("PCA needs at least two samples")
        n = self.moments.n
        return PCAResult(
            _fix_signs(self.components).float(),
            self.singular**2 / (n - 1),
            self.moments.mean.float(),
            self.moments.total_variance,
            n,
        )


class ExactPCA:
    """Exact PCA of all rows: the SVD of the data centred in float64.

    Rows are kept as float32 ``[N, D]`` (memory ``4·N·D`` bytes); `result` centres
    them in float64 by column blocks and decomposes the smaller of the Gram matrix
    ``Xc Xcᵀ`` ``[N, N]`` and the scatter ``Xcᵀ Xc`` ``[D, D]``.  This is what
    GANSpace's incremental PCA computes when N fits in its one 2 000-row chunk.
    """

    BLOCK = 2048  # columns centred in float64 at a time

    def __init__(self, dim: int, n_components: int, device: torch.device | str = "cpu"):
        self.dim, self.n_components = dim, min(n_components, dim)
        self.device = torch.device(device)
        self.rows: list[torch.Tensor] = []
        self.n = 0

    def partial_fit(self, x: torch.Tensor) -> None:
        self.rows.append(x.to(device=self.device, dtype=torch.float32))
        self.n += x.shape[0]

    def result(self) -> PCAResult:
        if self.n < 2:
            raise ValueError("PCA needs at least two samples")
        x = torch.cat(self.rows) if len(self.rows) > 1 else self.rows[0]
        self.rows = [x]
        n, d = x.shape
        mean = x.double().mean(0) if d <= self.BLOCK else torch.cat(
            [x[:, j : j + self.BLOCK].double().mean(0) for j in range(0, d, self.BLOCK)])
        blocks = [(j, min(j + self.BLOCK, d)) for j in range(0, d, self.BLOCK)]

        def centred(j0: int, j1: int) -> torch.Tensor:
            return x[:, j0:j1].double() - mean[j0:j1]

        k = min(self.n_components, n, d)
        total = 0.0
        if n < d:
            gram = torch.zeros(n, n, dtype=torch.float64, device=self.device)
            for j0, j1 in blocks:
                xc = centred(j0, j1)
                gram += xc @ xc.T
                total += float((xc * xc).sum())
            evals, u = torch.linalg.eigh(gram)  # ascending; Xc = U S Vᵀ with S² = evals
            evals, u = evals.flip(0)[:k].clamp_min(0), u.flip(1)[:, :k]
            s = evals.sqrt().clamp_min(1e-300)
            comps = torch.cat([(u.T @ centred(j0, j1)) for j0, j1 in blocks], dim=1) / s[:, None]
        else:
            scatter = torch.zeros(d, d, dtype=torch.float64, device=self.device)
            for i in range(0, n, self.BLOCK):
                xc = x[i : i + self.BLOCK].double() - mean
                scatter += xc.T @ xc
            total = float(torch.trace(scatter))
            evals, v = torch.linalg.eigh(scatter)
            evals, comps = evals.flip(0)[:k].clamp_min(0), v.flip(1)[:, :k].T
        return PCAResult(_fix_signs(comps).float(), evals / (n - 1), mean.float(), total / (n - 1), n)


# --- choosing an estimator -------------------------------------------------------------

#: exact covariance (cost N·D², memory 8·D² bytes) up to this width on a CPU ...
COVARIANCE_MAX_DIM_CPU = 1024
#: ... and on a GPU, where the float64 products are fast (1 M W vectors: 0.28 s, against 46 s incremental)
COVARIANCE_MAX_DIM_GPU = 16384
#: exact SVD of the kept rows up to this many samples: GANSpace's own chunk of 2 000 rows,
#: inside which the original's incremental PCA is exact too
EXACT_MAX_ROWS = 2000
#: memory bound for the rows the exact estimators keep or accumulate (bytes)
EXACT_MAX_BYTES = 2**30
#: incremental PCA keeps at least this many components internally, and feeds chunks of
#: twice the kept count.  On dcgan-faces block1 (D = 8192, top-20 of C = 40) this keeps
#: every component within 1−|cos| ≤ 1e-4 of exact; the 2C+8 components in 250-row
#: chunks used before were 3.3e-4 off at N = 2 000 (tests/test_ganspace.py pins the bound).
IPCA_MIN_KEPT = 128

ESTIMATORS = ("auto", "exact", "incremental")


@dataclass(frozen=True)
class EstimatorChoice:
    """Which PCA runs and why: ``name`` is ``exact-covariance``, ``exact-svd`` or ``incremental``."""

    name: str
    reason: str
    kept: int  # components the estimator keeps (incremental: internally, ≥ the C returned)
    chunk_rows: int  # rows per partial_fit (incremental); 0: any

    def make(self, dim: int, device: torch.device | str):
        if self.name == "exact-covariance":
            return CovariancePCA(dim, self.kept, device)
        if self.name == "exact-svd":
            return ExactPCA(dim, self.kept, device)
        return IncrementalPCA(dim, self.kept, device)

    def provenance(self) -> dict:
        """What a ControlSet records about the estimator."""
        out = {"estimator": self.name, "estimator_reason": self.reason}
        if self.name == "incremental":
            out |= {"ipca_components_kept": self.kept, "ipca_chunk_rows": self.chunk_rows}
        return out


def choose_estimator(requested: str, samples: int, dim: int, components: int, device: torch.device | str) -> EstimatorChoice:
    """The PCA for ``samples`` rows of width ``dim``, by cost and accuracy.

    ``requested``: ``auto`` (the cheapest exact estimator where exact is cheap, else
    incremental), ``exact`` or ``incremental``.  Raises ValueError (one sentence) when
    an exact PCA is asked for but would not fit in memory.
    """
    if requested not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, not {requested!r}")
    gpu = torch.device(device).type == "cuda"
    cov_max = COVARIANCE_MAX_DIM_GPU if gpu else COVARIANCE_MAX_DIM_CPU
    cov_fits = 8 * dim * dim <= EXACT_MAX_BYTES * (4 if gpu else 1)
    svd_fits = 4 * samples * dim <= EXACT_MAX_BYTES
    if requested != "incremental":
        if dim <= cov_max:
            where = "on the GPU" if gpu else "on the CPU"
            return EstimatorChoice("exact-covariance", f"width {dim} ≤ {cov_max} {where}: float64 covariance, then eigh", components, 0)
        if samples <= EXACT_MAX_ROWS and svd_fits:
            return EstimatorChoice("exact-svd", f"{samples} samples ≤ {EXACT_MAX_ROWS}: SVD of the centred data", components, 0)
        if requested == "exact":
            if cov_fits and (not svd_fits or dim <= samples):
                return EstimatorChoice("exact-covariance", "asked for exact: float64 covariance, then eigh", components, 0)
            if svd_fits:
                return EstimatorChoice("exact-svd", "asked for exact: SVD of the centred data", components, 0)
            need = min(8 * dim * dim, 4 * samples * dim) / 2**30
            raise ValueError(f"an exact PCA of {samples} samples of width {dim} needs {need:.1f} GiB; "
                             "use the incremental estimator or fewer samples")
    kept = min(dim, max(2 * components + 8, IPCA_MIN_KEPT))
    why = "asked for incremental" if requested == "incremental" else f"width {dim} and {samples} samples: exact would be costly"
    return EstimatorChoice("incremental", f"{why}; keeps {kept} components in chunks of {2 * kept} rows", kept, 2 * kept)
