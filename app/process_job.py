"""Discovery in several local processes (torchrun), for the window's long jobs. No Qt.

The window runs `run_in_processes` on a job thread: it starts ``python -m
torch.distributed.run --nproc-per-node N main.py discover …`` on 127.0.0.1 with the
dialog's options, turns rank 0's progress lines into the job's progress, sends SIGINT
to the launcher on cancel (every rank stops at the same iteration; trained runs leave a
checkpoint), and loads the controls file rank 0 wrote.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import fields
from pathlib import Path

from methods.controls import ControlSet
from methods.jobs import CancelFn, Cancelled, MethodError, ProgressFn

ROOT = Path(__file__).resolve().parents[1]
#: methods that use several processes (as `cli.commands.DISTRIBUTED_METHODS`)
PROCESS_METHODS = ("ganspace", "latentclr", "warped", "voynov")
#: a CPU must have more cores than this before the dialog offers several processes
MIN_CORES = 4
_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)% (.*)$")


def max_processes() -> int:
    """How many local processes a job may use: the GPUs when there are several, else the cores above `MIN_CORES`, else 1."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > 1:
        return gpus
    cores = os.cpu_count() or 1
    return cores if cores > MIN_CORES and gpus == 0 else 1


def discover_command(model: str, method: str, config, processes: int, device: str, out: str | Path, port: int) -> list[str]:
    """The torchrun command line of a discovery with ``config``'s values (the defaults left out)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
           "--master-addr", "127.0.0.1", "--master-port", str(port), str(ROOT / "main.py"), "discover",
           "--method", method, "--model", model, "--device", device, "--no-cache", "--progress-lines", "--out", str(out)]
    for f in fields(config):
        value = getattr(config, f.name)
        if value != f.default:
            cmd += [f"--{f.name.replace('_', '-')}", str(value).lower() if isinstance(value, bool) else str(value)]
    return cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_in_processes(
    model: str, method: str, config, processes: int, device: str, progress: ProgressFn, cancel: CancelFn,
    poll_s: float = 0.2,
) -> ControlSet:
    """Run the discovery in ``processes`` local processes; the ControlSet rank 0 wrote.

    Raises `Cancelled` after a cancel, `MethodError` with the processes' error line on a failure.
    """
    if method not in PROCESS_METHODS:
        raise MethodError(f"{method} runs in one process only")
    with tempfile.TemporaryDirectory(prefix="latent-studio-job-") as tmp:
        out = Path(tmp) / "controls.npz"
        cmd = discover_command(model, method, config, processes, device, out, _free_port())
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # signals reach it only from us
        errors: deque[str] = deque(maxlen=20)

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                m = _LINE.match(line)
                if m:
                    progress(float(m.group(1)) / 100, m.group(2).strip())
                elif line.startswith("error:"):
                    errors.append(line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        asked = False
        try:
            while proc.poll() is None:
                if not asked and cancel():
                    proc.send_signal(signal.SIGINT)  # torchrun passes it on: every rank stops together
                    asked = True
                try:
                    proc.wait(timeout=poll_s)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc.poll() is None:  # the window is closing: do not leave processes behind
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
        if asked:
            raise Cancelled()
        if proc.returncode != 0 or not out.is_file():
            own = [e for e in errors if "stopped because" not in e] or list(errors)
            raise MethodError(own[0][len("error: "):] if own else f"the {processes} processes failed (status {proc.returncode})")
        return ControlSet.load(out)
