"""Linear semantics (methods/semantics, cli/semantics): extractors, few-shot training, LinearGAN's
mIoU, SCS, SIE, extractor files, mask folders and the CLI.

Labels are the pixel proxy of `methods.semantics.proxy` (background / skin / dark colour
thresholds on the blurred image), computed on dcgan-faces samples.  Everything runs on one
CPU thread: the machine is shared and these small tensors gain nothing from more.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import models
from methods.jobs import Cancelled
from methods.semantics import (
    IGNORE, MaskFolder, MaskItem, SCSConfig, SemanticExtractor, SemanticsError, SIEConfig, TrainConfig, aggregate_iou,
    append_mask, colorize, default_feature_layers, evaluate_extractor, iou_per_image, miou, overlay, read_mask,
    read_mask_folder, semantic_edit, semantic_sample, train_extractor, write_mask, write_mask_folder,
)
from methods.semantics import training as training_mod
from methods.semantics.extractors import _resize
from methods.semantics.manipulation import frozen_parameters
from methods.semantics.proxy import PROXY_CLASSES, PROXY_COLORS, proxy_masks

ROOT = Path(__file__).resolve().parents[1]
STYLEGAN2 = ROOT / "tests" / "data" / "stylegan2" / "stylegan2_small_A.pt"
TRAIN_SEED = 19961116  # the first repeat seed of LinearGAN's train_fewshot.py
TEST_SEED = 10_000_000
SHOTS, TEST_N = 8, 64


def _labelled(G, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    lat = G.sample(n, seed)
    return lat, torch.from_numpy(proxy_masks(G, lat)).long()


@pytest.fixture(scope="module")
def train_set(faces):
    return _labelled(faces, TRAIN_SEED, SHOTS)


@pytest.fixture(scope="module")
def test_set(faces):
    return _labelled(faces, TEST_SEED, TEST_N)


@pytest.fixture(scope="module")
def lse(faces, train_set):
    return train_extractor(faces, *train_set, PROXY_CLASSES, PROXY_COLORS, TrainConfig(kind="lse"))


# ---------------------------------------------------------------------- mIoU
def test_miou_matches_a_hand_computed_example():
    # classes 0 (background), 1, 2, 3 (3 never occurs); 3 images of 2x3 pixels
    target = torch.tensor([
        [[0, 1, 1], [0, 1, 2]],
        [[0, 0, 0], [0, 0, IGNORE]],
        [[1, 1, 1], [1, 1, 1]],
    ])
    pred = torch.tensor([
        [[1, 1, 1], [0, 0, 2]],  # class 1: TP 2, FP 1 (a background pixel), FN 1 -> 2/4; class 2: 1/1
        [[0, 0, 0], [0, 2, 1]],  # class 1 absent (the 1 sits on an ignored pixel) -> -1; class 2: FP 1 -> 0
        [[1, 1, 1], [1, 1, 1]],  # class 1: 6/6; class 2 absent -> -1
    ])
    ious = iou_per_image(pred, target, 4)
    expected = torch.tensor([[0.5, 1.0, -1], [-1, 0.0, -1], [1.0, -1, -1]], dtype=torch.float64)
    assert torch.allclose(ious, expected)
    value, per_class = aggregate_iou(ious)
    assert per_class == pytest.approx([0.75, 0.5, -1.0])  # means over the images where present
    assert value == pytest.approx(0.625)  # (0.75 + 0.5) / 2: class 3 skipped, background never scored
    r = miou(pred, target, 4)
    assert r.value == pytest.approx(0.625) and r.per_class == pytest.approx([0.75, 0.5, -1.0])
    assert r.pixel_accuracy == pytest.approx(14 / 17)  # the ignored pixel counts nowhere
    assert r.as_dict(["bg", "a", "b", "c"])["per_class"] == {"a": 0.75, "b": 0.5, "c": None}
    # image-averaged, not one confusion matrix over the set (that would give class 1: 8/10)
    assert value != pytest.approx((8 / 10 + 1 / 2) / 2)


def test_nothing_to_score_gives_nan_and_bad_predictions_are_refused():
    z = torch.zeros(1, 2, 2, dtype=torch.long)
    assert miou(z, z, 3).value != miou(z, z, 3).value  # only background: NaN
    assert miou(z, z, 3).as_dict()["miou"] is None
    with pytest.raises(ValueError):
        miou(z + 5, z, 3)


# ---------------------------------------------------------------------- extractors
def test_bilinear_resize_matches_interpolate_with_align_corners():
    for h in (1, 4, 8, 32):
        x = torch.randn(2, 3, h, h)
        ref = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=True)
        assert torch.allclose(_resize(x, 64), ref, atol=1e-5)


def test_default_feature_layers_are_the_maps_before_the_image(faces):
    assert default_feature_layers(faces) == ["block1", "block2", "block3", "block4"]
    G = models.load_generator(STYLEGAN2)
    layers = default_feature_layers(G)
    assert layers[0] == "conv1" and all(n.startswith("convs.") for n in layers[1:])
    assert len(layers) == 1 + 2 * len(G.net.to_rgbs)


@pytest.mark.parametrize("kind", ["lse", "nse1", "nse2"])
def test_every_kind_gives_logits_at_the_label_resolution(faces, kind):
    ext = SemanticExtractor.create(faces, kind, ["bg", "a", "b"])
    out = ext.logits(faces, faces.sample(2, 0))
    assert out.shape == (2, 3, faces.resolution, faces.resolution)
    assert ext.predict(faces, faces.sample(3, 0)).shape == (3, 64, 64)


def test_lse_is_linear_in_the_features(faces):
    ext = SemanticExtractor.create(faces, "lse", ["bg", "a", "b"], arch={"lw_type": "softplus"})
    with torch.no_grad():
        fa = [torch.randn(1, d, s, s) for d, s in zip(ext.dims, (4, 8, 16, 32))]
        fb = [torch.randn_like(f) for f in fa]
        lhs = ext.logits_from_features([2 * a - 3 * b for a, b in zip(fa, fb)])
        rhs = 2 * ext.logits_from_features(fa) - 3 * ext.logits_from_features(fb)
    assert torch.allclose(lhs, rhs, atol=1e-4)


# ---------------------------------------------------------------------- few-shot training
def test_lse_from_8_masks_segments_held_out_samples_and_nse1_is_close(faces, lse, train_set, test_set):
    """8-shot LSE vs NSE-1 on 64 held-out samples (train seed 19961116, default TrainConfig).

    Measured (torch 2.13 CPU): LSE mIoU 0.480 (skin 0.41, dark 0.55; 0.81 on its own 8
    masks), NSE-1 0.567; gap 0.087, LSE/NSE-1 = 0.85.  Other repeat seeds: 1997816 -> 0.543
    vs 0.596 (0.91), 1116 -> 0.533 vs 0.589 (0.91).  On these pixel proxy labels the gap is
    wider than the paper's fully trained figures (LSE/NSE-1 0.94-0.98); the README has the
    5-repeat means and the 128-mask figures.
    """
    r_lse = evaluate_extractor(faces, lse, *test_set)
    assert r_lse.value > 0.43
    assert all(v > 0.2 for v in r_lse.per_class)  # both skin and dark are found
    assert lse.info["shots"] == SHOTS and lse.info["train_miou"] > r_lse.value
    nse1 = train_extractor(faces, *train_set, PROXY_CLASSES, PROXY_COLORS, TrainConfig(kind="nse1"))
    r_nse = evaluate_extractor(faces, nse1, *test_set)
    assert r_nse.value - r_lse.value < 0.13
    assert r_lse.value / r_nse.value > 0.78


def test_training_reports_progress_and_can_be_cancelled(faces, train_set):
    seen: list[float] = []
    ext = train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(epochs=2, steps_per_epoch=1),
                          progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert ext.colors[:3] == [(0, 0, 0), (255, 40, 200), (120, 70, 30)]  # default palette without colours
    assert all(p.grad is None for p in ext.net.parameters())  # no stale gradients held by the result
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(epochs=5), cancel=lambda: next(calls) >= 3)


def test_training_refuses_bad_masks(faces, train_set):
    lat, m = train_set
    with pytest.raises(SemanticsError, match="only 2 classes"):
        train_extractor(faces, lat, m, ["bg", "skin"])
    with pytest.raises(SemanticsError, match="no painted pixels"):
        train_extractor(faces, lat, torch.full_like(m, IGNORE), PROXY_CLASSES)
    with pytest.raises(SemanticsError, match="32x32"):
        train_extractor(faces, lat, m[:, :32, :32], PROXY_CLASSES)


def test_unpainted_pixels_are_ignored_by_training(faces, train_set):
    lat, m = train_set
    part = m.clone()
    part[:, :, 32:] = IGNORE  # only the left half painted
    ext = train_extractor(faces, lat[:2], part[:2], PROXY_CLASSES, config=TrainConfig(epochs=2, steps_per_epoch=2))
    assert ext.info["train_miou"] is not None


def test_noise_is_redrawn_between_epochs_for_stylegan2(monkeypatch):
    G = models.load_generator(STYLEGAN2)
    seen: list[tuple] = []
    real = training_mod._extract_all

    def spy(G_, latents, layers, noise, batch=16):
        feats = real(G_, latents, layers, noise, batch)
        seen.append((noise, float(feats[-1].sum())))
        assert G_.noise_mode == "fixed"  # never changed
        return feats

    monkeypatch.setattr(training_mod, "_extract_all", spy)
    lat = G.sample(2, 0)
    masks = torch.zeros(2, G.resolution, G.resolution, dtype=torch.long)
    masks[:, : G.resolution // 2] = 1
    ext = train_extractor(G, lat, masks, ["bg", "top"], config=TrainConfig(epochs=3, steps_per_epoch=1))
    assert [s[0] for s in seen] == [None, "random", "random", None]  # first/last with the model's own noise
    assert seen[1][1] != seen[2][1] != seen[0][1]  # fresh noise each epoch
    assert G.noise_mode == "fixed"  # the shared setting was never touched
    assert ext.layers == default_feature_layers(G)


# ---------------------------------------------------------------------- files
def test_extractor_file_round_trips_and_refuses_another_model(faces, lse, tmp_path):
    path = tmp_path / "faces.pt"
    lse.save(path)
    raw = torch.load(path, weights_only=True)  # plain data: no pickled objects
    assert raw["format"] == "latent-studio.semantics" and isinstance(raw["meta"], str)
    back = SemanticExtractor.load(path, faces)
    assert back.classes == PROXY_CLASSES and back.colors == [tuple(c) for c in PROXY_COLORS]
    assert back.model["fingerprint"] == faces.fingerprint and back.info["shots"] == SHOTS
    lat = faces.sample(4, 77)
    assert torch.equal(back.predict(faces, lat), lse.predict(faces, lat))
    with pytest.raises(SemanticsError, match="trained for model dcgan-faces"):
        SemanticExtractor.load(path, models.load_generator(STYLEGAN2))
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(SemanticsError, match="not a semantic extractor"):
        SemanticExtractor.load(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(SemanticsError, match="not a Latent Studio"):
        SemanticExtractor.load(tmp_path / "other.pt")


def test_mask_folder_round_trips(faces, tmp_path):
    rng = np.random.default_rng(0)
    masks = [rng.integers(0, 3, (64, 64), dtype=np.uint8) for _ in range(3)]
    masks[2][:4, :4] = IGNORE
    lat = faces.sample(1, 9)[0].numpy()
    folder = MaskFolder(PROXY_CLASSES, [MaskItem(masks[0], seed=5), MaskItem(masks[1], latents=lat),
                                        MaskItem(masks[2], seed=6, extra={"note": "kept"})],
                        [tuple(c) for c in PROXY_COLORS], truncation=0.8)
    write_mask_folder(tmp_path / "m", folder)
    back = read_mask_folder(tmp_path / "m", faces)
    assert back.classes == PROXY_CLASSES and back.colors == [tuple(c) for c in PROXY_COLORS] and back.truncation == 0.8
    assert [it.seed for it in back.items] == [5, None, 6] and back.items[2].extra == {"note": "kept"}
    for a, b in zip(masks, back.items):
        assert np.array_equal(a, b.mask)
    assert np.array_equal(back.items[1].latents, lat)
    got = back.latents(faces)
    assert torch.allclose(got[0], faces.sample(1, 5)[0] * 0.8) and torch.equal(got[1], torch.from_numpy(lat))
    assert back.masks().shape == (3, 64, 64)
    doc = json.loads((tmp_path / "m" / "labels.json").read_text())
    assert doc["items"][1] == {"latents": "latents_0001.npy", "mask": "mask_0001.png"}
    # the paint mode appends one item at a time
    item = append_mask(tmp_path / "m", masks[0], PROXY_CLASSES, latents=torch.from_numpy(lat)[None])
    assert item.mask_file == "mask_0003.png" and len(read_mask_folder(tmp_path / "m").items) == 4
    with pytest.raises(SemanticsError, match="has classes"):
        append_mask(tmp_path / "m", masks[0], ["bg", "other"], seed=1)
    append_mask(tmp_path / "new", masks[0], PROXY_CLASSES, seed=3)
    assert read_mask_folder(tmp_path / "new").items[0].seed == 3


def test_mask_folder_errors_are_one_sentence(faces, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    with pytest.raises(SemanticsError, match="no labels.json"):
        read_mask_folder(root)
    write_mask(root / "a.png", np.full((32, 32), 1, np.uint8))
    write_mask(root / "b.png", np.full((64, 64), 7, np.uint8))
    cases = [
        ({"classes": ["bg"], "items": []}, "2 to 255 classes"),
        ({"classes": ["bg", "a"], "items": [{"seed": 1, "latents": "x.npy", "mask": "b.png"}]}, "either"),
        ({"classes": ["bg", "a"], "items": [{"seed": 1, "mask": "../b.png"}]}, "plain file name"),
        ({"classes": ["bg", "a"], "items": [{"seed": 1, "mask": "b.png"}]}, "holds class 7"),
        ({"classes": ["bg", "a"], "items": [{"seed": 1, "mask": "a.png"}]}, "32x32"),
        ({"classes": ["bg", "a"], "items": [{"latents": "none.npy", "mask": "a.png"}]}, None),
    ]
    for doc, message in cases:
        (root / "labels.json").write_text(json.dumps(doc))
        with pytest.raises(SemanticsError, match=message):
            read_mask_folder(root, faces)
    (root / "labels.json").write_text("{broken")
    with pytest.raises(SemanticsError, match="not valid JSON"):
        read_mask_folder(root)


def test_colour_masks_overlay_and_colorize(tmp_path):
    labels = np.array([[0, 1], [2, IGNORE]], np.uint8)
    rgb = colorize(labels, PROXY_COLORS)
    assert rgb.shape == (2, 2, 3) and tuple(rgb[0, 1]) == PROXY_COLORS[1] and tuple(rgb[1, 1]) == (128, 128, 128)
    import cv2

    cv2.imwrite(str(tmp_path / "c.png"), np.ascontiguousarray(colorize(labels[:, :1].repeat(2, 1), PROXY_COLORS)[:, :, ::-1]))
    assert np.array_equal(read_mask(tmp_path / "c.png", colors=PROXY_COLORS), labels[:, :1].repeat(2, 1))
    with pytest.raises(SemanticsError, match="colour image"):
        read_mask(tmp_path / "c.png")
    frame = np.full((4, 4, 3), 100, np.uint8)
    out = overlay(frame, labels, PROXY_COLORS, alpha=0.5)  # resized to the frame (nearest)
    assert out.shape == (4, 4, 3) and tuple(out[0, 0]) == (100, 100, 100)  # background untouched
    assert tuple(out[0, 3]) == (165, 135, 120)  # half skin colour


# ---------------------------------------------------------------------- SCS / SIE
def test_scs_raises_agreement_with_the_target_layout(faces, lse, test_set):
    """Measured: agreement with the target 0.42/0.59 (best of 10 random samples) -> 0.92/0.91
    after 50 iterations."""
    target = test_set[1][0]
    previews: list[int] = []
    res = semantic_sample(faces, lse, target, SCSConfig(count=2, n_init=10, n_iter=50),
                          preview=lambda lat, it: previews.append(it))
    assert res.latents.shape == (2, 1, faces.latent_dim)
    before, after = np.mean(res.agreement_before), np.mean(res.agreement_after)
    assert after > before + 0.2
    assert previews == [0, 10, 20, 30, 40, 50]
    assert res.losses[-1] < res.losses[0]


def test_scs_mixwp_equals_z_for_one_row_models_and_can_be_cancelled(faces, lse, test_set):
    target = test_set[1][1]
    a = semantic_sample(faces, lse, target, SCSConfig(count=1, n_init=2, n_iter=3, strategy="z"))
    b = semantic_sample(faces, lse, target, SCSConfig(count=1, n_init=2, n_iter=3, strategy="mixwp"))
    assert torch.equal(a.latents, b.latents)
    calls = iter(range(1000))
    with pytest.raises(Cancelled):
        semantic_sample(faces, lse, target, SCSConfig(n_iter=20), cancel=lambda: next(calls) >= 5)
    with pytest.raises(SemanticsError, match="64x64"):
        semantic_sample(faces, lse, target[:8, :8])
    with pytest.raises(SemanticsError, match="class 5"):
        semantic_sample(faces, lse, torch.full_like(target, 5))


def _painted(ext, G, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latents, the extractor's mask, that mask with a band across the top painted in the
    class, skin or dark, that covers less of the band)."""
    lat0 = G.sample(1, seed)
    pred0 = ext.predict(G, lat0)[0]
    band = pred0[4:18, 12:52]
    cls = 2 if (band == 2).float().mean() < (band == 1).float().mean() else 1
    target = pred0.clone()
    target[4:18, 12:52] = cls
    return lat0, pred0, target


