"""GANSpace (METHODS.md §1) on the real face model and on a generator whose answer is known."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from methods.cache import cache_path, discover_cached
from methods.ganspace import GANSpaceConfig, discover
from methods.jobs import Cancelled, MethodError
from methods.pca import choose_estimator
from methods.registry import METHODS
from models.base import Generator


class LinearToy(Generator):
    """feature = A z + b at layer "lin" (then tanh as the "image"); z ~ N(0, I) of size d."""

    family = "toy"
    default_pca_layer = "lin"

    def __init__(self, A: torch.Tensor, b: torch.Tensor):
        net = nn.Sequential(nn.Linear(A.shape[1], A.shape[0]), nn.Tanh())
        with torch.no_grad():
            net[0].weight.copy_(A)
            net[0].bias.copy_(b)
        super().__init__(net, "cpu", "toy", "toy0000000000000")
        self.z_dim = self.latent_dim = A.shape[1]
        self.num_layers, self.resolution = 1, 1

    def map(self, z):
        return z.unsqueeze(1)

    def synthesize(self, latents, classes=None, truncation=None):
        return self.net(latents[:, 0]).view(latents.shape[0], 1, 1, -1)

    def _layers(self):
        return {"lin": self.net[0]}


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    d, D = 6, 40
    U = torch.linalg.qr(torch.randn(D, D, generator=g))[0][:, :d]
    V = torch.linalg.qr(torch.randn(d, d, generator=g))[0]
    S = torch.tensor([8.0, 5.0, 3.0, 2.0, 1.0, 0.5])
    return LinearToy(U @ torch.diag(S) @ V.T, torch.randn(D, generator=g)), V, S


def test_activation_components_transfer_to_the_latent_directions_that_cause_them(toy):
    G, V, S = toy
    cs = discover(G, GANSpaceConfig(samples=4000, components=4, regression_samples=4000, batch=500))
    # For f = U S Vᵀ z, the i-th PCA direction of f is caused by moving z along V[:, i].
    cos = np.abs(np.sum(cs.directions() * V[:, :4].T.numpy(), axis=1))
    assert cos.min() > 0.995
    np.testing.assert_allclose(cs.extras["act_stdev"], S[:4].numpy(), rtol=0.05)
    np.testing.assert_allclose(cs.scales(), 1.0, atol=0.05)  # σ of z along a unit direction
    np.testing.assert_allclose(np.linalg.norm(cs.directions(), axis=1), 1.0, rtol=1e-5)


def test_latent_mode_is_pca_of_the_latents(toy):
    G, _V, _S = toy
    cs = discover(G, GANSpaceConfig(layer="latent", samples=3000, components=3, stdev_samples=3000))
    assert cs.stats["layer"] == "latent" and cs.stats["estimator"] == "exact-covariance"
    d = cs.directions()
    np.testing.assert_allclose(d @ d.T, np.eye(3), atol=1e-5)  # PCA components are orthonormal
    np.testing.assert_allclose(cs.scales(), 1.0, atol=0.1)  # isotropic z


def test_face_components_explain_decreasing_variance_above_the_random_baseline(face_controls):
    cs = face_controls
    ratio = cs.extras["var_ratio"]
    assert np.all(np.diff(ratio) <= 1e-9), "explained variance must decrease"
    assert cs.extras["act_stdev"][:5].min() > 5 * cs.extras["random_stdevs"].max()
    assert cs.stats["layer"] == "block1" and len(cs) == 12 and cs.names[0] == "PC0"
    np.testing.assert_allclose(cs.scales(), 1.0, atol=0.1)


def test_first_components_visibly_change_the_face(faces, face_controls):
    base = faces.sample(8, 100)
    with torch.no_grad():
        before = faces.synthesize(base)
        for i in range(5):
            after = faces.synthesize(face_controls.apply(base, np.eye(12)[i] * 3.0))
            assert (after - before).abs().mean() > 0.1, f"PC{i} at 3σ barely changes the image"


def test_progress_is_reported_and_cancel_stops_the_job(faces):
    seen = []
    discover(faces, GANSpaceConfig(samples=500, components=4, regression_samples=500), lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:]))
    calls = []
    with pytest.raises(Cancelled):
        discover(faces, GANSpaceConfig(samples=5000, components=4), cancel=lambda: calls.append(1) or len(calls) > 2)


def test_unknown_layer_is_a_clear_error(faces):
    with pytest.raises(MethodError, match="block1"):
        discover(faces, GANSpaceConfig(layer="conv99"))


def test_results_are_cached_by_the_settings_that_produced_them(faces, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_STUDIO_CACHE", str(tmp_path))
    spec = METHODS["ganspace"]
    cfg = GANSpaceConfig(samples=400, components=3, regression_samples=400)
    first = discover_cached(faces, spec, cfg)
    assert cache_path(faces, spec, cfg).is_file()
    messages = []
    again = discover_cached(faces, spec, cfg, lambda f, m: messages.append(m))
    assert messages == ["loaded from cache"]
    np.testing.assert_array_equal(again.directions(), first.directions())
    assert cache_path(faces, spec, GANSpaceConfig(samples=401, components=3)) != cache_path(faces, spec, cfg)


def test_the_estimator_that_ran_is_in_the_provenance_and_incremental_agrees_with_exact(toy):
    G, _V, _S = toy
    cfg = GANSpaceConfig(samples=3000, components=4, regression_samples=2000, batch=300)
    exact = discover(G, cfg)
    assert exact.stats["estimator"] == "exact-covariance" and "width 40" in exact.stats["estimator_reason"]
    inc = discover(G, replace(cfg, estimator="incremental"))
    assert inc.stats["estimator"] == "incremental" and inc.stats["ipca_components_kept"] == 40
    cos = np.abs(np.sum(inc.extras["act_comp"] * exact.extras["act_comp"], axis=1))
    assert 1 - cos.min() < 1e-6


def test_incremental_results_do_not_depend_on_the_batch_size(toy):
    G, _V, _S = toy
    cfg = GANSpaceConfig(samples=1000, components=3, regression_samples=500, estimator="incremental", batch=70)
    a, b = discover(G, cfg), discover(G, replace(cfg, batch=333))
    np.testing.assert_allclose(a.extras["act_comp"], b.extras["act_comp"], atol=1e-6)


def test_asking_for_an_unknown_estimator_is_a_clear_error(toy):
    with pytest.raises(MethodError, match="estimator must be one of auto, exact, incremental"):
        discover(toy[0], GANSpaceConfig(samples=100, components=2, estimator="fbpca"))


@pytest.mark.slow
def test_incremental_pca_of_face_block1_keeps_every_top20_component_within_1e_4_of_exact(faces):
    """dcgan-faces block1: D = 8192, N = 2000, C = 40 (exact is computable here: it is what auto runs)."""
    N, C = 2000, 40
    with torch.no_grad():
        x = torch.cat([faces.features(faces.sample(250, 1 + s), ["block1"])["block1"].reshape(250, -1) for s in range(0, N, 250)])
    D = x.shape[1]
    assert choose_estimator("auto", N, D, C, "cpu").name == "exact-svd"
    exact = choose_estimator("exact", N, D, C, "cpu").make(D, "cpu")
    exact.partial_fit(x)
    ref = exact.result()
    choice = choose_estimator("incremental", N, D, C, "cpu")
    inc = choice.make(D, "cpu")
    for i in range(0, N, choice.chunk_rows):
        inc.partial_fit(x[i : i + choice.chunk_rows])
    got = inc.result().top(C)
    one_minus_cos = 1 - (got.components[:20].double() * ref.components[:20].double()).sum(1).abs()
    assert one_minus_cos.max() <= 1e-4, f"worst top-20 component is {one_minus_cos.max():.2e} from exact"
    np.testing.assert_allclose(got.variances[:20].numpy(), ref.variances[:20].numpy(), rtol=2e-3)
