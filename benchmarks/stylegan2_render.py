"""StyleGAN2 render speed: ms per frame, latents -> synthesize -> uint8 HWC on the host.

Random weights (no download): the real configuration (style_dim 512, n_mlp 8, channel
multiplier 2, standard channel table) at 256 and 1024 px, and the 64 px test-fixture
configuration (style_dim 128, n_mlp 4, channels / 8).  Batch 1, fixed noise, on the CPU
and, when there is one, on CUDA.  Each size times the reference path (float32
``G.synthesize``) and the fast path (`models.stylegan2_fast`: fixed weights with
modulated activations, channels-last; on CUDA also float16 from the resolution the
1/255 calibration picks, and CUDA graphs), and reports the largest per-pixel difference
between their uint8 frames.  Prints one JSON line.

    python benchmarks/stylegan2_render.py [--sizes 64,256,1024] [--frames N] [--threads T] [--no-fast]
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

from models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, build_net  # noqa: E402

#: frames timed per size when --frames is not given (1024 px takes seconds a frame on a laptop CPU)
DEFAULT_FRAMES = {64: 20, 256: 4, 1024: 2}


def config_for(size: int) -> StyleGAN2Config:
    """64 px: the fixture's small configuration; other sizes: the real config-f layout."""
    if size == 64:
        return StyleGAN2Config.standard(64, style_dim=128, n_mlp=4, channel_multiplier=2, channel_divisor=8)
    return StyleGAN2Config.standard(size, style_dim=512, n_mlp=8, channel_multiplier=2)


def to_host_uint8(images: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` in [-1, 1] -> ``out`` (host ``[B, H, W, 3]`` uint8), as the render worker does."""
    frame = ((images.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8).permute(0, 2, 3, 1)
    out.copy_(frame, non_blocking=out.is_pinned())
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    return out


def _median_ms(render, frames: int) -> tuple[float, float]:
    render()  # warm-up (allocator, kernel selection, graph capture)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        render()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2), round(min(times), 2)


@torch.no_grad()
def time_size(size: int, device: str, frames: int, fast: bool = True) -> dict:
    """The reference path (``G.synthesize`` + conversion) and, with ``fast``, the fast path
    (`models.stylegan2_fast`: float16 where calibrated and CUDA graphs on CUDA, float32 on
    the CPU), with the largest per-pixel difference between their uint8 frames."""
    cfg = config_for(size)
    net = build_net(cfg, init=True, seed=0)
    # latent_avg given, so no 10,000-sample estimate is made just to benchmark rendering
    G = StyleGAN2Generator(net, device, name=f"random-{size}", fingerprint="", latent_avg=torch.zeros(cfg.style_dim))
    latents = G.truncate(G.sample(1, seed=1), 0.7)
    host = torch.empty(1, size, size, 3, dtype=torch.uint8, pin_memory=device.startswith("cuda"))
    ms, ms_min = _median_ms(lambda: to_host_uint8(G.synthesize(latents), host), frames)
    out = {
        "ms_per_frame": ms,
        "ms_min": ms_min,
        "frames": frames,
        "n_latent": cfg.n_latent,
        "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
    }
    if fast:
        G.fast_path_devices = (device,)  # also time the fast path on the CPU
        exact = to_host_uint8(G.synthesize(latents), host).numpy().copy()
        t0 = time.perf_counter()
        frame = G.fast_frames(latents)  # builds it: calibration (CUDA), weight copies
        build_s = time.perf_counter() - t0
        fms, fms_min = _median_ms(lambda: G.fast_frames(latents), frames)
        info = G.fast_info
        out["fast"] = {
            "ms_per_frame": fms,
            "ms_min": fms_min,
            "speed_up": round(ms / fms, 2),
            "half_from": info["half_from"],
            "calibrated_max_error_255": round(info["max_error"] * 255, 3),
            "calibration_255": {str(r): round(e * 255, 3) for r, e in info["calibration"].items()},
            "cuda_graphs": info["graphs"],
            "max_level_diff_vs_reference": int(abs(frame.astype(int) - exact.astype(int)).max()),
            "build_s": round(build_s, 2),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,256,1024", help="comma-separated resolutions (powers of two, 8..1024)")
    ap.add_argument("--frames", type=int, default=None, help="timed frames per size (default: 20 / 4 / 2 for 64 / 256 / 1024)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    ap.add_argument("--no-cuda", action="store_true", help="skip CUDA even when available")
    ap.add_argument("--no-fast", action="store_true", help="time only the reference path")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])
    result: dict = {
        "benchmark": "stylegan2_render",
        "unit": "ms per frame, batch 1, latents -> uint8 HWC on host (median); reference path float32, 'fast' the fast path",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_model": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if "cuda" in devices:
        torch.backends.cudnn.benchmark = True
        result["cuda_device"] = torch.cuda.get_device_name(0)
        result["cuda_tf32_convs"] = torch.backends.cudnn.allow_tf32
    for device in devices:
        result[device] = {}
        for size in sizes:
            frames = args.frames or DEFAULT_FRAMES.get(size, 3)
            if device == "cuda":
                frames = args.frames or 50
            result[device][str(size)] = time_size(size, device, frames, fast=not args.no_fast)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
