"""StyleGAN3-T/R in our PyTorch: fixture outputs, the user transform, filters, full-size layouts."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from methods.sefa import SeFaConfig, discover as sefa
from models.nvidia import build_net, generator_from_weights, random_generator, sg3_config
from models.stylegan3 import SG3Net, lowpass_filter, sg3_layout, user_transform, view_transform
from tests.nvidia_helpers import DATA, load_extract

ATOL = 1e-4


@pytest.fixture(scope="module")
def sg3():
    ex = load_extract("sg3t_32")
    return ex, generator_from_weights(ex["init_kwargs"], ex["state_dict"], name="sg3t_32")


def test_mapping_truncation_and_images_match_nvidia(sg3):
    ex, G = sg3
    ref = ex["reference"]
    assert G.family == "stylegan3" and G.kind == "StyleGAN3-T" and G.num_layers == 16 and G.classes is None
    with torch.no_grad():
        ws = G.map(ref["z"])
        assert torch.allclose(ws, ref["ws"], atol=ATOL)
        assert torch.allclose(G.truncate(ws, 0.7), ref["ws_trunc"], atol=ATOL)
        for w, img in (("ws", "img"), ("ws_trunc", "img_trunc"), ("ws_plus", "img_plus"), ("ws_layers", "img_layers")):
            assert torch.allclose(G.synthesize(ref[w]), ref[img], atol=ATOL), img


def test_user_transform_matches_the_viewers_case(sg3):
    ex, G = sg3
    ref = ex["reference"]
    case = ex["meta"]["transform_case"]
    user = user_transform(tuple(case["translate"]), case["rotate_turns"])
    assert np.allclose(user, ref["transform_user"].numpy(), atol=1e-12)
    T = view_transform(tuple(case["translate"]), case["rotate_turns"])
    assert torch.allclose(T, ref["transform"], atol=1e-7)
    with torch.no_grad():
        img = G.synthesize(ref["ws"], transform=T)
        assert torch.allclose(img, ref["img_transform"], atol=ATOL)
        assert torch.allclose(G.synthesize(ref["ws"]), ref["img"], atol=ATOL)  # the buffer is untouched
    assert torch.equal(G.net.synthesis.input.transform, torch.eye(3))


def test_filter_designs_and_layout_equal_nvidias(sg3):
    ex, _G = sg3
    net = SG3Net(sg3_config(ex["init_kwargs"]))  # designed here, not loaded
    for k, v in net.state_dict().items():
        if k.endswith("_filter"):
            assert torch.allclose(v, ex["state_dict"][k], atol=1e-7), k
    lay = sg3_layout(sg3_config(ex["init_kwargs"]))
    ref_layers = ex["meta"]["layers"]
    assert ref_layers[0]["size"] == [lay.input_size] * 2 and ref_layers[0]["bandwidth"] == lay.input_bandwidth
    for spec, want in zip(lay.layers, ref_layers[1:]):
        assert spec.name == want["name"] and list(spec.padding) == want["padding"]
        assert (spec.up_taps, spec.down_taps, spec.up_factor, spec.down_factor) == (
            want["up_taps"], want["down_taps"], want["up_factor"], want["down_factor"])
        assert spec.out_cutoff == pytest.approx(want["out_cutoff"]) and spec.out_half_width == pytest.approx(want["out_half_width"])


def test_radial_filter_is_a_normalised_symmetric_lowpass():
    f = lowpass_filter(12, cutoff=8.0, width=2 * 4.0, fs=64, radial=True)
    assert f.shape == (12, 12) and abs(float(f.sum()) - 1) < 1e-6
    assert torch.allclose(f, f.t()) and torch.allclose(f, f.flip(0))
    response = np.abs(np.fft.fft2(f.double().numpy(), s=(256, 256)))
    assert response[0, 0] == pytest.approx(1.0) and response[128, 128] < 1e-2  # passes DC, stops Nyquist


@pytest.mark.parametrize("name", ["sg3t_1024", "sg3r_1024"])
def test_full_size_config_has_nvidias_entries(name):
    listed = json.loads((DATA / "fullsize" / f"{name}_state_dict.json").read_text())
    kw = {k: v for k, v in listed["G_kwargs_as_train_py"].items() if k != "class_name"}
    net = build_net("stylegan3", {**kw, "c_dim": 0, "img_resolution": 1024, "img_channels": 3})
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == listed["entries"]
    assert net.synthesis.layer_names == listed["layer_names"]
    assert sum(p.numel() for p in net.parameters()) == listed["parameters_numel"]


def test_api_features_and_affines(sg3):
    _ex, G = sg3
    names = G.layer_names()
    assert names[:3] == ["latent", "input", "L0_36_32"] and names[-1] == "L14_32_3"
    feats = G.features(G.sample(2, 0), ["input", "L13_32_16"])
    assert feats["input"].shape == (2, 32, 36, 36) and feats["L13_32_16"].shape == (2, 16, 32, 32)
    assert [row for row, _k, _A in G.latent_affines()] == list(range(1, 16))
    assert len(sefa(G, SeFaConfig(components=3))) == 3
    assert len(G.describe_layers()) == G.num_layers


def test_random_radial_generator_renders():
    kw = {"z_dim": 16, "w_dim": 16, "c_dim": 0, "img_resolution": 16, "img_channels": 3, "mapping_kwargs": {"num_layers": 2},
          "channel_base": 256, "channel_max": 16, "num_layers": 6, "conv_kernel": 1, "use_radial_filters": True}
    G = random_generator("stylegan3", kw, seed=0)
    assert G.kind == "StyleGAN3-R"
    img = G.synthesize(G.sample(1, 0))
    assert img.shape == (1, 3, 16, 16) and torch.isfinite(img).all()
