"""Our torch PCA estimators agree with scikit-learn's exact PCA."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from methods.pca import CovariancePCA, IncrementalPCA


def _data(n=1200, d=300, seed=0):
    rng = np.random.default_rng(seed)
    scales = 10.0 * 0.85 ** np.arange(d)  # well-separated leading variances
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * scales) @ basis.T + rng.standard_normal(d)


@pytest.mark.parametrize("estimator, chunk", [(CovariancePCA, 100), (IncrementalPCA, 100), (IncrementalPCA, 700)])
def test_leading_components_match_sklearn(estimator, chunk):
    x = _data()
    ref = PCA(10).fit(x)
    est = estimator(x.shape[1], 40)
    for i in range(0, len(x), chunk):
        est.partial_fit(torch.tensor(x[i : i + chunk]))
    res = est.result().top(10)
    cos = np.abs(np.sum(res.components.double().numpy() * ref.components_, axis=1))
    assert cos.min() > 0.999
    np.testing.assert_allclose(res.variances.numpy(), ref.explained_variance_, rtol=2e-3)
    np.testing.assert_allclose(res.var_ratio.numpy(), ref.explained_variance_ratio_, rtol=2e-3)
    np.testing.assert_allclose(res.mean.numpy(), x.mean(0), atol=1e-4)
    assert torch.all(res.variances[:-1] >= res.variances[1:])


def test_components_are_orthonormal_with_deterministic_signs():
    x = torch.tensor(_data(400, 50))
    est = IncrementalPCA(50, 8)
    for i in range(0, 400, 100):
        est.partial_fit(x[i : i + 100])
    v = est.result().components.double()
    torch.testing.assert_close(v @ v.T, torch.eye(8, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.all(v[torch.arange(8), v.abs().argmax(1)] > 0)
