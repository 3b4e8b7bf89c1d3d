"""Directions released by the original methods' code import as ControlSets that reproduce them.

The files and the `*_reference.pt` outputs of the original code are copies of
../shared/fixtures/directions (see its README); everything is compared at atol 1e-5
(2e-5 for the Voynov matrix exponential).
"""
from __future__ import annotations

import functools
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from methods.controls import ControlSet
from methods.released import ReleasedFileError, import_controls
from methods.released.pickles import load_numpy_pickle

DATA = Path(__file__).parent / "data" / "directions"
SG2 = Path(__file__).parent / "data" / "stylegan2" / "stylegan2_small_A.pt"
ATOL = 1e-5


@pytest.fixture(scope="module")
def sg2():
    return models.load_generator(SG2, "cpu")


@functools.lru_cache(maxsize=None)
def ref(name: str) -> dict:
    return torch.load(DATA / name, map_location="cpu", weights_only=True)


def rows(w: torch.Tensor, n: int) -> torch.Tensor:
    """W ``[B, D]`` repeated over ``n`` W+ rows."""
    return w[:, None, :].repeat(1, n, 1)


def close(a, b, atol=ATOL):
    torch.testing.assert_close(torch.as_tensor(a).float(), torch.as_tensor(b).float(), atol=atol, rtol=0)


# ---------------------------------------------------------------------- GANSpace
def _viewer_check(cs: ControlSet, key: str, G):
    r = ref("ganspace/ganspace_reference.pt")["viewer"][key]
    base = r["base_latent"].reshape(4, -1)
    for name, e in r["edits"].items():
        values = np.zeros(len(cs), np.float32)
        for c, v in e["sliders"].items():
            values[int(c)] = v
        ranges = [(e["edit_start"], e["edit_end"]) if e["per_layer"] else None] * len(cs)
        out = cs.apply(rows(base, G.num_layers), values, ranges)
        want = e["z_final"] if e["per_layer"] else rows(e["z_final"].reshape(4, -1), G.num_layers)
        close(out, want)
        if "synthesis_latents" in e:  # the viewer truncates (ψ 0.9) after the edit: so does G.truncate here
            close(G.truncate(out, 0.9), e["synthesis_latents"])


def test_ganspace_cache_npz_reproduces_the_viewers_latents(sg2, faces):
    cs = import_controls(DATA / "ganspace/cache/components/stylegan2-ffhq_style_ipca_c16_n2000_w.npz", sg2)
    assert len(cs) == 16 and cs.method == "ganspace" and cs.stats["space"] == "w"
    assert cs.config["imported"] == "ganspace-npz" and len(next(iter(cs.config["files"].values()))) == 64
    _viewer_check(cs, "sg2", sg2)
    dc = import_controls(DATA / "ganspace/cache/components/dcganfaces-faces_main.2_ipca_c8_n2000.npz", faces)
    assert dc.stats["space"] == "z" and len(dc) == 8
    _viewer_check(dc, "dcgan", faces)
    files = ref("ganspace/ganspace_reference.pt")["files"]["dcgan"]
    close(dc.extras["var_ratio"], files["var_ratio"])


def test_ganspace_viewer_pickle_is_its_npz_row_over_the_saved_layers(sg2, faces):
    pkl = import_controls(DATA / "ganspace/out/directions/StyleGAN2-Smile_Test-ffhq-ipca-w-style-comp2-range2-5.pkl", sg2)
    npz = import_controls(DATA / "ganspace/cache/components/stylegan2-ffhq_style_ipca_c16_n2000_w.npz", sg2)
    (c,) = pkl.controls
    assert c.name == "Smile Test" and c.layers == (2, 5) and pkl.config["viewer"]["component_index"] == 2
    np.testing.assert_array_equal(c.direction, npz[2].direction)
    assert c.scale == pytest.approx(npz[2].scale)
    e = ref("ganspace/ganspace_reference.pt")["viewer"]["sg2"]["edits"]["c2_+2.5_layers2-4"]
    base = ref("ganspace/ganspace_reference.pt")["viewer"]["sg2"]["base_latent"]
    close(pkl.apply(rows(base, sg2.num_layers), [2.5]), e["z_final"])
    z = import_controls(DATA / "ganspace/out/directions/DCGANFaces-pose_left-faces-ipca-z-main.2-comp0-range0-1.pkl", faces)
    assert z[0].layers is None and z.stats["space"] == "z"


