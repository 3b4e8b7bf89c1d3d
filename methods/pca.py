"""PCA in torch with memory bounded whatever the number of samples.

Two estimators with the same ``partial_fit(X) / result()`` shape:

* `CovariancePCA` — accumulates Σx and XᵀX in float64 (memory ``D²``), then
  an exact eigendecomposition; used when D is small (latent spaces, ≤ 4096).
* `IncrementalPCA` — the incremental SVD of Ross et al. (2008), as scikit-learn's
  IncrementalPCA (GANSpace's "ipca"): memory ``(C + chunk)·D``; used for wide
  activation layers.

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
        b = x.shape[0]
        bmean = x.mean(0)
        bm2 = ((x - bmean) ** 2).sum(0)
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
        n_prev, mean_prev = self.moments.n, self.moments.mean.clone()
        self.moments.update(x)
        bmean = x.mean(0)
        xc = x - bmean
        if self.components is not None:
            # sqrt(n_prev·b/n)·(μ_prev − μ_b) keeps the merged scatter exact.
            correction = ((n_prev * b / (n_prev + b)) ** 0.5) * (mean_prev - bmean)
            xc = torch.cat([self.singular[:, None] * self.components, xc, correction[None]], dim=0)
        s, vt = _top_svd(xc, self.n_components)
        self.singular, self.components = s, vt

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
