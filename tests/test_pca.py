"""Our torch PCA estimators agree with scikit-learn's exact PCA."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from methods.pca import CovariancePCA, ExactPCA, IncrementalPCA, choose_estimator


def _data(n=1200, d=300, seed=0):
    rng = np.random.default_rng(seed)
    scales = 10.0 * 0.85 ** np.arange(d)  # well-separated leading variances
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * scales) @ basis.T + rng.standard_normal(d)


@pytest.mark.parametrize("estimator, chunk", [(CovariancePCA, 100), (ExactPCA, 100), (IncrementalPCA, 100), (IncrementalPCA, 700)])
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


@pytest.mark.parametrize("n, d", [(60, 300), (400, 50)])
def test_exact_pca_is_the_svd_of_the_centred_data_both_wide_and_tall(n, d):
    x = _data(n, d, seed=3)
    est = ExactPCA(d, 5)
    est.BLOCK = 64  # several column/row blocks of the float64 centring
    for i in range(0, n, 37):
        est.partial_fit(torch.tensor(x[i : i + 37], dtype=torch.float32))
    res = est.result()
    x32 = x.astype(np.float32).astype(np.float64)
    xc = x32 - x32.mean(0)
    _u, s, vt = np.linalg.svd(xc, full_matrices=False)
    cos = np.abs(np.sum(res.components.double().numpy() * vt[:5], axis=1))
    assert 1 - cos.max() < 1e-6 and 1 - cos.min() < 1e-6
    np.testing.assert_allclose(res.variances.numpy(), s[:5] ** 2 / (n - 1), rtol=1e-9)
    np.testing.assert_allclose(res.total_variance, (xc**2).sum() / (n - 1), rtol=1e-9)


def test_estimator_choice_is_exact_where_cheap_and_says_why():
    w = choose_estimator("auto", 1_000_000, 512, 40, "cpu")
    assert w.name == "exact-covariance" and "512" in w.reason
    small_n = choose_estimator("auto", 2000, 8192, 40, "cpu")
    assert small_n.name == "exact-svd"
    big = choose_estimator("auto", 20_000, 8192, 40, "cpu")
    assert big.name == "incremental" and big.kept == 128 and big.chunk_rows == 256
    assert big.provenance()["ipca_components_kept"] == 128
    assert choose_estimator("auto", 20_000, 8192, 40, "cuda").name == "exact-covariance"
    assert choose_estimator("incremental", 100, 20, 4, "cpu").name == "incremental"
    assert choose_estimator("exact", 20_000, 8192, 40, "cpu").name == "exact-covariance"
    with pytest.raises(ValueError, match="needs .* GiB"):
        choose_estimator("exact", 10**6, 10**5, 40, "cpu")
    with pytest.raises(ValueError, match="estimator must be one of"):
        choose_estimator("fbpca", 100, 20, 4, "cpu")