def test_the_pickle_reader_runs_no_code_and_allows_numpy_2_spellings():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match="builtins.print is not allowed"):
        load_numpy_pickle(pickle.dumps({"lat_comp": Evil()}))
    # protocol 3 (GANSpace's Python 3.7) names globals as text lines, so the module can be respelled
    data = pickle.dumps({"lat_comp": np.arange(4, dtype=np.float32), "s": np.float64(2.5)}, protocol=3)
    assert b"numpy._core" in data or b"numpy.core" in data
    other = data.replace(b"numpy._core", b"numpy.core") if b"numpy._core" in data else data.replace(b"numpy.core", b"numpy._core")
    for blob in (data, other):
        obj = load_numpy_pickle(blob)
        np.testing.assert_array_equal(obj["lat_comp"], np.arange(4))
        assert obj["s"] == 2.5
    with pytest.raises(pickle.UnpicklingError, match="object array"):
        load_numpy_pickle(pickle.dumps(np.array([1, "x"], dtype=object)))


# ---------------------------------------------------------------------- LatentCLR
def test_latentclr_global_model_moves_the_fed_rows_by_alpha_times_its_unit_directions(sg2):
    cs = import_controls(DATA / "latentclr/global_sg2A_w", sg2)
    r = ref("latentclr/global_sg2A_w_reference.pt")
    assert len(cs) == 8 and all(c.layers == (0, 4) for c in cs) and cs.config["direction_model"] == "global"
    close(np.stack([c.direction for c in cs]), r["direction_alpha1"][:, 0])
    K, B = 8, 4
    x = rows(r["latent"], sg2.num_layers)
    for k in range(K):
        out = cs.apply(x, np.eye(K)[k] * 3.0)
        close(out[:, 0], r["forward_alpha3"][k * B:(k + 1) * B])
        close(out[:, 4:], x[:, 4:])  # rows outside feed_layers keep the original latent
    gp = r["gen_paths"]["direct"]
    for a, alpha in enumerate(gp["alpha_order"]):
        for j, k in enumerate([0, 1, K - 1]):
            close(cs.apply(x[:1], np.eye(K)[k] * alpha), gp["generator_inputs"][:, a, j])


def test_latentclr_nonlinear_model_is_its_eval_mode_mlp_walked_as_gen_py_does(sg2):
    r = ref("latentclr/nonlinear_sg2A_w_reference.pt")
    cs = import_controls(DATA / "latentclr/nonlinear_sg2A_w/best_model.pt", sg2, step=1.5)
    assert [c.kind for c in cs] == ["field", "field"] and cs[0].field.params["depth"] == 3
    lat = r["latent"]
    for k in range(2):
        close(cs[k].field.raw(lat), r["net_raw_output"][k])
        close(cs[k].field.direction(lat), r["direction_alpha1"][k])
    # gen.py iterative: −1.5 then −3 from the start, +1.5 then +3 from the start, in steps of Δα = 1.5
    gp = r["gen_paths"]["iterative"]
    x = rows(lat[:1], sg2.num_layers)
    for a, alpha in enumerate(gp["alpha_order"]):
        for j, k in enumerate([0, 1, 1]):
            out = cs.apply(x, np.eye(2)[k] * alpha)
            close(out[:, 0], gp["generator_inputs"][:, a, j])