def test_sie_changes_the_painted_region_more_than_the_rest(faces, lse):
    """Measured (seed 30000003: "dark" painted over the forehead, 493 edited pixels, 60
    iterations): the edited pixels go from 0 % to 85 % dark, 86 % of the rest keeps its class;
    mean |Δpixel| 0.41 inside vs 0.15 outside."""
    lat0, pred0, target = _painted(lse, faces, 30_000_003)
    res = semantic_edit(faces, lse, lat0, target, config=SIEConfig(n_iter=60))
    region = res.region[0]
    assert torch.equal(region, (target != pred0)) and int(region.sum()) > 200
    pred1 = lse.predict(faces, res.latents)[0]
    assert float((pred1[region] == target[region]).float().mean()) > 0.5
    with torch.no_grad():
        d = (faces.synthesize(res.latents) - faces.synthesize(lat0)).abs().mean(1)[0]
    assert float(d[region].mean()) > 2 * float(d[~region].mean())
    assert float((pred1[~region] == pred0[~region]).float().mean()) > 0.75  # the rest mostly kept


def test_sie_region_weight_focuses_the_edit(faces, lse):
    """Measured after 20 iterations: 57 % of the edited pixels reached at weight 1, 97 % at 10."""
    lat0, _, target = _painted(lse, faces, 30_000_003)
    plain = semantic_edit(faces, lse, lat0, target, config=SIEConfig(n_iter=20))
    weighted = semantic_edit(faces, lse, lat0, target, config=SIEConfig(n_iter=20, region_weight=10.0))
    reg = plain.region[0]

    def hit(res):
        return float((lse.predict(faces, res.latents)[0][reg] == target[reg]).float().mean())

    assert hit(weighted) > hit(plain)
    with pytest.raises(SemanticsError, match="positive"):
        semantic_edit(faces, lse, lat0, target, config=SIEConfig(region_weight=0))


