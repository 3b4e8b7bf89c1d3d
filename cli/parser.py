"""The argument parser of `main.py`'s headless commands."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from methods.registry import METHODS
from models.bounded import quote_name

from .limits import MAX_BATCH, MAX_COUNT, MAX_FPS, MAX_FRAMES, MAX_SIZE, MIN_FPS


class CliError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors as a single line on stderr (exit status 2), never a usage dump."""

    def error(self, message: str) -> NoReturn:
        from methods.jobs import one_line

        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        sys.exit(2)


def out_file(path: str, suffixes: tuple[str, ...], what: str = "--out") -> Path:
    """The file option ``what`` may write: its suffix is one of ``suffixes``, its folder exists,
    and it is not itself a folder; `CliError` (one sentence) otherwise."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise CliError(f"{what} {path}: expected a {' or '.join(suffixes)} file")
    if str(out.parent) and not out.parent.is_dir():
        raise CliError(f"{what} {path}: folder {out.parent} does not exist")
    if out.is_dir():
        raise CliError(f"{what} {path} is a folder")
    return out


def _pair(text: str, sep: str, what: str) -> tuple[int, str]:
    if sep not in text:
        raise argparse.ArgumentTypeError(f"{what} must look like I{sep}…, not {text!r}")
    i, rest = text.split(sep, 1)
    try:
        return int(i), rest
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {i!r} is not a control index") from None


def set_value(text: str) -> tuple[int, float]:
    """``I=V``: control I at slider value V."""
    i, v = _pair(text, "=", "--set")
    try:
        value = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--set {text}: {v!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"--set {text}: the value must be finite")
    return i, value


def layer_range(text: str) -> tuple[int, int]:
    """``A:B``: per-layer latents A..B-1."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not a layer range A:B")
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a layer range A:B of integers") from None


def set_layers(text: str) -> tuple[int, tuple[int, int]]:
    """``I=A:B``: control I restricted to per-layer latents A..B-1."""
    i, r = _pair(text, "=", "--layers")
    return i, layer_range(r)


def nonneg_int(text: str) -> int:
    try:
        v = int(text) if len(text) <= 40 else None
    except ValueError:
        v = None
    if v is None:
        raise argparse.ArgumentTypeError(f"{quote_name(text, 40)} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    if v >= 1 << 63:
        raise argparse.ArgumentTypeError(f"{text} is larger than a 64-bit integer")
    return v


def positive_int(text: str) -> int:
    v = nonneg_int(text)
    if v == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return _count(v)


def _count(v: int) -> int:
    if v > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{v} is more than {MAX_COUNT:,} (the most any count option takes)")
    return v


def bounded_int(maximum: int, what: str):
    """A converter for positive integers of at most ``maximum`` (``what`` names the unit)."""
    def convert(text: str) -> int:
        v = positive_int(text)
        if v > maximum:
            raise argparse.ArgumentTypeError(f"{v} {what} is more than the {maximum:,} accepted")
        return v
    convert.__name__ = "int"
    return convert


def fps_value(text: str) -> float:
    v = positive_float(text)
    if not MIN_FPS <= v <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"{text} frames per second is outside {MIN_FPS:g} to {MAX_FPS:g}")
    return v


def image_size(text: str) -> int:
    v = positive_int(text)
    if not 8 <= v <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{v} px is outside 8 to {MAX_SIZE} pixels")
    return v


MAX_GRID = 256  # seeds in one grid image: beyond this the batch alone outgrows a laptop's memory


def grid_size(text: str) -> int:
    v = positive_int(text)
    if v > MAX_GRID:
        raise argparse.ArgumentTypeError(f"a grid holds at most {MAX_GRID} seeds, not {v}")
    return v


def finite_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return v


def positive_float(text: str) -> float:
    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return v


def class_mix(text: str) -> tuple[int, float]:
    """``C:W``: class C mixed in with weight W."""
    parts = text.split(":")
    try:
        c, w = int(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r} is not C:W (a class index and a weight)") from None
    if len(parts) != 2 or c < 0 or not 0.0 <= w <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: the class must be ≥ 0 and the weight in [0, 1]")
    return c, w


