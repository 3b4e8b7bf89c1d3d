"""Trained discovery (METHODS.md §2–§4, §8): LatentCLR, WarpedGANSpace, Voynov–Babenko on tiny generators."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from toys import QuadrantToy, TinyConvGenerator

from methods import latentclr, voynov, warped
from methods.controls import ControlSet
from methods.evaluate import EvalConfig, evaluate
from methods.jobs import Cancelled, MethodError
from methods.registry import METHODS
from methods.training import amp_enabled, parse_progress, read_job


@pytest.fixture(scope="module")
def tiny():
    return TinyConvGenerator()


# Settings under which each method learns visibly within a second or two on the tiny generator.
FAST = {
    "voynov": (voynov, voynov.VoynovConfig(components=4, iterations=60, batch=16, lr_deformator=1e-2,
                                           lr_reconstructor=1e-3, log_every=10)),
    "warped": (warped, warped.WarpedConfig(components=4, dipoles=4, iterations=80, batch=16, eps_min=1.0, eps_max=2.0,
                                           lr_support=1e-2, lr_reconstructor=1e-3, log_every=10)),
    "latentclr-global": (latentclr, latentclr.LatentCLRConfig(direction_model="global", components=4, iterations=80,
                                                              batch=8, lr=0.05, tau=0.5, log_every=10)),
    "latentclr-linear": (latentclr, latentclr.LatentCLRConfig(direction_model="linear", components=4, iterations=80,
                                                              batch=8, lr=0.05, tau=0.5, log_every=10)),
    "latentclr-nonlinear": (latentclr, latentclr.LatentCLRConfig(direction_model="nonlinear", components=4, iterations=80,
                                                                 batch=8, lr=0.05, tau=0.5, log_every=10)),
}
KINDS = {"voynov": "linear", "warped": "field", "latentclr-global": "linear", "latentclr-linear": "field",
         "latentclr-nonlinear": "field"}


@pytest.fixture(scope="module")
def trained(tiny):
    """Every method trained once on the tiny generator, with the progress messages it sent."""
    out = {}
    for name, (module, cfg) in FAST.items():
        messages = []
        cs = module.discover(tiny, cfg, lambda f, m, messages=messages: messages.append((f, m)))
        out[name] = (cs, messages)
    return out


@pytest.mark.parametrize("name", list(FAST))
def test_training_loss_falls(trained, name):
    _cs, messages = trained[name]
    losses = [parse_progress(m)["loss"] for _, m in messages]
    first, last = np.mean(losses[:3]), np.mean(losses[-10:])
    assert last < first - 0.1, f"{name}: loss {first:.3f} -> {last:.3f}"


@pytest.mark.parametrize("name", list(FAST))
def test_progress_reports_iteration_loss_and_accuracy(trained, name):
    cs, messages = trained[name]
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    parsed = [parse_progress(m) for _, m in messages]
    assert all(p is not None for p in parsed)
    N = cs.stats["iterations"]
    assert [p["iteration"] for p in parsed] == list(range(1, N + 1)) and parsed[-1]["iterations"] == N
    assert all(math.isfinite(p["loss"]) and 0 <= p["acc"] <= 1 for p in parsed)
    assert [h["iteration"] for h in cs.stats["history"]] == list(range(10, N + 1, 10))
    assert json.loads(json.dumps(cs.stats))["history"] == cs.stats["history"]  # JSON-able for the GUI


@pytest.mark.parametrize("name", list(FAST))
def test_result_saves_and_loads_with_its_kind_of_control(trained, name, tiny, tmp_path):
    cs, _ = trained[name]
    assert {c.kind for c in cs} == {KINDS[name]} and len(cs) == 4
    cs.save(tmp_path / "c.npz")
    back = ControlSet.load(tmp_path / "c.npz")
    assert [c.kind for c in back] == [c.kind for c in cs] and back.method == cs.method
    back.check_model(tiny)
    x = tiny.sample(3, 0)
    values = [1.5, 0.0, -0.7, 0.0]
    torch.testing.assert_close(back.apply(x, values), cs.apply(x, values))
    assert not torch.allclose(cs.apply(x, values), x)
    lo, hi = cs.stats["shift_range"]
    assert 0 < lo <= hi


def test_voynov_deformator_is_orthonormal(trained):
    A = voynov.OrthoDeformator(12, "random-rotation")
    with torch.no_grad():
        M = A()
    torch.testing.assert_close(M.T @ M, torch.eye(12), atol=1e-5, rtol=0)
    assert torch.allclose(voynov.OrthoDeformator(5)(), torch.eye(5))  # the default: coordinate axes
    cs, _ = trained["voynov"]
    d = cs.directions()
    np.testing.assert_allclose(d @ d.T, np.eye(4), atol=1e-5)
    assert cs.stats["orthonormality_error"] < 1e-5
    assert np.abs(d - np.eye(8, dtype=np.float32)[:4]).max() > 0.05  # training moved them off the axes


def test_voynov_random_rotation_start_is_the_originals_unit_randn_far_from_the_axes():
    torch.manual_seed(3)
    A = voynov.OrthoDeformator(64, "random-rotation")
    torch.manual_seed(3)
    torch.testing.assert_close(A.S.detach(), torch.randn(64, 64))  # S = 1.0·randn, as the original's random_init
    with torch.no_grad():
        M = A()
    # a real rotation: every column far from its axis (the former 0.001·randn start stayed within 1e-2)
    assert M.diagonal().abs().max() < 0.9
    with pytest.raises(ValueError, match="init must be one of axes, random-rotation"):
        voynov.OrthoDeformator(4, "small")


def test_voynov_shifts_follow_the_paper_distribution():
    class Loop:
        gen = torch.Generator().manual_seed(0)
        G = TinyConvGenerator()

        def rand(self, n):
            return torch.rand(n, generator=self.gen)

    eps = voynov.sample_shifts(Loop(), 20000, 6.0, 0.5)
    assert eps.abs().min() >= 0.5 and eps.abs().max() <= 6.0
    assert abs(float((eps.abs() == 0.5).float().mean()) - 0.5 / 6) < 0.01  # the clamped mass
    assert abs(float((eps > 0).float().mean()) - 0.5) < 0.02


def test_warped_field_gradient_includes_gamma():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    support = torch.randn(2, 6, 5, generator=g, dtype=torch.float64)
    weights = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64).repeat(2, 1)
    gamma = torch.tensor([0.37, 2.5], dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    # f_k(x) = Σ_i a_i exp(−γ‖x − v_i‖²); autograd of f is the reference
    f = (weights[:, None, :] * torch.exp(-gamma[:, None, None] * ((xr[:, :, None, :] - support[:, None]) ** 2).sum(-1))).sum()
    (auto,) = torch.autograd.grad(f, xr)
    torch.testing.assert_close(warped.rbf_gradient(x, support, weights, gamma), auto)
    # the exported rbf field computes the same gradient
    cs = warped.export_fields(_sets_from(support[0], weights[0], float(gamma[0])), step=0.2)
    raw = cs[0].field.raw(x[0].float())
    torch.testing.assert_close(raw, auto[0].float(), atol=1e-5, rtol=1e-4)


def test_warped_direction_is_exact_where_the_gradient_is_tiny_but_representable():
    """γ×30 at sampled latents: ‖∇f‖ ≪ 1e-8, yet its direction is the float64 one (the old cut-off was 0.5 off)."""
    torch.manual_seed(0)
    D, N = 100, 4
    sets = warped.SupportSets(3, N, D, 30.0 / D, True)
    x = torch.randn(3, 8, D)
    support, weights, gamma = sets.support.detach(), sets.weights, sets.gamma().detach()
    g64 = warped.rbf_gradient(x.double(), support.double(), weights.double(), gamma.double())
    ref = g64 / g64.norm(dim=-1, keepdim=True)
    assert float(warped.rbf_gradient(x, support, weights, gamma).norm(dim=-1).max()) < 1e-8
    torch.testing.assert_close(warped.unit_field(x, support, weights, gamma), ref.float(), atol=1e-5, rtol=0)
    field = warped.export_fields(sets, step=0.2)[1].field
    torch.testing.assert_close(field.direction(x[1]), ref[1].float(), atol=1e-5, rtol=0)


def test_warped_direction_falls_back_to_the_dipole_axis_only_where_the_gradient_truly_cancels():
    # equal weights: the midpoint of the pair is a critical point of f (∇f = 0 exactly)
    support = torch.tensor([[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]])
    weights = torch.tensor([[1.0, 1.0]])
    x = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]])
    v = warped.unit_field(x, support, weights, torch.tensor([0.5]))
    assert torch.isfinite(v).all()
    torch.testing.assert_close(v[0, 0], torch.tensor([0.0, 0.0, 0.0]))  # the dipole's axis is 0 too (a=+1,+1): stay
    # no usable weight at all: finite, and no movement
    none = warped.unit_field(x, support, torch.tensor([[0.0, 0.0]]), torch.tensor([0.5]))
    assert torch.isfinite(none).all() and float(none.abs().max()) == 0.0
    g = warped.rbf_gradient(x.double(), support.double(), weights.double(), torch.tensor([0.5], dtype=torch.float64))
    torch.testing.assert_close(v[0, 1].double(), g[0, 1] / g[0, 1].norm())  # elsewhere: the gradient's own direction


def _sets_from(support: torch.Tensor, weights: torch.Tensor, gamma: float) -> warped.SupportSets:
    sets = warped.SupportSets(1, support.shape[0] // 2, support.shape[1], gamma, True)
    with torch.no_grad():
        sets.support.copy_(support.float()[None])
        sets.weights.copy_(weights.float()[None])
    return sets


def test_warped_learns_gamma_and_moves_the_support_vectors(trained):
    cs, _ = trained["warped"]
    gammas = np.array(cs.stats["gammas"])
    assert np.all(gammas > 0) and np.abs(gammas - 1 / 8).max() > 1e-4  # γ started at 1/D and moved
    support = cs[0].field.arrays["support"]
    assert support.shape == (8, 8) and np.array_equal(cs[0].field.arrays["weights"], np.array([1, -1] * 4, np.float32))


def test_latentclr_temperature_divides_the_similarity():
    # K = 2 directions × B = 2 samples of unit features
    f = torch.tensor([[[1.0, 0.0], [0.8, 0.6]], [[0.0, 1.0], [-0.6, 0.8]]])
    F = f.reshape(4, 2).numpy().astype(np.float64)
    S = np.abs(F @ F.T)
    tau = 0.5
    E = np.exp(S / tau)
    group = np.array([0, 0, 1, 1])
    pos = np.array([E[i, (group == group[i]) & (np.arange(4) != i)].mean() for i in range(4)])
    neg = np.array([E[i, group != group[i]].mean() for i in range(4)])
    loss, acc = latentclr.contrastive_loss(f, tau=tau, use_abs=True)
    assert float(loss) == pytest.approx(-np.mean(np.log(pos / neg)), rel=1e-6)
    assert float(acc) == pytest.approx(np.mean(pos > neg))
    # the original's exp(S · temp) with temp = 0.5 is τ = 2 here
    E2 = np.exp(S * 0.5)
    pos2 = np.array([E2[i, (group == group[i]) & (np.arange(4) != i)].mean() for i in range(4)])
    neg2 = np.array([E2[i, group != group[i]].mean() for i in range(4)])
    assert float(latentclr.contrastive_loss(f, tau=2.0)[0]) == pytest.approx(-np.mean(np.log(pos2 / neg2)), rel=1e-6)
    # without abs, a flipped feature counts as dissimilar
    assert float(latentclr.contrastive_loss(f * torch.tensor([1.0, -1.0])[None, :, None], 0.5, use_abs=False)[0]) > float(loss)


def test_latentclr_nonlinear_field_exports_batch_norm_in_eval_form():
    torch.manual_seed(0)
    nets = latentclr.ConditionalDirections(2, 6, "nonlinear", depth=3)
    nets.train()
    for _ in range(5):  # give the batch norms running statistics that are not 0/1
        nets(torch.randn(32, 6) * 3 + 1)
    nets.eval()
    x = torch.randn(7, 6)
    for k, net in enumerate(nets.nets):
        field = latentclr.export_field(net, "nonlinear")
        assert field.type == "mlp" and field.params["depth"] == 3 and "b2" not in field.arrays  # last layer: no bias
        with torch.no_grad():
            torch.testing.assert_close(field.raw(x), net(x), atol=1e-5, rtol=1e-5)
    lin = latentclr.ConditionalDirections(1, 6, "linear", depth=1)
    with torch.no_grad():
        torch.testing.assert_close(latentclr.export_field(lin.nets[0], "linear").raw(x), lin.nets[0](x))


def test_latentclr_depth1_nonlinear_model_is_affine_with_the_originals_bias():
    """The original's create_mlp gives the first Linear a bias at every depth: Δ(x) = W x + b."""
    torch.manual_seed(1)
    nets = latentclr.ConditionalDirections(2, 6, "nonlinear", depth=1)
    lin = nets.nets[0][0]
    assert len(nets.nets[0]) == 1 and lin.bias is not None
    with torch.no_grad():
        lin.bias.normal_()
    x = torch.randn(5, 6)
    field = latentclr.export_field(nets.nets[0], "nonlinear")
    expected = x @ lin.weight.detach().T + lin.bias.detach()
    torch.testing.assert_close(field.raw(x), expected)
    torch.testing.assert_close(field.direction(x), expected / expected.norm(dim=1, keepdim=True))
    # the linear model stays bias-free (METHODS.md §2), unlike the original's LinearConditional
    assert latentclr.ConditionalDirections(1, 6, "linear", depth=1).nets[0].bias is None