def test_sampling_and_editing_leave_the_extractor_without_gradients(faces, lse, test_set):
    """SCS/SIE optimise the latents only: no extractor parameter gets a ``.grad`` (none is even
    computed: the flags are off during the loop), each keeps its own ``requires_grad`` flag, also
    after a cancel, and the optimisation still works (bit-identical to the loop before the fix)."""
    ext = copy.deepcopy(lse)
    params = list(ext.net.parameters())
    for p in params:
        p.grad = None  # training leaves the last step's gradients on the extractor
    params[0].requires_grad_(False)  # a mixed pattern: each flag must come back as it was
    flags = [p.requires_grad for p in params]
    assert any(flags) and not all(flags)
    during: list[bool] = []

    def preview(_lat: torch.Tensor, it: int) -> None:
        if it > 0:
            during.append(any(p.requires_grad for p in params))

    target = test_set[1][0]
    res = semantic_sample(faces, ext, target, SCSConfig(count=2, n_init=10, n_iter=50), preview=preview)
    assert np.mean(res.agreement_after) > np.mean(res.agreement_before) + 0.2
    lat0, _, painted = _painted(ext, faces, 30_000_003)
    edit = semantic_edit(faces, ext, lat0, painted, config=SIEConfig(n_iter=20), preview=preview)
    reg = edit.region[0]
    hit = float((ext.predict(faces, edit.latents)[0][reg] == painted[reg]).float().mean())
    assert hit > 0.4  # the painted pixels start at 0 % (57 % after 20 iterations, as before the fix)
    assert during and not any(during)  # frozen inside the loop
    assert all(p.grad is None for p in params)
    assert [p.requires_grad for p in params] == flags
    calls = iter(range(1000))
    with pytest.raises(Cancelled):
        semantic_sample(faces, ext, target, SCSConfig(n_iter=20), cancel=lambda: next(calls) >= 5)
    assert [p.requires_grad for p in params] == flags and all(p.grad is None for p in params)


