"""The headless commands: models, methods, discover, render, export.

They use the same code as the GUI (`editing`, `methods`, `models`) and never import Qt.
Every user error ends as one line on stderr and exit status 2, with no output file.
"""
from __future__ import annotations

import json
import math
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import torch

import models
from models.atomic import write_files_atomic
from models.bounded import set_memory_budget
from editing import preset as presets
from editing.export import ExportError, encode_png, export_seed_walk_video, export_sweep_video, export_view_video, grid_image, strip_image, write_png
from editing.preset import PresetError
from editing.render import render_state
from editing.state import EditState
from methods import distributed
from methods.cache import discover_cached
from methods.controls import ControlSet, ControlSetError, validate_range
from methods.jobs import Cancelled, MethodError, error_line, log_traceback, one_line
from methods.paper_settings import PAPER_METHODS, paper_settings
from methods.registry import METHODS, MethodSpec

from .limits import LimitError, check_images_fit, refuse_output_onto_input
from .parser import CliError, build_parser, out_file
from .progress import TerminalProgress

USER_ERRORS = (LimitError, models.LoadError, ControlSetError, PresetError, ExportError, MethodError, CliError)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise CliError(f"{name!r} is not a device (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CliError(f"device {name} was asked for but no CUDA GPU is available")
    if dev.type not in ("cpu", "cuda"):
        raise CliError(f"device {name} is not supported (use cpu or cuda)")
    return dev


# ---------------------------------------------------------------------- listing
def cmd_models(args) -> int:
    from models.families import CHECKPOINT_LAYOUTS

    rows = []
    for name, entry in models.REGISTRY.items():
        path = entry.locate()
        rows.append({"name": name, "kind": "model", "installed": path is not None, "path": str(path) if path else None,
                     "description": entry.description})
    layouts = [{"name": family, "kind": "family", "description": files} for family, files in CHECKPOINT_LAYOUTS]
    if args.json:
        print(json.dumps(rows + layouts))
        return 0
    for r in rows:
        state = "installed" if r["installed"] else "not installed"
        print(f"{r['name']:<14} {state:<14} {r['description']}")
    print("\nAny checkpoint path of these families also works (sniffed by content):")
    for r in layouts:
        print(f"  {r['name']:<12} {r['description']}")
    return 0


def cmd_methods(args) -> int:
    rows = [{"name": s.name, "summary": s.summary,
             "options": [{"name": n, "type": t.__name__, "default": d, "help": h} for n, t, d, h in s.options()]}
            for s in METHODS.values()]
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['name']}: {r['summary']}")
        for o in r["options"]:
            print(f"    --{o['name'].replace('_', '-'):<22} {o['help']} (default {o['default']!r})")
    return 0


# ---------------------------------------------------------------------- discover
def discover_config(args, G=None) -> tuple[MethodSpec, object]:
    """The method of a parsed ``discover`` command line and its config: the options given, the
    rest from ``--resume``'s folder, from the paper's settings for ``G`` (``--settings paper``,
    once the model is loaded) or the method's own defaults (the parser's are all None)."""
    spec = METHODS[args.method]
    values = {n: getattr(args, n) for n, *_ in spec.options() if getattr(args, n, None) is not None}
    # options of other methods given by mistake
    own = {n for n, *_ in spec.options()}
    stray = [n for spec2 in METHODS.values() for n, *_ in spec2.options() if n not in own and getattr(args, n, None) is not None]
    if stray:
        raise CliError(f"--{stray[0].replace('_', '-')} is not an option of {args.method}")
    resume = getattr(args, "resume", None)
    if getattr(args, "settings", "quick") == "paper":
        if args.method not in PAPER_METHODS:
            raise CliError(f"--settings paper: {args.method} has no published settings here; "
                           f"they exist for {', '.join(PAPER_METHODS)}")
        if resume:
            raise CliError("--settings paper cannot be combined with --resume: the job folder holds the run's settings")
        if G is not None:
            values = {**paper_settings(args.method, G), **values}
    if resume:
        values = _resume_values(args.method, own, values, resume)
    return spec, spec.make_config(**values)