def test_latentclr_feed_layers_edit_only_those_rows():
    G = TinyConvGenerator(num_layers=3)
    cfg = latentclr.LatentCLRConfig(direction_model="global", components=3, iterations=3, batch=4, feed_layers="1:3")
    cs = latentclr.discover(G, cfg)
    assert all(c.layers == (1, 3) for c in cs)
    x = G.sample(2, 0)
    y = cs.apply(x, [2.0, 0, 0])
    assert torch.equal(y[:, 0], x[:, 0]) and not torch.equal(y[:, 1:], x[:, 1:])
    with pytest.raises(MethodError, match="feed_layers"):
        latentclr.discover(G, replace(cfg, feed_layers="2:9", iterations=1))


RESUMABLE = {
    "voynov": (voynov, voynov.VoynovConfig(components=3, iterations=6, batch=4, checkpoint_every=2, log_every=2)),
    "warped": (warped, warped.WarpedConfig(components=3, dipoles=2, iterations=6, batch=4, checkpoint_every=2, log_every=2)),
    "latentclr": (latentclr, latentclr.LatentCLRConfig(components=3, iterations=6, batch=4, checkpoint_every=2, log_every=2)),
}


def _arrays(cs: ControlSet) -> list[np.ndarray]:
    out = [cs.directions()]
    for c in cs:
        if c.kind == "field":
            out += [c.field.arrays[k] for k in sorted(c.field.arrays)]
    return out


