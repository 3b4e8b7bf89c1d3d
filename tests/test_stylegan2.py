"""StyleGAN2 (rosinality layout): our plain-PyTorch generator against stored reference outputs.

The data in ``tests/data/stylegan2/`` (see its README) was produced by
rosinality/stylegan2-pytorch on a small random network; every image, W and W+ it stores
must come out of our `StyleGAN2Generator` through the public interface.
"""
from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import pytest
import torch

import models
from models import LoadError
from models.stylegan2 import (
    StyleGAN2Config,
    StyleGAN2Generator,
    build_net,
    config_from_state_dict,
    mix,
    upfirdn2d,
)

DATA = Path(__file__).parent / "data" / "stylegan2"
CKPT = DATA / "stylegan2_small_A.pt"
PSI = 0.7  # the truncation the reference outputs were made with
CROSSOVER = 4  # the reference's inject_index: rows 0..3 from the first code, 4.. from the second
ATOL32, ATOL64 = 1e-4, 1e-10  # reference README: float32 differs by ~1e-6 across thread counts


@pytest.fixture(scope="module")
def ref() -> dict:
    return torch.load(DATA / "stylegan2_small_A_reference.pt", weights_only=True)


@pytest.fixture(scope="module")
def ref64() -> dict:
    return torch.load(DATA / "stylegan2_small_A_reference_float64.pt", weights_only=True)


@pytest.fixture(scope="module")
def G() -> StyleGAN2Generator:
    return models.load_generator(CKPT)


@pytest.fixture(scope="module")
def G64() -> StyleGAN2Generator:
    g = models.load_generator(CKPT)
    g.net.double()
    return g


@pytest.fixture
def checkpoint() -> dict:
    """A fresh copy of the fixture checkpoint, to be altered and saved by a test."""
    return torch.load(CKPT, weights_only=True)


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


# ============================================================== float32 reference outputs
def test_loaded_fixture_has_the_reference_configuration(G):
    assert isinstance(G, StyleGAN2Generator)
    assert (G.family, G.resolution, G.latent_dim, G.z_dim, G.num_layers) == ("stylegan2", 64, 128, 128, 10)
    assert G.config.n_mlp == 4 and dict(G.config.channels) == {4: 64, 8: 64, 16: 64, 32: 64, 64: 64}
    assert G.default_truncation == 0.7 and G.default_pca_layer == "latent"
    assert G.notes == []  # latent_avg was stored, nothing estimated


def test_mapping_matches_reference_w(G, ref):
    with torch.no_grad():
        close(G.map(ref["z"])[:, 0], ref["w"], ATOL32)
        close(G.map(ref["z2"])[:, 0], ref["w2"], ATOL32)


def test_map_repeats_w_on_every_row_like_reference_latents(G, ref):
    with torch.no_grad():
        close(G.map(ref["z"]), ref["latents_z"], ATOL32)


def test_image_from_z_matches_reference(G, ref):
    with torch.no_grad():
        close(G.synthesize(G.map(ref["z"])), ref["img_z"], ATOL32)


def test_truncated_image_matches_reference(G, ref):
    torch.testing.assert_close(G.latent_avg, ref["latent_avg"], atol=0, rtol=0)
    with torch.no_grad():
        close(G.synthesize(G.truncate(G.map(ref["z"]), PSI)), ref["img_trunc"], ATOL32)


def test_per_layer_w_plus_image_matches_reference(G, ref):
    with torch.no_grad():
        close(G.synthesize(ref["w_plus"]), ref["img_wplus"], ATOL32)


def test_style_mixing_by_w_plus_crossover_matches_reference(G, ref):
    with torch.no_grad():
        mixed = mix(G.map(ref["z"]), G.map(ref["z2"]), CROSSOVER)
        close(mixed, ref["latents_mix"], ATOL32)
        close(G.synthesize(mixed), ref["img_mix"], ATOL32)
        close(G.synthesize(ref["w_mix"]), ref["img_mix"], ATOL32)


