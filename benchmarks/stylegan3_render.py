"""StyleGAN3 render speed: ms per frame, W+ -> synthesize -> uint8 HWC on the host.

Random weights (no download) of the real StyleGAN3-T and StyleGAN3-R configurations as
NVIDIA's train.py builds them (z = w = 512, 2 mapping layers; T: cbase 32768, cmax 512,
3x3 convs; R: cbase 65536, cmax 1024, 1x1 convs, radial filters), at 256 and 1024 px.
The filters are designed as NVIDIA designs them.  Batch 1, truncation 0.7, on the CPU and,
when there is one, on CUDA; also with a translated and rotated view (the viewer's headline
control), which costs the same.  Prints one JSON line.

    python benchmarks/stylegan3_render.py [--sizes 256,1024] [--kinds T,R] [--frames N] [--threads T]
                                          [--warmup N] [--no-transformed] [--devices cpu,cuda]
"""
from __future__ import annotations

import argparse
import json
import torch

from common import machine, time_ms  # also puts the repository on sys.path

from models.frames import to_uint8  # noqa: E402
from models.nvidia import random_generator  # noqa: E402

#: frames timed per size when --frames is not given (1024 px takes many seconds a frame on a CPU)
DEFAULT_FRAMES = {256: 3, 1024: 1}


def init_kwargs(kind: str, size: int) -> dict:
    """NVIDIA train.py's ``G_kwargs`` for ``--cfg=stylegan3-t`` / ``stylegan3-r`` at ``size`` px."""
    kw = {"z_dim": 512, "w_dim": 512, "c_dim": 0, "img_resolution": size, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 2}, "channel_base": 32768, "channel_max": 512,
          "magnitude_ema_beta": 0.5 ** (32 / 20000)}
    if kind == "R":
        kw.update(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)
    return kw


@torch.no_grad()
def time_one(kind: str, size: int, device: str, frames: int, warmup: int = 1, transformed: bool = True) -> dict:
    G = random_generator("stylegan3", init_kwargs(kind, size), seed=0, device=device)
    lat = G.truncate(G.sample(1, 1), 0.7)
    view = G.view_transform((0.125, -0.0625), 10.8).to(device)
    cuda = device.startswith("cuda")
    t = time_ms(lambda: to_uint8(G.synthesize(lat), "nvidia"), frames, warmup, cuda)
    out = {"ms_per_frame": t["ms_median"], "ms_min": t["ms_min"], "frames": frames,
           "params_M": round(sum(p.numel() for p in G.net.parameters()) / 1e6, 2), "num_ws": G.num_layers}
    if transformed:
        out["ms_per_frame_transformed"] = time_ms(
            lambda: to_uint8(G.synthesize(lat, transform=view), "nvidia"), frames, warmup, cuda)["ms_median"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--kinds", default="T,R")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=1, help="untimed frames first (default 1)")
    ap.add_argument("--no-transformed", action="store_true", help="skip timing the translated/rotated view")
    ap.add_argument("--devices", default=None, help="comma-separated; default cpu (and cuda when available)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results: dict = {}
    for device in devices:
        for kind in args.kinds.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                frames = args.frames or (DEFAULT_FRAMES.get(size, 3) if device == "cpu" else 20)
                results[f"{device}/SG3-{kind}/{size}"] = time_one(kind, size, device, frames, args.warmup,
                                                                 not args.no_transformed)
    print(json.dumps({"benchmark": "stylegan3_render", "machine": machine(), "batch": 1, "results": results}))


if __name__ == "__main__":
    main()
