"""`RenderWorker`: renders the newest `EditState` on its own thread and drops stale ones.

The GUI thread calls `request` (thread-safe, never blocks on rendering): the request
replaces whatever was waiting and gets a stamp.  The worker wakes, takes only the
newest request, renders it with `editing.render` (the CLI's code path) and emits
``frameReady(stamp, frame, ms)``; the receiver ignores stamps older than the frame it
already shows.  At most one wake-up event is queued at a time, so a burst of
thousands of requests costs thousands of cheap assignments and a handful of renders.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from editing.render import layer_activations, render_grid, render_state, render_state_and_labels, tile
from editing.seeds import blend_base
from editing.state import EditState
from methods.jobs import error_line

from models.devices import is_out_of_memory, move_to_cpu

from .shared_generator import SharedGenerator


class FrameAbandoned(Exception):
    """Raised between a generator's layers when the window closes during a slow frame."""


#: render threads that outlived `RenderWorker.stop`: referenced so Qt never deletes them running
_ORPHANS: list = []


def _abort_between_layers(G) -> list:
    """Forward pre-hooks on every module of ``G``'s network that raise `FrameAbandoned`."""
    net = getattr(getattr(G, "unwrapped", G), "net", None) if G is not None else None
    if net is None or not hasattr(net, "modules"):
        return []

    def abandon(_module, _inputs):
        raise FrameAbandoned("the window closed while this frame was rendering")

    return [m.register_forward_pre_hook(abandon) for m in net.modules()]


@dataclass(frozen=True)
class RenderRequest:
    """One frame to draw: a state and, in grid mode, the seeds to tile."""

    stamp: int
    state: EditState
    seeds: tuple[int, ...] | None = None
    #: a single frame may take the generator's fast preview path (`editing.render.render_state`)
    fast: bool = False
    #: a blend of seeds (`editing.seeds`) that replaces the state's seed as the frame's base
    blend: tuple | None = None


#: pixels between grid tiles (the canvas maps clicks to tiles with the same gap)
GRID_GAP = 2


def grid_columns(n: int) -> int:
    """Columns of a grid of ``n`` seeds (as square as possible, like `main.py render --grid`)."""
    return max(1, math.ceil(math.sqrt(n)))


def render_request(G, req: RenderRequest) -> np.ndarray:
    """The pixels of one request: one frame, or the grid of seeds tiled with 2 px gaps."""
    if req.seeds is None:
        return render_state(G, req.state, fast=req.fast)
    frames = render_grid(G, req.state, list(req.seeds))
    return tile(frames, grid_columns(len(req.seeds)), pad=GRID_GAP)


def render_request_labels(G, req: RenderRequest, extractor) -> tuple[np.ndarray, np.ndarray | None]:
    """The pixels of one request and, for single frames when ``extractor`` is set, its class map."""
    if extractor is None or req.seeds is not None:
        return render_request(G, req), None
    return render_state_and_labels(G, req.state, extractor)