def test_truncated_style_mixing_matches_reference(G, ref):
    with torch.no_grad():
        mixed = G.truncate(mix(G.map(ref["z"]), G.map(ref["z2"]), CROSSOVER), PSI)
        close(mixed, ref["latents_trunc_mix"], ATOL32)
        close(G.synthesize(mixed), ref["img_trunc_mix"], ATOL32)


def test_explicit_noise_image_matches_reference(G, ref):
    with torch.no_grad():
        close(G.net(G.map(ref["z"]), noise=ref["noise"]), ref["img_noise"], ATOL32)


def test_mix_takes_only_the_named_rows_and_leaves_inputs_alone():
    a, b = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    out = mix(a, b, 2, 4)
    assert out[:, 2:4].eq(1).all() and out[:, :2].eq(0).all() and out[:, 4:].eq(0).all()
    assert a.eq(0).all()


# ============================================================== float64 reference outputs
def test_float64_mapping_matches_reference(G64, ref, ref64):
    with torch.no_grad():
        close(G64.map(ref["z"].double())[:, 0], ref64["w"], ATOL64)
        close(G64.map(ref["z2"].double())[:, 0], ref64["w2"], ATOL64)
        close(G64.map(ref["z"].double()), ref64["latents_z"], ATOL64)


def test_float64_images_match_reference(G64, ref, ref64):
    with torch.no_grad():
        w = G64.map(ref["z"].double())
        close(G64.synthesize(w), ref64["img_z"], ATOL64)
        close(G64.synthesize(G64.truncate(w, PSI)), ref64["img_trunc"], ATOL64)
        close(G64.synthesize(ref["w_plus"].double()), ref64["img_wplus"], ATOL64)
        close(G64.net(w, noise=[n.double() for n in ref["noise"]]), ref64["img_noise"], ATOL64)


def test_float64_style_mixing_matches_reference(G64, ref64):
    # the stored w_mix is float32; rebuild the crossover from the float64 w and w2
    w = ref64["w"][:, None].repeat(1, 10, 1)
    w2 = ref64["w2"][:, None].repeat(1, 10, 1)
    with torch.no_grad():
        mixed = mix(w, w2, CROSSOVER)
        close(mixed, ref64["latents_mix"], ATOL64)
        close(G64.synthesize(mixed), ref64["img_mix"], ATOL64)
        truncated = G64.truncate(mixed, PSI)
        close(truncated, ref64["latents_trunc_mix"], ATOL64)
        close(G64.synthesize(truncated), ref64["img_trunc_mix"], ATOL64)


# ============================================================== building from a configuration
def test_ffhq1024_config_builds_the_reference_state_dict_layout():
    spec = json.loads((DATA / "stylegan2_ffhq1024_state_dict_keys.json").read_text())
    config = StyleGAN2Config.standard(1024, style_dim=512, n_mlp=8, channel_multiplier=2)
    assert config.n_latent == spec["n_latent"] == 18
    assert config.num_noises == spec["num_layers"] == 17
    net = build_net(config, init=False)
    params = dict(net.named_parameters())
    ours = [(k, list(v.shape), "parameter" if k in params else "buffer") for k, v in net.state_dict().items()]
    theirs = [(e["name"], e["shape"], e["kind"]) for e in spec["keys"]]
    assert ours == theirs  # names, order, shapes and kinds
    assert sum(p.numel() for p in params.values()) == spec["num_parameters"]
    assert sum(b.numel() for k, b in net.state_dict().items() if k not in params) == spec["num_buffer_elements"]
    # and the shapes alone give the configuration back
    assert config_from_state_dict(net.state_dict()) == config


def test_unusual_channel_table_is_read_from_the_shapes(tmp_path):
    config = StyleGAN2Config(resolution=32, style_dim=24, n_mlp=2, channels={4: 16, 8: 12, 16: 10, 32: 6})
    net = build_net(config, seed=3)
    path = tmp_path / "odd.pt"
    torch.save({"g_ema": net.state_dict(), "latent_avg": torch.zeros(24)}, path)
    G = models.load_generator(path)
    assert G.config == config and G.num_layers == 8
    with torch.no_grad():
        lat = G.sample(2, seed=0)
        torch.testing.assert_close(G.synthesize(lat), net(lat), atol=0, rtol=0)
        assert G.synthesize(lat).shape == (2, 3, 32, 32)


