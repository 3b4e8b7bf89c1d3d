"""Rendering an `EditState` to pixels: the one code path of the GUI, the CLI and the exporter.

Per frame: sample the seed's latents (style-mix them) and truncate — or take the state's
explicit latents instead — then apply the controls, one batched ``synthesize``, and one
conversion to a host ``uint8 [H, W, 3]`` array.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Sequence

import cv2
import numpy as np
import torch

from models.frames import to_uint8

from .state import EditState


def resize_frame(frame: np.ndarray, size: int | None, nearest: bool = False) -> np.ndarray:
    """Square ``uint8 [H, W, 3]`` frame scaled to ``size`` px (unchanged when None or equal)."""
    if size is None or size == frame.shape[0]:
        return frame
    if nearest:
        interp = cv2.INTER_NEAREST
    else:
        interp = cv2.INTER_AREA if size < frame.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(frame, (size, size), interpolation=interp)


def base_latents(G, state: EditState) -> torch.Tensor:
    """The state's explicit latents as ``[1, num_layers, latent_dim]`` on ``G``'s device (float32).

    Raises ValueError when they do not fit ``G``'s latent shape.
    """
    want = (int(G.num_layers), int(G.latent_dim))
    if state.latents.shape != want:
        raise ValueError(f"the image's explicit latents have shape {list(state.latents.shape)} but {G.name} needs {list(want)}")
    return torch.tensor(state.latents.array, dtype=torch.float32, device=G.device)[None]


def state_latents(G, state: EditState, seeds: Sequence[int] | None = None) -> torch.Tensor:
    """Edited per-layer latents ``[B, num_layers, latent_dim]`` for the state's seed (or ``seeds``).

    Order (METHODS.md §0): sample -> style mix -> truncate -> edit, so a slider step is
    not shrunk by truncation.  With explicit ``state.latents`` (and no ``seeds``) they
    are the base instead of the first three steps; ``seeds`` (a grid) always samples
    the seeds, ignoring explicit latents.
    """
    if state.latents is not None and seeds is None:
        lat = base_latents(G, state)
    else:
        seeds = [state.seed] if seeds is None else list(seeds)
        # NVIDIA's conditional models take the class in the mapping (`class_in_mapping`)
        cls = _classes(G, state, 1) if getattr(G, "class_in_mapping", False) else None
        sample = (lambda seed: G.sample(1, seed, classes=cls)) if cls is not None else (lambda seed: G.sample(1, seed))
        lat = torch.cat([sample(s) for s in seeds])
        if state.mix_seed is not None and state.mix_range is not None:
            s, e = state.mix_range
            other = sample(state.mix_seed)
            lat = lat.clone()
            lat[:, s:e] = other[:, s:e]
        lat = G.truncate(lat, state.truncation)
    cs = state.controls
    if cs is not None and len(cs) and state.active():
        lat = cs.apply(lat, list(state.values), list(state.ranges))
    return lat


def _classes(G, state: EditState, batch: int) -> torch.Tensor | None:
    """Class indices ``[B]``, or class weights ``[B, n_classes]`` when two classes are mixed."""
    if G.classes is None:
        return None
    idx = state.class_index if state.class_index is not None else int(getattr(G, "default_class", 0))
    if state.class_mix is None:
        return torch.full((batch,), int(idx), dtype=torch.long, device=G.device)
    other, w = state.class_mix
    vec = torch.zeros(batch, len(G.classes), device=G.device)
    vec[:, idx] += 1.0 - w
    vec[:, other] += w
    return vec


def view_transform_args(G, state: EditState) -> dict:
    """``{"transform": [3, 3]}`` for ``synthesize`` when the state translates or rotates the view.

    Only generators with ``view_transform`` (StyleGAN3) have one; ValueError for the others.
    """
    if not state.transformed:
        return {}
    make = getattr(G, "view_transform", None)
    if make is None:
        raise ValueError(f"{G.name} is not a StyleGAN3, so its view cannot be translated or rotated")
    return {"transform": make(state.translate, state.rotate)}


def synthesize_latents(G, state: EditState, latents: torch.Tensor) -> np.ndarray:
    """Edited latents ``[B, L, D]`` -> ``uint8 [B, H, W, 3]`` at the state's output size."""
    # the noise mode goes with this call (never set on a generator another thread may share)
    extra = {"noise_mode": state.noise_mode} if hasattr(G, "noise_mode") else {}
    extra.update(view_transform_args(G, state))
    with torch.no_grad():
        images = G.synthesize(latents, classes=_classes(G, state, latents.shape[0]), truncation=state.truncation, **extra)
    frames = to_uint8(images, getattr(G, "uint8_convention", "round"))
    return np.stack([resize_frame(f, state.size) for f in frames])