def test_latentclr_linear_model_keeps_the_bias_the_original_gives_it(sg2, tmp_path):
    """LinearConditional's file has linear_1.bias (create_mlp); it is a Z model, so a W StyleGAN2 refuses it."""
    r = ref("latentclr/linear_sg2A_z_reference.pt")
    with pytest.raises(ReleasedFileError, match="holds directions in Z but .* is edited in W"):
        import_controls(DATA / "latentclr/linear_sg2A_z", sg2)
    # the same run declared as W (a copy with use_w: true) reproduces the original's affine field
    run = tmp_path / "run"
    shutil.copytree(DATA / "latentclr/linear_sg2A_z", run)
    cfg = run / ".hydra/config.yaml"
    cfg.write_text(cfg.read_text().replace("use_w: false", "use_w: true"))
    cs = import_controls(run, sg2)
    assert cs[0].field.type == "linear" and "b" in cs[0].field.arrays
    for k in range(2):
        close(cs[k].field.raw(r["latent"]), r["net_raw_output"][k])
        close(cs[k].field.direction(r["latent"]), r["direction_alpha1"][k])


# ---------------------------------------------------------------------- Voynov
@pytest.mark.parametrize("run, atol", [("ortho_sg2A_w", 2e-5), ("linear_dcgan_z", ATOL), ("proj_dcgan_z", ATOL), ("fc_dcgan_z", ATOL)])
def test_voynov_deformators_give_the_originals_shifted_latents(run, atol, sg2, faces):
    r = ref(f"voynov/{run}_reference.pt")
    G = sg2 if "sg2A" in run else faces
    cs = import_controls(DATA / "voynov" / run, G)
    assert len(cs) == r["meta"]["input_dim"] and cs.config["deformator"] == r["meta"]["deformator_type"]
    x = rows(r["latent"][:1], G.num_layers)
    zero_moves = r["meta"]["deformator_type"] in ("linear", "fc")
    for i, k in enumerate(r["directions"].tolist()):
        for j, s in enumerate(r["shifts"].tolist()):
            out = cs.apply(x, np.eye(len(cs))[k] * s)[:, 0]
            if s == 0 and zero_moves:  # the original adds A(0) (its bias) even here; the slider at 0 is the image
                close(out, x[:, 0])
            else:
                close(out, r["interpolate_latents"][i, j][None], atol)
    if zero_moves or run == "proj_dcgan_z":  # the evaluation's batched walk moves shift fields the same way
        from methods.evaluate import integrate_batch

        lengths = torch.tensor([-6.0, 0.0, 2.0])
        got = integrate_batch(cs[1].field, x[0, :1].repeat(3, 1), lengths, 1.0)
        for i, t in enumerate(lengths.tolist()):
            close(got[i], cs.apply(x, np.eye(len(cs))[1] * t)[0, 0])
    if run == "linear_dcgan_z":
        assert [cs[k].name for k in (3, 7, 11)] == ["zoom", "rotation", "background blur"]
    if run == "ortho_sg2A_w":
        assert cs.config["files"].keys() >= {"deformator_20000.pt"}  # the largest step, as load_from_dir


# ---------------------------------------------------------------------- WarpedGANSpace
@pytest.mark.parametrize("run", ["SNGAN_AnimeFaces-LeNet-K6-D4-LearnGammas-eps0.25_0.35",
                                 "StyleGAN2-256-W-ResNet-K8-D3-LearnAlphas-eps0.1_0.2"])
def test_warped_support_sets_give_the_originals_directions_and_paths(run, sg2, faces):
    r = ref(f"warped/{run}_reference.pt")
    G = sg2 if "StyleGAN2" in run else faces
    cs = import_controls(DATA / "warped" / run, G)
    K = r["support_vectors"].shape[0]
    assert len(cs) == K and cs.stats["space"] == r["meta"]["latent_space"].lower()
    close(torch.tensor(cs.stats["gammas"]), r["gammas_used"][:, 0])
    for k in range(K):
        close(cs[k].field.direction(r["latent"]), r["grad_normalized"][k])
    x = rows(r["latent"][:1], G.num_layers)
    for k in range(K):
        for j, t in enumerate(np.arange(-4, 5) * 0.2):
            close(cs.apply(x, np.eye(K)[k] * t)[:, 0], r["path_codes"][k, j][None])


