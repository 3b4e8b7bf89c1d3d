"""SeFa (METHODS.md §7) on the StyleGAN2 fixture and the face DCGAN."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import models
from methods.ganspace import GANSpaceConfig
from methods.ganspace import discover as ganspace
from methods.jobs import MethodError
from methods.sefa import SeFaConfig, discover

FIXTURE = Path(__file__).parent / "data" / "stylegan2" / "stylegan2_small_A.pt"


@pytest.fixture(scope="module")
def sg2():
    return models.load_generator(FIXTURE)


def _stacked(G, rows=None, rgb=False, normalize=False):
    mats = [A.double() for r, k, A in G.latent_affines() if (rows is None or r in rows) and (rgb or k != "rgb")]
    M = torch.cat(mats)
    return M / M.norm(dim=1, keepdim=True) if normalize else M


def test_eigenvalues_are_sorted_and_the_top_direction_maximises_the_response(sg2):
    cs = discover(sg2, SeFaConfig(components=10))
    ev = cs.extras["eigenvalues"]
    assert np.all(np.diff(ev) <= 0)
    M = _stacked(sg2, normalize=True)
    top = torch.tensor(cs.directions()[0], dtype=torch.float64)
    assert abs(float((M @ top).norm() ** 2) - ev[0]) < 1e-6 * ev[0]
    rand = torch.randn(200, sg2.latent_dim, dtype=torch.float64)
    rand = rand / rand.norm(dim=1, keepdim=True)
    assert float((M @ top).norm()) >= float((rand @ M.T).norm(dim=1).max())


def test_unnormalised_variant_equals_the_svd_of_the_stacked_modulations(sg2):
    cs = discover(sg2, SeFaConfig(components=5, normalize=False))
    _u, _s, vt = torch.linalg.svd(_stacked(sg2), full_matrices=False)
    cos = np.abs(np.sum(cs.directions() * vt[:5].numpy(), axis=1))
    assert cos.min() > 0.9999


def test_variants_and_layer_subsets_change_the_result(sg2):
    base = discover(sg2, SeFaConfig(components=3))
    rgb = discover(sg2, SeFaConfig(components=3, include_rgb=True))
    assert rgb.stats["matrices"] > base.stats["matrices"]
    sub = discover(sg2, SeFaConfig(components=3, layers="2:6"))
    assert sub.stats["matrices"] == 4 and sub[0].layers == (2, 6)
    lat = sg2.sample(1, 0)
    out = sub.apply(lat, [2.0, 0, 0])
    changed = (out - lat).abs().sum(-1)[0] > 0
    assert changed.tolist() == [i in range(2, 6) for i in range(sg2.num_layers)]


def test_bad_layer_subset_is_a_clear_error(sg2):
    with pytest.raises(MethodError, match="outside"):
        discover(sg2, SeFaConfig(layers="0:99"))


def test_sefa_on_the_face_dcgan_changes_the_image(faces):
    cs = discover(faces, SeFaConfig(components=5, step=3.0))
    lat = faces.sample(4, 0)
    with torch.no_grad():
        diff = (faces.synthesize(cs.apply(lat, [1.0, 0, 0, 0, 0])) - faces.synthesize(lat)).abs().mean()
    assert diff > 0.1


def test_ganspace_defaults_to_pca_of_w_for_stylegan2(sg2):
    cs = ganspace(sg2, GANSpaceConfig(samples=2000, components=8, stdev_samples=1000))
    assert cs.stats["layer"] == "latent" and cs.stats["estimator"] == "exact-covariance"
    w = sg2.map(sg2.sample_z(2000, 50_000))[:, 0].double()
    proj = (w - w.mean(0)) @ torch.tensor(cs.directions(), dtype=torch.float64).T
    np.testing.assert_allclose(proj.std(0).numpy(), cs.scales(), rtol=0.1)  # σ_i: stdev of w·v_i
    assert np.all(np.diff(cs.extras["var_ratio"]) <= 1e-12)
