"""StyleGAN2 render speed: ms per frame through `editing.render.render_state`, against rosinality.

Random weights (no download): the real configuration (style_dim 512, n_mlp 8, channel
multiplier 2, standard channel table) at 256 and 1024 px, and the 64 px test-fixture
configuration (style_dim 128, n_mlp 4, channels / 8).  Batch 1, fixed noise, truncation
0.7, on the CPU and, when there is one, on CUDA.  Per size, interleaved (each repeat times
every path once, so load from other programs hits all alike; min and median reported):

- ``exact``: the frame users get — `render_state` of an `EditState` (seed -> z -> W ->
  truncation -> synthesis -> host uint8), on the kernels `render_state` picks;
- ``fast``: ``render_state(..., fast=True)`` with the fast path allowed on the device
  (`models.stylegan2_fast`; on CUDA float16 from the calibrated resolution and CUDA graphs);
- ``rosinality``: the same seed's z through rosinality/stylegan2-pytorch's op order
  (`rosinality_ops`, its own package cannot be installed), with PyTorch's default
  kernels, and the same uint8 conversion.

``ratio_to_rosinality`` is exact min / rosinality min; ``max_level_diff`` compares uint8
frames.  Prints one JSON line.

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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from editing.render import render_state, to_uint8  # noqa: E402
from editing.state import EditState  # noqa: E402
from models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, build_net  # noqa: E402
from rosinality_ops import rosinality_forward, rosinality_latent  # noqa: E402

#: timed repeats per size on the CPU when --frames is not given (1024 px takes seconds a frame)
DEFAULT_FRAMES = {64: 30, 256: 5, 1024: 2}
CUDA_FRAMES = 50
PSI = 0.7


def config_for(size: int) -> StyleGAN2Config:
    """64 px: the fixture's small configuration; other sizes: the real config-f layout."""
    if size == 64:
        return StyleGAN2Config.standard(64, style_dim=128, n_mlp=4, channel_multiplier=2, channel_divisor=8)
    return StyleGAN2Config.standard(size, style_dim=512, n_mlp=8, channel_multiplier=2)


def _interleaved_ms(paths: dict, repeats: int, cuda: bool) -> dict[str, dict]:
    """Each repeat runs every path once in turn; per path min and median ms (after a warm-up)."""
    for fn in paths.values():
        fn()  # warm-up: allocator, kernel selection, fast-path build and graph capture
    times: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(repeats):
        for k, fn in paths.items():
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            times[k].append((time.perf_counter() - t0) * 1000)
    return {k: {"ms_min": round(min(v), 2), "ms_median": round(statistics.median(v), 2)} for k, v in times.items()}


@torch.no_grad()
def time_size(size: int, device: str, frames: int, fast: bool = True) -> dict:
    """Our exact frame (and fast preview) through `render_state` against rosinality's op order."""
    cfg = config_for(size)
    net = build_net(cfg, init=True, seed=0)
    # latent_avg given, so no 10,000-sample estimate is made just to benchmark rendering
    avg = 0.01 * torch.randn(cfg.style_dim, generator=torch.Generator().manual_seed(3))
    G = StyleGAN2Generator(net, device, name=f"random-{size}", fingerprint="", latent_avg=avg)
    if fast:
        G.fast_path_devices = (G.device.type,)  # also time the fast path where it is not the default
    state = EditState(model=G.name, seed=1, truncation=PSI)
    z = G.sample_z(1, state.seed)
    avg_dev = G.latent_avg

    def rosinality() -> "object":
        return to_uint8(rosinality_forward(G.net, rosinality_latent(G.net, z, PSI, avg_dev)))[0]

    paths = {"exact": lambda: render_state(G, state), "rosinality": rosinality}
    if fast:
        paths["fast"] = lambda: render_state(G, state, fast=True)
    timing = _interleaved_ms(paths, frames, device.startswith("cuda"))
    exact, ref = render_state(G, state), rosinality()
    out = {
        "exact": timing["exact"],
        "rosinality": timing["rosinality"],
        "ratio_to_rosinality": round(timing["exact"]["ms_min"] / timing["rosinality"]["ms_min"], 3),
        "max_level_diff_vs_rosinality": int(abs(exact.astype(int) - ref.astype(int)).max()),
        "repeats": frames,
        "n_latent": cfg.n_latent,
        "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
    }
    if fast:
        frame = render_state(G, state, fast=True)
        info = G.fast_info
        out["fast"] = {
            **timing["fast"],
            "speed_up_vs_exact": round(timing["exact"]["ms_min"] / timing["fast"]["ms_min"], 2),
            "half_from": info["half_from"],
            "calibrated_max_error_255": round(info["max_error"] * 255, 3),
            "calibration_255": {str(r): round(e * 255, 3) for r, e in info["calibration"].items()},
            "cuda_graphs": info["graphs"],
            "max_level_diff_vs_exact": int(abs(frame.astype(int) - exact.astype(int)).max()),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,256,1024", help="comma-separated resolutions (powers of two, 8..1024)")
    ap.add_argument("--frames", type=int, default=None,
                    help="timed repeats per size (default: 30 / 5 / 2 for 64 / 256 / 1024 on the CPU, 50 on CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    ap.add_argument("--no-cuda", action="store_true", help="skip CUDA even when available")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU (e.g. 1024 px on a GPU machine)")
    ap.add_argument("--no-fast", action="store_true", help="time only the exact path and the reference")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    devices = ([] if args.no_cpu else ["cpu"]) + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])
    result: dict = {
        "benchmark": "stylegan2_render",
        "unit": "ms per frame, batch 1, seed -> uint8 HWC on host through render_state; min and median of "
                "interleaved repeats; rosinality = its op order on PyTorch's default kernels",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_model": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if "cuda" in devices:
        torch.backends.cudnn.benchmark = True
        result["cuda_device"] = torch.cuda.get_device_name(0)
        result["cuda_tf32_convs"] = torch.backends.cudnn.allow_tf32
    for device in devices:
        result[device] = {}
        for size in sizes:
            frames = args.frames or (CUDA_FRAMES if device == "cuda" else DEFAULT_FRAMES.get(size, 3))
            result[device][str(size)] = time_size(size, device, frames, fast=not args.no_fast)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