#: methods that split their work over the processes of ``torchrun`` (`methods.distributed`)
DISTRIBUTED_METHODS = ("ganspace", "latentclr", "warped", "voynov")


def cmd_discover(args) -> int:
    out = out_file(args.out, (".npz",))
    spec, config = discover_config(args)  # bad options fail before the model loads
    resume = getattr(args, "resume", None)
    found = distributed.env_world()
    if found is not None and found[1] > 1 and spec.name not in DISTRIBUTED_METHODS:
        raise CliError(f"{spec.name} runs in one process; start it without torchrun "
                       f"(methods that use several: {', '.join(DISTRIBUTED_METHODS)})")
    with distributed.session(resolve_device(args.device)) as world:
        G = models.load_generator(args.model, distributed.device())
        if getattr(args, "settings", "quick") == "paper":
            spec, config = discover_config(args, G)
        if getattr(config, "batch", None):
            check_images_fit(int(config.batch), G.resolution, f"--batch {config.batch}")
        progress = TerminalProgress(enabled=not args.quiet and world.main,  # rank 0 reports for all
                                    every_line=getattr(args, "progress_lines", False))
        if world.active:
            # Every rank must run the same steps: no cache (rank 0's could hit alone) and no
            # out-of-memory retry (one rank would change its batch alone); an error stops all.
            cs = spec.run(G, config, progress)  # the method's cancel check is collective
        else:
            cs = discover_cached(G, spec, config, progress, use_cache=not args.no_cache and not resume)
        progress.finish()
        if not world.main:
            return 0
        cs.save(out)
    # The loss/accuracy history of trained methods stays in the file, not on the terminal.
    summary = {"out": str(out), "controls": len(cs), "method": cs.method,
               **{k: v for k, v in cs.stats.items() if k != "history"}}
    print(json.dumps(summary))
    return 0


def _resume_values(method: str, own: set[str], values: dict, job_dir: str) -> dict:
    """Options for ``--resume DIR``: the folder's settings, then those given on the command line."""
    from methods.training import read_job

    if "job_dir" not in own:
        raise CliError(f"--resume continues a trained method's job folder; {method} is not trained")
    job = read_job(job_dir)  # MethodError (exit 2) when the folder is missing or damaged
    if job["method"] != method:
        raise CliError(f"--resume {job_dir} holds a {job['method']} run, not {method}")
    return {**{k: v for k, v in job["config"].items() if k in own}, **values, "job_dir": str(job_dir)}


