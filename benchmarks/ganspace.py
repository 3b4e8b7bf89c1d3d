"""Seconds for GANSpace discovery on the default model at N samples, per PCA estimator
(CPU, and CUDA when present).

    python benchmarks/ganspace.py [--samples 20000] [--components 40] [--layer block1]
                                  [--estimators auto,exact,incremental]
Prints one JSON line: for each device and estimator the seconds, the estimator that ran
(`methods.pca.choose_estimator`) and, beside an exact run, the worst 1−|cos| of the
other estimators' top-20 components against it.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from common import machine

import numpy as np
import torch

import models
from methods.ganspace import GANSpaceConfig, discover


def measure(spec: str, device: str, cfg: GANSpaceConfig, estimators: list[str]) -> dict:
    G = models.load_generator(spec, device)
    out, comps = {}, {}
    for name in estimators:
        run = replace(cfg, estimator=name)
        t = time.perf_counter()
        cs = discover(G, run)
        if device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        comps[name] = cs.extras["act_comp"][:20].astype(np.float64)
        out[name] = {"seconds": round(seconds, 2),
                     "samples_per_s": round((run.samples + (run.regression_samples or max(10000, run.samples))) / seconds),
                     **{k: cs.stats[k] for k in ("layer", "estimator", "explained_variance", "top_stdev_over_random")},
                     "var_ratio_top5": [round(float(v), 4) for v in cs.extras["var_ratio"][:5]]}
    if "exact" in comps:
        for name, c in comps.items():
            if name != "exact":
                out[name]["top20_max_1_minus_cos_vs_exact"] = float((1 - np.abs((c * comps["exact"]).sum(1))).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--components", type=int, default=40)
    ap.add_argument("--layer", default="")
    ap.add_argument("--estimators", default="auto,exact,incremental", help="comma-separated: auto, exact, incremental")
    ap.add_argument("--no-cpu", action="store_true", help="time only CUDA (e.g. 10^6 samples in cuda_suite.sh)")
    args = ap.parse_args()
    estimators = [e for e in args.estimators.split(",") if e]
    cfg = GANSpaceConfig(layer=args.layer, samples=args.samples, components=args.components)
    result = {"benchmark": "ganspace", "model": args.model, "samples": args.samples, "components": args.components,
              "machine": machine()}
    if not args.no_cpu:
        result["cpu"] = measure(args.model, "cpu", cfg, estimators)
    if torch.cuda.is_available():
        result["cuda"] = measure(args.model, "cuda", cfg, estimators)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
