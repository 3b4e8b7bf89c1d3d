"""Speed-up of discovery on several processes (torch.distributed, launched like torchrun).

    python benchmarks/distributed.py [--procs 1,2] [--device cpu|cuda] [--model dcgan-faces]
                                     [--samples 4000] [--iterations 30] [--threads 1]

For each process count N it starts ``python -m torch.distributed.run --nproc-per-node N``
on 127.0.0.1 running this script's ``--worker`` mode, which times (after loading the model,
so process start-up is not counted) GANSpace's sampling (``block1`` of the default model,
exact covariance of ``--samples`` samples plus as many regression samples) and LatentCLR's
training (linear directions, K = 8, batch 16, ``--iterations``).  Each process gets
``--threads`` CPU threads (on the CPU, N processes use N × threads cores).  With
``--device cuda`` each process takes one GPU (N at most the number of GPUs).  Prints one
JSON line: seconds per process count and the speed-up over the first count.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import machine

HERE = Path(__file__).resolve()


def worker(args) -> None:
    import torch

    import models
    from methods import distributed, ganspace, latentclr

    torch.set_num_threads(args.threads)
    with distributed.session(args.device) as world:
        G = models.load_generator(args.model, distributed.device())
        cfg = ganspace.GANSpaceConfig(layer="block1", samples=args.samples, regression_samples=args.samples,
                                      components=20, estimator="exact", batch=100)
        t = time.perf_counter()
        ganspace.discover(G, cfg)
        gan_s = time.perf_counter() - t
        clr = latentclr.LatentCLRConfig(direction_model="linear", components=8, batch=16, iterations=args.iterations)
        t = time.perf_counter()
        latentclr.discover(G, clr)
        clr_s = time.perf_counter() - t
        if world.main:
            print(json.dumps({"ganspace_s": round(gan_s, 3), "latentclr_s": round(clr_s, 3), "world_size": world.size}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n: int, args) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(n),
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), str(HERE), "--worker",
           "--device", args.device, "--model", args.model, "--samples", str(args.samples),
           "--iterations", str(args.iterations), "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parents[1])
    if r.returncode != 0:
        raise SystemExit(f"{n} processes failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--procs", default="1,2")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default="dcgan-faces")
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    counts = [int(c) for c in args.procs.split(",")]
    runs = {n: launch(n, args) for n in counts}
    base = runs[counts[0]]
    print(json.dumps({
        "benchmark": "distributed", "device": args.device, "model": args.model, "samples": args.samples,
        "iterations": args.iterations, "threads_per_process": args.threads, "machine": machine(),
        "seconds": {str(n): r for n, r in runs.items()},
        "speedup": {str(n): {"ganspace": round(base["ganspace_s"] / r["ganspace_s"], 2),
                             "latentclr": round(base["latentclr_s"] / r["latentclr_s"], 2)} for n, r in runs.items()},
    }))


if __name__ == "__main__":
    main()
