"""End-to-end frame time of the default model: EditState -> uint8 frame on the host.

The path the render worker runs per frame (`editing.render.render_state`): sample the
seed, truncate, apply 40 GANSpace-like controls with 5 active, synthesize, convert.
Prints one JSON line; CPU always, CUDA when present.

    python benchmarks/render.py [--model dcgan-faces] [--frames 200]
"""
from __future__ import annotations

import argparse
import json

from common import machine, time_ms

import numpy as np
import torch

import models
from editing.render import render_state
from editing.state import EditState
from methods.controls import random_controls


def measure(spec: str, device: str, frames: int) -> dict:
    G = models.load_generator(spec, device)
    cs = random_controls(G, 40, seed=0)
    state = EditState(model=spec).with_controls(cs)
    rng = np.random.default_rng(0)
    seq = [state.with_values(np.where(np.arange(40) < 5, rng.normal(size=40), 0.0)) for _ in range(frames + 2)]
    it = iter(seq)
    out = time_ms(lambda: render_state(G, next(it)), frames, warmup=2, cuda=device != "cpu")
    out["fps"] = round(1000 / out["ms_median"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    result = {"benchmark": "render", "model": args.model, "unit": "ms per frame, batch 1, end to end to a host uint8 frame",
              "machine": machine(), "cpu": measure(args.model, "cpu", args.frames)}
    if torch.cuda.is_available():
        result["cuda"] = measure(args.model, "cuda", args.frames)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