@pytest.mark.parametrize("name", list(RESUMABLE))
def test_training_resumes_from_its_last_checkpoint(name, tiny, tmp_path):
    module, cfg = RESUMABLE[name]
    whole = module.discover(tiny, cfg)
    # cancelled before iteration 4: the checkpoint holds iteration 3
    job = tmp_path / "job"
    calls = []
    with pytest.raises(Cancelled):
        module.discover(tiny, replace(cfg, job_dir=str(job)),
                        cancel=lambda: calls.append(1) or len(calls) > 3)
    meta = read_job(job)
    assert meta["iteration"] == 3 and meta["method"] == module.discover.__module__.split(".")[-1] and not meta["done"]
    assert json.loads((job / "job.json").read_text())["iteration"] == 3
    torch.load(job / "checkpoint.pt", weights_only=True)  # plain tensors and numbers only
    resumed = module.discover(tiny, replace(cfg, job_dir=str(job)))
    assert resumed.stats["resumed_from"] == 3
    for a, b in zip(_arrays(resumed), _arrays(whole)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for h1, h2 in zip(resumed.stats["history"], whole.stats["history"], strict=True):
        assert h1["iteration"] == h2["iteration"] and h1["loss"] == pytest.approx(h2["loss"], abs=1e-5)
    assert read_job(job)["done"] and read_job(job)["iteration"] == 6


def test_training_resumes_after_a_crash_from_the_periodic_checkpoint(tiny, tmp_path):
    module, cfg = RESUMABLE["warped"]
    cfg = replace(cfg, job_dir=str(tmp_path / "job"))

    def crash(fraction: float, message: str) -> None:
        if parse_progress(message)["iteration"] == 5:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        module.discover(tiny, cfg, crash)
    assert read_job(tmp_path / "job")["iteration"] == 4  # checkpoint_every = 2
    resumed = module.discover(tiny, cfg)
    assert resumed.stats["resumed_from"] == 4
    for a, b in zip(_arrays(resumed), _arrays(module.discover(tiny, RESUMABLE["warped"][1]))):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_job_folder_of_other_settings_or_models_is_refused(tiny, tmp_path):
    module, cfg = RESUMABLE["voynov"]
    job = str(tmp_path / "job")
    module.discover(tiny, replace(cfg, job_dir=job, iterations=2))
    with pytest.raises(MethodError, match="components"):
        module.discover(tiny, replace(cfg, job_dir=job, components=2))
    with pytest.raises(MethodError, match="other weights"):
        module.discover(TinyConvGenerator(seed=1), replace(cfg, job_dir=job))
    with pytest.raises(MethodError, match="not warped|voynov run"):
        warped.discover(tiny, warped.WarpedConfig(components=3, iterations=2, job_dir=job))
    with pytest.raises(MethodError, match="does not exist"):
        read_job(tmp_path / "nowhere")


@pytest.mark.parametrize("call", [
    lambda G: voynov.discover(G, voynov.VoynovConfig(components=99)),
    lambda G: voynov.discover(G, voynov.VoynovConfig(reconstructor="vgg")),
    lambda G: warped.discover(G, warped.WarpedConfig(eps_min=0.5, eps_max=0.1)),
    lambda G: latentclr.discover(G, latentclr.LatentCLRConfig(components=1)),
    lambda G: latentclr.discover(G, latentclr.LatentCLRConfig(direction_model="quadratic")),
    lambda G: latentclr.discover(G, latentclr.LatentCLRConfig(layer="latent")),
    lambda G: latentclr.discover(G, latentclr.LatentCLRConfig(tau=0)),
])
def test_bad_options_are_one_sentence_errors(tiny, call):
    with pytest.raises(MethodError):
        call(tiny)


def test_mixed_precision_is_off_on_the_cpu(tiny):
    assert not amp_enabled(torch.device("cpu"), True) and amp_enabled(torch.device("cuda"), True)
    assert not amp_enabled(torch.device("cuda"), False)
    cs = voynov.discover(tiny, voynov.VoynovConfig(components=2, iterations=2, batch=4, amp=True))
    assert cs.stats["amp"] is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision runs on CUDA only")
def test_mixed_precision_trains_on_cuda():
    G = TinyConvGenerator()
    G.net.to("cuda")
    G.device = torch.device("cuda")
    for module, cfg in RESUMABLE.values():
        cs = module.discover(G, replace(cfg, amp=True))
        assert cs.stats["amp"] is True and math.isfinite(cs.stats["final_loss"])


def test_learned_directions_beat_random_ones_on_a_toy_with_dead_coordinates():
    """QuadrantToy: z[0:4] change nothing, z[4:8] each light one quadrant; Voynov starts on the dead axes."""
    G = QuadrantToy()
    cs = voynov.discover(G, voynov.VoynovConfig(components=4, iterations=120, batch=32, lr_deformator=1e-2,
                                                lr_reconstructor=1e-3, log_every=20))
    live = np.linalg.norm(cs.directions()[:, 4:], axis=1)
    assert live.min() > 0.6, f"directions stayed on the dead coordinates: {live}"
    budget = EvalConfig(samples=400, test_samples=200, iterations=50, batch=32, shift_min=0.3, shift_max=1.0, image_size=16)
    report = evaluate(G, cs, budget)
    assert report["rca"] > report["rca_random"] + 0.05 and report["rca"] > 2 * report["chance"]


def test_trained_methods_are_registered_with_scalar_options():
    for name in ("latentclr", "warped", "voynov"):
        spec = METHODS[name]
        opts = {n: t for n, t, _d, _h in spec.options()}
        assert set(opts.values()) <= {int, float, str, bool}
        assert {"iterations", "batch", "seed", "job_dir", "checkpoint_every", "amp"} <= set(opts)
        assert all(h for _n, _t, _d, h in spec.options()), f"{name} has options without help"
    assert {"alpha_min", "alpha_max", "tau", "feed_layers"} <= {n for n, *_ in METHODS["latentclr"].options()}


def test_discover_command_trains_then_resumes_a_job_folder(faces, tmp_path, capsys):
    from cli.commands import run

    job, out = tmp_path / "job", tmp_path / "c.npz"
    common = ["discover", "--model", "dcgan-faces", "--method", "latentclr", "--device", "cpu", "--quiet", "--out", str(out)]
    assert run(common + ["--direction-model", "global", "--components", "3", "--batch", "2", "--iterations", "2",
                         "--job-dir", str(job)]) == 0
    assert json.loads(capsys.readouterr().out)["iterations"] == 2
    assert run(common + ["--resume", str(job), "--iterations", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from"] == 2 and summary["iterations"] == 3 and summary["controls"] == 3
    assert ControlSet.load(out).config["direction_model"] == "global"  # taken from the folder
    assert run(common + ["--resume", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert run(common[:4] + ["ganspace"] + common[5:] + ["--resume", str(job)]) == 2


def test_reconstructors_read_a_pair_and_give_logits_and_a_shift():
    from methods.reconstructor import make_reconstructor, pair, reconstructor_loss

    torch.manual_seed(0)
    img = torch.rand(2, 3, 16, 16) * 2 - 1
    for kind in ("lenet", "resnet"):
        logits, eps_hat = make_reconstructor(kind, 5, 16)(pair(img, img.flip(0)))
        assert logits.shape == (2, 5) and eps_hat.shape == (2,)
    big = make_reconstructor("resnet", 3, 320)  # larger than its 256 px input: area-downsampled first
    logits, eps_hat = big(torch.rand(2, 6, 320, 320))
    assert logits.shape == (2, 3) and eps_hat.shape == (2,)
    loss, acc = reconstructor_loss(torch.tensor([[4.0, 0.0], [0.0, 4.0]]), torch.tensor([1.0, -1.0]),
                                   torch.tensor([0, 0]), torch.tensor([1.0, 1.0]))
    ce = (np.log1p(np.exp(-4.0)) + np.log1p(np.exp(4.0))) / 2
    assert float(loss) == pytest.approx(ce + 0.25 * 1.0, rel=1e-5) and float(acc) == 0.5