def test_skip_upsampling_is_the_transposed_fir_filter():
    """upfirdn2d(up=2, pad (2, 1)) equals a stride-2 transposed conv with the kernel, padding 1."""
    kernel = torch.rand(4, 4, dtype=torch.float64)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    ours = upfirdn2d(x, kernel.flip(0, 1)[None, None], up=2, pad=(2, 1))
    expected = torch.nn.functional.conv_transpose2d(x, kernel.expand(3, 1, 4, 4), stride=2, padding=1, groups=3)
    assert ours.shape == (2, 3, 10, 14)
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)


# ============================================================== latent_avg, noise, layers
def test_missing_latent_avg_is_estimated_from_mapped_samples(tmp_path, checkpoint, G):
    path = tmp_path / "no_avg.pt"
    torch.save({"g_ema": checkpoint["g_ema"]}, path)
    G2 = models.load_generator(path)
    assert any("latent_avg" in note and "10,000" in note for note in G2.notes)
    # The stored mean is over 8192 z, ours over 10,000: per dimension their difference has
    # standard deviation std(w) * sqrt(1/8192 + 1/10000). Allow 5 of those.
    with torch.no_grad():
        std = G.map(G.sample_z(4000, seed=99))[:, 0].std(dim=0)
    tol = 5 * std * math.sqrt(1 / 8192 + 1 / 10_000)
    diff = (G2.latent_avg - checkpoint["latent_avg"]).abs()
    assert (diff < tol).all(), f"worst dimension off by {(diff / tol).max():.2f} tolerances"
    assert not torch.equal(G2.latent_avg, checkpoint["latent_avg"])


def test_fixed_noise_is_deterministic_random_noise_is_not_and_zero_noise_differs(G, ref):
    lat = G.map(ref["z"][:2])
    try:
        with torch.no_grad():
            G.noise_mode = "fixed"
            fixed_a, fixed_b = G.synthesize(lat), G.synthesize(lat)
            G.noise_mode = "random"
            rand_a, rand_b = G.synthesize(lat), G.synthesize(lat)
            G.noise_mode = "zero"
            zero = G.synthesize(lat)
            no_noise = G.net(lat, noise=[None] * G.config.num_noises)
    finally:
        G.noise_mode = "fixed"
    assert torch.equal(fixed_a, fixed_b)
    assert (rand_a - rand_b).abs().max() > 1e-2
    assert (rand_a - fixed_a).abs().max() > 1e-2
    assert (zero - fixed_a).abs().max() > 1e-2
    assert torch.equal(zero, no_noise)
    with pytest.raises(ValueError):
        G.noise_mode = "sometimes"


def test_noise_mode_argument_applies_to_one_call_and_leaves_the_setting_alone(G, ref):
    lat = G.map(ref["z"][:1])
    with torch.no_grad():
        fixed = G.synthesize(lat)
        zero = G.synthesize(lat, noise_mode="zero")
        again = G.synthesize(lat)
        no_noise = G.net(lat, noise=[None] * G.config.num_noises)
    assert G.noise_mode == "fixed"
    assert torch.equal(zero, no_noise)
    assert torch.equal(fixed, again) and not torch.equal(fixed, zero)
    with pytest.raises(ValueError):
        G.synthesize(lat, noise_mode="sometimes")


def test_render_uses_the_states_noise_mode_without_changing_the_generator(G):
    from editing.render import render_state
    from editing.state import EditState

    G.noise_mode = "random"
    try:
        a = render_state(G, EditState(model=G.name, seed=2, noise_mode="fixed"))
        b = render_state(G, EditState(model=G.name, seed=2, noise_mode="fixed"))
        assert G.noise_mode == "random"
    finally:
        G.noise_mode = "fixed"
    assert (a == b).all()