def _prime_vector_math() -> None:
    """Call each element-wise function that PyTorch may hand to MKL's vector math (VML) once,
    on one thread, before any frame is rendered.

    VML picks its implementation lazily on the first call of each function; when that
    first call is split across threads, a chunk now and then ran on another code path
    and came out a last bit different (seen: the DCGAN's final tanh, in 1 of 40
    processes, never on a later call), moving a pixel of a preset's frame.  One call
    here, on tensors too small to be split, settles the choice for the process.
    """
    x32 = torch.linspace(0.1, 0.9, 64)
    for x in (x32, x32.double()):
        for fn in (torch.tanh, torch.exp, torch.expm1, torch.log, torch.log1p, torch.sqrt, torch.rsqrt,
                   torch.sin, torch.cos, torch.erf, torch.sigmoid, torch.atan):
            fn(x)


_prime_vector_math()

_KERNELS = threading.Condition()
_frames_in_flight = 0  # frames being rendered inside `_frame_kernels` right now, all threads
_kernel_mode: bool | None = None  # the oneDNN setting those frames run with
_onednn_before = True
_held = threading.local()  # per thread: how deep inside `_frame_kernels` it is


@contextlib.contextmanager
def _frame_kernels(G):
    """Run a CPU frame of ``G`` on the convolution kernels its family gives the same bits with
    at every thread count and in every process: oneDNN where ``G.cpu_frames_onednn`` (and
    it is faster there), PyTorch's own kernels otherwise.

    What varied was the thread count, not the process: with the same number of threads
    60 processes gave one frame; with 1, 2 or 3 threads oneDNN's 1x1 convolutions (and
    BigGAN's) summed their input channels in a different order (the window renders with
    one thread fewer than the CLI).  StyleGAN2 does its 1x1 ToRGB as a matrix product, so
    oneDNN stays on for it; BigGAN keeps PyTorch's kernels; DCGAN too, as they are the
    faster there.  The earlier "2 of 12 processes differ" was MKL's vector math choosing
    its code path on a first multi-threaded call, settled by `_prime_vector_math`.

    The oneDNN switch is process-wide, so frames that need the other setting wait until
    the frames in flight are done (frames needing the same one run together), and a
    frame inside another on the same thread runs with the setting it finds.  GPUs are not
    affected.
    """
    global _frames_in_flight, _kernel_mode, _onednn_before
    if torch.device(G.device).type != "cpu" or getattr(_held, "depth", 0):
        _held.depth = getattr(_held, "depth", 0) + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    want = bool(getattr(G, "cpu_frames_onednn", False))
    with _KERNELS:
        while _frames_in_flight and _kernel_mode != want:
            _KERNELS.wait()
        if _frames_in_flight == 0:
            _onednn_before = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = want
            _kernel_mode = want
        _frames_in_flight += 1
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        with _KERNELS:
            _frames_in_flight -= 1
            if _frames_in_flight == 0:
                torch.backends.mkldnn.enabled = _onednn_before
                _kernel_mode = None
                _KERNELS.notify_all()


