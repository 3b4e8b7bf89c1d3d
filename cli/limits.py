"""Bounds on command-line values: what a run would cost is estimated before it starts.

An option that asks for more than the machine can give is refused with one sentence that
says how much it would need, instead of running out of memory (or for days) later.
"""
from __future__ import annotations

from pathlib import Path

from models.bounded import RAISE_HINT, format_bytes, memory_budget, quote_name

#: counts no command needs more of (samples, iterations, candidates, steps, …)
MAX_COUNT = 10_000_000
#: video frames of one export (about 55 minutes at 30 fps)
MAX_FRAMES = 100_000
#: frames per second of a video
MIN_FPS, MAX_FPS = 0.1, 1000.0
#: output edge in pixels (presets accept the same)
MAX_SIZE = 8192
#: the batch of one discovery or sampling step
MAX_BATCH = 65_536
#: working memory of one image through a generator, in multiples of its float RGB output
#: (StyleGAN2 at 1024 px peaks near 40×, DCGAN and BigGAN below; a safe round figure)
ACTIVATION_FACTOR = 64

#: options that name files a command writes; every other path option is an input
OUTPUT_OPTIONS = ("out", "save_preset", "save_latents")


class LimitError(ValueError):
    """An option asks for more than the limits allow; one sentence."""


def image_bytes(count: int, size: int) -> int:
    """Estimated working memory of ``count`` images of ``size``² px through a generator at once."""
    return int(count) * ACTIVATION_FACTOR * 3 * int(size) ** 2 * 4


def check_images_fit(count: int, size: int, what: str) -> None:
    """Refuse ``count`` images of ``size`` px at once when their estimate exceeds the memory budget."""
    need, limit = image_bytes(count, size), memory_budget()
    if need > limit:
        raise LimitError(f"{what} would need about {format_bytes(need)} for {count} image(s) of {size} px at once, "
                         f"more than the {format_bytes(limit)} limit; ask for fewer or smaller images, or {RAISE_HINT}")


def refuse_output_onto_input(args) -> None:
    """`LimitError` when an output option names the same file as any input option (resolved paths).

    ``render --model X.png --out X.png`` or ``vocab export --db X.csv --out X.csv`` would
    otherwise replace what they read.
    """
    values = vars(args)
    inputs = {}
    for key, v in values.items():
        if key in OUTPUT_OPTIONS or not isinstance(v, str) or not v or "\0" in v:
            continue
        try:
            p = Path(v).expanduser()
            if p.exists():
                inputs[p.resolve()] = key
        except (OSError, ValueError, RuntimeError):
            continue
    for key in OUTPUT_OPTIONS:
        v = values.get(key)
        if not isinstance(v, str) or not v:
            continue
        try:
            target = Path(v).expanduser().resolve()
        except (OSError, ValueError, RuntimeError):
            continue
        if target in inputs:
            raise LimitError(f"--{key.replace('_', '-')} {quote_name(v)} is also the --{inputs[target].replace('_', '-')} "
                             "input; write to another file")
