"""Between seeds: fractional seeds (W for StyleGANs, slerp in z otherwise), the four-seed pad, seed walks."""
from __future__ import annotations

from dataclasses import replace

import cv2
import pytest
import torch

import models
from editing.export import ExportError, export_seed_walk_video
from editing.render import render_state
from editing.seeds import blend_base, blend_latents, blends_in_w, fractional_blend, pad_blend, slerp, walk, walk_position
from editing.state import EditState

SG2 = "tests/data/stylegan2/stylegan2_small_A.pt"


@pytest.fixture(scope="module")
def dcgan():
    return models.load_generator("dcgan-faces", "cpu")


@pytest.fixture(scope="module")
def sg2():
    return models.load_generator(SG2, "cpu")


def test_a_whole_fractional_seed_is_that_seed(dcgan):
    assert fractional_blend(7.0) == ((7, 1.0),)
    torch.testing.assert_close(blend_latents(dcgan, fractional_blend(7.0)), dcgan.sample(1, 7))


def test_stylegan_seeds_blend_linearly_in_w(sg2):
    assert blends_in_w(sg2)
    half = blend_latents(sg2, fractional_blend(3.25))
    torch.testing.assert_close(half, 0.75 * sg2.sample(1, 3) + 0.25 * sg2.sample(1, 4))


def test_gaussian_seeds_blend_by_slerp_in_z_keeping_the_norm(dcgan):
    assert not blends_in_w(dcgan)
    za, zb = dcgan.sample_z(1, 0), dcgan.sample_z(1, 1)
    mid = blend_latents(dcgan, fractional_blend(0.5))
    torch.testing.assert_close(mid, dcgan.map(slerp(za, zb, 0.5)))
    norm = mid.flatten().norm()
    lerp_norm = dcgan.map(0.5 * (za + zb)).flatten().norm()
    assert norm > lerp_norm * 1.2, "slerp keeps a typical norm where a straight line shrinks it"
    assert min(za.norm(), zb.norm()) - 1e-4 <= norm <= max(za.norm(), zb.norm()) + 1e-4


def test_slerp_ends_at_its_endpoints():
    a, b = torch.randn(2, 5), torch.randn(2, 5)
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)


def test_the_pad_gives_each_corner_its_seed_and_the_centre_all_four():
    corners = (10, 11, 12, 13)
    assert pad_blend(corners, 0, 0) == ((10, 1.0),)
    assert pad_blend(corners, 1, 1) == ((13, 1.0),)
    centre = dict(pad_blend(corners, 0.5, 0.5))
    assert centre == {10: 0.25, 11: 0.25, 12: 0.25, 13: 0.25}


def test_a_walk_loops_back_to_its_first_seed():
    blends = list(walk([4, 9, 2], 4))
    assert len(blends) == 12 and blends[0] == ((4, 1.0),) and blends[4] == ((9, 1.0),)
    assert blends[-1] == ((2, 0.25), (4, 0.75))
    assert walk_position([4, 9, 2], 3.0) == ((4, 1.0),) and walk_position([4, 9, 2], 1.5) == ((9, 0.5), (2, 0.5))


def test_a_blend_base_renders_like_its_seed_with_mixing_and_truncation(sg2):
    state = EditState(model=SG2, seed=5, truncation=0.7, mix_seed=2, mix_range=(3, 6))
    base = blend_base(sg2, state, fractional_blend(5.0))
    assert (render_state(sg2, replace(state, latents=base)) == render_state(sg2, state)).all()


def test_a_seed_walk_video_has_a_frame_per_step_and_loops(dcgan, tmp_path):
    path = tmp_path / "walk.mp4"
    n = export_seed_walk_video(dcgan, EditState(model="dcgan-faces"), [0, 1, 2], 3, 12.0, path)
    assert n == 9
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 9
    with pytest.raises(ExportError, match="two seeds"):
        export_seed_walk_video(dcgan, EditState(model="dcgan-faces"), [0], 3, 12.0, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
