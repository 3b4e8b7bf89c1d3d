"""Training iterations per second of LatentCLR, WarpedGANSpace and Voynov–Babenko on the default model.

    python benchmarks/trained_methods.py [--batch 8] [--iterations 20] [--warmup 3] [--threads N]
                                         [--settings quick|paper] [--no-cpu]

Each method runs with its default settings (K = 16 directions; LatentCLR nonlinear at
``block1``, Warped 32 dipoles per set, Voynov/Warped with the LeNet reconstructor) at the
stated batch, on the CPU and, when present, on CUDA (mixed precision on).  The first
``--warmup`` iterations are not timed.  With ``--settings paper`` each method runs at its
paper's settings for the model (`methods.paper_settings`: K, N, batch, reconstructor, …)
instead, ``--batch`` ignored; only the number of iterations is cut.  Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from common import machine

import torch

import models
from methods import latentclr, voynov, warped
from methods.paper_settings import paper_settings

METHODS = {
    "latentclr": (latentclr.discover, latentclr.LatentCLRConfig()),
    "warped": (warped.discover, warped.WarpedConfig()),
    "voynov": (voynov.discover, voynov.VoynovConfig()),
}


def iterations_per_s(G, name: str, batch: int, iterations: int, warmup: int, paper: bool = False) -> float:
    run, cfg = METHODS[name]
    cfg = replace(cfg, **paper_settings(name, G)) if paper else replace(cfg, batch=batch)
    stamps: list[float] = []

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("iteration"):
            if G.device.type == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    run(G, replace(cfg, iterations=warmup + iterations, log_every=1000, checkpoint_every=10**9), progress)
    return round(iterations / (stamps[-1] - stamps[warmup - 1]), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--settings", choices=("quick", "paper"), default="quick",
                    help="quick: the CPU-sized defaults at --batch; paper: each paper's settings for the model")
    ap.add_argument("--no-cpu", action="store_true", help="time only CUDA (paper settings are slow on a CPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    paper = args.settings == "paper"
    result = {"benchmark": "trained_methods", "model": args.model, "settings": args.settings,
              "batch": None if paper else args.batch, "iterations": args.iterations,
              "unit": "training iterations per second", "machine": machine()}
    devices = ([] if args.no_cpu else ["cpu"]) + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        G = models.load_generator(args.model, dev)
        if paper:
            result.setdefault("paper_batch", {name: paper_settings(name, G)["batch"] for name in METHODS})
        result[dev] = {name: iterations_per_s(G, name, args.batch, args.iterations, args.warmup, paper) for name in METHODS}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
