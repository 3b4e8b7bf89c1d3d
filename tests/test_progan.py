"""ProGAN in its three layouts (netdissect/GANSpace, ptrblck/GANLatentDiscovery, genforce PGGAN)
against the fixtures of tests/data/progan_ganspace, progan_ptrblck and genforce (READMEs there)."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from family_checks import DATA, explore, key_list, meta_state_dict, net_keys, reference

import models
from editing.render import render_state
from models.frames import to_uint8
from editing.state import EditState
from models.base import LoadError
from models.progan import ProGANConfig, ProGANNet, config_from_state_dict, net_from_state_dict

NETDISSECT = DATA / "progan_ganspace" / "progan_ganspace_small_A.pth"
PTRBLCK = DATA / "progan_ptrblck" / "progan_ptrblck_small_A.pth"
PGGAN = DATA / "genforce" / "pggan_small_A.pth"
CASES = {
    "netdissect": (NETDISSECT, DATA / "progan_ganspace" / "progan_ganspace_small_A_reference.pt"),
    "ptrblck": (PTRBLCK, DATA / "progan_ptrblck" / "progan_ptrblck_small_A_reference.pt"),
    "genforce": (PGGAN, DATA / "genforce" / "pggan_small_A_reference.pt"),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    ckpt, ref = CASES[request.param]
    return request.param, models.load_generator(ckpt), reference(ref)


def test_each_layout_reproduces_the_stored_images(case):
    layout, G, ref = case
    assert (G.family, G.layout, G.num_layers, G.latent_dim, G.resolution) == ("progan", layout, 1, 32, 32)
    lat = G.map(ref["z"])
    torch.testing.assert_close(lat, ref["latents"], atol=0, rtol=0)
    with torch.no_grad():
        img = G.synthesize(lat)
    torch.testing.assert_close(img, ref["img"], atol=1e-4, rtol=0)
    assert img.abs().max() > 1.0  # raw output: the generator does not clamp


def test_pixel_norm_makes_the_image_independent_of_the_scale_of_z(case):
    _layout, G, ref = case
    with torch.no_grad():
        a, b = G.synthesize(G.map(ref["z"])), G.synthesize(G.map(3.0 * ref["z"]))
    assert (a - b).abs().max() < 1e-5


def test_ptrblck_scales_are_used_as_stored_not_recomputed():
    sd = torch.load(PTRBLCK, weights_only=True)
    ref = reference(CASES["ptrblck"][1])
    # netdissect's from_old_pt_dict drops the scalars and uses He constants: a different image
    he = OrderedDict((k, v) for k, v in sd.items() if not k.endswith("wscale.scale"))
    G_he = models.progan.build_generator(he, "cpu", "he", "")
    with torch.no_grad():
        diff = (G_he.synthesize(G_he.map(ref["z"])) - ref["img"]).abs().max()
    assert G_he.layout == "netdissect" and "He constant" in G_he.notes[0]
    assert abs(float(diff) - ref["meta"]["netdissect_old_layout_conversion_differs_by"]) < 1e-3


@pytest.mark.parametrize("fixture, title, sizes, layout", [
    ("progan_ganspace/progan_netdissect_lsun256_state_dict_keys.json", "netdissect", (512, 512, 512, 512, 512, 256, 128, 64), "netdissect"),
    ("progan_ptrblck/progan_ptrblck_celebahq1024_state_dict_keys.json", "ptrblck", (512, 512, 512, 512, 512, 256, 128, 64, 32, 16), "ptrblck"),
    ("genforce/genforce_zoo_1024_state_dict_keys.json", "pggan", (512, 512, 512, 512, 512, 256, 128, 64, 32, 16), "genforce"),
])
def test_full_size_configurations_have_exactly_the_real_files_keys_and_shapes(fixture, title, sizes, layout):
    keys = key_list(DATA / fixture, title)
    with torch.device("meta"):
        built = ProGANNet(ProGANConfig(sizes, layout))
        inferred = config_from_state_dict(meta_state_dict(keys), layout)
    assert net_keys(built) == keys
    assert inferred == ProGANConfig(sizes, layout)


def test_the_image_converts_to_bytes_as_the_original_does():
    G = models.load_generator(NETDISSECT)
    with torch.no_grad():
        raw = G.synthesize(G.sample(1, 5))
    # GANSpace: sample_np's clip(0.5·(x+1), 0, 1), then (img·255).astype(uint8); clipped only here
    ganspace = (np.clip(0.5 * (raw[0].permute(1, 2, 0).numpy() + 1), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(to_uint8(raw, "floor")[0], ganspace)
    # sefa: np.clip((x+1)·255/2 + 0.5, 0, 255).astype(uint8)
    sefa = np.clip((raw[0].permute(1, 2, 0).numpy() + 1) * 255 / 2 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(to_uint8(raw, "half_up")[0], sefa)
    assert not np.array_equal(to_uint8(raw, "floor"), to_uint8(raw, "round"))
    # the window and the CLI convert each family's way (rendering runs the CPU's reproducible kernels,
    # so a value on a level boundary may land one level off the direct call above)
    frame = render_state(G, EditState(model=G.name, seed=5)).astype(int)
    assert np.abs(frame - ganspace).max() <= 1 and np.mean(frame == ganspace) > 0.99
    assert np.abs(frame - to_uint8(raw, "round")[0]).max() == 1
    assert models.load_generator(PGGAN).uint8_convention == "half_up"


def _damaged(tmp_path, source, change):
    sd = torch.load(source, weights_only=True)
    change(sd)
    path = tmp_path / "damaged.pth"
    torch.save(sd, path)
    return path


def test_a_progan_without_its_wscale_is_refused_with_the_key_it_lacks(tmp_path):
    path = _damaged(tmp_path, NETDISSECT, lambda sd: sd.pop("layer3.wscale.b"))
    with pytest.raises(LoadError, match=r"damaged\.pth: .*lacks 'layer3\.wscale\.b'"):
        models.load_generator(path)
    path = _damaged(tmp_path, PTRBLCK, lambda sd: sd.pop("features.4.wscale.scale"))
    with pytest.raises(LoadError, match=r"lacks 'features\.4\.wscale\.scale'"):
        models.load_generator(path)


def test_misshapen_non_finite_and_mid_training_files_are_refused(tmp_path):
    path = _damaged(tmp_path, NETDISSECT, lambda sd: sd.__setitem__("layer4.conv.weight", torch.zeros(32, 32, 1, 1)))
    with pytest.raises(LoadError, match="layer4.conv.weight"):
        models.load_generator(path)
    path = _damaged(tmp_path, NETDISSECT, lambda sd: sd["layer2.wscale.b"].__setitem__(0, math.nan))
    with pytest.raises(LoadError, match="NaN or infinite"):
        models.load_generator(path)

    def mid_training(ck):
        ck["generator_smooth"]["lod"] = torch.tensor(1.5)

    path = _damaged(tmp_path, PGGAN, mid_training)
    with pytest.raises(LoadError, match="level of detail 1.5"):
        models.load_generator(path)


def test_netdissect_state_dict_wrapper_is_unwrapped(tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": torch.load(NETDISSECT, weights_only=True)}, path)
    assert models.load_generator(path).layout == "netdissect"


def test_features_and_sefa_weights_follow_the_layers():
    G = models.load_generator(NETDISSECT)
    assert G.layer_names() == ["latent", *[f"layer{i}" for i in range(1, 9)], "output"]
    feats = G.features(G.sample(2, 0), ["layer1", "layer8", "output"])
    assert feats["layer1"].shape == (2, 32, 4, 4) and feats["layer8"].shape == (2, 8, 32, 32)
    (row, kind, A), = G.latent_affines()
    assert (row, kind, tuple(A.shape)) == (0, "conv", (32 * 16, 32))
    # the 4x4 conv on a 1x1 z is A·z: check against the network itself (before scale/bias/activation)
    z = G.sample_z(1, 3)
    zn = z / torch.sqrt((z**2).mean(1, keepdim=True) + 1e-8)
    conv = torch.nn.functional.conv2d(zn[:, :, None, None], G.net.blocks[0].conv.weight, padding=3)
    # row (o, u, v) of A holds kernel tap (u, v), which the 1x1 input meets at output pixel (3-u, 3-v)
    torch.testing.assert_close((A @ zn[0]).view(32, 4, 4), conv[0].flip(-2, -1), atol=1e-4, rtol=0)


def test_ganspace_sefa_ranges_and_presets_work_on_progan(tmp_path):
    explore(models.load_generator(PTRBLCK), tmp_path)


def test_a_file_declaring_an_oversized_generator_is_refused_before_building_it():
    # 24 conv layers = 12 resolutions = 8192 px, declared by shape-only tensors; nothing is allocated
    sd = {"layer1.conv.weight": torch.empty(4, 4, 4, 4, device="meta")}
    for i in range(2, 25):
        sd[f"layer{i}.conv.weight"] = torch.empty(4, 4, 3, 3, device="meta")
    sd["output_8192x8192.conv.weight"] = torch.empty(3, 4, 1, 1, device="meta")
    assert config_from_state_dict(sd, "netdissect").resolution == 8192
    with pytest.raises(LoadError, match="8192 px images"):
        net_from_state_dict(sd, "netdissect")
    # wide layers: the weights alone would exceed the memory budget
    wide = {"layer1.conv.weight": torch.empty(1 << 16, 512, 4, 4, device="meta"),
            "layer2.conv.weight": torch.empty(1 << 16, 1 << 16, 3, 3, device="meta")}
    with pytest.raises(LoadError, match="would need"):
        net_from_state_dict(wide, "netdissect")
