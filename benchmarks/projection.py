"""Projection (GAN inversion) and InterFaceGAN boundaries, on CPU.

    python benchmarks/projection.py [--images 4] [--steps 300] [--sg2-steps 300] [--threads 1]

Prints one JSON line:
- ``dcgan-faces``: PSNR (dB) and seconds per image of `methods.projection.project` at
  ``--steps`` steps on images the generator made (seeds 1000…, the true z known: also its
  recovery, the cosine and relative distance of the projected z to the true one), on the
  same images shifted right by 4 px (edge pixels repeated) and mirrored left-right (images
  it did not make), and the PSNR a random sample reaches (the floor);
- the StyleGAN2 fixture (``tests/data/stylegan2``, random weights, 64 px): W only, and W then
  W+, on generated images;
- boundary: the cosine between a known direction and the SVM normal recovered from its
  sign on 1000 labelled seeds (dcgan-faces z and the StyleGAN2 fixture's W), held-out accuracy.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import machine

import cv2
import numpy as np
import torch

import models
from editing.render import to_uint8
from methods.boundary import seed_latents, train_boundary
from methods.projection import ProjectionConfig, prepare_target, project, psnr

SG2 = Path(__file__).resolve().parents[1] / "tests" / "data" / "stylegan2" / "stylegan2_small_A.pt"


def shifted(img: np.ndarray, px: int = 4) -> np.ndarray:
    return cv2.copyMakeBorder(img, 0, 0, px, 0, cv2.BORDER_REPLICATE)[:, : img.shape[1]].copy()


def summary(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def run_set(G, images, config) -> dict:
    ps, secs, results = [], [], []
    for img in images:
        r = project(G, img, config)
        ps.append(r.psnr)
        secs.append(r.seconds)
        results.append(r)
    return {"psnr": summary(ps), "seconds_per_image": round(statistics.mean(secs), 2)}, results


def bench_dcgan(n: int, steps: int) -> dict:
    G = models.load_generator("dcgan-faces", "cpu")
    seeds = list(range(1000, 1000 + n))
    with torch.no_grad():
        z_true = G.sample_z(n, 1000)
        images = list(to_uint8(G.synthesize(G.map(z_true))))
        floor = [psnr(to_uint8(G.synthesize(G.sample(1, 5000 + i)))[0], img) for i, img in enumerate(images)]
    config = ProjectionConfig(steps=steps)
    out = {"images": n, "steps": steps, "random_sample_psnr": summary(floor)}
    gen, results = run_set(G, images, config)
    z = torch.cat([r.latents[:, 0] for r in results])
    gen["z_cosine"] = round(float(torch.nn.functional.cosine_similarity(z, z_true).mean()), 4)
    gen["z_relative_distance"] = round(float(((z - z_true).norm(dim=1) / z_true.norm(dim=1)).mean()), 4)
    out["generated"] = gen
    out["shifted_4px"], _ = run_set(G, [shifted(i) for i in images], config)
    out["mirrored"], _ = run_set(G, [np.ascontiguousarray(i[:, ::-1]) for i in images], config)
    out["seeds"] = [seeds[0], seeds[-1]]
    return out


def bench_sg2(n: int, steps: int) -> dict:
    G = models.load_generator(SG2, "cpu")
    with torch.no_grad():
        images = list(to_uint8(G.synthesize(G.sample(n, 1000), noise_mode="fixed")))
        mean = to_uint8(G.synthesize(G.latent_avg.expand(1, G.num_layers, -1).clone(), noise_mode="fixed"))[0]
    out = {"images": n, "steps": steps, "mean_latent_psnr": summary([psnr(mean, prepare_target(i, G.resolution)) for i in images])}
    out["w"], _ = run_set(G, images, ProjectionConfig(steps=steps, space="w"))
    out["w_then_w_plus"], _ = run_set(G, images, ProjectionConfig(steps=steps, space="w+"))
    return out


def bench_boundary() -> dict:
    out = {}
    for name, spec in (("dcgan-faces", "dcgan-faces"), ("stylegan2_fixture", SG2)):
        G = models.load_generator(spec, "cpu")
        x = seed_latents(G, np.arange(1000), 1.0)[:, 0].double().numpy()
        d = np.random.default_rng(1).standard_normal(G.latent_dim)
        d /= np.linalg.norm(d)
        y = ((x - x.mean(0)) @ d > 0).astype(int)
        t = time.perf_counter()
        n, fig = train_boundary(x, y)
        out[name] = {"space": "z" if name == "dcgan-faces" else "w", "labels": 1000, "cosine": round(float(n @ d), 4),
                     "val_accuracy": round(fig["val_accuracy"], 4), "svm_seconds": round(time.perf_counter() - t, 3)}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--sg2-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result = {"benchmark": "projection", "machine": machine(),
              "dcgan_faces": bench_dcgan(args.images, args.steps),
              "stylegan2_fixture": bench_sg2(args.images, args.sg2_steps),
              "boundary": bench_boundary(),
              "note": "CPU, machine shared with other jobs: timings are noisy"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
