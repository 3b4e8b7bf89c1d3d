"""Starting a small torch.distributed job in tests: N processes on 127.0.0.1, as torchrun would."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "dist_worker.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank: int, size: int, port: int) -> dict[str, str]:
    """The environment torchrun gives rank ``rank`` of ``size`` on one node."""
    env = dict(os.environ)
    env.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(size),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return env


def start(args: list[str], size: int = 2, env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """``python <args>`` once per rank (``args`` after the interpreter), from the repository root."""
    port = free_port()
    procs = []
    for r in range(size):
        e = rank_env(r, size, port)
        e.update(env or {})
        procs.append(subprocess.Popen([sys.executable, *args], cwd=ROOT, env=e, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs: list[subprocess.Popen], timeout: float = 120) -> list[tuple[int, str, str]]:
    """Wait for every rank; (status, stdout, stderr) each. Ranks still running at ``timeout`` are killed."""
    deadline = time.monotonic() + timeout
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            o, e = p.communicate()
            e += "\n(killed by the test: still running at its timeout)"
        out.append((p.returncode, o, e))
    return out


def run_worker(scenario: str, folder: Path, size: int = 2, timeout: float = 120) -> list[tuple[int, str, str]]:
    """`dist_worker.py` ``scenario`` on ``size`` ranks writing into ``folder``."""
    return finish(start([str(WORKER), scenario, str(folder)], size), timeout)
