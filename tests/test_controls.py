"""ControlSet: pure batched application, layer ranges, files without pickle, model checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from methods.controls import ControlSet, ControlSetError, LinearControl, ModelRef, random_controls


def _set(latent_dim=4, num_layers=3, fingerprint="abc"):
    model = ModelRef("toy", "toy", fingerprint, latent_dim, num_layers)
    e = np.eye(latent_dim, dtype=np.float32)
    return ControlSet(
        [LinearControl("x", e[0], 2.0), LinearControl("y", e[1], 0.5, layers=(1, num_layers) if num_layers > 1 else None)],
        model, "test", {"k": 1}, seed=3, samples=10, extras={"var_ratio": np.array([0.6, 0.3])}, stats={"s": 1.5},
    )


def test_apply_adds_value_times_sigma_times_direction_only_inside_the_layer_range():
    cs = _set()
    lat = torch.zeros(2, 3, 4)
    out = cs.apply(lat, [1.5, 0.0], [(0, 2), None])
    assert torch.equal(lat, torch.zeros(2, 3, 4))  # pure: input untouched
    assert torch.allclose(out[:, 0, 0], torch.tensor(3.0)) and torch.allclose(out[:, 1, 0], torch.tensor(3.0))
    assert torch.all(out[:, 2] == 0)
    out = cs.apply(lat, [0.0, 4.0])  # the default range of "y" is layers 1..2
    assert torch.all(out[:, 0] == 0) and torch.allclose(out[:, 1:, 1], torch.tensor(2.0))


def test_apply_takes_per_sample_values_in_one_batch():
    cs = _set()
    out = cs.apply(torch.zeros(3, 3, 4), torch.tensor([[1.0, 0], [0, 0], [-1.0, 0]]))
    assert out[0, 0, 0] == 2.0 and out[1].abs().sum() == 0 and out[2, 0, 0] == -2.0


def test_apply_rejects_values_of_the_wrong_length():
    with pytest.raises(ControlSetError, match="expected 2 control values"):
        _set().apply(torch.zeros(1, 3, 4), [1.0])


def test_save_and_load_round_trip_without_pickle(tmp_path):
    cs = _set()
    path = tmp_path / "c.npz"
    cs.save(path)
    with np.load(path, allow_pickle=False) as npz:  # readable without pickle
        assert set(npz.files) == {"directions", "extra.var_ratio", "meta.json"}
    back = ControlSet.load(path)
    assert back.names == ["x", "y"] and len(back) == 2
    np.testing.assert_array_equal(back.directions(), cs.directions())
    assert back[1].layers == (1, 3) and back[0].scale == 2.0
    assert back.model == cs.model and back.config == {"k": 1} and back.seed == 3 and back.stats == {"s": 1.5}
    np.testing.assert_array_equal(back.extras["var_ratio"], cs.extras["var_ratio"])
    assert not list(tmp_path.glob(".c.npz*"))  # the temporary file was renamed away


def test_json_form_is_lossless():
    cs = _set()
    back = ControlSet.from_json(json.loads(json.dumps(cs.to_json())))
    np.testing.assert_array_equal(back.directions(), cs.directions())
    assert back.names == cs.names and back.model == cs.model


def test_rename_and_flip_return_new_sets():
    cs = _set()
    renamed = cs.renamed(0, "  smile ")
    assert renamed.names == ["smile", "y"] and cs.names == ["x", "y"]
    flipped = cs.flipped(1)
    np.testing.assert_array_equal(flipped.directions()[1], -cs.directions()[1])
    with pytest.raises(ControlSetError, match="empty"):
        cs.renamed(0, " ")


def test_controls_of_another_model_are_refused(faces):
    theirs = _set(latent_dim=100, num_layers=1, fingerprint="ffffffffffffffff")
    with pytest.raises(ControlSetError, match="were made for model toy"):
        theirs.check_model(faces)
    with pytest.raises(ControlSetError, match="latent size"):
        _set(latent_dim=4, fingerprint="").check_model(faces)
    _set(latent_dim=100, num_layers=1, fingerprint="").check_model(faces)  # "any model of this size"


def _rewrite(path, tmp_path, mutate):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta.json"].tobytes())
    mutate(meta, arrays)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out = tmp_path / "bad.npz"
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m, a: m.update(version=99), "version 99"),
        (lambda m, a: m.update(format="other"), "format"),
        (lambda m, a: a.update(directions=np.full((2, 4), np.nan, np.float32)), "NaN"),
        (lambda m, a: a.update(directions=np.zeros((2, 5), np.float32)), "shape"),
        (lambda m, a: m["controls"][1].update(layers=[0, 9]), r"controls\[1\].layers"),
        (lambda m, a: m["controls"][0].update(scale="big"), r"controls\[0\].scale"),
        (lambda m, a: m["controls"][0].update(kind="mystery"), "kind 'mystery'"),
        (lambda m, a: m.pop("model"), "field 'model'"),
    ],
    ids=["version", "format", "nan", "shape", "range", "scale", "kind", "model"],
)
def test_invalid_files_name_the_field_that_is_wrong(tmp_path, mutate, message):
    path = tmp_path / "c.npz"
    _set().save(path)
    with pytest.raises(ControlSetError, match=message):
        ControlSet.load(_rewrite(path, tmp_path, mutate))


def test_a_file_that_is_not_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ControlSetError, match="not a controls file"):
        ControlSet.load(path)


def test_random_controls_are_unit_directions(faces):
    cs = random_controls(faces, 5, seed=1)
    np.testing.assert_allclose(np.linalg.norm(cs.directions(), axis=1), 1.0, rtol=1e-5)
    assert cs.directions().shape == (5, 100)


# ---------------------------------------------------------------------- field controls
from methods.controls import FieldControl  # noqa: E402
from methods.fields import FieldError, VectorField  # noqa: E402


def _field_set(field, step=0.05, num_layers=2):
    model = ModelRef("toy", "toy", "abc", field.dim, num_layers)
    e = np.eye(field.dim, dtype=np.float32)
    return ControlSet([LinearControl("x", e[0]), FieldControl("walk", field, step=step)], model, "test")


def test_rbf_field_walks_along_its_dipole_even_where_its_gradient_underflows():
    axis = np.array([[1.0, 0, 0], [-1.0, 0, 0]], dtype=np.float32)
    field = VectorField("rbf", {"support": axis, "weights": np.array([1.0, -1.0], np.float32)}, {"gamma": 0.5})
    near = field.direction(torch.zeros(1, 3))
    torch.testing.assert_close(near, torch.tensor([[1.0, 0, 0]]))  # ascent of f points to v⁺
    far = field.direction(torch.tensor([[0.0, 1e4, 0]]))  # exp(-γ·1e8) underflows; the stable direction does not
    assert torch.isfinite(far).all() and float(far[0, 0]) > 0.99
    assert float(field.raw(torch.tensor([[0.0, 1e4, 0]])).norm()) == 0.0  # the plain gradient is 0 there


def test_field_control_path_has_the_slider_length_and_moves_continuously():
    W = np.array([[0, -1.0], [1.0, 0]], dtype=np.float32)  # rotation field: circles around 0
    cs = _field_set(VectorField("linear", {"W": W}), step=0.01, num_layers=1)
    x0 = torch.tensor([[[1.0, 0.0]]])
    out = cs.apply(x0, [0.0, np.pi / 2])  # a quarter circle of radius 1
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 1.0]), atol=0.02, rtol=0)
    a, b = cs.apply(x0, [0.0, 0.503]), cs.apply(x0, [0.0, 0.507])
    assert float((a - b).norm()) < 0.01  # a partial last step keeps the end point continuous
    back = cs.flipped(1).apply(x0, [0.0, np.pi / 2])
    torch.testing.assert_close(back[0, 0], torch.tensor([0.0, -1.0]), atol=0.02, rtol=0)


def test_field_control_only_moves_the_rows_of_its_layer_range():
    W = np.eye(2, dtype=np.float32)
    cs = _field_set(VectorField("linear", {"W": W}), num_layers=3)
    x0 = torch.ones(1, 3, 2)
    out = cs.apply(x0, [0.0, 1.0], [None, (1, 2)])
    assert torch.equal(out[:, [0, 2]], x0[:, [0, 2]]) and not torch.equal(out[:, 1], x0[:, 1])


def test_mlp_field_round_trips_through_files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"W0": rng.standard_normal((5, 3)).astype(np.float32), "b0": np.zeros(5, np.float32),
              "bn1_mean": np.zeros(5, np.float32), "bn1_var": np.ones(5, np.float32),
              "bn1_weight": np.ones(5, np.float32), "bn1_bias": np.zeros(5, np.float32),
              "W1": rng.standard_normal((3, 5)).astype(np.float32)}
    cs = _field_set(VectorField("mlp", arrays, {"depth": 2}))
    cs.save(tmp_path / "f.npz")
    back = ControlSet.load(tmp_path / "f.npz")
    assert back[1].kind == "field" and back[1].field.type == "mlp"
    x = torch.randn(2, 2, 3)
    torch.testing.assert_close(back.apply(x, [0.5, 1.0]), cs.apply(x, [0.5, 1.0]))


def test_inconsistent_fields_are_refused():
    with pytest.raises(FieldError, match="square"):
        VectorField("linear", {"W": np.zeros((2, 3), np.float32)})
    with pytest.raises(FieldError, match="gamma"):
        VectorField("rbf", {"support": np.zeros((2, 3), np.float32), "weights": np.zeros(2, np.float32)}, {"gamma": -1})
    with pytest.raises(FieldError, match="lacks array 'W0'"):
        VectorField("mlp", {}, {"depth": 1})
