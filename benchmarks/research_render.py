"""Render speed of the research families at their real channel tables: ms per frame, batch 1,
latents -> ``synthesize`` -> host uint8 (each family's own byte conversion), CPU, float32.

Random weights (no download) in the full-size layouts the fixtures' key lists describe:
ProGAN (ptrblck/netdissect channel table 512…16), StyleGAN (v1) FFHQ (fmap_base 8192,
fmap_max 512) and genforce StyleGAN2 (fmaps_base 32768, fmaps_max 512), at the resolutions
given (the channel table is cut there).  Prints one JSON line.

    python benchmarks/research_render.py [--sizes 256,1024] [--frames N] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import math

from common import machine, time_ms

import torch

from models.frames import to_uint8
from models.genforce_stylegan2 import GenforceStyleGAN2Config, GenforceStyleGAN2Generator, GenforceStyleGAN2Net
from models.progan import ProGANConfig, ProGANGenerator, ProGANNet
from models.stylegan1 import StyleGAN1Config, StyleGAN1Generator, StyleGAN1Net

PGGAN_CHANNELS = [512, 512, 512, 512, 512, 256, 128, 64, 32, 16]  # 4 … 1024 px


@torch.no_grad()
def randomize(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Unit-scale weights (the stored convention of every equalized-learning-rate layer), zero biases."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in net.named_parameters():
        if name.endswith(("bias", ".b")):
            p.zero_()
        elif name.endswith("scale"):
            p.fill_(0.05)
        else:
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


def generators(size: int):
    n = int(math.log2(size)) - 1
    yield "progan_ptrblck", ProGANGenerator(randomize(ProGANNet(ProGANConfig((512, *PGGAN_CHANNELS[:n]), "ptrblck"))))
    yield "stylegan1_lernapparat", StyleGAN1Generator(randomize(StyleGAN1Net(StyleGAN1Config.from_fmaps("lernapparat", size))))
    yield "stylegan2_genforce", GenforceStyleGAN2Generator(randomize(GenforceStyleGAN2Net(GenforceStyleGAN2Config.from_fmaps(size))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out: dict = {"benchmark": "research_render", "machine": machine(), "batch": 1, "results": {}}
    for size in (int(s) for s in args.sizes.split(",")):
        for name, G in generators(size):
            lat = G.sample(1, 1)
            with torch.no_grad():
                t = time_ms(lambda: to_uint8(G.synthesize(lat), G.uint8_convention), args.frames, warmup=1)
            out["results"][f"{name}_{size}"] = {**t, "params_M": round(sum(p.numel() for p in G.net.parameters()) / 1e6, 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