# ---------------------------------------------------------------------- render / export
def build_state(args) -> tuple[object, EditState, str, str]:
    """(generator, state, fingerprint-to-record, controls source) from a render/export command line."""
    base_fp, source = "", ""
    if args.preset:
        state, info = presets.load(args.preset)
        base_fp, source = info["fingerprint"], info["controls_source"]
        if args.model and args.model != state.model:
            raise CliError("give either --preset or --model, not both (the preset names its model)")
    elif args.model:
        state = EditState(model=args.model)
    else:
        raise CliError("give --model (or --preset)")
    # under torchrun: the rank's own device (cuda:LOCAL_RANK or the CPU)
    G = models.load_generator(state.model, distributed.device() if distributed.world().active else resolve_device(args.device))
    if args.preset:
        presets.check_against(state, G, base_fp)
    else:
        state = replace(state, truncation=G.default_truncation)
    if args.controls:
        cs = ControlSet.load(args.controls)
        cs.check_model(G)
        state = state.with_controls(cs)
        source = str(Path(args.controls).resolve())
    changes = {}
    for key, field in (("seed", "seed"), ("truncation", "truncation"), ("class_index", "class_index"),
                       ("noise", "noise_mode"), ("size", "size"), ("mix_seed", "mix_seed")):
        if getattr(args, key, None) is not None:
            changes[field] = getattr(args, key)
    if args.mix_layers is not None:
        changes["mix_range"] = validate_range(args.mix_layers, G.num_layers, "--mix-layers")
    if "seed" in changes:
        changes["latents"] = None  # a seed replaces a preset's explicit latents (as in the window)
    elif state.latents is not None and ({"truncation", "mix_seed", "mix_range"} & changes.keys()):
        raise CliError("the preset's image has explicit latents (already truncated, no seed to mix); "
                       "give --seed to use --truncation or style mixing")
    state = replace(state, **changes)
    if (state.mix_seed is None) != (state.mix_range is None):
        raise CliError("style mixing needs both --mix-seed and --mix-layers")
    if getattr(args, "class_mix", None) is not None:
        state = replace(state, class_mix=args.class_mix)
    for what, idx in (("--class", state.class_index), ("--class-mix", state.class_mix[0] if state.class_mix else None)):
        if idx is not None and G.classes is None:
            raise CliError(f"{what} was given but {G.name} is not class-conditional")
        if idx is not None and idx >= len(G.classes):
            raise CliError(f"{what} {idx} is outside the model's {len(G.classes)} classes")
    if state.size is not None and not 8 <= state.size <= 8192:
        raise CliError("--size must be between 8 and 8192 pixels")
    if getattr(args, "translate", None) is not None:
        state = replace(state, translate=(args.translate[0], args.translate[1]))
    if getattr(args, "rotate", None) is not None:
        state = replace(state, rotate=args.rotate)
    if state.transformed and getattr(G, "view_transform", None) is None:
        raise CliError(f"--translate/--rotate move a StyleGAN3's view, and {G.name} is not a StyleGAN3")
    n = len(state.controls) if state.controls is not None else 0
    for i, v in args.sets:
        if not 0 <= i < n:
            raise CliError(f"--set {i}=…: control {i} does not exist" + (f" (0 to {n - 1})" if n else "; give --controls"))
        state = state.with_value(i, v)
    for i, r in args.layer_sets:
        if not 0 <= i < n:
            raise CliError(f"--layers {i}=…: control {i} does not exist" + (f" (0 to {n - 1})" if n else "; give --controls"))
        state = state.with_range(i, validate_range(r, G.num_layers, f"--layers {i}"))
    return G, state, G.fingerprint, source


def cmd_render(args) -> int:
    out = out_file(args.out, (".png",))
    if args.save_preset:
        out_file(args.save_preset, (".json",), "--save-preset")
    with distributed.session(resolve_device(args.device)) as world:  # a grid is split over torchrun's ranks
        G, state, fp, source = build_state(args)
        if args.grid:
            check_images_fit(args.grid, max(state.size or G.resolution, G.resolution), f"--grid {args.grid}")
            cols = math.ceil(math.sqrt(args.grid))
            image = grid_image(G, state, list(range(state.seed, state.seed + args.grid)), cols)
        else:
            image = render_state(G, state) if world.main else None
        if not world.main:
            return 0
        if args.save_preset:  # both files or neither (a full disk must not leave the PNG alone)
            text = presets.dumps(state, fp, Path(args.save_preset).stem, source)
            write_files_atomic({out: encode_png(image), args.save_preset: text.encode("utf-8")})
        else:
            write_png(out, image)
    return 0


