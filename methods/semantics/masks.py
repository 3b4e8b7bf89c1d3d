"""Mask folders: the few-shot annotations the CLI trains on and the GUI's paint mode writes.

A mask folder holds ``labels.json``::

    {"classes": ["background", "skin", …],            # class 0 is the background
     "colors": [[0, 0, 0], [255, 40, 200], …],         # optional, RGB per class
     "truncation": 0.7,                                 # optional: psi applied to seed items
     "items": [{"seed": 12, "mask": "mask_0000.png"},
               {"latents": "latents_0001.npy", "mask": "mask_0001.png"}, …]}

and single-channel 8-bit PNGs of class indices at the model's resolution (255 = not painted,
ignored everywhere).  An item names its image either by ``seed`` (``G.sample(1, seed)``,
then truncation) or by a ``latents`` ``.npy`` file of per-layer latents ``[num_layers,
latent_dim]`` (edited images; read with ``allow_pickle=False``).  Extra keys are kept
untouched by readers (the sampler adds ``"image"``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from models.atomic import atomic_open, atomic_path
from models.bounded import InputLimitError, read_image, read_json_file, read_npy
from models.diagnose import json_problem

from .common import IGNORE, SemanticsError, check_classes, check_colors, default_colors

LABELS_FILE = "labels.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


# ====================================================================== single masks
def read_mask(path: str | Path, n_class: int | None = None, size: int | None = None,
              colors: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """A mask PNG -> ``uint8 [H, W]`` class indices (255 = not painted).

    Single-channel PNGs are class indices.  A colour PNG is accepted when its three channels
    are equal (a grey index image saved as RGB) or, given ``colors``, when every pixel has one
    of the class colours.  ``n_class``/``size`` check the values and the edge length.
    """
    path = Path(path)
    if not path.is_file():
        raise SemanticsError(f"mask {path} does not exist")
    try:
        # the header's width x height is checked before OpenCV allocates the pixels
        img = read_image(path, cv2.IMREAD_UNCHANGED, what=f"mask {path.name}")
    except InputLimitError as exc:
        raise SemanticsError(str(exc)) from None
    except OSError as exc:
        raise SemanticsError(f"mask {path.name} could not be read ({exc.strerror or type(exc).__name__})") from None
    if img is None:
        raise SemanticsError(f"mask {path.name} is not a readable image")
    if img.dtype != np.uint8:
        raise SemanticsError(f"mask {path.name} must be an 8-bit PNG of class indices, not {img.dtype}")
    if img.ndim == 3:
        rgb = img[:, :, 2::-1] if img.shape[2] >= 3 else img[:, :, :1]
        if rgb.shape[2] == 1 or ((rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 1] == rgb[:, :, 2]).all()):
            img = rgb[:, :, 0]
        elif colors is not None:
            img = _from_colors(rgb, colors, path.name)
        else:
            raise SemanticsError(f"mask {path.name} is a colour image; masks are single-channel PNGs of class indices")
    mask = np.ascontiguousarray(img)
    if size is not None and mask.shape != (size, size):
        raise SemanticsError(f"mask {path.name} is {mask.shape[1]}x{mask.shape[0]} but the model makes {size}x{size} images")
    if n_class is not None:
        bad = mask[(mask >= n_class) & (mask != IGNORE)]
        if bad.size:
            raise SemanticsError(
                f"mask {path.name} holds class {int(bad.max())} but there are only {n_class} classes (0 to {n_class - 1}, {IGNORE} = not painted)"
            )
    return mask


def _from_colors(rgb: np.ndarray, colors: Sequence[Sequence[int]], name: str) -> np.ndarray:
    out = np.full(rgb.shape[:2], IGNORE, dtype=np.uint8)
    for i, c in enumerate(colors):
        out[(rgb == np.array(c, dtype=np.uint8)).all(axis=2)] = i
    if (out == IGNORE).any():
        raise SemanticsError(f"mask {name} has colours that are not class colours")
    return out


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """``uint8 [H, W]`` class indices -> single-channel PNG, atomically."""
    mask = _as_mask(mask, "mask")
    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), mask):
            raise SemanticsError(f"could not write {path}")


def _as_mask(mask, what: str) -> np.ndarray:
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim != 2:
        raise SemanticsError(f"{what} must be a 2-D array of class indices, not shape {list(arr.shape)}")
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise SemanticsError(f"{what} holds values outside 0..255")
        arr = arr.astype(np.uint8)
    return np.ascontiguousarray(arr)


def colorize(labels, colors: Sequence[Sequence[int]]) -> np.ndarray:
    """Class map ``[H, W]`` (or ``[B, H, W]``) -> ``uint8 [..., 3]`` RGB; unpainted (255) pixels grey."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    lut = np.full((256, 3), 128, dtype=np.uint8)
    lut[: len(colors)] = np.asarray(colors, dtype=np.uint8)
    return lut[arr.astype(np.uint8)]