def test_overlapping_freezes_of_one_extractor_restore_the_flags_at_the_last_exit():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    net[1].bias.requires_grad_(False)
    flags = [p.requires_grad for p in net.parameters()]
    outer = frozen_parameters(net)
    outer.__enter__()
    with frozen_parameters(net):  # a second job on the same extractor
        assert not any(p.requires_grad for p in net.parameters())
    assert not any(p.requires_grad for p in net.parameters())  # the first job still runs
    outer.__exit__(None, None, None)
    assert [p.requires_grad for p in net.parameters()] == flags
    with pytest.raises(RuntimeError):
        with frozen_parameters(net):
            raise RuntimeError("boom")
    assert [p.requires_grad for p in net.parameters()] == flags


def test_scs_mixwp_and_sie_optimise_per_layer_latents_on_stylegan2():
    G = models.load_generator(STYLEGAN2)
    ext = SemanticExtractor.create(G, "lse", ["bg", "a", "b"], seed=1)
    target = torch.zeros(G.resolution, G.resolution, dtype=torch.long)
    target[:, G.resolution // 2:] = 1
    res = semantic_sample(G, ext, target, SCSConfig(count=1, n_init=2, n_iter=2, strategy="mixwp", truncation=0.7))
    assert res.variable.shape == (1, G.num_layers, G.z_dim)  # one z per W+ row
    assert res.latents.shape == (1, G.num_layers, G.latent_dim)
    assert not torch.allclose(res.latents[0, 0], res.latents[0, 1])  # rows now differ: store W+, not z
    with pytest.raises(SemanticsError, match="per layer"):
        semantic_edit(G, ext, res.latents, target, config=SIEConfig(n_iter=1, strategy="single"))
    edited = semantic_edit(G, ext, G.map(G.sample_z(1, 3)), target, config=SIEConfig(n_iter=2, strategy="single"))
    assert torch.allclose(edited.latents[0, 0], edited.latents[0, -1])  # one shared row


# ---------------------------------------------------------------------- CLI
def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "semantics", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_cli_train_eval_sample_round_trip(faces, tmp_path, train_set, test_set):
    lat, m = train_set
    write_mask_folder(tmp_path / "train", MaskFolder(PROXY_CLASSES, [MaskItem(m[i].numpy().astype(np.uint8), seed=TRAIN_SEED + i)
                                                                     for i in range(4)], [tuple(c) for c in PROXY_COLORS]))
    tl, tm = test_set
    write_mask_folder(tmp_path / "test", MaskFolder(PROXY_CLASSES, [
        MaskItem(tm[0].numpy().astype(np.uint8), seed=TEST_SEED),
        MaskItem(tm[1].numpy().astype(np.uint8), latents=tl[1].numpy())]))
    write_mask(tmp_path / "target.png", tm[2].numpy().astype(np.uint8))
    ext = tmp_path / "s.pt"

    r = _cli("train", "--model", "dcgan-faces", "--masks", str(tmp_path / "train"), "--epochs", "3", "--quiet", "--out", str(ext))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["shots"] == 4 and info["kind"] == "lse" and ext.is_file()

    r = _cli("eval", "--model", "dcgan-faces", "--extractor", str(ext), "--masks", str(tmp_path / "test"))
    assert r.returncode == 0, r.stderr
    score = json.loads(r.stdout)
    assert 0 < score["miou"] <= 1 and set(score["per_class"]) == {"skin", "dark"} and score["images"] == 2

    out = tmp_path / "samples"
    r = _cli("sample", "--model", "dcgan-faces", "--extractor", str(ext), "--target", str(tmp_path / "target.png"),
             "--count", "2", "--iterations", "3", "--init", "2", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["agreement_after"]) == 2
    got = read_mask_folder(out, faces)
    assert len(got.items) == 2 and all((out / it.extra["image"]).is_file() for it in got.items)


def test_cli_errors_are_one_line_exit_2_and_write_nothing(faces, lse, tmp_path, capsys):
    from cli.commands import run

    ext = tmp_path / "s.pt"
    lse.save(ext)
    write_mask(tmp_path / "target.png", np.zeros((64, 64), np.uint8))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    write_mask_folder(tmp_path / "m", MaskFolder(PROXY_CLASSES, [MaskItem(np.zeros((64, 64), np.uint8), seed=1)]))
    cases = [
        (["sample", "--model", "dcgan-faces", "--extractor", str(ext), "--target", str(tmp_path / "target.png"),
          "--out", str(tmp_path / "full")], "not an empty folder"),
        (["eval", "--model", str(STYLEGAN2), "--extractor", str(ext), "--masks", str(tmp_path / "m")], "trained for model"),
        (["train", "--model", "dcgan-faces", "--masks", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.pt")],
         "does not exist"),
        (["edit", "--model", "dcgan-faces", "--extractor", str(ext), "--seed", "1", "--target", str(ext),
          "--out", str(tmp_path / "e.png")], "not a readable image"),
        (["edit", "--model", "dcgan-faces", "--extractor", str(tmp_path / "target.png"), "--seed", "1",
          "--target", str(tmp_path / "target.png"), "--out", str(tmp_path / "e.png")], "not a semantic extractor"),
        (["train", "--model", "dcgan-faces", "--masks", str(tmp_path / "m"), "--out", str(tmp_path / "x.txt")], ".pt file"),
    ]
    for argv, message in cases:
        assert run(["semantics", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "m", "s.pt", "target.png"]
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x"]


def test_lse_defaults_on_a_dcgan_read_its_two_finest_layers_for_longer(faces, train_set):
    """The generalisation study's choice (benchmarks/lse_generalisation.py): block1/block2 are memorised."""
    cfg = TrainConfig.defaults("lse", faces)
    assert (cfg.epochs, cfg.lr, cfg.layers) == (100, 0.05, None)
    assert TrainConfig.defaults("nse1", faces) == TrainConfig(kind="nse1")
    ext = train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(kind="lse", epochs=1, steps_per_epoch=1))
    assert ext.layers == ["block3", "block4"]
    nse = train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(kind="nse1", epochs=1, steps_per_epoch=1))
    assert nse.layers == ["block1", "block2", "block3", "block4"]


def test_feature_normalisation_is_folded_into_a_linear_head(faces, train_set):
    from methods.semantics.training import _fold_scales

    ext = train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(kind="lse", epochs=1, steps_per_epoch=1))
    feats = [torch.randn(2, d, 4, 4) * (1 + torch.arange(d).float()[None, :, None, None]) for d in ext.dims]
    scales = [f.std(dim=(0, 2, 3), keepdim=True) for f in feats]
    with torch.no_grad():
        before = ext.logits_from_features([f / s for f, s in zip(feats, scales)])
        _fold_scales(ext.net, scales)
        after = ext.logits_from_features(feats)
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    normed = train_extractor(faces, *train_set, PROXY_CLASSES,
                             config=TrainConfig(kind="lse", epochs=2, steps_per_epoch=2, feature_norm=True, weight_decay=1e-2))
    assert isinstance(normed.net.heads[0], torch.nn.Conv2d)  # still one 1x1 conv per layer: linear