def test_features_return_layer_shapes_and_stop_after_the_last_requested_layer(G, ref):
    assert G.layer_names()[:6] == ["latent", "conv1", "to_rgb1", "convs.0", "convs.1", "to_rgbs.0"]
    assert G.layer_names()[-3:] == ["convs.6", "convs.7", "to_rgbs.3"]
    later = {"n": 0}

    def count(*_):
        later["n"] += 1

    handle = G.net.convs[2].register_forward_hook(count)
    try:
        with torch.no_grad():
            feats = G.features(G.map(ref["z"][:3]), ["conv1", "convs.1"])
    finally:
        handle.remove()
    assert feats["conv1"].shape == (3, 64, 4, 4)
    assert feats["convs.1"].shape == (3, 64, 8, 8)
    assert later["n"] == 0, "the forward pass went on past convs.1"
    assert not G.net.convs[1]._forward_hooks, "features left its hooks behind"


def test_last_rgb_feature_is_the_image(G, ref):
    with torch.no_grad():
        lat = G.map(ref["z"][:2])
        torch.testing.assert_close(G.features(lat, ["to_rgbs.3"])["to_rgbs.3"], G.synthesize(lat), atol=0, rtol=0)


def test_describe_layers_labels_every_w_plus_row_with_its_resolution(G):
    labels = G.describe_layers()
    assert len(labels) == G.num_layers == 10
    assert labels[0] == "0: 4² conv" and labels[1].startswith("1: 4² rgb") and labels[2] == "2: 8² conv"
    assert labels[-1] == "9: 64² rgb"


def test_synthesize_rejects_latents_of_the_wrong_shape(G):
    with pytest.raises(ValueError, match=r"\[B, 10, 128\]"):
        G.synthesize(torch.zeros(1, 18, 128))


def test_gradients_flow_through_synthesis_to_the_latents(G, ref):
    lat = G.map(ref["z"][:1]).requires_grad_(True)
    G.features(lat, ["convs.3"])["convs.3"].square().mean().backward()
    assert lat.grad is not None and lat.grad[0, :5].abs().sum() > 0


# ============================================================== other checkpoint shapes that load
def test_bare_generator_state_dict_loads(tmp_path, checkpoint, ref):
    path = tmp_path / "bare.pt"
    torch.save(checkpoint["g_ema"], path)
    G = models.load_generator(path)
    with torch.no_grad():
        close(G.synthesize(G.map(ref["z"])), ref["img_z"], ATOL32)


def test_training_checkpoint_without_g_ema_uses_g_and_says_so(tmp_path, checkpoint):
    path = tmp_path / "train.pt"
    torch.save({"g": checkpoint["g_ema"], "d": {}, "latent_avg": checkpoint["latent_avg"]}, path)
    G = models.load_generator(path)
    assert any("g_ema" in note for note in G.notes)


# ============================================================== files that must not load
def test_discriminator_only_checkpoint_is_refused(tmp_path):
    path = tmp_path / "d.pt"
    torch.save({"d": {"convs.0.0.weight": torch.randn(8, 3, 1, 1)}, "args": {"size": 64}}, path)
    with pytest.raises(LoadError, match="discriminator"):
        models.load_generator(path)


def test_optimizer_only_checkpoint_is_refused(tmp_path):
    path = tmp_path / "optim.pt"
    state = {"state": {}, "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99), "params": [0, 1]}]}
    torch.save({"g_optim": state, "d_optim": state}, path)
    with pytest.raises(LoadError, match="optimizer"):
        models.load_generator(path)


def test_state_dict_missing_an_entry_is_refused(tmp_path, checkpoint):
    del checkpoint["g_ema"]["to_rgbs.1.bias"]
    path = tmp_path / "missing.pt"
    torch.save(checkpoint, path)
    with pytest.raises(LoadError, match="lacks 'to_rgbs.1.bias'"):
        models.load_generator(path)


def test_state_dict_with_inconsistent_shapes_is_refused(tmp_path, checkpoint):
    checkpoint["g_ema"]["convs.2.conv.weight"] = torch.randn(1, 64, 48, 3, 3)
    path = tmp_path / "shapes.pt"
    torch.save(checkpoint, path)
    with pytest.raises(LoadError, match="convs.2.conv.weight"):
        models.load_generator(path)


def test_g_ema_that_is_not_a_stylegan2_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"g_ema": {"main.0.weight": torch.randn(4, 4)}}, path)
    with pytest.raises(LoadError, match="style.1.weight"):
        models.load_generator(path)


