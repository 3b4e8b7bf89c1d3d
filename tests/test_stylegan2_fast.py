"""The StyleGAN2 fast frame path: activation modulation, float16 where invisible, CUDA graphs.

On the CPU everything but the graph capture runs (float16 convolutions included), so
the equalities and the calibration are checked here; the CUDA test runs where a GPU is.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from editing.render import render_state, to_uint8
from editing.state import EditState
from models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, build_net
from models.stylegan2_fast import HALF_TOLERANCE, FastRenderer, calibrate_half_from, max_image_error

CKPT = Path(__file__).parent / "data" / "stylegan2" / "stylegan2_small_A.pt"


@pytest.fixture(scope="module")
def G() -> StyleGAN2Generator:
    return models.load_generator(CKPT)


@pytest.fixture(scope="module")
def ref() -> dict:
    return torch.load(CKPT.parent / "stylegan2_small_A_reference.pt", weights_only=True)


@pytest.fixture(scope="module")
def lat(G, ref) -> torch.Tensor:
    return G.truncate(G.map(ref["z"]), 0.7)


@pytest.mark.parametrize("mode", ["fixed", "zero"])
def test_fast_path_in_float32_equals_the_reference_forward(G, lat, mode):
    exact = G.synthesize(lat, noise_mode=mode).detach()
    fast = FastRenderer(G.net, "cpu").images(lat, mode)
    assert (fast - exact).abs().max() < 1e-4
    assert (fast - exact).abs().max() > 0 or mode == "zero"  # a different computation, not a copy


def test_fast_path_reproduces_the_stored_reference_images(G, ref):
    lat = G.truncate(G.map(ref["z"]), 0.7)
    fast = FastRenderer(G.net, "cpu").images(lat)
    assert torch.allclose(fast, ref["img_trunc"], atol=1e-4)


def test_fast_path_with_style_mixing_and_w_plus_rows(G, ref):
    lat = G.truncate(G.mix(G.map(ref["z"]), G.map(ref["z2"]), 4), 0.7)
    assert torch.allclose(FastRenderer(G.net, "cpu").images(lat), ref["img_trunc_mix"], atol=1e-4)


def test_random_noise_changes_every_frame_and_stays_near_fixed_noise(G, lat):
    fr = FastRenderer(G.net, "cpu")
    a, b = fr.images(lat[:1], "random"), fr.images(lat[:1], "random")
    fixed = fr.images(lat[:1], "fixed")
    assert (a - b).abs().max() > 1e-2
    assert (a - fixed).abs().mean() < 0.5  # noise perturbs details, not the whole image


def test_frames_are_the_exact_uint8_within_one_level(G, lat):
    frames = FastRenderer(G.net, "cpu").frames(lat)
    exact = to_uint8(G.synthesize(lat).detach())
    assert frames.shape == exact.shape == (4, 64, 64, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - exact.astype(int)).max() <= 1


def test_float16_calibration_keeps_images_within_one_level(G, lat):
    half_from, err, errors = calibrate_half_from(G.net, "cpu", lat)
    assert half_from is not None and err <= HALF_TOLERANCE
    assert list(errors) == sorted(errors, reverse=True)  # tried from the top resolution down
    fr = FastRenderer(G.net, "cpu", half_from=half_from)
    assert fr.convs[-1].weight.dtype == torch.float16 and fr.dtype_at(half_from // 2) == torch.float32
    assert max_image_error(fr.images(lat), G.synthesize(lat).detach()) <= HALF_TOLERANCE + 1e-5


def test_calibration_refuses_float16_when_the_tolerance_is_too_strict(G, lat):
    half_from, _, errors = calibrate_half_from(G.net, "cpu", lat, tolerance=1e-7)
    assert half_from is None
    assert list(errors) == [64] and errors[64] > 1e-7  # stopped at the first failure


def test_fast_path_handles_a_custom_channel_table_and_batch_sizes():
    cfg = StyleGAN2Config(32, style_dim=16, n_mlp=2, channels={4: 24, 8: 20, 16: 12, 32: 8})
    net = build_net(cfg, seed=3)
    G = StyleGAN2Generator(net, "cpu", latent_avg=torch.zeros(16))
    for batch in (1, 3):
        lat = G.sample(batch, seed=batch)
        assert torch.allclose(FastRenderer(net, "cpu").images(lat), G.synthesize(lat).detach(), atol=1e-5)


def test_bad_noise_mode_and_latent_shape_are_refused(G, lat):
    fr = FastRenderer(G.net, "cpu")
    with pytest.raises(ValueError, match="noise mode"):
        fr.images(lat, "loud")
    with pytest.raises(ValueError, match="latents must be"):
        fr.images(lat[:, :3])


def test_render_state_takes_the_fast_path_only_where_the_generator_has_one(G, monkeypatch):
    state = EditState(model=G.name, seed=5, truncation=0.7, size=48)
    exact = render_state(G, state)
    assert not G.has_fast_path  # CPU: the preview is the exact frame
    assert (render_state(G, state, fast=True) == exact).all()
    monkeypatch.setattr(StyleGAN2Generator, "fast_path_devices", ("cpu", "cuda"))
    calls = []
    real = G.fast_frames
    monkeypatch.setattr(G, "fast_frames", lambda lat, mode=None: calls.append(mode) or real(lat, mode))
    fast = render_state(G, replace(state, noise_mode="zero"), fast=True)
    assert calls == ["zero"] and fast.shape == (48, 48, 3)
    zero_exact = render_state(G, replace(state, noise_mode="zero"))
    assert np.abs(fast.astype(int) - zero_exact.astype(int)).max() <= 1
    assert G.fast_info["device"] == "cpu" and G.fast_info["half_from"] is None
    G.release_fast_path()
    assert G.fast_info == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_cuda_graph_replays_equal_eager_frames_for_new_latents(G, lat):
    net = build_net(G.net.config, init=False)
    net.load_state_dict(G.net.state_dict())
    net.cuda()
    half_from, err, _ = calibrate_half_from(net, "cuda", lat.cuda())
    fr = FastRenderer(net, "cuda", half_from)
    assert fr.graphs
    for i in range(3):  # capture, then replays with different inputs
        x = lat[i : i + 1].cuda()
        eager = fr._uint8(x, "fixed").cpu().numpy()
        assert (fr.frames(x) == eager).all()
    assert len(fr._graphs) == 1
    exact = to_uint8(net(lat.cuda()).cpu())
    assert np.abs(fr.frames(lat.cuda()).astype(int) - exact.astype(int)).max() <= 1