def test_early_stopping_keeps_the_best_epoch_on_the_held_out_shot(faces, train_set):
    ext = train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(kind="lse", epochs=3, steps_per_epoch=2, holdout=1))
    assert 0 <= ext.info["holdout_miou"] <= 1
    with pytest.raises(SemanticsError, match="leaves none to train on"):
        train_extractor(faces, *train_set, PROXY_CLASSES, config=TrainConfig(holdout=len(train_set[0])))


def test_edit_with_save_latents_writes_both_files_or_neither_on_a_full_disk(lse, tmp_path, capsys, monkeypatch):
    import errno

    from cli.commands import run
    from models import atomic

    ext = tmp_path / "s.pt"
    lse.save(ext)
    write_mask(tmp_path / "target.png", np.zeros((64, 64), np.uint8))
    out, lat = tmp_path / "e.png", tmp_path / "e.npy"
    out.write_bytes(b"old image")
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the latents do not fit after the image was written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    code = run(["semantics", "edit", "--model", "dcgan-faces", "--extractor", str(ext), "--seed", "1", "--iterations", "1",
                "--target", str(tmp_path / "target.png"), "--out", str(out), "--save-latents", str(lat), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "disk full" in err and err.count("\n") == 1
    assert out.read_bytes() == b"old image" and not lat.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.png", "s.pt", "target.png"]
