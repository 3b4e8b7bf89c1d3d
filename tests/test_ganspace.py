"""GANSpace (METHODS.md §1) on the real face model and on a generator whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from methods.cache import cache_path, discover_cached
from methods.ganspace import GANSpaceConfig, discover
from methods.jobs import Cancelled, MethodError
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
    assert cs.stats["layer"] == "latent" and cs.stats["estimator"] == "covariance"
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
