"""BigGAN-deep render speed: ms per frame, per-block latents -> synthesize -> uint8 HWC on the host.

Random weights (no download) in the published biggan-deep-128/256/512 layouts (channel
width 128, z 128, 1000 classes; ``--channel-width`` narrows them).  Batch 1, float32,
truncation 0.4, one fixed class, on the CPU and, when there is one, on CUDA.  Prints one
JSON line.

    python benchmarks/biggan_render.py [--sizes 128,256,512] [--frames N] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.biggan import BigGANConfig, BigGANGenerator, BigGANNet  # noqa: E402

#: frames timed per size on the CPU when --frames is not given (512 px takes seconds a frame on 2 cores)
DEFAULT_FRAMES = {128: 5, 256: 3, 512: 2}
CUDA_FRAMES = 50


def to_host_uint8(images: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` in [-1, 1] -> ``out`` (host ``[B, H, W, 3]`` uint8), as the render worker does."""
    frame = ((images.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8).permute(0, 2, 3, 1)
    out.copy_(frame, non_blocking=out.is_pinned())
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    return out


@torch.no_grad()
def time_size(size: int, device: str, frames: int, channel_width: int) -> dict:
    cfg = BigGANConfig.published(size, channel_width)
    net = BigGANNet(cfg).randomize_(seed=0)
    G = BigGANGenerator(net, device, name=f"random-{size}", fingerprint="")
    latents = G.sample(1, seed=1)
    classes = torch.tensor([G.default_class], device=G.device)
    host = torch.empty(1, size, size, 3, dtype=torch.uint8, pin_memory=device.startswith("cuda"))
    to_host_uint8(G.synthesize(latents, classes), host)  # warm-up (allocator, kernel choice, spectral-norm cache)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        to_host_uint8(G.synthesize(latents, classes), host)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "ms_per_frame": round(statistics.median(times), 2),
        "ms_min": round(min(times), 2),
        "frames": frames,
        "num_layers": G.num_layers,
        "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="128,256,512", help="comma-separated resolutions out of 128, 256, 512")
    ap.add_argument("--frames", type=int, default=None, help="timed frames per size (default: CPU 5 / 3 / 2, CUDA 50)")
    ap.add_argument("--channel-width", type=int, default=128, help="channel width (128 = the released models)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    ap.add_argument("--no-cuda", action="store_true", help="skip CUDA even when available")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s not in (128, 256, 512)]
    if bad:
        ap.error(f"sizes must be 128, 256 or 512, not {bad[0]}")
    devices = ([] if args.no_cpu else ["cpu"]) + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])
    result: dict = {
        "benchmark": "biggan_render",
        "unit": "ms per frame, batch 1, float32, per-block latents -> uint8 HWC on host (median)",
        "channel_width": args.channel_width,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_name": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if "cuda" in devices:
        torch.backends.cudnn.benchmark = True
        result["cuda_device"] = torch.cuda.get_device_name(0)
        result["cuda_tf32_convs"] = torch.backends.cudnn.allow_tf32
    for device in devices:
        result[device] = {}
        for size in sizes:
            frames = args.frames or (CUDA_FRAMES if device == "cuda" else DEFAULT_FRAMES[size])
            result[device][str(size)] = time_size(size, device, frames, args.channel_width)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
