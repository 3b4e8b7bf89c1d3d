"""Exports: PNG frames, strip images of control sweeps, mp4 videos of sweeps and of looping seed walks.

Every writer goes to a temporary file beside the target and renames it into place,
so a failed or cancelled export leaves no partial file.

Under ``torchrun`` the frames of a sweep, strip or grid are split across the ranks and
assembled in order on rank 0 (`editing.parallel`), which alone writes the file; on the
other ranks the exporters render their share and return without writing (``None`` for
the image builders).
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from methods import distributed
from methods.jobs import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress

from models.atomic import atomic_path, write_bytes_atomic
from models.bounded import native_stderr_silenced
from .parallel import render_in_order
from .render import _frame_kernels, render_grid, state_latents, synthesize_latents, tile
from .seeds import blend_base, walk
from .state import EditState


class ExportError(ValueError):
    """An export could not be written; one sentence for the user."""


def encode_png(frame: np.ndarray) -> bytes:
    """``uint8 [H, W, 3]`` RGB -> PNG bytes (encoded in memory: a failed disk write is then our
    OSError with a sentence, not libpng's line on stderr)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(frame[:, :, ::-1]))
    if not ok:
        raise ExportError("the frame could not be encoded as PNG")
    return buf.tobytes()


def write_png(path: str | Path, frame: np.ndarray) -> None:
    """``uint8 [H, W, 3]`` RGB -> PNG, atomically."""
    write_bytes_atomic(path, encode_png(frame))


def read_png(path: str | Path) -> np.ndarray:
    """PNG -> ``uint8 [H, W, 3]`` RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ExportError(f"{path} is not a readable image")
    return img[:, :, ::-1].copy()


def sweep_values(a: float, b: float, frames: int, back: bool = True, endpoint: bool = True) -> list[float]:
    """Slider values of a sweep: a -> b (and back to a when ``back``), ``frames`` in all.

    With ``back`` the path is a triangle wave sampled at i/frames, so the last frame
    leads smoothly into the first and the video loops.  Without ``back`` and without
    ``endpoint`` the values are ``a + (b − a)·i/frames`` (a full turn that loops).
    """
    if frames < 1:
        raise ExportError("a sweep needs at least one frame")
    if frames == 1:
        return [float(a)]
    if not back and not endpoint:
        return [float(a + (b - a) * i / frames) for i in range(frames)]
    if not back:
        return [float(v) for v in np.linspace(a, b, frames)]
    u = np.arange(frames) / frames
    tri = 1.0 - np.abs(2.0 * u - 1.0)  # 0 -> 1 -> 0
    return [float(a + (b - a) * t) for t in tri]


def sweep_frames(
    G, state: EditState, control: int, values: Sequence[float], batch: int = 8, cancel: CancelFn = never_cancel
) -> Iterator[np.ndarray]:
    """Frames ``uint8 [size, size, 3]`` of ``state`` with control ``control`` set to each value
    (on rank 0 only when several ranks share the work)."""
    import torch

    def render(chunk: Sequence[float]) -> np.ndarray:
        with torch.no_grad():
            lats = torch.cat([state_latents(G, state.with_value(control, v)) for v in chunk])
        return synthesize_latents(G, state, lats)

    yield from render_in_order(render, list(values), batch, cancel)


#: what a view sweep moves (StyleGAN3's view transform)
VIEW_AXES = ("rotate", "translate-x", "translate-y")


def view_state(state: EditState, axis: str, value: float) -> EditState:
    """``state`` with one view axis set: ``rotate`` in degrees, ``translate-x``/``-y`` in input units."""
    tx, ty = state.translate
    if axis == "rotate":
        return replace(state, rotate=float(value))
    if axis == "translate-x":
        return replace(state, translate=(float(value), ty))
    if axis == "translate-y":
        return replace(state, translate=(tx, float(value)))
    raise ExportError(f"view axis {axis!r} is not one of {', '.join(VIEW_AXES)}")


def view_sweep_frames(G, state: EditState, axis: str, values: Sequence[float],
                      cancel: CancelFn = never_cancel) -> Iterator[np.ndarray]:
    """Frames ``uint8 [size, size, 3]`` of ``state`` with its view moved along ``axis`` to each value.

    The latents are the same for every frame; each frame is synthesised alone with its own
    transform and the reproducible CPU kernels, so it equals `render_state` of that view.
    """
    import torch

    if getattr(G, "view_transform", None) is None:
        raise ExportError(f"{G.name} is not a StyleGAN3, so its view cannot be swept")
    with torch.no_grad(), _frame_kernels(G):
        lat = state_latents(G, state)
    for v in values:
        check_cancel(cancel)
        with _frame_kernels(G):
            frame = synthesize_latents(G, view_state(state, axis, v), lat)[0]
        yield frame


def export_view_video(
    G, state: EditState, axis: str, a: float, b: float, frames: int, fps: float, path: str | Path,
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel,
) -> int:
    """An mp4 of StyleGAN3's view swept along ``axis``: a -> b -> a, or a full turn a -> a + 360 looped."""
    full_turn = axis == "rotate" and abs(b - a) == 360
    values = sweep_values(a, b, frames, back=not full_turn, endpoint=not full_turn)
    return write_video(path, view_sweep_frames(G, state, axis, values, cancel), len(values), fps, progress, cancel)


#: frames per second an mp4 may declare (OpenCV's writer fails without a word outside this)
MIN_FPS, MAX_FPS = 0.1, 1000.0


def _disk_full(folder: Path, margin: int = 1 << 20) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def verify_video(path: str | Path, count: int) -> str | None:
    """None when ``path`` opens as a video with ``count`` frames and its first frame decodes; else why not."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return "it does not open as a video"
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if n != count:
            return f"it holds {n} frames instead of {count}"
        ok, _frame = cap.read()
        if not ok:
            return "its first frame does not decode"
        return None
    finally:
        cap.release()


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    count: int,
    fps: float,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
) -> int:
    """Write RGB frames to an mp4 (MPEG-4 part 2 via OpenCV); returns the number written.

    OpenCV's writer reports no write errors, so the finished temporary file is opened again
    and must hold every frame before it replaces ``path``; a full disk is named as such and
    the old file stays as it was.
    """
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ExportError(f"{fps:g} frames per second is outside the {MIN_FPS:g} to {MAX_FPS:g} a video can have")
    if Path(path).suffix.lower() != ".mp4":
        raise ExportError(f"{Path(path).name}: video export writes .mp4 files")
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    written = 0
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = None
        try:
            for frame in frames:
                check_cancel(cancel)
                if writer is None:
                    h, w = frame.shape[:2]
                    with native_stderr_silenced():  # FFmpeg's own lines would follow our one sentence
                        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
                    if not writer.isOpened():
                        if _disk_full(folder):
                            raise ExportError(f"disk full: no room for the video in {folder}; the old file, if any, is unchanged")
                        raise ExportError(f"OpenCV's mp4 writer would not start for {w}x{h} frames at {fps:g} fps")
                writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
                written += 1
                progress(written / count, f"frame {written}/{count}")
        finally:
            if writer is not None:
                writer.release()
        if written == 0:
            raise ExportError("no frames to write")
        problem = verify_video(tmp, written)
        if problem is not None:
            if _disk_full(folder):
                raise ExportError(f"disk full: the video did not fit in {folder}; the old file, if any, is unchanged")
            raise ExportError(f"the video was not written correctly ({problem}); the old file, if any, is unchanged")
    return written


def export_sweep_video(
    G, state: EditState, control: int, a: float, b: float, frames: int, fps: float, path: str | Path,
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel,
) -> int:
    """An mp4 of control ``control`` swept a -> b -> a on the state's frame."""
    _check_control(state, control)
    values = sweep_values(a, b, frames)
    rendered = sweep_frames(G, state, control, values, cancel=cancel)
    if not distributed.world().main:
        for _ in rendered:  # this rank's share goes to rank 0, which writes
            pass
        return len(values)
    return write_video(path, rendered, len(values), fps, progress, cancel)


def walk_frames(
    G, state: EditState, seeds: Sequence[int], frames_per_seed: int, batch: int = 8, cancel: CancelFn = never_cancel
) -> Iterator[np.ndarray]:
    """Frames ``uint8 [size, size, 3]`` of a looping seed walk (`editing.seeds.walk`) with ``state``'s edits."""
    import torch

    blends = list(walk(seeds, frames_per_seed))
    for start in range(0, len(blends), batch):
        check_cancel(cancel)
        with torch.no_grad():
            lats = torch.cat([state_latents(G, replace(state, latents=blend_base(G, state, b)))
                              for b in blends[start : start + batch]])
        yield from synthesize_latents(G, state, lats)


def export_seed_walk_video(
    G, state: EditState, seeds: Sequence[int], frames_per_seed: int, fps: float, path: str | Path,
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel,
) -> int:
    """An mp4 that walks through ``seeds`` (W blends for StyleGANs, z slerp otherwise) and loops
    back to the first, with the state's edits, truncation and style mix on every frame."""
    try:
        count = len(seeds) * int(frames_per_seed)
        frames = walk_frames(G, state, seeds, frames_per_seed, cancel=cancel)
        if len(seeds) < 2 or frames_per_seed < 1:
            list(walk(seeds, frames_per_seed))  # raises the reason
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    return write_video(path, frames, count, fps, progress, cancel)


def strip_image(
    G, state: EditState, controls: Sequence[int], a: float, b: float, steps: int, pad: int = 2,
    progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel,
) -> np.ndarray | None:
    """One row per control, ``steps`` columns from a to b: ``uint8 [rows·H, steps·W, 3]`` (None off rank 0)."""
    values = sweep_values(a, b, steps, back=False)
    rows = []
    for n, c in enumerate(controls):
        _check_control(state, c)
        rows.extend(sweep_frames(G, state, c, values, cancel=cancel))
        progress((n + 1) / len(controls), f"control {c}")
    return tile(np.stack(rows), steps, pad) if distributed.world().main else None


def _check_control(state: EditState, control: int) -> None:
    n = len(state.controls) if state.controls is not None else 0
    if not 0 <= control < n:
        raise ExportError(f"control {control} does not exist (the controls have indices 0 to {n - 1})" if n else "no controls are loaded")


def grid_image(G, state: EditState, seeds: Sequence[int], columns: int, pad: int = 2) -> np.ndarray | None:
    """The state's edits on several seeds, tiled (None off rank 0; several ranks render a part each)."""
    world = distributed.world()
    if not world.active:
        return tile(render_grid(G, state, seeds), columns, pad)
    per_rank = -(-len(seeds) // world.size)
    frames = list(render_in_order(lambda block: render_grid(G, state, block), list(seeds), per_rank))
    return tile(np.stack(frames), columns, pad) if world.main else None

