"""``main.py evaluate``: the shared measure of quality of a controls file (`methods.evaluate`).

    evaluate --model M --controls C.npz [--samples N] [--test-samples N] [--iterations N]
             [--batch B] [--seed S] [--range LO HI] [--reconstructor lenet|resnet] [--image-size PX]
             [--gen-batch N] [--no-baseline] [--device D] [--quiet] [--out REPORT.json]

Prints one JSON line: RCA of the controls, RCA of as many random directions with the same
budget, and each control's mean image change.  No Qt; errors are one line, exit status 2.
"""
from __future__ import annotations

import json
from pathlib import Path

from methods.controls import ControlSet
from methods.evaluate import EvalConfig, evaluate

from .parser import CliError, finite_float, nonneg_int, positive_int
from .progress import TerminalProgress


def register(sub) -> dict:
    p = sub.add_parser("evaluate", help="measure a controls file: reconstructor accuracy (RCA) vs random directions")
    d = EvalConfig()
    p.add_argument("--model", required=True, help="registry name or checkpoint path")
    p.add_argument("--controls", required=True, help="controls file (.npz) from `main.py discover`")
    p.add_argument("--samples", type=positive_int, default=d.samples,
                   help=f"image pairs the fresh reconstructor trains on (default {d.samples})")
    p.add_argument("--test-samples", type=positive_int, default=d.test_samples,
                   help=f"held-out image pairs it is scored on (default {d.test_samples})")
    p.add_argument("--iterations", type=positive_int, default=d.iterations,
                   help=f"reconstructor training steps (default {d.iterations})")
    p.add_argument("--batch", type=positive_int, default=d.batch, help=f"pairs per step (default {d.batch})")
    p.add_argument("--seed", type=nonneg_int, default=d.seed, help="seed of the pairs, the reconstructor and the random baseline")
    p.add_argument("--range", dest="shift_range", nargs=2, type=finite_float, metavar=("LO", "HI"),
                   help="slider magnitudes of the shifts (default: the method's natural range, else 0.5 3)")
    p.add_argument("--reconstructor", choices=["lenet", "resnet"], default=d.reconstructor,
                   help=f"reconstructor network (default {d.reconstructor})")
    p.add_argument("--image-size", type=positive_int, default=d.image_size,
                   help=f"pairs are shown to the reconstructor at most this size in pixels (default {d.image_size})")
    p.add_argument("--truncation", type=finite_float, default=0.0, help="truncation psi of the latents (default: the model's)")
    p.add_argument("--gen-batch", type=positive_int, default=d.gen_batch,
                   help=f"generator batch while making pairs (memory only; default {d.gen_batch})")
    p.add_argument("--no-baseline", action="store_true", help="skip the random-direction baseline")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out", help="also write the report to this .json file")
    return {"evaluate": cmd_evaluate}


def cmd_evaluate(args) -> int:
    import models
    from models.atomic import atomic_open

    from .commands import resolve_device

    out = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() != ".json":
            raise CliError(f"--out {args.out}: expected a .json file")
        if str(out.parent) and not out.parent.is_dir():
            raise CliError(f"--out {args.out}: folder {out.parent} does not exist")
    lo, hi = args.shift_range if args.shift_range else (0.0, 0.0)
    if args.shift_range and not (0 <= lo <= hi and hi > 0):
        raise CliError("--range LO HI needs 0 <= LO <= HI and HI > 0")
    cs = ControlSet.load(args.controls)
    G = models.load_generator(args.model, resolve_device(args.device))
    cs.check_model(G)
    config = EvalConfig(samples=args.samples, test_samples=args.test_samples, iterations=args.iterations, batch=args.batch,
                        seed=args.seed, shift_min=lo, shift_max=hi, reconstructor=args.reconstructor, image_size=args.image_size,
                        truncation=args.truncation, baseline=not args.no_baseline, gen_batch=args.gen_batch)
    progress = TerminalProgress(enabled=not args.quiet)
    report = evaluate(G, cs, config, progress)
    progress.finish()
    report["controls_file"] = str(args.controls)
    if out is not None:
        with atomic_open(out, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps(report))
    return 0