def overlay(frame: np.ndarray, labels, colors: Sequence[Sequence[int]], alpha: float = 0.5,
            skip_background: bool = True) -> np.ndarray:
    """Blend a class map over an RGB frame: ``uint8 [H, W, 3]``.

    ``labels [h, w]`` is resized (nearest) to the frame; background (class 0) and unpainted
    pixels are left as they are when ``skip_background``.
    """
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    arr = arr.astype(np.uint8)
    h, w = frame.shape[:2]
    if arr.shape != (h, w):
        arr = cv2.resize(arr, (w, h), interpolation=cv2.INTER_NEAREST)
    col = colorize(arr, colors).astype(np.float32)
    out = frame.astype(np.float32)
    blend = out * (1 - alpha) + col * alpha
    keep = (arr == 0) | (arr == IGNORE) if skip_background else (arr == IGNORE)
    out = np.where(keep[..., None], out, blend)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ====================================================================== folders
@dataclass
class MaskItem:
    """One annotated image: ``mask`` ``uint8 [H, W]``, and ``seed`` or ``latents`` ``float32 [L, D]``.

    ``mask_file``/``latents_file``: names inside the folder (chosen by the writer when None);
    ``extra``: other keys of the item's JSON, kept as they are.
    """

    mask: np.ndarray
    seed: int | None = None
    latents: np.ndarray | None = None
    mask_file: str | None = None
    latents_file: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class MaskFolder:
    """The content of a mask folder (see the module docstring)."""

    classes: list[str]
    items: list[MaskItem] = field(default_factory=list)
    colors: list[tuple[int, int, int]] | None = None
    truncation: float | None = None

    def resolved_colors(self) -> list[tuple[int, int, int]]:
        return list(self.colors) if self.colors is not None else default_colors(len(self.classes))

    def latents(self, G) -> torch.Tensor:
        """Per-layer latents ``[N, L, D]`` of the items on ``G.device`` (seeds sampled and truncated)."""
        psi = self.truncation if self.truncation is not None else G.default_truncation
        rows = []
        for i, it in enumerate(self.items):
            if it.latents is not None:
                lat = torch.as_tensor(np.asarray(it.latents, dtype=np.float32)).reshape(-1, *np.shape(it.latents)[-2:])
                if tuple(lat.shape[1:]) != (G.num_layers, G.latent_dim):
                    raise SemanticsError(
                        f"item {i}: latents of shape {list(np.shape(it.latents))} do not fit {G.name} "
                        f"([{G.num_layers}, {G.latent_dim}])"
                    )
                rows.append(lat.to(G.device))
            else:
                with torch.no_grad():
                    rows.append(G.truncate(G.sample(1, int(it.seed)), psi))
        if not rows:
            return torch.zeros(0, G.num_layers, G.latent_dim, device=G.device)
        return torch.cat(rows)

    def masks(self) -> torch.Tensor:
        """Class maps ``[N, H, W]`` int64 (255 = not painted)."""
        if not self.items:
            return torch.zeros(0, 0, 0, dtype=torch.long)
        return torch.stack([torch.from_numpy(np.asarray(it.mask, dtype=np.uint8)).long() for it in self.items])

    def check(self, G) -> None:
        """Raise `SemanticsError` unless every mask fits ``G``'s resolution and latents its shape."""
        for i, it in enumerate(self.items):
            if it.mask.shape != (G.resolution, G.resolution):
                raise SemanticsError(
                    f"mask {it.mask_file or i} is {it.mask.shape[1]}x{it.mask.shape[0]} but {G.name} makes "
                    f"{G.resolution}x{G.resolution} images"
                )
            if it.latents is not None and tuple(np.shape(it.latents)[-2:]) != (G.num_layers, G.latent_dim):
                raise SemanticsError(
                    f"latents {it.latents_file or i} have shape {list(np.shape(it.latents))}, {G.name} needs "
                    f"[{G.num_layers}, {G.latent_dim}]"
                )