# ---------------------------------------------------------------------- InterFaceGAN
@pytest.mark.parametrize("key", ["dcgan_z_attr_a", "dcgan_z_attr_b", "sg2A_w_attr_a", "dcgan_z_attr_a_c_attr_b",
                                 "dcgan_z_attr_a_c_attr_b_attr_c"])
def test_interfacegan_boundaries_reproduce_linear_interpolate(key, sg2, faces):
    r = ref("interfacegan/interfacegan_reference.pt")
    b, e = r["boundaries"][key], r["edits"][key]
    G = sg2 if key.startswith("sg2A") else faces
    cs = import_controls(DATA / "interfacegan" / b["file"], G)
    close(cs[0].direction[None], b["unit"])
    code = r["inputs"][e["input"]]
    n = code.shape[0]
    x = rows(code.reshape(n, -1), G.num_layers)
    for i in range(n):
        for j, lv in enumerate(np.linspace(-3, 3, 10)):
            # the original sets the distance to l: an offset of l − code·n
            t = lv - float(e["distance_before"][i])
            close(cs.apply(x[i:i + 1], [t])[0, 0], e["out"][i, j])
    if "out_wp" in e:  # W+: a plain offset on every row
        for j, lv in enumerate(np.linspace(-3, 3, 10)):
            close(cs.apply(r["inputs"]["wp"][:1], [lv])[0], e["out_wp"][0, j])


# ---------------------------------------------------------------------- errors and the CLI
def test_files_for_another_latent_size_or_space_are_one_sentence_errors(sg2, faces, tmp_path):
    cases = [
        (DATA / "voynov/ortho_sg2A_w", faces, "holds directions in W but dcgan-faces is edited in Z"),
        (DATA / "ganspace/cache/components/dcganfaces-faces_main.2_ipca_c8_n2000.npz", sg2, "in Z but"),
        (DATA / "interfacegan/train_boundary_output/dcgan_z_attr_a", sg2, "in Z but"),
        (DATA / "interfacegan/train_boundary_output/sg2A_w_attr_a/boundary.npy", faces, "in W but"),
        (DATA / "warped/StyleGAN2-256-W-ResNet-K8-D3-LearnAlphas-eps0.1_0.2", faces, "in W but"),
        (tmp_path / "nothing.pt", faces, "does not exist"),
    ]
    bad = tmp_path / "x_w_boundary.npy"
    np.save(bad, np.ones((1, 64), np.float32))
    cases.append((bad, sg2, "made for a latent size of 64, but .* has 128"))
    junk = tmp_path / "deformator_5.pt"
    junk.write_bytes(b"not a checkpoint")
    (tmp_path / "args.json").write_text('{"deformator": "linear"}')
    cases.append((junk, faces, "not a readable PyTorch checkpoint"))
    for path, G, message in cases:
        with pytest.raises(ReleasedFileError, match=message) as err:
            import_controls(path, G)
        assert "\n" not in str(err.value)


def test_import_controls_command_writes_a_controls_file_with_provenance(tmp_path, capsys):
    from cli.commands import run

    out = tmp_path / "c.npz"
    assert run(["import-controls", str(DATA / "voynov/proj_dcgan_z"), "--model", "dcgan-faces", "--out", str(out), "--device", "cpu"]) == 0
    cs = ControlSet.load(out)
    assert cs.method == "voynov" and len(cs) == 16 and cs[0].field.type == "shift"
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"out": str(out), "controls": 16, "method": "voynov", "format": "voynov", "space": "z"}
    assert run(["import-controls", str(DATA / "voynov/ortho_sg2A_w"), "--model", "dcgan-faces",
                "--out", str(tmp_path / "bad.npz"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "edited in Z" in err and not (tmp_path / "bad.npz").exists()
