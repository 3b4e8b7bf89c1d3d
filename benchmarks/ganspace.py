"""Seconds for GANSpace discovery on the default model at N samples (CPU, and CUDA when present).

    python benchmarks/ganspace.py [--samples 20000] [--components 40] [--layer block1]
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

from common import machine

import torch

import models
from methods.ganspace import GANSpaceConfig, discover


def measure(spec: str, device: str, cfg: GANSpaceConfig) -> dict:
    G = models.load_generator(spec, device)
    t = time.perf_counter()
    cs = discover(G, cfg)
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    return {"seconds": round(seconds, 2), "samples_per_s": round((cfg.samples + (cfg.regression_samples or max(10000, cfg.samples))) / seconds),
            **{k: cs.stats[k] for k in ("layer", "estimator", "explained_variance", "top_stdev_over_random")},
            "var_ratio_top5": [round(float(v), 4) for v in cs.extras["var_ratio"][:5]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--components", type=int, default=40)
    ap.add_argument("--layer", default="")
    args = ap.parse_args()
    cfg = GANSpaceConfig(layer=args.layer, samples=args.samples, components=args.components)
    result = {"benchmark": "ganspace", "model": args.model, "samples": args.samples, "components": args.components,
              "machine": machine(), "cpu": measure(args.model, "cpu", cfg)}
    if torch.cuda.is_available():
        result["cuda"] = measure(args.model, "cuda", cfg)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