def _inside(folder: Path, name, what: str) -> Path:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise SemanticsError(f"{LABELS_FILE}: {what} {name!r} must be a plain file name inside the folder")
    return folder / name


def read_mask_folder(path: str | Path, G=None) -> MaskFolder:
    """Read a mask folder (``labels.json`` + PNGs + optional ``.npy`` latents); with ``G``, check it fits."""
    folder = Path(path)
    if not folder.is_dir():
        raise SemanticsError(f"mask folder {folder} does not exist")
    labels = folder / LABELS_FILE
    if not labels.is_file():
        raise SemanticsError(f"{folder} has no {LABELS_FILE}, so it is not a mask folder")
    try:
        doc = read_json_file(labels, what=str(labels), max_bytes=64 << 20)
    except InputLimitError as exc:
        raise SemanticsError(str(exc)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SemanticsError(f"{labels} is not valid JSON: {json_problem(exc)}") from None
    if not isinstance(doc, dict):
        raise SemanticsError(f"{labels} must hold a JSON object with 'classes' and 'items'")
    classes = check_classes(doc.get("classes"), str(labels))
    colors = check_colors(doc["colors"], len(classes), str(labels)) if doc.get("colors") is not None else None
    trunc = doc.get("truncation")
    if trunc is not None and (not isinstance(trunc, (int, float)) or isinstance(trunc, bool) or not 0 < trunc <= 2):
        raise SemanticsError(f"{labels}: 'truncation' must be a number in (0, 2]")
    items_doc = doc.get("items")
    if not isinstance(items_doc, list):
        raise SemanticsError(f"{labels}: 'items' must be a list")
    items: list[MaskItem] = []
    for i, it in enumerate(items_doc):
        if not isinstance(it, dict) or "mask" not in it:
            raise SemanticsError(f"{labels}: item {i} must be an object with a 'mask' file")
        has_seed, has_lat = it.get("seed") is not None, it.get("latents") is not None
        if has_seed == has_lat:
            raise SemanticsError(f"{labels}: item {i} must name either a 'seed' or a 'latents' file (one of them)")
        mask_path = _inside(folder, it["mask"], "mask")
        mask = read_mask(mask_path, len(classes), G.resolution if G is not None else None, colors)
        seed, lat, lat_name = None, None, None
        if has_seed:
            if not isinstance(it["seed"], int) or isinstance(it["seed"], bool) or it["seed"] < 0:
                raise SemanticsError(f"{labels}: item {i}'s seed must be a non-negative integer")
            seed = int(it["seed"])
        else:
            lat_name = it["latents"]
            lat_path = _inside(folder, lat_name, "latents")
            try:
                lat = read_npy(lat_path, max_total=64 << 20)
            except FileNotFoundError:
                raise SemanticsError(f"latents file {lat_path} does not exist") from None
            except InputLimitError as exc:
                raise SemanticsError(str(exc)) from None
            except (OSError, ValueError):
                raise SemanticsError(f"{lat_path.name} is not a NumPy array file of latents") from None
            if lat.dtype.kind != "f" or lat.ndim not in (2, 3) or (lat.ndim == 3 and lat.shape[0] != 1):
                raise SemanticsError(f"{lat_path.name}: latents must be a float array [num_layers, latent_dim]")
            lat = lat.reshape(lat.shape[-2:]).astype(np.float32)
            if not np.isfinite(lat).all():
                raise SemanticsError(f"{lat_path.name}: latents must be finite")
        extra = {k: v for k, v in it.items() if k not in ("seed", "latents", "mask")}
        items.append(MaskItem(mask, seed, lat, it["mask"], lat_name, extra))
    out = MaskFolder(classes, items, colors, float(trunc) if trunc is not None else None)
    if G is not None:
        out.check(G)
    return out


def write_mask_folder(path: str | Path, folder: MaskFolder) -> None:
    """Write (or rewrite) a mask folder: masks, latents, then ``labels.json`` last, each atomically.

    Items without file names get ``mask_NNNN.png`` / ``latents_NNNN.npy``; the folder is created
    if its parent exists.  Files of the folder that no item names are left alone.
    """
    root = Path(path)
    classes = check_classes(folder.classes, "mask folder")
    colors = check_colors(folder.colors, len(classes), "mask folder") if folder.colors is not None else None
    if not root.parent.is_dir():
        raise SemanticsError(f"folder {root.parent} does not exist")
    root.mkdir(exist_ok=True)
    docs = []
    taken = {it.mask_file for it in folder.items if it.mask_file} | {it.latents_file for it in folder.items if it.latents_file}
    for i, it in enumerate(folder.items):
        if (it.seed is None) == (it.latents is None):
            raise SemanticsError(f"item {i} must have either a seed or latents")
        mask = _as_mask(it.mask, f"item {i}'s mask")
        bad = mask[(mask >= len(classes)) & (mask != IGNORE)]
        if bad.size:
            raise SemanticsError(f"item {i}'s mask holds class {int(bad.max())} but there are {len(classes)} classes")
        if it.mask_file is None:
            it.mask_file = _fresh(root, "mask", i, ".png", taken)
        write_mask(_inside(root, it.mask_file, "mask"), mask)
        doc: dict = {}
        if it.seed is not None:
            doc["seed"] = int(it.seed)
        else:
            lat = np.asarray(it.latents, dtype=np.float32)
            lat = lat.reshape(lat.shape[-2:]) if lat.ndim == 3 and lat.shape[0] == 1 else lat
            if lat.ndim != 2:
                raise SemanticsError(f"item {i}'s latents must be [num_layers, latent_dim], not {list(lat.shape)}")
            if it.latents_file is None:
                it.latents_file = _fresh(root, "latents", i, ".npy", taken)
            with atomic_path(_inside(root, it.latents_file, "latents"), suffix=".npy") as tmp:
                np.save(tmp, lat, allow_pickle=False)
            doc["latents"] = it.latents_file
        doc["mask"] = it.mask_file
        doc.update(it.extra)
        docs.append(doc)
    out: dict = {"classes": classes}
    if colors is not None:
        out["colors"] = [list(c) for c in colors]
    if folder.truncation is not None:
        out["truncation"] = float(folder.truncation)
    out["items"] = docs
    with atomic_open(root / LABELS_FILE) as f:
        f.write(_format_labels(out))


def _format_labels(doc: dict) -> str:
    """``labels.json`` text: one line per top-level key, one line per item."""
    lines = []
    for key, value in doc.items():
        if key == "items":
            inner = ",\n".join(f"  {json.dumps(it)}" for it in value)
            lines.append(f' "items": [\n{inner}\n ]' if value else ' "items": []')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _fresh(root: Path, stem: str, i: int, suffix: str, taken: set) -> str:
    k = i
    while True:
        name = f"{stem}_{k:04d}{suffix}"
        if name not in taken and not (root / name).exists():
            taken.add(name)
            return name
        k += 1


def append_mask(
    path: str | Path, mask: np.ndarray, classes: Sequence[str], seed: int | None = None,
    latents: np.ndarray | torch.Tensor | None = None, colors: Sequence[Sequence[int]] | None = None,
    truncation: float | None = None,
) -> MaskItem:
    """Add one painted mask to a mask folder (created if needed) — the GUI paint mode's "save".

    ``mask``: ``uint8 [H, W]``; give ``seed`` for an unedited sample or ``latents``
    (``[L, D]`` or ``[1, L, D]``) for anything else.  An existing folder must have the same
    classes.  Returns the item with its file names.
    """
    root = Path(path)
    if (root / LABELS_FILE).is_file():
        folder = read_mask_folder(root)
        if list(classes) != folder.classes:
            raise SemanticsError(f"{root} has classes {folder.classes}, not {list(classes)}")
        if colors is not None:
            folder.colors = check_colors([tuple(c) for c in colors], len(folder.classes), "mask folder")
        if truncation is not None and folder.truncation is not None and seed is not None and truncation != folder.truncation:
            raise SemanticsError(f"{root} records truncation {folder.truncation}; save edited images by their latents")
    else:
        folder = MaskFolder(list(classes), [], [tuple(c) for c in colors] if colors is not None else None, truncation)
    if isinstance(latents, torch.Tensor):
        latents = latents.detach().cpu().numpy()
    item = MaskItem(_as_mask(mask, "mask"), seed, None if latents is None else np.asarray(latents, dtype=np.float32))
    folder.items.append(item)
    write_mask_folder(root, folder)
    return item