def test_latent_avg_of_the_wrong_size_is_refused(tmp_path, checkpoint):
    checkpoint["latent_avg"] = torch.zeros(512)
    path = tmp_path / "avg.pt"
    torch.save(checkpoint, path)
    with pytest.raises(LoadError, match="latent_avg"):
        models.load_generator(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    data = CKPT.read_bytes()
    path = tmp_path / "half.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="truncated"):
        models.load_generator(path)


def test_nvidia_tensorflow_pickle_is_refused_without_running_it(tmp_path):
    # What the official StyleGAN2 .pkl files start with: a protocol-2 pickle whose first
    # opcode is GLOBAL 'dnnlib.tflib.network Network'. Built from bytes, never unpickled here.
    payload = (
        pickle.PROTO + b"\x02"
        + pickle.GLOBAL + b"dnnlib.tflib.network\nNetwork\n"
        + pickle.EMPTY_TUPLE + pickle.NEWOBJ
        + pickle.EMPTY_DICT + pickle.BUILD
        + pickle.STOP
    )
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"
    path.write_bytes(payload)
    with pytest.raises(LoadError, match="NVIDIA/TensorFlow pickle"):
        models.load_generator(path)


# ============================================================== the benchmark's reference
def test_rosinality_reference_of_the_render_benchmark_reproduces_the_stored_fixture(G, ref):
    """`benchmarks/rosinality_ops.py` re-implements rosinality's op order; its images and
    latents must be the ones rosinality itself stored (one thread, like the fixture), to the
    README's tighter float32 bound: the last bits follow the CPU's vector width."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from rosinality_ops import rosinality_forward, rosinality_latent

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        close(rosinality_forward(G.net, ref["w_plus"]), ref["img_wplus"], 1e-5)
        lat = rosinality_latent(G.net, ref["z"], PSI, ref["latent_avg"])
        close(lat, ref["latent_avg"] + PSI * (ref["latents_z"] - ref["latent_avg"]), 1e-5)
        close(rosinality_forward(G.net, lat), ref["img_trunc"], 1e-5)
    finally:
        torch.set_num_threads(before)


def test_a_net_loaded_from_a_state_dict_renders_what_the_saved_one_did():
    """Derived buffers (modulation products, demodulation sums, FIR taps) follow the loaded
    weights, children included, not the values the empty net was built with."""
    cfg = StyleGAN2Config.standard(16, style_dim=32, n_mlp=2, channel_multiplier=2, channel_divisor=32)
    saved, loaded = build_net(cfg, init=True, seed=1), build_net(cfg, init=True, seed=2)
    loaded.load_state_dict(saved.state_dict())
    w = torch.randn(1, cfg.n_latent, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(saved(w), loaded(w))


def test_a_stored_noise_map_edited_in_place_changes_the_next_frame():
    """Single frames keep the last noise term (`StyledConv._noise_term`); an in-place edit
    of the stored map must still reach the frame, and undoing it must restore the frame."""
    cfg = StyleGAN2Config.standard(16, style_dim=32, n_mlp=2, channel_multiplier=2, channel_divisor=32)
    net = build_net(cfg, init=True, seed=1)
    with torch.no_grad():
        for conv in net.convs:
            conv.noise.weight.fill_(0.5)
    net.refresh()
    w = torch.randn(1, cfg.n_latent, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = net(w)
        assert torch.equal(net(w), before)
        net.noises.noise_3.mul_(-1.0)
        edited = net(w)
        net.noises.noise_3.mul_(-1.0)
        restored = net(w)
    assert (edited - before).abs().max() > 1e-3
    assert torch.equal(restored, before)
