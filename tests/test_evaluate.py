"""The shared measure of quality: RCA of a fresh reconstructor, a random baseline, image change per control."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from toys import QuadrantToy, TinyConvGenerator

from methods.controls import ControlSet, FieldControl, LinearControl, ModelRef, random_controls
from methods.evaluate import EvalConfig, evaluate, integrate_batch, shift_latents, shift_range_of
from methods.fields import VectorField
from methods.jobs import MethodError

SMALL = EvalConfig(samples=400, test_samples=200, iterations=40, batch=32, image_size=16)
TINY = EvalConfig(samples=96, test_samples=48, iterations=8, batch=16, image_size=16)


def _axes(G, rows: range, name: str) -> ControlSet:
    eye = np.eye(G.latent_dim, dtype=np.float32)
    return ControlSet([LinearControl(f"e{i}", eye[i]) for i in rows], ModelRef.of(G), name)


def test_rca_tells_distinct_factors_apart_and_dead_directions_sit_at_chance():
    G = QuadrantToy()
    eye = np.eye(8, dtype=np.float32)
    # controls 0-3 light one quadrant each; 4-7 move dead coordinates and change nothing
    cs = ControlSet([LinearControl(f"live {i}", eye[4 + i]) for i in range(4)] +
                    [LinearControl(f"dead {i}", eye[i]) for i in range(4)], ModelRef.of(G), "axes")
    report = evaluate(G, cs, replace(SMALL, baseline=False))
    live, dead = report["rca_per_control"][:4], report["rca_per_control"][4:]
    # R cannot tell the dead controls apart: together they score about 1 in 4
    assert min(live) > 0.7 and np.mean(dead) < 0.45 and report["chance"] == 0.125, report["rca_per_control"]
    assert report["image_change"][4:] == [0.0] * 4 and min(report["image_change"][:4]) > 0.02
    assert report["rca_random"] is None and report["shift_range"] == [0.5, 3.0] and report["kinds"] == ["linear"]
    assert report["rca"] == pytest.approx(np.mean(report["rca_per_control"]), abs=0.05)


def test_every_set_meets_the_same_baseline():
    G = QuadrantToy()
    a = evaluate(G, random_controls(G, 3, seed=1), TINY)
    b = evaluate(G, random_controls(G, 3, seed=2), TINY)
    # the baseline shares latents, indices, shifts, budget and seed: identical for both sets
    assert a["rca_random"] == b["rca_random"] and a["image_change_random_mean"] == b["image_change_random_mean"]
    assert a["image_change"] != b["image_change"]


def test_the_same_budget_gives_the_same_report():
    G = QuadrantToy()
    cs = random_controls(G, 3, seed=5)
    a, b = evaluate(G, cs, TINY), evaluate(G, cs, TINY)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert json.loads(json.dumps(a)) == a


def _fields(G) -> ControlSet:
    rng = np.random.default_rng(0)
    D = G.latent_dim
    rbf = VectorField("rbf", {"support": rng.standard_normal((4, D)).astype(np.float32),
                              "weights": np.array([1, -1, 1, -1], np.float32)}, {"gamma": 0.3})
    lin = VectorField("linear", {"W": rng.standard_normal((D, D)).astype(np.float32)})
    controls = [FieldControl("rbf", rbf, step=0.3, scale=1.5), FieldControl("lin", lin, step=0.25, sign=-1.0),
                LinearControl("axis", np.eye(D, dtype=np.float32)[0], scale=2.0)]
    return ControlSet(controls, ModelRef.of(G), "mixed", stats={"shift_range": [0.2, 1.1]})


def test_batched_shifts_equal_controlset_apply_for_fields_and_lines():
    G = TinyConvGenerator()
    cs = _fields(G)
    x = G.sample(9, 0)
    k = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    t = torch.tensor([0.7, -1.1, 0.4, -0.05, 2.0, -1.3, 1.0, 0.0, 0.9])
    got = shift_latents(cs, x, k, t)
    for i in range(9):
        values = np.zeros(3, np.float32)
        values[k[i]] = t[i]
        torch.testing.assert_close(got[i], cs.apply(x[i:i + 1], values)[0], atol=1e-5, rtol=1e-5)
    assert shift_range_of(cs) == (0.2, 1.1)


def test_field_integration_walks_each_point_its_own_length():
    field = VectorField("linear", {"W": np.eye(3, dtype=np.float32)})  # v(x) = x/‖x‖: straight out from 0
    x = torch.tensor([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0]])
    out = integrate_batch(field, x, torch.tensor([0.45, -0.5, 0.0]), step=0.2)
    torch.testing.assert_close(out.norm(dim=1), torch.tensor([1.45, 1.5, 3.0]))


def test_the_baseline_moves_the_same_latent_length_as_the_controls():
    G = QuadrantToy()
    eye = np.eye(8, dtype=np.float32)
    big = ControlSet([LinearControl(f"e{i}", eye[4 + i], scale=3.0) for i in range(4)], ModelRef.of(G), "scaled")
    unit = ControlSet([LinearControl(f"e{i}", eye[4 + i], scale=1.0) for i in range(4)], ModelRef.of(G), "unit")
    cfg = EvalConfig(samples=64, test_samples=64, iterations=2, batch=16, image_size=16, shift_min=0.5, shift_max=1.0)
    r_big = evaluate(G, big, cfg)
    r_unit = evaluate(G, unit, replace(cfg, shift_min=1.5, shift_max=3.0))
    # slider 0.5..1 at σ = 3 is the same latent walk as slider 1.5..3 at σ = 1, baseline included
    assert r_big["image_change"] == r_unit["image_change"]
    assert r_big["image_change_random_mean"] == r_unit["image_change_random_mean"]


def test_bad_budgets_and_foreign_controls_are_clear_errors():
    G = QuadrantToy()
    with pytest.raises(MethodError, match="two controls"):
        evaluate(G, random_controls(G, 1), SMALL)
    with pytest.raises(MethodError, match="shift range"):
        evaluate(G, random_controls(G, 3), EvalConfig(shift_min=2.0, shift_max=1.0))
    with pytest.raises(ValueError, match="latent size"):
        evaluate(G, random_controls(TinyConvGenerator(z_dim=5), 3), SMALL)


def test_evaluate_command_prints_one_json_report(faces, tmp_path, capsys):
    from cli.commands import run

    controls = tmp_path / "c.npz"
    random_controls(faces, 3, seed=1).save(controls)
    report_file = tmp_path / "r.json"
    argv = ["evaluate", "--model", "dcgan-faces", "--controls", str(controls), "--samples", "24", "--test-samples", "12",
            "--iterations", "2", "--batch", "8", "--seed", "3", "--device", "cpu", "--quiet", "--out", str(report_file)]
    assert run(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert {"rca", "rca_random", "chance", "image_change", "shift_range", "budget"} <= set(report)
    assert len(report["image_change"]) == 3 and report["budget"]["seed"] == 3 and report["method"] == "random"
    assert json.loads(report_file.read_text())["rca"] == report["rca"]
    assert run(argv[:-2] + ["--range", "3", "1"]) == 2
    assert "--range" in capsys.readouterr().err
    other = tmp_path / "other.npz"
    random_controls(TinyConvGenerator(z_dim=100), 3).save(other)
    assert run(["evaluate", "--model", "dcgan-faces", "--controls", str(other), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tiny" in err
