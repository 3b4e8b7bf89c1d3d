"""Start-up cost: wall time of ``main.py render`` against ``python -c "import torch"``.

Both run as fresh processes, interleaved (each repeat runs both, so load from other
programs hits both alike); the figure is the ratio of their minimum times.  The render
is of ``dcgan-faces`` at seed 1 to a temporary PNG: import, argument parsing, loading
(the weights' digest comes from the digest cache after the first run), one frame, the write.
Python writes bytecode as it does for an installed program (``PYTHONDONTWRITEBYTECODE``
is dropped, so the first run compiles our modules and the timed runs do not; torch's own
were compiled by pip).  Prints one JSON line.

    python benchmarks/startup.py [--repeats 7] [--model dcgan-faces]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:3])} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", default="dcgan-faces")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        render = [sys.executable, str(ROOT / "main.py"), "render", "--model", args.model, "--seed", "1",
                  "--out", str(Path(tmp) / "frame.png")]
        torch_only = [sys.executable, "-c", "import torch"]
        _wall(render, env)  # the first run fills the digest and bytecode caches and the OS file cache
        times: dict[str, list[float]] = {"render": [], "import_torch": []}
        for _ in range(max(1, args.repeats)):
            times["import_torch"].append(_wall(torch_only, env))
            times["render"].append(_wall(render, env))
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({
        "benchmark": "startup",
        "model": args.model,
        "render_s_min": round(best["render"], 3),
        "import_torch_s_min": round(best["import_torch"], 3),
        "ratio": round(best["render"] / best["import_torch"], 3),
        "repeats": args.repeats,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }))


if __name__ == "__main__":
    main()
