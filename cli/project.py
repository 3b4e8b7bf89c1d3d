"""`main.py project`: an image file becomes editable latents (GAN inversion).  No Qt.

    project --model M --image photo.png [--space auto|w|w+|z] [--steps N]
            [--save-latents L.npy] [--save-preset P.json] --out recon.png

It prints one JSON line: PSNR (dB, of the written reconstruction against the cropped and
resized target), steps, seconds.  The reconstruction is rendered from the saved preset's
state, so ``render --preset P.json`` writes the same pixels.  Errors: one line, exit 2.
"""
from __future__ import annotations

import json

import numpy as np

from .parser import CliError, finite_float, nonneg_int, out_file, positive_float, positive_int


def register(sub) -> dict:
    """Add the ``project`` command to the main parser's sub-parsers."""
    p = sub.add_parser("project", help="project an image into the model's latent space (editable reconstruction)")
    p.add_argument("--model", required=True, help="registry name or checkpoint path")
    p.add_argument("--image", required=True, help="the target image (PNG, JPEG, …); centre-cropped and resized")
    p.add_argument("--space", choices=["auto", "w", "w+", "z"], default="auto",
                   help="auto (default): W then W+ for StyleGAN, z for DCGAN/ProGAN/BigGAN")
    p.add_argument("--steps", type=nonneg_int, default=300, help="optimiser steps (default 300)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="initial Adam learning rate (default 0.1)")
    p.add_argument("--init", choices=["auto", "mean", "best"], default="auto",
                   help="start at the mean latent or the best of --candidates samples (auto: mean for W, best for z)")
    p.add_argument("--candidates", type=positive_int, default=64, help="random samples tried for --init best (default 64)")
    p.add_argument("--restarts", type=positive_int, default=4,
                   help="for --init best: the best candidates optimised side by side, the best kept (default 4)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the candidates and the latent noise (default 0)")
    p.add_argument("--class", dest="class_index", type=nonneg_int, help="conditional models: fix the class (default: optimised)")
    p.add_argument("--truncation", type=finite_float, help="BigGAN: batch-norm truncation (default: the model's)")
    p.add_argument("--save-latents", help="also write the latents [num_layers, latent_dim] (.npy)")
    p.add_argument("--save-preset", help="also write a preset (.json) whose base image is the projection")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out", required=True, help="the reconstruction (.png)")
    return {"project": run}


def run(args) -> int:
    from dataclasses import replace

    import models
    from editing import preset as presets
    from editing.export import write_png
    from editing.projection import projected_state
    from editing.render import render_state
    from editing.state import EditState
    from methods.projection import ProjectionConfig, project, psnr, read_image
    from models.atomic import atomic_path

    from .commands import resolve_device
    from .progress import TerminalProgress

    out = out_file(args.out, (".png",))
    save_lat = out_file(args.save_latents, (".npy",), "--save-latents") if args.save_latents else None
    save_preset = out_file(args.save_preset, (".json",), "--save-preset") if args.save_preset else None
    if args.truncation is not None and not 0.0 < args.truncation <= 1.0:
        raise CliError("--truncation must lie in (0, 1]")
    image = read_image(args.image)  # a bad image fails before the (slower) model loads
    G = models.load_generator(args.model, resolve_device(args.device))
    if args.class_index is not None and (G.classes is None or args.class_index >= len(G.classes)):
        raise CliError(f"--class {args.class_index}: {G.name} " + ("is not class-conditional" if G.classes is None
                                                                  else f"has {len(G.classes)} classes"))
    config = ProjectionConfig(space=args.space, steps=args.steps, lr=args.lr, init=args.init, candidates=args.candidates, restarts=args.restarts,
                              seed=args.seed, class_index=-1 if args.class_index is None else args.class_index,
                              truncation=args.truncation or 0.0)
    progress = TerminalProgress(enabled=not args.quiet)
    result = project(G, image, config, progress)
    progress.finish()
    state = projected_state(replace(EditState(model=args.model), truncation=G.default_truncation), result)
    frame = render_state(G, state)
    written: list = []
    fresh = {p for p in (out, save_lat, save_preset) if p is not None and not p.exists()}
    try:
        write_png(out, frame)
        written.append(out)
        if save_lat is not None:
            with atomic_path(save_lat, suffix=".npy") as tmp:
                np.save(tmp, state.latents.array, allow_pickle=False)
            written.append(save_lat)
        if save_preset is not None:
            presets.save(save_preset, state, G.fingerprint)
    except BaseException:
        for path in written:  # no partial output (files that were there before stay)
            if path in fresh:
                path.unlink(missing_ok=True)
        raise
    print(json.dumps({"out": str(out), "psnr": round(psnr(frame, result.target), 3), "steps": result.steps,
                      "seconds": round(result.seconds, 3), "space": result.space,
                      **({"class": result.class_index, "class_mix": result.class_mix} if result.class_index is not None else {})}))
    return 0
