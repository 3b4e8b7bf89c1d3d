"""Shared pieces of the Linear Semantics package: the error type, class colours, model identity."""
from __future__ import annotations

from typing import Sequence

from methods.jobs import MethodError

#: label value meaning "not painted": ignored by training losses, SCS/SIE and mIoU
IGNORE = 255
#: most classes a mask can hold (PNG masks are uint8 and 255 is reserved for IGNORE)
MAX_CLASSES = 255

#: colours (RGB) given to classes that have none; class 0 (background) is black
#: the first class after the background is saturated magenta, visible on faces (a skin
#: tone here made the default "object" class invisible on them)
DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (255, 40, 200), (120, 70, 30), (250, 240, 120), (70, 140, 230), (220, 60, 60),
    (60, 190, 90), (170, 90, 210), (240, 140, 40), (40, 200, 200), (255, 255, 255), (130, 130, 130),
    (200, 120, 170), (110, 110, 40), (20, 80, 120), (160, 220, 120),
)


class SemanticsError(MethodError):
    """Bad input to a semantics function (mask folder, extractor file, target mask); one sentence."""


def default_colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct RGB colours: the fixed palette, then golden-angle hues."""
    import colorsys

    out = list(DEFAULT_COLORS[:n])
    k = 0
    while len(out) < n:
        h = (k * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.9)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
        k += 1
    return out


def check_colors(colors: Sequence, n: int, where: str) -> list[tuple[int, int, int]]:
    """Validate ``n`` RGB triples of ints 0..255 (raises `SemanticsError`)."""
    if len(colors) != n:
        raise SemanticsError(f"{where}: {len(colors)} colours given for {n} classes")
    out = []
    for c in colors:
        if (not isinstance(c, (list, tuple)) or len(c) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in c)):
            raise SemanticsError(f"{where}: colour {c!r} is not [R, G, B] with integers 0 to 255")
        out.append((int(c[0]), int(c[1]), int(c[2])))
    return out


def check_classes(classes: Sequence, where: str) -> list[str]:
    """Validate class names: 2..255 non-empty strings, all different."""
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) and c.strip() for c in classes):
        raise SemanticsError(f"{where}: 'classes' must be a list of non-empty names")
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise SemanticsError(f"{where}: there must be 2 to {MAX_CLASSES} classes (class 0 is the background), not {len(classes)}")
    if len(set(classes)) != len(classes):
        raise SemanticsError(f"{where}: class names must be different")
    return [str(c) for c in classes]


def model_identity(G) -> dict:
    """What an extractor records about its generator: name, family, fingerprint, resolution."""
    return {"name": str(G.name), "family": str(G.family), "fingerprint": str(G.fingerprint),
            "resolution": int(G.resolution), "latent_dim": int(G.latent_dim), "num_layers": int(G.num_layers)}
