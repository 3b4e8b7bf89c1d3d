"""The genforce/sefa model-zoo files (tests/data/genforce, README there): which generator is used,
StyleGAN2 in genforce's layout against its stored outputs, and the near misses."""
from __future__ import annotations

import pytest
import torch
from family_checks import DATA, explore, key_list, meta_state_dict, net_keys, reference

import models
from models.base import LoadError
from models.genforce_stylegan2 import GenforceStyleGAN2Config, GenforceStyleGAN2Net, config_from_state_dict

SG2 = DATA / "genforce" / "stylegan2_small_A.pth"
SG2_REF = DATA / "genforce" / "stylegan2_small_A_reference.pt"


@pytest.fixture(scope="module")
def sg2():
    return models.load_generator(SG2), reference(SG2_REF)


def test_genforce_stylegan2_reproduces_every_stored_output(sg2):
    G, ref = sg2
    assert (G.family, G.layout, G.num_layers, G.resolution, G.latent_dim) == ("stylegan2", "genforce", 8, 32, 32)
    torch.testing.assert_close(G.map(ref["z"]), ref["latents"], atol=1e-5, rtol=0)
    torch.testing.assert_close(G.truncate(ref["latents"], 0.7), ref["latents_trunc"], atol=1e-5, rtol=0)
    torch.testing.assert_close(G.truncate(ref["latents"], 0.7, cutoff=G.truncation_cutoff), ref["latents_trunc_cut8"],
                               atol=1e-5, rtol=0)
    with torch.no_grad():
        for image, latents in (("img", "latents"), ("img_trunc", "latents_trunc"), ("img_mixed", "latents_mixed")):
            torch.testing.assert_close(G.synthesize(ref[latents]), ref[image], atol=1e-4, rtol=0)
        torch.testing.assert_close(G.synthesize(ref["latents"], noise_mode="zero"), ref["img_nonoise"], atol=1e-4, rtol=0)


def test_the_plus_one_modulation_and_the_runtime_flip_are_both_needed(sg2):
    G, ref = sg2
    layer = G.net.convs[1]  # the first up-convolution
    stored = layer.weight.detach().clone()
    biases = [m.style.bias for m in (*G.net.convs, *G.net.rgbs)]
    saved = [b.detach().clone() for b in biases]
    try:
        with torch.no_grad():
            layer.weight.copy_(stored.flip(2, 3))  # pre-flipped, as rosinality stores it: wrong for genforce
            off_flip = (G.synthesize(ref["latents"]) - ref["img"]).abs().max()
            layer.weight.copy_(stored)
            for b in biases:
                b -= 1.0  # the same as dropping genforce's constant +1
            off_bias = (G.synthesize(ref["latents"]) - ref["img"]).abs().max()
    finally:
        with torch.no_grad():
            layer.weight.copy_(stored)
            for b, v in zip(biases, saved):
                b.copy_(v)
    assert off_flip > 1e-2
    assert off_bias > 0.5  # the README: dropping the +1 moves the image by 1.95


def test_generator_smooth_is_preferred_and_generator_is_the_fallback(tmp_path, sg2):
    G, ref = sg2
    ck = torch.load(SG2, weights_only=True)
    assert list(ck) == ["generator", "discriminator", "generator_smooth"]
    torch.save({"generator": ck["generator"], "discriminator": ck["discriminator"]}, tmp_path / "trained.pth")
    raw = models.load_generator(tmp_path / "trained.pth")
    assert "no generator_smooth" in raw.notes[0]
    with torch.no_grad():
        diff = (raw.synthesize(ref["latents"]) - ref["img"]).abs().max()
    assert abs(float(diff) - ref["meta"]["generator_vs_generator_smooth_img_diff"]) < 1e-3


def test_a_zoo_file_without_generator_keys_is_refused(tmp_path):
    ck = torch.load(SG2, weights_only=True)
    torch.save({"discriminator": ck["discriminator"]}, tmp_path / "d_only.pth")
    with pytest.raises(LoadError, match=r"d_only\.pth holds only a genforce discriminator"):
        models.load_generator(tmp_path / "d_only.pth")
    torch.save({"generator_smooth": ck["discriminator"]}, tmp_path / "odd.pth")
    with pytest.raises(LoadError, match="not a genforce PGGAN, StyleGAN or StyleGAN2 generator"):
        models.load_generator(tmp_path / "odd.pth")
    sd = dict(ck["generator_smooth"])
    sd.pop("synthesis.layer3.weight")
    torch.save({"generator_smooth": sd}, tmp_path / "holed.pth")
    with pytest.raises(LoadError, match=r"holed\.pth: .*lacks 'synthesis\.layer3\.weight'"):
        models.load_generator(tmp_path / "holed.pth")


def test_full_size_stylegan2_has_exactly_the_zoo_files_keys_and_shapes():
    keys = key_list(DATA / "genforce" / "genforce_zoo_1024_state_dict_keys.json", "stylegan2_ffhq")
    inferred = config_from_state_dict(meta_state_dict(keys))
    assert inferred == GenforceStyleGAN2Config.from_fmaps(1024)
    with torch.device("meta"):
        net = GenforceStyleGAN2Net(inferred)
    assert net_keys(net) == keys


def test_features_carry_the_stylegan2_names_and_sefa_reads_the_convs(sg2):
    G, _ref = sg2
    assert G.layer_names() == ["latent", "conv1", "to_rgb1", "convs.0", "convs.1", "to_rgbs.0", "convs.2", "convs.3",
                               "to_rgbs.1", "convs.4", "convs.5", "to_rgbs.2"]
    feats = G.features(G.sample(1, 0), ["convs.1", "to_rgbs.2"])
    assert feats["convs.1"].shape == (1, 16, 8, 8) and feats["to_rgbs.2"].shape == (1, 3, 32, 32)
    rows = [(r, k) for r, k, _A in G.latent_affines()]
    assert [r for r, k in rows if k == "conv"] == list(range(7)) and [r for r, k in rows if k == "rgb"] == [1, 3, 5, 7]


def test_ganspace_sefa_ranges_and_presets_work_on_genforce_stylegan2(sg2, tmp_path):
    explore(sg2[0], tmp_path)


def test_genforce_pggan_opens_through_the_zoo_dict():
    G = models.load_generator(DATA / "genforce" / "pggan_small_A.pth")
    assert (G.family, G.layout) == ("progan", "genforce")


def test_the_older_genforce_layout_is_refused_with_the_reason(tmp_path):
    # interfacegan's PGGAN names (see the README): not the zoo layout, said so instead of "no known layout"
    torch.save({"layer0.conv.weight": torch.zeros(4, 4, 4, 4), "layer0.wscale.bias": torch.zeros(4)}, tmp_path / "old.pth")
    with pytest.raises(LoadError, match=r"old\.pth uses the older genforce network code's names"):
        models.load_generator(tmp_path / "old.pth")
