"""Linear semantics on the default model, with the pixel proxy labels of `methods.semantics.proxy`.

    python benchmarks/semantics.py [--shots 8] [--repeats 5] [--test 200] [--full 128] [--nse2] [--targets 10]

Measures (prints one JSON line):
- few-shot mIoU (LinearGAN's definition) on ``--test`` held-out samples of LSE and NSE-1
  (and NSE-2 with ``--nse2``) trained on ``--shots`` masks, mean ± std over ``--repeats``
  repeats seeded like LinearGAN's train_fewshot.py, and of an LSE and an NSE-1 trained on
  ``--full`` masks for 40 epochs ("full": the 8-shot percentage and the ratio with more data);
- SCS on ``--targets`` target masks (proxy labels of held-out samples): the extractor's
  agreement with the target and the *proxy* mIoU/agreement of the generated images
  before (best of n_init) and after the optimisation;
- SIE on ``--targets`` seeds with a painted "dark" band across the top of the extractor's
  own mask: agreement before/after (whole mask; inside the edited region; outside it, kept
  from the start) and the mean absolute pixel change (image in [-1, 1]) inside vs outside
  the edited region, at region weight 1 (paper) and 10.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from common import machine

import torch

import models
from methods.semantics import (
    SCSConfig, SIEConfig, TrainConfig, evaluate_extractor, miou, semantic_edit, semantic_sample, train_extractor,
)
from methods.semantics.proxy import PROXY_CLASSES, PROXY_COLORS, proxy_masks

#: the repeat seeds of LinearGAN's train_fewshot.py
FEWSHOT_SEEDS = [19961116, 1997816, 1116, 816, 19980903]
TEST_SEED = 10_000_000
TARGET_SEED = 20_000_000


def labelled(G, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    lat = G.sample(n, seed)
    return lat, torch.from_numpy(proxy_masks(G, lat)).long()


def fewshot(G, kind: str, shots: int, repeats: int, test, cfg: dict) -> dict:
    vals, secs = [], []
    for seed in FEWSHOT_SEEDS[:repeats]:
        lat, m = labelled(G, seed, shots)
        ext = train_extractor(G, lat, m, PROXY_CLASSES, PROXY_COLORS, TrainConfig(kind=kind, **cfg))
        vals.append(evaluate_extractor(G, ext, *test).value)
        secs.append(ext.info["seconds"])
    return {"miou_mean": round(statistics.mean(vals), 4), "miou_std": round(statistics.pstdev(vals), 4),
            "miou": [round(v, 4) for v in vals], "train_seconds_mean": round(statistics.mean(secs), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--full", type=int, default=128)
    ap.add_argument("--nse2", action="store_true")
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    G = models.load_generator(args.model, "cpu")
    test = labelled(G, TEST_SEED, args.test)
    out: dict = {"benchmark": "semantics", "model": args.model, "shots": args.shots, "test_samples": args.test,
                 "labels": "proxy: background/skin/dark colour thresholds (methods/semantics/proxy.py)"}

    out["lse"] = fewshot(G, "lse", args.shots, args.repeats, test, {})
    out["nse1"] = fewshot(G, "nse1", args.shots, args.repeats, test, {})
    if args.nse2:
        out["nse2"] = fewshot(G, "nse2", args.shots, min(args.repeats, 2), test, {"lr": 0.001})
    out["lse_over_nse1"] = round(out["lse"]["miou_mean"] / out["nse1"]["miou_mean"], 4)
    if args.full:
        lat, m = labelled(G, 0, args.full)
        full = {}
        for kind in ("lse", "nse1"):
            ext_full = train_extractor(G, lat, m, PROXY_CLASSES, PROXY_COLORS, TrainConfig(kind=kind, epochs=40))
            full[kind] = evaluate_extractor(G, ext_full, *test).value
        out["full"] = {"shots": args.full, "epochs": 40, "lse_miou": round(full["lse"], 4),
                       "nse1_miou": round(full["nse1"], 4), "lse_over_nse1": round(full["lse"] / full["nse1"], 4),
                       "lse_fewshot_percent_of_full": round(100 * out["lse"]["miou_mean"] / full["lse"], 1)}

    # the extractor used for SCS/SIE: LSE on the first repeat's masks
    lat, m = labelled(G, FEWSHOT_SEEDS[0], args.shots)
    ext = train_extractor(G, lat, m, PROXY_CLASSES, PROXY_COLORS, TrainConfig())

    tl, targets = labelled(G, TARGET_SEED, args.targets)
    scs = {"ext_before": [], "ext_after": [], "proxy_before": [], "proxy_after": [], "miou_before": [], "miou_after": []}
    t = time.perf_counter()
    for i in range(args.targets):
        r = semantic_sample(G, ext, targets[i], SCSConfig(count=1, seed=1000 * i))
        p0 = torch.from_numpy(proxy_masks(G, r.initial_latents)).long()
        p1 = torch.from_numpy(proxy_masks(G, r.latents)).long()
        scs["ext_before"].append(r.agreement_before[0])
        scs["ext_after"].append(r.agreement_after[0])
        scs["proxy_before"].append(float((p0[0] == targets[i]).double().mean()))
        scs["proxy_after"].append(float((p1[0] == targets[i]).double().mean()))
        scs["miou_before"].append(miou(p0, targets[i:i + 1], 3).value)
        scs["miou_after"].append(miou(p1, targets[i:i + 1], 3).value)
    out["scs"] = {k: round(statistics.mean(v), 4) for k, v in scs.items()}
    out["scs"]["seconds_per_sample"] = round((time.perf_counter() - t) / args.targets, 2)
    out["scs"]["settings"] = "n_init 10, n_iter 50, lr 0.01, strategy z"

    for w in (1.0, 10.0):
        sie = {"ext_before": [], "ext_after": [], "region_hit_before": [], "region_hit_after": [], "outside_kept": [],
               "change_inside": [], "change_outside": []}
        for i in range(args.targets):
            lat0 = G.sample(1, 30_000_000 + i)
            tgt = ext.predict(G, lat0)[0].clone()
            tgt[4:18, 12:52] = 2  # paint "dark" (hair) across the top
            r = semantic_edit(G, ext, lat0, tgt, config=SIEConfig(region_weight=w))
            with torch.no_grad():
                d = (G.synthesize(r.latents) - G.synthesize(lat0)).abs().mean(1)[0]
            reg = r.region[0]
            p0, p1 = ext.predict(G, lat0)[0], ext.predict(G, r.latents)[0]
            sie["region_hit_before"].append(float((p0[reg] == tgt[reg]).double().mean()) if reg.any() else 1.0)
            sie["region_hit_after"].append(float((p1[reg] == tgt[reg]).double().mean()) if reg.any() else 1.0)
            sie["outside_kept"].append(float((p1[~reg] == p0[~reg]).double().mean()))
            sie["ext_before"].append(r.agreement_before[0])
            sie["ext_after"].append(r.agreement_after[0])
            sie["change_inside"].append(float(d[reg].mean()) if reg.any() else 0.0)
            sie["change_outside"].append(float(d[~reg].mean()))
        out[f"sie_region_weight_{int(w)}"] = {k: round(statistics.mean(v), 4) for k, v in sie.items()}
    out["machine"] = machine()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