def render_state(G, state: EditState, fast: bool = False) -> np.ndarray:
    """The frame of ``state``: ``uint8 [size, size, 3]`` RGB, the same bit for bit in every process
    and at every thread count (batch 1, and the CPU kernels of `_frame_kernels`).

    ``fast``: a preview may use the generator's fast path where it has one for its device
    (StyleGAN2 on CUDA: float16 within 1/255, CUDA graphs); such a frame can differ from
    the exact one by a level in some pixels, so exports and presets never ask for it.
    It runs on the same kernels as the exact frame (on the CPU the exact StyleGAN2 frame
    is the faster one, so `has_fast_path` is false there).
    """
    with torch.no_grad(), _frame_kernels(G):
        lat = state_latents(G, state)
        if fast and getattr(G, "has_fast_path", False) and not state.transformed:
            return resize_frame(G.fast_frames(lat, state.noise_mode)[0], state.size)
        return synthesize_latents(G, state, lat)[0]


def render_state_and_labels(G, state: EditState, extractor) -> tuple[np.ndarray, np.ndarray]:
    """The frame of ``state`` and a semantic extractor's class map ``uint8 [S, S]`` of it.

    The map is ``extractor.predict`` on the same edited latents the frame is synthesized
    from (one extra partial forward), at the model's resolution.
    """
    with torch.no_grad(), _frame_kernels(G):
        lat = state_latents(G, state)
        frame = synthesize_latents(G, state, lat)[0]  # the same pixels as render_state
    if extractor.device != torch.device(G.device):
        extractor.to(G.device)
    labels = extractor.predict(G, lat, classes=_classes(G, state, 1), truncation=state.truncation)[0]
    return frame, labels.to(torch.uint8).cpu().numpy()


def layer_activations(G, state: EditState, layer: str) -> np.ndarray:
    """The activations at ``layer`` for the state's frame: ``float32 [C, H, W]`` on the host.

    The same edited latents as `render_state` (one `Generator.features` call, which stops
    after that layer).  ``"latent"`` gives the latents as one channel ``[1, L, D]``; a flat
    layer ``[C]`` gives ``[C, 1, 1]``.
    """
    with torch.no_grad(), _frame_kernels(G):
        lat = state_latents(G, state)
        extra = {"noise_mode": state.noise_mode} if hasattr(G, "noise_mode") else {}
        out = G.features(lat, [layer], classes=_classes(G, state, 1), truncation=state.truncation, **extra)[layer]
    a = out[0].detach().float().cpu().numpy()
    if layer == "latent" or a.ndim == 2 and a.shape == tuple(lat.shape[1:]):
        return a[None]
    if a.ndim == 1:
        return a[:, None, None]
    if a.ndim == 2:
        return a[None]
    return a.reshape(a.shape[0], a.shape[-2], a.shape[-1]) if a.ndim == 3 else a.reshape(-1, a.shape[-2], a.shape[-1])


def render_grid(G, state: EditState, seeds: Sequence[int]) -> np.ndarray:
    """The same edits on several seeds in one batch: ``uint8 [len(seeds), size, size, 3]``.

    The seeds are sampled even when the state has explicit latents (a grid is about seeds).
    """
    with torch.no_grad(), _frame_kernels(G):
        lat = state_latents(G, state, seeds)
        return synthesize_latents(G, state, lat)


def tile(frames: np.ndarray, columns: int, pad: int = 0) -> np.ndarray:
    """``[N, H, W, 3]`` -> one ``[rows·H, columns·W, 3]`` image (missing cells black)."""
    n, h, w, c = frames.shape
    rows = (n + columns - 1) // columns
    out = np.zeros((rows * h + (rows - 1) * pad, columns * w + (columns - 1) * pad, c), dtype=frames.dtype)
    for i, f in enumerate(frames):
        r, col = divmod(i, columns)
        out[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = f
    return out
