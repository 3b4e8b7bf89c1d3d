"""NVIDIA's StyleGAN2 (stylegan2-ada-pytorch and the stylegan3 repo) in our PyTorch: fixture outputs and API."""
from __future__ import annotations

import json

import pytest
import torch

from editing.render import render_state
from models.frames import to_uint8
from editing.state import EditState
from methods.ganspace import GANSpaceConfig, discover as ganspace
from methods.sefa import SeFaConfig, discover as sefa
from models.nvidia import build_net, generator_from_weights, random_generator
from tests.nvidia_helpers import DATA, load_extract

SG2 = ("sg2ada_32", "sg2ada_cond_32", "sg2_sg3repo_32")
ATOL = 1e-4


@pytest.fixture(scope="module", params=SG2)
def case(request):
    ex = load_extract(request.param)
    return ex, generator_from_weights(ex["init_kwargs"], ex["state_dict"], name=request.param)


def test_mapping_and_truncation_match_nvidia(case):
    ex, G = case
    ref = ex["reference"]
    with torch.no_grad():
        ws = G.map(ref["z"], ref.get("c"))
        assert torch.allclose(ws, ref["ws"], atol=ATOL)
        assert torch.allclose(G.truncate(ws, 0.7), ref["ws_trunc"], atol=ATOL)
        assert torch.allclose(G.latent_avg, ref["w_avg"])
        n = G.num_layers
        c = ref.get("c")
        layers = G.map(ref["z_layers"].reshape(-1, G.z_dim), None if c is None else c.repeat_interleave(n, 0))
        assert torch.allclose(layers[:, 0].reshape(4, n, -1), ref["ws_layers"], atol=ATOL)


def test_images_match_nvidia_with_const_noise(case):
    ex, G = case
    ref = ex["reference"]
    with torch.no_grad():
        for ws, img in (("ws", "img"), ("ws_trunc", "img_trunc"), ("ws_plus", "img_plus"), ("ws_layers", "img_layers")):
            assert torch.allclose(G.synthesize(ref[ws], noise_mode="const"), ref[img], atol=ATOL), img
        assert torch.allclose(G.synthesize(ref["ws"], noise_mode="none"), ref["img_noise_none"], atol=ATOL)
        assert not torch.allclose(G.synthesize(ref["ws"], noise_mode="random"), ref["img"], atol=ATOL)


def test_seeds_are_nvidias_seeds(case):
    ex, G = case
    assert torch.equal(G.sample_z(4, 0), ex["reference"]["z"])  # np.random.RandomState(seed).randn(z_dim)


def test_conditional_model_takes_the_class_in_the_mapping():
    ex = load_extract("sg2ada_cond_32")
    G = generator_from_weights(ex["init_kwargs"], ex["state_dict"])
    ref = ex["reference"]
    assert G.classes == [f"class {i}" for i in range(5)] and G.class_in_mapping
    idx = ref["c"].argmax(1)  # classes [0, 3, 1, 4] as indices
    with torch.no_grad():
        assert torch.allclose(G.sample(4, 0, classes=idx), ref["ws"], atol=ATOL)
        state = EditState(model="m", seed=1, truncation=1.0, class_index=3)
        frame = render_state(G, state)
        want = to_uint8(G.synthesize(ref["ws"][1:2]), "nvidia")[0]
    assert (frame.astype(int) - want.astype(int)).__abs__().max() <= 1


@pytest.mark.parametrize("name", ["sg2ada_paper1024", "sg2_sg3repo_1024"])
def test_full_size_config_has_nvidias_entries(name):
    listed = json.loads((DATA / "fullsize" / f"{name}_state_dict.json").read_text())
    kw = {k: v for k, v in listed["G_kwargs_as_train_py"].items() if k != "class_name"}
    net = build_net("stylegan2", {**kw, "c_dim": 0, "img_resolution": 1024, "img_channels": 3})
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == listed["entries"]
    assert sum(p.numel() for p in net.parameters()) == listed["parameters_numel"] == 30_370_060


def test_api_features_affines_and_methods_work(case):
    _ex, G = case
    lat = G.sample(2, 0)
    names = G.layer_names()
    assert names[:3] == ["latent", "conv1", "to_rgb1"] and len(G.describe_layers()) == G.num_layers == 8
    feats = G.features(lat, ["conv1", "convs.5"])
    assert feats["conv1"].shape[-1] == 4 and feats["convs.5"].shape[-1] == 32
    rows = sorted({row for row, _k, _A in G.latent_affines()})
    assert rows == list(range(G.num_layers))


def test_sefa_and_ganspace_run_on_the_conditional_model():
    ex = load_extract("sg2ada_cond_32")
    G = generator_from_weights(ex["init_kwargs"], ex["state_dict"])
    assert len(sefa(G, SeFaConfig(components=4))) == 4
    assert len(ganspace(G, GANSpaceConfig(samples=64, components=3, batch=32, class_index=2))) == 3


def test_fp16_flags_run_float32_and_clamp_follows_conv_clamp():
    kw = {"z_dim": 8, "w_dim": 8, "c_dim": 0, "img_resolution": 16, "img_channels": 3, "mapping_kwargs": {"num_layers": 2},
          "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 1e-3}}
    G = random_generator("stylegan2", kw, seed=1)
    img = G.synthesize(G.sample(2, 0))
    assert img.dtype == torch.float32 and img.abs().max() <= 1e-3 * 3 + 1e-6  # up to 3 clamped skips summed
