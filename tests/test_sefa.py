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
    rgb = discover(sg2, SeFaConfig(components=3, weights="all"))
    assert rgb.stats["matrices"] > base.stats["matrices"]
    sub = discover(sg2, SeFaConfig(components=3, layers="2:6"))
    assert sub.stats["matrices"] == 4 and sub[0].layers == (2, 6)
    lat = sg2.sample(1, 0)
    out = sub.apply(lat, [2.0, 0, 0])
    changed = (out - lat).abs().sum(-1)[0] > 0
    assert changed.tolist() == [i in range(2, 6) for i in range(sg2.num_layers)]


def _genforce_factorize_weight(G):
    """genforce/sefa utils.factorize_weight(layer_idx='all'), written from its description:
    style weights of synthesis.layer{i} for i < L−1 and of output{(L−1)//2} (the last ToRGB),
    transposed and concatenated [w_dim, Σ out], unit columns, eigenvectors of A·Aᵀ."""
    net = G.net
    convs = [net.conv1] + list(net.convs)
    mats = [c.conv.modulation.weight.detach().double() for c in convs[: G.num_layers - 1]]
    mats.append(net.to_rgbs[-1].conv.modulation.weight.detach().double())
    A = torch.cat(mats).T.numpy()  # [w_dim, Σ out]
    A = A / np.linalg.norm(A, axis=0, keepdims=True)
    vals, vecs = np.linalg.eig(A @ A.T)
    order = np.argsort(-vals.real)
    return vals.real[order], vecs.real[:, order].T


def test_genforce_weights_reproduce_its_all_layers_choice_with_the_last_torgb(sg2):
    cs = discover(sg2, SeFaConfig(components=5, weights="genforce"))
    vals, vecs = _genforce_factorize_weight(sg2)
    cos = np.abs(np.sum(cs.directions().astype(np.float64) * vecs[:5], axis=1))
    assert np.abs(1 - cos).max() < 1e-6
    np.testing.assert_allclose(cs.extras["eigenvalues"], vals[:5], rtol=1e-9)
    conv = discover(sg2, SeFaConfig(components=5))
    assert cs.stats["matrices"] == conv.stats["matrices"] + 1 and cs.stats["weights"] == "genforce"
    assert 1 - np.abs(np.sum(conv.directions() * vecs[:5], axis=1)).min() > 1e-4  # conv alone is not genforce's


def test_rosinality_weights_are_its_closed_form_factorization(sg2):
    """closed_form_factorization.py: SVD of every modulation weight whose name lacks 'to_rgbs'."""
    cs = discover(sg2, SeFaConfig(components=5, normalize=False, weights="rosinality"))
    state = sg2.net.state_dict()
    W = torch.cat([v.double() for k, v in state.items() if "modulation" in k and "to_rgbs" not in k and "weight" in k])
    _u, _s, vt = torch.linalg.svd(W, full_matrices=False)
    assert np.abs(1 - np.abs(np.sum(cs.directions() * vt[:5].numpy(), axis=1))).max() < 1e-6


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