class RenderWorker(QObject):
    """Owns the generator for rendering; lives on its own `QThread` (see `start`).

    Signals (delivered to the GUI thread by queued connections):
    ``frameReady(stamp, frame uint8 [H, W, 3], ms)``, ``failed(stamp, message)``,
    ``notice(message)`` (e.g. out of GPU memory: the generator moved to the CPU),
    ``labelsReady(stamp, labels uint8 [S, S] | None)`` just before ``frameReady`` of the same
    stamp (None when no extractor is set or in grid mode).
    """

    frameReady = pyqtSignal(int, object, float)
    failed = pyqtSignal(int, str)
    notice = pyqtSignal(str)
    labelsReady = pyqtSignal(int, object)
    #: ``(stamp, BaseLatents)``: the base a seed blend resolved to, before ``frameReady`` of the same stamp
    blendReady = pyqtSignal(int, object)
    #: ``(stamp, layer, float32 [C, H, W], ms)``: the probed layer of a single frame (`set_probe`)
    featuresReady = pyqtSignal(int, str, object, float)
    _wake = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: RenderRequest | None = None
        self._scheduled = False
        self._next_stamp = 0
        self._generator: SharedGenerator | None = None
        self._extractor = None  # a methods.semantics.SemanticExtractor, or None
        self._probe: str | None = None  # the layer whose activations go with each single frame (layer view)
        self._min_interval = 0.0  # seconds between frame starts (the FPS cap; 0: none)
        self._fast = False  # let single frames use the generator's fast preview path
        self._announced: dict | None = None  # the fast path's `fast_info` last reported by `notice`
        self._busy = False
        self.rendered = 0  # frames rendered (for tests and the benchmark)
        self.dropped = 0  # requests replaced before they were rendered
        self._thread: QThread | None = None
        self._wake.connect(self._drain)

    # ------------------------------------------------------------------ lifetime
    def start(self) -> QThread:
        """Move the worker onto a new thread and start it."""
        thread = QThread()
        thread.setObjectName("render")
        self.moveToThread(thread)
        thread.start()
        self._thread = thread
        return thread

    def stop(self, timeout_ms: int = 5000, grace_ms: int = 1000) -> bool:
        """Stop the thread within about ``grace_ms + timeout_ms``; True when it has finished.

        Pending requests are dropped.  A frame still rendering after ``grace_ms`` (a 512 px
        BigGAN frame takes ~10 s on a CPU) is cancelled between layers: a forward pre-hook on
        every module of the generator raises `FrameAbandoned`.  A thread that still runs
        after ``timeout_ms`` is kept referenced (`_ORPHANS`) rather than destroyed, since
        Qt aborts the process when a running QThread is deleted.
        """
        with self._lock:
            self._pending = None
            G = self._generator
        thread = self._thread
        if thread is None:
            return True
        thread.quit()
        finished = thread.wait(grace_ms)
        if not finished:
            handles = _abort_between_layers(G)
            try:
                finished = thread.wait(timeout_ms)
            finally:
                for h in handles:
                    h.remove()
        if not finished:
            _ORPHANS.append(thread)
        self._thread = None
        return finished

    # ------------------------------------------------------------------ any thread
    def set_generator(self, generator: SharedGenerator | None) -> None:
        """Use ``generator`` from the next frame on (thread-safe)."""
        with self._lock:
            self._generator = generator

    def set_extractor(self, extractor) -> None:
        """Also compute the class map of every single frame with ``extractor`` (None: stop; thread-safe)."""
        with self._lock:
            self._extractor = extractor

    def set_probe(self, layer: str | None) -> None:
        """Also send the activations of ``layer`` with every single frame (None: stop; thread-safe)."""
        with self._lock:
            self._probe = layer or None

    def set_max_fps(self, fps: float) -> None:
        """Start frames at most ``fps`` times a second (0: as fast as possible; thread-safe).

        Requests that arrive meanwhile replace each other, so the newest is drawn next.
        """
        with self._lock:
            self._min_interval = 1.0 / fps if fps > 0 else 0.0

    def set_fast_preview(self, on: bool) -> None:
        """Let later single frames use the generator's fast path (StyleGAN2 on CUDA; thread-safe)."""
        with self._lock:
            self._fast = bool(on)

    @property
    def fast_preview(self) -> bool:
        with self._lock:
            return self._fast

    @property
    def extractor(self):
        with self._lock:
            return self._extractor

    @property
    def generator(self) -> SharedGenerator | None:
        with self._lock:
            return self._generator

    def request(self, state: EditState, seeds: Sequence[int] | None = None, blend: tuple | None = None) -> int:
        """Ask for a frame of ``state`` (a grid when ``seeds`` is given; ``blend``: seeds blended
        as its base, resolved on this worker's thread); returns its stamp.

        Never blocks on rendering: a waiting request is replaced (dropped), and the
        worker is woken only if no wake-up is queued yet.
        """
        with self._lock:
            self._next_stamp += 1
            stamp = self._next_stamp
            if self._pending is not None:
                self.dropped += 1
            self._pending = RenderRequest(stamp, state, tuple(seeds) if seeds is not None else None, self._fast,
                                          tuple(blend) if blend else None)
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            self._wake.emit()
        return stamp

    @property
    def latest_stamp(self) -> int:
        with self._lock:
            return self._next_stamp

    def idle(self) -> bool:
        """True when nothing is waiting or being rendered."""
        with self._lock:
            return self._pending is None and not self._busy and not self._scheduled

    # ------------------------------------------------------------------ worker thread
    @pyqtSlot()
    def _drain(self) -> None:
        while True:
            with self._lock:
                req, self._pending = self._pending, None
                G = self._generator
                ext = self._extractor
                probe = self._probe
                if req is None:
                    self._scheduled = False
                    return
                self._busy = True
            try:
                if G is None:
                    self.failed.emit(req.stamp, "no model is loaded")
                    continue
                t0 = time.perf_counter()
                with G.lock:  # one whole frame at a time: jobs' hooks never see it
                    if req.blend is not None:
                        base = blend_base(G.unwrapped, req.state, req.blend)
                        req = replace(req, state=replace(req.state, latents=base))
                        self.blendReady.emit(req.stamp, base)
                    try:
                        frame, labels = render_request_labels(G.unwrapped, req, ext)
                    except Exception as exc:
                        if not is_out_of_memory(exc):
                            raise
                        # out of memory: free what we can, move to the CPU if on a GPU, retry once
                        del exc
                        moved = move_to_cpu(G.unwrapped)
                        self.notice.emit("Out of GPU memory: rendering on the CPU from now on" if moved
                                         else "Out of memory: retried the frame")
                        frame, labels = render_request_labels(G.unwrapped, req, ext)
                ms = (time.perf_counter() - t0) * 1000.0
                if probe is not None and req.seeds is None:
                    self._send_features(G, req, probe)
                self.rendered += 1
                self._announce_fast_path(G.unwrapped, req)
                self.labelsReady.emit(req.stamp, labels)
                self.frameReady.emit(req.stamp, frame, ms)
                with self._lock:
                    wait = t0 + self._min_interval - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)  # the FPS cap (on this thread: the window keeps going)
            except Exception as exc:  # a bad state or a model error must not kill the thread
                self.failed.emit(req.stamp, _one_line(exc))
            finally:
                with self._lock:
                    self._busy = False

    def _send_features(self, G: SharedGenerator, req: RenderRequest, layer: str) -> None:
        """The layer view's activations of this frame: one `features` call, on this thread."""
        t0 = time.perf_counter()
        try:
            with G.lock:
                acts = layer_activations(G.unwrapped, req.state, layer)
        except Exception as exc:  # an unknown layer (another model) must not lose the frame
            self.notice.emit(f"Layer view: {_one_line(exc)}")
            return
        self.featuresReady.emit(req.stamp, layer, acts, (time.perf_counter() - t0) * 1000.0)

    def _announce_fast_path(self, G, req: RenderRequest) -> None:
        """One `notice` when a fast path is first used on a generator: its precision."""
        info = getattr(G, "fast_info", None)
        if not (req.fast and info) or info is self._announced:
            return
        self._announced = info
        self.notice.emit(fast_path_message(info))


def fast_path_message(info: dict) -> str:
    """The status-bar line for a `fast_info` dict of `models.stylegan2.StyleGAN2Generator`."""
    half = info.get("half_from")
    if half is None:
        precision = "float32"
    else:
        precision = f"float16 from {half}² px up, within {info.get('max_error', 0.0) * 255:.2f}/255 of float32"
    graphs = ", CUDA graphs" if info.get("graphs") else ""
    return f"Fast preview on {info.get('device', '?')}: {precision}{graphs}; exports use the exact path"


def _one_line(exc: BaseException) -> str:
    return error_line(exc)
