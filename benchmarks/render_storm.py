"""The render worker under a storm of requests: bounded memory, only the newest rendered.

Phase 1 sends ``--burst`` requests (random slider values on 40 controls) at once; phase 2
sends ``--rate`` requests per second for ``--seconds`` (1 000/s for a minute by default),
each from a Qt timer on the GUI thread as slider events arrive.  Reported: requests,
frames rendered, the largest stamp gap between consecutive frames shown, whether frame
stamps only ever increased, whether the last frame equals a direct render of the last
state, and the process's resident memory at the start, its peak and at the end.
Prints one JSON line.

    python benchmarks/render_storm.py [--burst 10000] [--rate 1000] [--seconds 60]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PyQt6.QtCore import QCoreApplication, QTimer  # noqa: E402

import models  # noqa: E402
from app.render_worker import RenderWorker  # noqa: E402
from app.shared_generator import SharedGenerator  # noqa: E402
from common import machine  # noqa: E402
from gui_drag import pump_until  # noqa: E402
from editing.render import render_state  # noqa: E402
from editing.state import EditState  # noqa: E402
from methods.controls import random_controls  # noqa: E402


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=models.DEFAULT_MODEL)
    ap.add_argument("--burst", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()

    app = QCoreApplication.instance() or QCoreApplication([])
    G = models.load_generator(args.model, "cpu")
    base = EditState(model=args.model).with_controls(random_controls(G, 40, seed=0))
    rng = np.random.default_rng(0)
    worker = RenderWorker()
    worker.set_generator(SharedGenerator(G))
    worker.start()
    shown: list[int] = []
    last = {"frame": None}
    peak = {"rss": rss_mib()}

    def on_frame(stamp: int, frame, _ms: float) -> None:
        shown.append(stamp)
        last["frame"] = frame
        peak["rss"] = max(peak["rss"], rss_mib())

    worker.frameReady.connect(on_frame)
    states: dict[int, EditState] = {}

    def send() -> None:
        state = base.with_value(int(rng.integers(40)), float(np.round(rng.normal() * 3, 2)))
        states.clear()  # keep only the newest, as the window does
        states[worker.request(state)] = state

    rss_start = rss_mib()
    t0 = time.perf_counter()
    for _ in range(args.burst):
        send()
    burst_send_ms = (time.perf_counter() - t0) * 1000
    pump_until(app, lambda: worker.idle() and shown and shown[-1] == worker.latest_stamp)
    burst = {"requests": args.burst, "frames": len(shown), "send_ms": round(burst_send_ms, 1),
             "last_frame_equals_direct_render": bool(np.array_equal(last["frame"], render_state(G, states[worker.latest_stamp])))}

    shown.clear()
    sent = {"n": 0}
    per_tick = max(1, args.rate // 100)  # a 10 ms timer sends rate/100 requests per tick
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        for _ in range(per_tick):
            send()
        sent["n"] += per_tick

    timer.timeout.connect(tick)
    t0 = time.perf_counter()
    timer.start()
    pump_until(app, lambda: time.perf_counter() - t0 >= args.seconds, timeout_s=args.seconds + 60)
    timer.stop()
    elapsed = time.perf_counter() - t0
    pump_until(app, lambda: worker.idle() and shown and shown[-1] == worker.latest_stamp)
    gaps = np.diff(shown) if len(shown) > 1 else np.array([0])
    sustained = {
        "requests": sent["n"], "seconds": round(elapsed, 1), "requests_per_s": round(sent["n"] / elapsed),
        "frames": len(shown), "frames_per_s": round(len(shown) / elapsed, 1),
        "stamps_increase": bool(np.all(gaps > 0)), "largest_stamp_gap": int(gaps.max()),
        "last_frame_equals_direct_render": bool(np.array_equal(last["frame"], render_state(G, states[worker.latest_stamp]))),
    }
    worker.stop()
    print(json.dumps({"benchmark": "render_storm", "model": args.model, "machine": machine(), "burst": burst,
                      "sustained": sustained, "rss_mib": {"start": round(rss_start, 1), "peak": round(peak["rss"], 1),
                                                          "end": round(rss_mib(), 1)}}))


if __name__ == "__main__":
    main()