def cmd_export(args) -> int:
    out = out_file(args.out, (".mp4", ".png"))
    if sum(x is not None for x in (args.control, args.view, args.walk)) != 1:
        raise CliError("give one of --control I (a slider sweep), --view AXIS (a StyleGAN3 view sweep) "
                       "or --walk S1,S2 (a seed walk)")
    if args.view is not None:
        if out.suffix.lower() != ".mp4":
            raise CliError("--view sweeps are videos; give an .mp4 --out")
        G, state, _fp, _src = build_state(args)
        if getattr(G, "view_transform", None) is None:
            raise CliError(f"--view sweeps a StyleGAN3's view, and {G.name} is not a StyleGAN3")
        a, b = args.sweep or ((0.0, 360.0) if args.view == "rotate" else (-0.25, 0.25))
        progress = TerminalProgress(enabled=not args.quiet)
        export_view_video(G, state, args.view, a, b, args.frames or 60, args.fps, out, progress=progress)
        progress.finish()
        return 0
    with distributed.session(resolve_device(args.device)) as world:  # frames are split over torchrun's ranks
        G, state, _fp, _src = build_state(args)
        a, b = args.sweep or (-3.0, 3.0)
        progress = TerminalProgress(enabled=not args.quiet and world.main)
        if args.walk is not None:
            if out.suffix.lower() != ".mp4":
                raise CliError("a seed walk is a video: give an .mp4 --out")
            if world.main:
                export_seed_walk_video(G, state, args.walk, args.frames or 30, args.fps, out, progress=progress)
            progress.finish()
            return 0
        if out.suffix.lower() == ".png":
            steps = args.frames or 7
            image = strip_image(G, state, args.control, a, b, steps, progress=progress)
            if world.main:
                write_png(out, image)
        else:
            if len(args.control) != 1:
                raise CliError("a video sweeps one control; give several only for a .png strip")
            frames = args.frames or 60
            export_sweep_video(G, state, args.control[0], a, b, frames, args.fps, out, progress=progress)
        progress.finish()
    return 0


def cmd_import_controls(args) -> int:
    """``import-controls FILE --model M --out C.npz``: released directions -> a controls file."""
    from methods.released import import_controls

    out = out_file(args.out, (".npz",))
    G = models.load_generator(args.model, resolve_device(args.device))
    cs = import_controls(args.file, G, step=args.step)
    cs.save(out)
    print(json.dumps({"out": str(out), "controls": len(cs), "method": cs.method, "format": cs.config.get("imported"),
                      "space": cs.stats.get("space")}))
    return 0


COMMANDS = {"models": cmd_models, "methods": cmd_methods, "discover": cmd_discover, "import-controls": cmd_import_controls,
            "render": cmd_render, "export": cmd_export}


def _rank_prefix() -> str:
    """``"rank r: "`` on ranks other than 0 of a torchrun job (their lines share rank 0's terminal)."""
    rank, size = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    return f"rank {rank}: " if rank.isdigit() and int(rank) > 0 and size.isdigit() and int(size) > 1 else ""


def run(argv: list[str]) -> int:
    """Parse and run one headless command; returns the exit status."""
    parser, extra = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        set_memory_budget(getattr(args, "max_memory", None))
        refuse_output_onto_input(args)
        with warnings.catch_warnings():  # library warnings would add lines to the one-line promise
            warnings.simplefilter("ignore")
            return {**COMMANDS, **extra}[args.command](args)
    except USER_ERRORS as exc:
        sys.stderr.write(f"error: {_rank_prefix()}{one_line(str(exc))}\n")
        return 2
    except distributed.PeerFailed as exc:
        sys.stderr.write(f"error: {_rank_prefix()}{exc}\n")
        return distributed.EXIT_PEER_FAILED
    except Cancelled:
        sys.stderr.write("cancelled; nothing was written\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; nothing was written\n")
        return 130
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Files that cannot be written, options that do not fit a method (e.g. a bad layer name)
        sys.stderr.write(f"error: {_rank_prefix()}{error_line(exc)}\n")
        return 2
    except Exception as exc:  # noqa: BLE001 - MemoryError, RuntimeError, cv2.error, RecursionError, …
        # Whatever its type, one line on the terminal; the traceback goes to the error log.
        log = log_traceback(exc, " ".join(argv[:1]))
        where = f" (details in {log})" if log is not None else ""
        sys.stderr.write(f"error: {_rank_prefix()}{error_line(exc)}{where}\n")
        return 2


