"""The trained methods and the semantics extractors run on the research families (a few
iterations each on the tiny fixtures: they start, step and export controls)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from family_checks import DATA

import models
from methods.registry import METHODS
from methods.semantics.extractors import default_feature_layers, extract_features

FILES = {
    "progan": DATA / "progan_ptrblck" / "progan_ptrblck_small_A.pth",
    "stylegan1": DATA / "stylegan1_ganspace" / "stylegan1_ganspace_small_A.pt",
    "genforce-stylegan2": DATA / "genforce" / "stylegan2_small_A.pth",
}


@pytest.fixture(scope="module", params=list(FILES))
def G(request):
    return models.load_generator(FILES[request.param])


@pytest.mark.parametrize("method, options", [
    ("latentclr", dict(iterations=2, batch=2, components=3)),
    ("voynov", dict(iterations=2, batch=2, components=3)),
    ("warped", dict(iterations=2, batch=2, components=3, dipoles=4)),
])
def test_trained_methods_train_and_export_controls(G, method, options, tmp_path):
    spec = METHODS[method]
    cs = spec.run(G, spec.make_config(**options, job_dir=str(tmp_path)))
    assert len(cs) == 3
    lat = G.sample(1, 0)
    assert not torch.equal(cs.apply(lat, [1.0, 0.0, 0.0]), lat)


def test_semantic_extractors_read_the_feature_maps(G):
    layers = default_feature_layers(G)
    assert layers and "output" not in layers and not any(n.startswith("to_rgb") for n in layers)
    feats = extract_features(G, G.sample(2, 0), layers)
    assert len(feats) == len(layers) and all(f.dim() == 4 and f.shape[0] == 2 for f in feats)
    assert np.isfinite(torch.cat([f.flatten() for f in feats]).numpy()).all()