def boolean(text: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off`` or ``1/0``."""
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def control_list(text: str) -> list[int]:
    """``I`` or ``I,J,K``."""
    try:
        out = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a control index or a comma-separated list of them") from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one control index")
    return out


def seed_list(text: str) -> list[int]:
    """``S1,S2[,…]``: at least two seeds (``--walk``)."""
    try:
        out = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seeds") from None
    if len(out) < 2 or min(out) < 0:
        raise argparse.ArgumentTypeError("a seed walk needs at least two seeds, none negative")
    return out


def _add_state_options(p: argparse.ArgumentParser, model_required: bool = False) -> None:
    p.add_argument("--model", help="registry name (see `main.py models`) or checkpoint path")
    p.add_argument("--preset", help="start from a preset JSON written by the GUI or --save-preset")
    p.add_argument("--seed", type=nonneg_int, help="seed of the image (default 0)")
    p.add_argument("--truncation", type=finite_float, help="truncation psi (default: the family's)")
    p.add_argument("--class", dest="class_index", type=nonneg_int, help="class index for conditional models")
    p.add_argument("--controls", help="a controls file (.npz) from `main.py discover`")
    p.add_argument("--set", dest="sets", type=set_value, action="append", default=[], metavar="I=V",
                   help="control I at slider value V (σ units for GANSpace); repeatable")
    p.add_argument("--layers", dest="layer_sets", type=set_layers, action="append", default=[], metavar="I=A:B",
                   help="restrict control I to per-layer latents A..B-1; repeatable")
    p.add_argument("--class-mix", type=class_mix, metavar="C:W", help="mix class C in with weight W in [0, 1]")
    p.add_argument("--noise", choices=["fixed", "random", "zero"], help="noise inputs of StyleGAN-like models")
    p.add_argument("--mix-seed", type=nonneg_int, help="style mixing: take --mix-layers from this seed")
    p.add_argument("--mix-layers", type=layer_range, metavar="A:B", help="per-layer latents taken from --mix-seed")
    p.add_argument("--size", type=image_size, help=f"output edge in pixels, 8 to {MAX_SIZE} (default: the model's resolution)")
    p.add_argument("--translate", nargs=2, type=finite_float, metavar=("TX", "TY"),
                   help="StyleGAN3 only: move the view by TX, TY (the input's units, as in NVIDIA's viewer)")
    p.add_argument("--rotate", type=finite_float, metavar="DEG", help="StyleGAN3 only: rotate the view by DEG degrees")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")


def discover_options() -> dict[str, tuple[type, list[tuple[str, Any, str]]]]:
    """Every discovery method's options, once each: name -> (type, [(method, default, help)]),
    one entry per method that has the option, in `METHODS` order.

    A shared option is parsed once for all its methods, so they must agree on its type.
    """
    out: dict[str, tuple[type, list[tuple[str, Any, str]]]] = {}
    for spec in METHODS.values():
        for name, typ, default, text in spec.options():
            known, uses = out.setdefault(name, (typ, []))
            if typ is not known:
                raise TypeError(f"option {name!r} is {known.__name__} in {uses[0][0]} but {typ.__name__} in {spec.name}")
            uses.append((spec.name, default, text))
    return out


def _method_int(name: str):
    """Discover's integer options: seeds and indices as integers, batches and counts bounded."""
    if name in ("seed", "class_index"):
        return int
    if name == "batch":
        return bounded_int(MAX_BATCH, "images per batch")
    def convert(text: str) -> int:
        return _count(nonneg_int(text))
    convert.__name__ = "int"
    return convert


def option_help(uses: Sequence[tuple[str, Any, str]]) -> str:
    """The ``--help`` line of a discover option from its ``(method, default, help)`` uses.

    Methods with the same help text share one ``[m1, m2] text (default …)`` part; when their
    defaults differ, each method's own is listed (``defaults m1: 600; m2: 300``).  Parts with
    different texts are joined with `` | ``.
    """
    groups: dict[str, list[tuple[str, Any]]] = {}
    for method, default, text in uses:
        groups.setdefault(text, []).append((method, default))
    parts = []
    for text, members in groups.items():
        if len({repr(d) for _, d in members}) == 1:
            defaults = f"default {members[0][1]!r}"
        else:
            defaults = "defaults " + "; ".join(f"{m}: {d!r}" for m, d in members)
        names = ", ".join(m for m, _ in members)
        parts.append(f"[{names}] {text} ({defaults})" if text else f"[{names}] ({defaults})")
    return " | ".join(parts)


#: modules that add command groups: each has ``register(sub) -> {command: function(args) -> int}``
COMMAND_MODULES: list[str] = ["cli.vocab", "cli.evaluate", "cli.semantics", "cli.project"]


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser, and the functions of the commands the `COMMAND_MODULES` add.

    Given the ``command`` about to run, discover's per-method options are added only when
    it is ``discover``: collecting them imports every method, which ``render`` and
    ``export`` do not need.  ``None`` builds the whole parser (for ``--help`` and tests).
    """
    parser = OneLineParser(
        prog="main.py",
        description="Latent Studio: explore and steer the latent spaces of pretrained GANs. "
        "With no command the GUI opens on the default model.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser, metavar="COMMAND")

    sub.add_parser("gui", help="open the explorer window (the default)").add_argument(
        "--model", help="model to open (default dcgan-faces)"
    )
    p = sub.add_parser("models", help="list the models that can be loaded")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("methods", help="list discovery methods and their options")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("discover", help="run a discovery method and save its controls")
    p.add_argument("--model", required=True, help="registry name or checkpoint path")
    p.add_argument("--method", required=True, choices=sorted(METHODS), help="discovery method")
    p.add_argument("--out", required=True, help="controls file to write (.npz)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--no-cache", action="store_true", help="recompute even if a cached result exists")
    p.add_argument("--resume", metavar="DIR", help="continue a trained method's job folder (latentclr, warped, voynov); "
                   "options not given come from the folder")
    p.add_argument("--settings", choices=("quick", "paper"), default="quick",
                   help="quick (default): each method's CPU-sized defaults; paper: the original paper's settings "
                   "for the model's family (latentclr, warped, voynov; hours on a GPU); options given still win")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--progress-lines", action="store_true",
                   help="one progress line 'F%% message' per update on stderr (for programs that read it)")
    # default None: an option left out keeps the chosen method's own default (cmd_discover)
    for name, (typ, uses) in (discover_options() if command in (None, "discover") else {}).items():
        conv = {int: _method_int(name), float: finite_float, str: str, bool: boolean}[typ]
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=conv, default=None,
                       help=option_help(uses).replace("%", "%%"))

    p = sub.add_parser("import-controls", help="import directions released by an original method's code as controls")
    p.add_argument("file", metavar="FILE", help="GANSpace .npz/.pkl, LatentCLR best_model.pt, Voynov deformator_*.pt, "
                   "WarpedGANSpace support_sets.pt, InterFaceGAN .npy, or the run folder holding one")
    p.add_argument("--model", required=True, help="registry name or checkpoint path of the generator they are for")
    p.add_argument("--out", required=True, help="controls file to write (.npz)")
    p.add_argument("--step", type=finite_float, help="Euler step of field controls (LatentCLR 0.25, WarpedGANSpace 0.2)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")

    p = sub.add_parser("render", help="render one frame (or a grid of seeds) to PNG")
    _add_state_options(p)
    p.add_argument("--grid", type=grid_size, metavar="N", help=f"render N seeds from --seed on, tiled (at most {MAX_GRID})")
    p.add_argument("--save-preset", help="also write the frame's preset (JSON)")
    p.add_argument("--out", required=True, help="PNG to write")

    p = sub.add_parser("export", help="sweep a control (or a StyleGAN3 view): an mp4 video, or a strip image when --out is .png")
    _add_state_options(p)
    p.add_argument("--control", type=control_list, metavar="I[,J…]",
                   help="control index to sweep (several, comma-separated, for a strip image)")
    p.add_argument("--view", choices=("rotate", "translate-x", "translate-y"),
                   help="StyleGAN3: sweep the view instead of a control (video only; rotate 0 360 loops a full turn)")
    p.add_argument("--walk", type=seed_list, metavar="S1,S2[,…]",
                   help="instead of a sweep: an mp4 blending from seed to seed and back to the first "
                        "(in W for StyleGANs, slerp in z otherwise); --frames per seed (default 30)")
    p.add_argument("--sweep", "--range", dest="sweep", nargs=2, type=finite_float, metavar=("A", "B"),
                   help="values swept from A to B (default: sliders -3 3; rotate 0 360 degrees; translate -0.25 0.25)")
    p.add_argument("--frames", type=bounded_int(MAX_FRAMES, "frames"),
                   help=f"video frames (default 60, at most {MAX_FRAMES:,}), or strip columns (default 7)")
    p.add_argument("--fps", type=fps_value, default=30.0, help=f"frames per second of the video ({MIN_FPS:g} to {MAX_FPS:g}; default 30)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out", required=True, help=".mp4 video (A→B→A loop) or .png strip (A→B)")

    extra: dict = {}
    for module in COMMAND_MODULES:
        extra.update(importlib.import_module(module).register(sub))
    for command_parser in _all_subparsers(sub):
        command_parser.add_argument(
            "--max-memory", type=positive_float, metavar="GB",
            help="memory one loaded file or model may claim (default: half of this machine's; "
                 "files and models needing more are refused before loading)")
    return parser, extra


def _all_subparsers(sub) -> list[argparse.ArgumentParser]:
    """Every command's parser, nested groups (``vocab import``) included, each once."""
    out, todo = [], list(dict.fromkeys(sub.choices.values()))
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return [p for p in out if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)]
