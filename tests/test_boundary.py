"""InterFaceGAN boundaries: labels made by a known rule give back the rule's direction."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from methods.boundary import BoundaryConfig, discover, orthogonalize, read_labels, seed_latents, write_labels
from methods.controls import ControlSet, LinearControl, ModelRef
from methods.jobs import MethodError

ROOT = Path(__file__).resolve().parents[1]


def known_direction(dim: int, seed: int = 1) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal(dim)
    return d / np.linalg.norm(d)


def sign_labels(G, d: np.ndarray, path: Path, n: int = 1000) -> Path:
    x = seed_latents(G, np.arange(n), 1.0)[:, 0].double().numpy()
    write_labels(path, {s: int(v > 0) for s, v in enumerate(x @ d)})
    return path


def test_labels_from_a_known_directions_sign_recover_it(faces, tmp_path):
    d = known_direction(faces.latent_dim)
    cs = discover(faces, BoundaryConfig(labels=str(sign_labels(faces, d, tmp_path / "l.csv"))))
    c = cs[0]
    assert float(c.direction @ d) >= 0.95
    assert cs.stats["val_accuracy"] > 0.85 and cs.stats["val_samples"] == 300 and cs.samples == 1000
    x = seed_latents(faces, np.arange(1000), 1.0)[:, 0].numpy()
    assert np.isclose(c.scale, (x @ c.direction).std(), rtol=1e-4)  # one slider unit = one σ of the projections


def test_conditional_direction_is_orthogonal_to_its_conditions(faces, tmp_path):
    d = known_direction(faces.latent_dim)
    labels = sign_labels(faces, d, tmp_path / "l.csv")
    e = known_direction(faces.latent_dim, seed=2)
    e = e - 0.5 * d  # a condition correlated with the attribute
    other = ControlSet([LinearControl("age", (e / np.linalg.norm(e)).astype(np.float32))], ModelRef.of(faces), "test")
    other.save(tmp_path / "age.npz")
    cs = discover(faces, BoundaryConfig(labels=str(labels), orthogonal_to=f"{tmp_path / 'age.npz'}:0"))
    n = cs[0].direction.astype(np.float64)
    assert abs(n @ other[0].direction) < 1e-5 and np.isclose(np.linalg.norm(n), 1.0, atol=1e-6)
    assert cs.stats["cosine_to_unconditional"] < 0.99 and "age" in cs.stats["conditions"][0]
    # two conditions: orthogonal to both
    basis = np.eye(4)[:2] + 0.3
    out = orthogonalize(np.array([1.0, 2.0, 3.0, 4.0]), basis)
    assert np.allclose(basis @ out, 0, atol=1e-12) and np.isclose(np.linalg.norm(out), 1)


def test_labels_csv_header_skips_and_one_sentence_errors(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("seed,label\n3,1\n4,no\n5,skip\n6,\n7,yes\n# a comment\n8,0\n")
    seeds, labels = read_labels(p)
    assert seeds.tolist() == [3, 4, 7, 8] and labels.tolist() == [1, 0, 1, 0]
    p.write_text("1,maybe\n")
    with pytest.raises(MethodError, match="line 1: label 'maybe'"):
        read_labels(p)
    p.write_text("seed,label\n-3,1\n")
    with pytest.raises(MethodError, match="line 2"):
        read_labels(p)
    p.write_text("1,1\n2,1\n3,0\n")
    with pytest.raises(MethodError, match="at least 2"):
        discover_from(p)


def discover_from(p):
    from tests.toys import TinyConvGenerator

    return discover(TinyConvGenerator(), BoundaryConfig(labels=str(p)))


def test_w_plus_row_range_becomes_the_controls_default_range(tmp_path):
    from tests.toys import TinyConvGenerator

    G = TinyConvGenerator(num_layers=4)
    d = known_direction(G.latent_dim)
    x = seed_latents(G, np.arange(200), 1.0)[:, 0].double().numpy()
    write_labels(tmp_path / "l.csv", {s: int(v > 0) for s, v in enumerate(x @ d)})
    cs = discover(G, BoundaryConfig(labels=str(tmp_path / "l.csv"), layers="1:3"))
    assert cs[0].layers == (1, 3) and cs.stats["layers"] == [1, 3]
    with pytest.raises(MethodError, match="editing space is z"):
        discover(G, BoundaryConfig(labels=str(tmp_path / "l.csv"), space="w"))


def test_labels_from_an_extractors_class_area_give_a_direction_that_grows_it(faces, tiny_extractor, tmp_path):
    path = tmp_path / "ext.pt"
    tiny_extractor.save(path)
    cls = tiny_extractor.classes[1]
    cs = discover(faces, BoundaryConfig(extractor=str(path), area_class=cls, samples=80, tails=0.25))
    assert cs[0].name == f"has {cls}" and cs.stats["positives"] == cs.stats["negatives"] == 20
    lat = torch.cat([faces.sample(1, s) for s in range(500, 508)])
    area = {}
    for t in (-2.0, 2.0):
        moved = cs.apply(lat, [t])
        area[t] = float((tiny_extractor.predict(faces, moved) == 1).float().mean())
    assert area[2.0] > area[-2.0]


from gui_helpers import generator, tiny_extractor  # noqa: E402,F401  (the fixtures)


def test_cli_discover_boundary_with_a_condition(faces, tmp_path):
    d = known_direction(faces.latent_dim)
    sign_labels(faces, d, tmp_path / "l.csv", n=300)
    ControlSet([LinearControl("c", known_direction(faces.latent_dim, 3).astype(np.float32))], ModelRef.of(faces),
               "test").save(tmp_path / "c2.npz")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "discover", "--method", "boundary", "--labels", "l.csv",
                        "--model", "dcgan-faces", "--out", "b.npz", "--orthogonal-to", "c2.npz:0", "--quiet"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["method"] == "boundary" and line["val_accuracy"] > 0.7
    cs = ControlSet.load(tmp_path / "b.npz")
    assert abs(float(cs[0].direction @ known_direction(faces.latent_dim, 3))) < 1e-5
