"""Frames per second while a slider is dragged, through the real `RenderWorker` (offscreen).

A scripted drag sends ``--requests`` edit states (one control swept back and forth)
to the render worker faster than it can render, as a fast mouse does; the worker
renders the newest state each time and drops the rest.  The frame rate is the rate
at which finished frames reach the GUI thread.  The per-frame time is split into:

* ``synthesize_ms`` — the generator's forward pass alone (latents ready, batch 1);
* ``render_state_ms`` — the whole per-frame path of `editing.render.render_state`
  (sample the seed, truncate, apply the controls, synthesize, convert to uint8 HWC),
  timed inside the worker;
* ``worker_overhead_ms`` — frame interval minus render_state: waking the thread,
  taking the newest request, the generator lock, the signal to the GUI thread.

A second, closed-loop phase sends one request at a time and reports the latency from
``request()`` to the frame's arrival on the GUI thread; a third repeats it with the layer
view open (``layer_view_*``: the worker's extra `features` call per frame, and the
latency it adds).  Prints one JSON line.

    python benchmarks/gui_drag.py [--model dcgan-faces] [--requests 1500] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PyQt6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer  # noqa: E402

import models  # noqa: E402
from app.render_worker import RenderWorker  # noqa: E402
from app.shared_generator import SharedGenerator  # noqa: E402
from editing.render import render_state  # noqa: E402
from editing.state import EditState  # noqa: E402
from methods.controls import random_controls  # noqa: E402


def drag_values(n: int, span: float = 5.0, period: int = 120) -> list[float]:
    """A slider dragged back and forth between ±span, ``period`` events per sweep."""
    out = []
    for i in range(n):
        u = (i % period) / period
        out.append(round(span * (4 * abs(u - 0.5) - 1), 1))
    return out


def pump_until(app: QCoreApplication, done, timeout_s: float = 120.0) -> None:
    """Run a real (sleeping) Qt event loop until ``done()``; checked whenever an event was handled."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QTimer()
    check.setInterval(1)  # a precise timer that only fires while the loop is otherwise idle… at most 1 kHz
    check.setTimerType(Qt.TimerType.PreciseTimer)

    def poll() -> None:
        if done() or time.monotonic() > deadline:
            loop.quit()

    check.timeout.connect(poll)
    check.start()
    if not done():
        loop.exec()
    check.stop()
    if not done():
        raise TimeoutError("the render worker stopped answering")


@torch.no_grad()
def time_synthesize(G, state: EditState, frames: int) -> float:
    lat = G.sample(1, state.seed)
    G.synthesize(lat)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        G.synthesize(lat)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--requests", type=int, default=1500, help="slider events of the scripted drag")
    ap.add_argument("--interval-ms", type=float, default=2.0, help="time between two slider events (default 2 ms: faster than rendering)")
    ap.add_argument("--latency-frames", type=int, default=60, help="frames of the closed-loop latency phase")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    ap.add_argument("--layer", default=None, help="layer of the layer-view phase (default: the middle of G.layer_names())")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    G = models.load_generator(args.model, args.device)
    controls = random_controls(G, 20, seed=0)
    base = EditState(model=G.name, truncation=G.default_truncation).with_controls(controls)
    states = [base.with_value(3, v) for v in drag_values(args.requests)]

    synth_ms = time_synthesize(G, base, 30)
    direct = []
    for s in states[:30]:
        t0 = time.perf_counter()
        render_state(G, s)
        direct.append((time.perf_counter() - t0) * 1000)

    worker = RenderWorker()
    worker.set_generator(SharedGenerator(G))
    arrivals: list[tuple[int, float, float]] = []  # (stamp, arrival time, worker ms)
    worker.frameReady.connect(lambda stamp, _f, ms: arrivals.append((stamp, time.perf_counter(), ms)))
    worker.start()
    worker.request(base)
    pump_until(app, lambda: len(arrivals) == 1)  # warm-up frame
    arrivals.clear()

    # --- phase 1: the drag (open loop, events faster than frames) ---------------------
    sent = 0
    timer = QTimer()
    timer.setInterval(max(0, int(args.interval_ms)))

    def send() -> None:
        nonlocal sent
        if sent < len(states):
            worker.request(states[sent])
            sent += 1
        else:
            timer.stop()

    rendered0, dropped0 = worker.rendered, worker.dropped
    t_start = time.perf_counter()
    timer.timeout.connect(send)
    timer.start()
    pump_until(app, lambda: sent == len(states) and worker.idle() and arrivals and arrivals[-1][0] == worker.latest_stamp)
    t_end = arrivals[-1][1]
    frames = len(arrivals)
    fps = (frames - 1) / (t_end - arrivals[0][1]) if frames > 1 else 0.0
    interval_ms = 1000.0 / fps if fps else float("nan")
    worker_ms = statistics.median(ms for _s, _t, ms in arrivals)
    # per frame: time since the previous frame arrived, minus the frame's own render time
    overhead = [(t - tp) * 1000 - ms for (_s, tp, _m), (_s2, t, ms) in zip(arrivals, arrivals[1:])]
    rendered, dropped = worker.rendered - rendered0, worker.dropped - dropped0

    # --- phase 2: closed loop, one request at a time -----------------------------------
    def closed_loop() -> list[tuple[float, float]]:
        """(latency ms from request to arrival, worker ms) of one request at a time."""
        out = []
        for s in states[: args.latency_frames]:
            arrivals.clear()
            t0 = time.perf_counter()
            stamp = worker.request(s)
            pump_until(app, lambda: arrivals and arrivals[-1][0] == stamp)
            out.append(((arrivals[-1][1] - t0) * 1000, arrivals[-1][2]))
        return out

    latencies = closed_loop()

    # --- phase 3: the same, with the layer view open (one extra features call per frame) --
    layer = args.layer or G.layer_names()[len(G.layer_names()) // 2]
    feature_ms: list[float] = []
    worker.featuresReady.connect(lambda _s, _l, _a, ms: feature_ms.append(ms))
    worker.set_probe(layer)
    probed = [t for t, _ms in closed_loop()]
    worker.set_probe(None)
    worker.stop()

    lat_ms = statistics.median(t for t, _ in latencies)
    lat_overhead = statistics.median(t - ms for t, ms in latencies)
    print(json.dumps({
        "benchmark": "gui_drag",
        "model": G.name,
        "resolution": G.resolution,
        "device": str(G.device),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "requests": len(states),
        "frames": frames,
        "dropped": dropped,
        "rendered": rendered,
        "drag_seconds": round(t_end - t_start, 3),
        "fps": round(fps, 1),
        "frame_interval_ms": round(interval_ms, 2),
        "synthesize_ms": round(synth_ms, 2),
        "render_state_ms": round(worker_ms, 2),
        "render_state_direct_ms": round(statistics.median(direct), 2),
        "worker_overhead_ms": round(statistics.median(overhead), 3) if overhead else None,
        "latency_ms": round(lat_ms, 2),
        "latency_overhead_ms": round(lat_overhead, 3),
        "layer_view_layer": layer,
        "layer_view_features_ms": round(statistics.median(feature_ms), 2) if feature_ms else None,
        "layer_view_latency_ms": round(statistics.median(probed), 2),
        "layer_view_cost_ms_per_frame": round(statistics.median(probed) - lat_ms, 2),
    }))


if __name__ == "__main__":
    main()
