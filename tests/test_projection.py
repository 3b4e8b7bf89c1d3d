"""Projection (GAN inversion): images the generator made come back, and the result is an editable image."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import models
from editing.projection import projected_state
from editing.render import render_state, to_uint8
from editing.state import EditState
from methods.jobs import Cancelled, MethodError
from methods.projection import (ProjectionConfig, image_size, lr_schedule, noise_scale, prepare_target, project, psnr,
                                read_image)

ROOT = Path(__file__).resolve().parents[1]
SG2 = ROOT / "tests" / "data" / "stylegan2" / "stylegan2_small_A.pt"


def generated(G, seed: int) -> np.ndarray:
    with torch.no_grad():
        return to_uint8(G.synthesize(G.sample(1, seed)))[0]


def test_dcgan_generated_face_reaches_25_db_quickly(faces):
    # the full target (300 steps) is measured in benchmarks/projection.py; 40 steps already clear it
    result = project(faces, generated(faces, 7), ProjectionConfig(steps=40))
    assert result.psnr >= 25.0
    assert result.latents.shape == (1, 1, faces.latent_dim) and result.space == "z"
    # the reported PSNR is the reconstruction's, and the reconstruction is what the renderer draws
    state = projected_state(EditState(model="dcgan-faces"), result)
    frame = render_state(faces, state)
    assert abs(psnr(frame, result.target) - result.psnr) < 0.05


def test_an_image_the_model_did_not_make_still_projects_and_says_how_well(faces):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)  # not square, not a face
    result = project(faces, noise, ProjectionConfig(steps=5, candidates=2))
    assert result.target.shape == (64, 64, 3) and 0 < result.psnr < 20


def test_progress_every_step_previews_and_cancel(faces):
    calls, previews = [], []
    project(faces, generated(faces, 1), ProjectionConfig(steps=6, preview_every=2, candidates=2),
            progress=lambda f, m: calls.append(f), preview=lambda s, frame, p: previews.append((s, frame.shape, p)))
    assert calls[-1] == 1.0 and len([c for c in calls if 0 < c < 1]) == 5
    assert [p[0] for p in previews] == [2, 4, 6] and previews[0][1] == (64, 64, 3)
    steps = []
    with pytest.raises(Cancelled):
        project(faces, generated(faces, 1), ProjectionConfig(steps=50, candidates=2),
                progress=lambda f, m: steps.append(f), cancel=lambda: len(steps) > 4)
    assert len(steps) <= 6


def test_keep_optimising_continues_from_the_result(faces):
    target = generated(faces, 3)
    first = project(faces, target, ProjectionConfig(steps=10, candidates=4))
    more = project(faces, target, ProjectionConfig(steps=30), start=first)
    assert more.steps == 40 and more.psnr > first.psnr


def test_stylegan2_projects_w_then_w_plus():
    G = models.load_generator(SG2, "cpu")
    target = generated(G, 3)
    start_psnr = psnr(to_uint8(G.synthesize(G.latent_avg.expand(1, G.num_layers, -1).clone(), noise_mode="fixed"))[0],
                      prepare_target(target, G.resolution))
    w = project(G, target, ProjectionConfig(steps=25, space="w"))
    assert torch.equal(w.latents[0, 0], w.latents[0, -1])  # one w broadcast over the rows
    wp = project(G, target, ProjectionConfig(steps=25, space="w+"))
    assert wp.latents.shape == (1, G.num_layers, G.latent_dim) and not torch.equal(wp.latents[0, 0], wp.latents[0, -1])
    assert wp.psnr > start_psnr + 3 and w.psnr > start_psnr + 3


def test_wrong_space_for_the_family_is_one_sentence(faces):
    with pytest.raises(MethodError, match="editing space is z"):
        project(faces, generated(faces, 0), ProjectionConfig(space="w+"))


def test_target_is_centre_cropped_then_resized():
    img = np.zeros((40, 100, 3), np.uint8)
    img[:, 30:70] = 255  # the centre square is white, the sides black
    out = prepare_target(img, 16)
    assert out.shape == (16, 16, 3) and out.min() == 255
    grey = prepare_target(np.full((8, 8), 7, np.uint8), 8)
    assert grey.shape == (8, 8, 3) and (grey == 7).all()


def test_projector_learning_rate_ramp_and_latent_noise():
    c = ProjectionConfig(lr=0.1)
    assert lr_schedule(0.0, c) == 0.0 and math.isclose(lr_schedule(0.05, c), 0.1)
    assert math.isclose(lr_schedule(0.875, c), 0.05, rel_tol=1e-9) and lr_schedule(0.5, c) == 0.1
    c = ProjectionConfig(noise_factor=0.05)
    assert math.isclose(noise_scale(0.0, 2.0, c), 0.1) and noise_scale(0.75, 2.0, c) == 0.0


def test_image_header_declaring_a_huge_size_is_refused_before_decoding(tmp_path):
    ok = tmp_path / "ok.png"
    cv2.imwrite(str(ok), np.zeros((5, 7, 3), np.uint8))
    assert image_size(ok.read_bytes()) == (7, 5)
    data = bytearray(ok.read_bytes())
    data[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")
    huge = tmp_path / "huge.png"
    huge.write_bytes(bytes(data))
    with pytest.raises(MethodError, match="megapixels"):
        read_image(huge)
    jpg = tmp_path / "a.jpg"
    cv2.imwrite(str(jpg), np.zeros((9, 13, 3), np.uint8))
    assert image_size(jpg.read_bytes()) == (13, 9)
    assert read_image(jpg).shape == (9, 13, 3)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_cli_project_writes_a_preset_that_renders_the_reconstruction_bit_for_bit(tmp_path, faces):
    cv2.imwrite(str(tmp_path / "face.png"), generated(faces, 11)[:, :, ::-1])
    r = cli("project", "--model", "dcgan-faces", "--image", "face.png", "--steps", "30", "--quiet",
            "--save-latents", "l.npy", "--save-preset", "p.json", "--out", "recon.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["steps"] == 30 and line["psnr"] > 25 and line["seconds"] > 0
    assert np.load(tmp_path / "l.npy").shape == (1, faces.latent_dim)
    r = cli("render", "--preset", "p.json", "--out", "again.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(cv2.imread(str(tmp_path / "recon.png")), cv2.imread(str(tmp_path / "again.png")))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    r = cli("project", "--model", "dcgan-faces", "--image", "bad.png", "--out", "x.png", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and not (tmp_path / "x.png").exists()


def test_biggan_projects_z_and_class(tmp_path):
    from tests.test_biggan import make_oracle, save

    G = models.load_generator(save(make_oracle(), tmp_path / "biggan"), "cpu")
    with torch.no_grad():
        lat = G.truncate(G.sample(1, 2), 0.5)
        target = to_uint8(G.synthesize(lat, classes=torch.tensor([207]), truncation=0.5))[0]
    result = project(G, target, ProjectionConfig(steps=4, candidates=2, truncation=0.5, class_fraction=0.5))
    assert result.latents.shape == (1, G.num_layers, G.z_dim) and torch.equal(result.latents[0, 0], result.latents[0, -1])
    assert 0 <= result.class_index < 1000 and result.truncation == 0.5
    state = projected_state(EditState(model="biggan"), result)
    assert state.class_index == result.class_index and state.class_mix == result.class_mix
    assert abs(psnr(render_state(G, state), result.target) - result.psnr) < 0.05
    fixed = project(G, target, ProjectionConfig(steps=2, candidates=2, truncation=0.5, class_index=207))
    assert fixed.class_index == 207 and fixed.class_mix is None
