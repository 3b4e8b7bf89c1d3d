"""Frames of fixed states rendered in many fresh processes at varied thread counts: one hash each?

Each worker process (``--worker``) renders, through `editing.render.render_state`, one
state of ``dcgan-faces``, of the 64 px StyleGAN2 test fixture and of a tiny random
BigGAN-deep (channel width 4), and prints their SHA-256.  The parent starts
``--processes`` workers in turn with ``OMP_NUM_THREADS`` cycling through ``--threads``
and prints one JSON line: per model, the number of distinct hashes (1 = reproducible).

    python benchmarks/frame_hashes.py [--processes 60] [--threads 1,2,3] [--jobs 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STYLEGAN2_FIXTURE = ROOT / "tests" / "data" / "stylegan2" / "stylegan2_small_A.pt"


def frame_hashes() -> dict[str, str]:
    """SHA-256 of one fixed state's frame per model, rendered in this process."""
    sys.path.insert(0, str(ROOT))
    import torch

    import models
    from editing.render import render_state
    from editing.state import EditState
    from models.biggan import BigGANConfig, BigGANGenerator, BigGANNet

    out: dict[str, str] = {}
    gens = {"dcgan-faces": lambda: models.load_generator("dcgan-faces")}
    if STYLEGAN2_FIXTURE.is_file():
        gens["stylegan2-64"] = lambda: models.load_generator(STYLEGAN2_FIXTURE)
    gens["biggan-tiny"] = lambda: BigGANGenerator(BigGANNet(BigGANConfig.published(128, 4)).randomize_(seed=0), "cpu",
                                                  name="biggan-tiny", fingerprint="")
    for name, make in gens.items():
        G = make()
        state = EditState(model=name, seed=5, truncation=0.7 if G.family != "dcgan" else 1.0)
        out[name] = hashlib.sha256(render_state(G, state).tobytes()).hexdigest()
    out["threads"] = str(torch.get_num_threads())
    return out


def _worker(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker"], capture_output=True, text=True,
                       env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"a worker failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=60, help="fresh processes to start (default 60)")
    ap.add_argument("--threads", default="1,2,3", help="OMP_NUM_THREADS values to cycle through (default 1,2,3)")
    ap.add_argument("--jobs", type=int, default=2, help="workers running at once (default 2)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(frame_hashes()))
        return
    counts = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.processes < 1 or not counts or min(counts) < 1:
        raise SystemExit("--processes and every --threads value must be at least 1")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(_worker, [counts[i % len(counts)] for i in range(args.processes)]))
    models = [k for k in results[0] if k != "threads"]
    print(json.dumps({
        "benchmark": "frame_hashes",
        "processes": args.processes,
        "threads": counts,
        "distinct_hashes": {m: len({r[m] for r in results}) for m in models},
        "hashes": {m: sorted({r[m][:16] for r in results}) for m in models},
        "seconds": round(time.perf_counter() - t0, 1),
    }))


if __name__ == "__main__":
    main()
