"""Several processes on one job: `torch.distributed`, launched by ``torchrun``.

``torchrun --nproc-per-node N main.py discover …`` starts N copies of the program with
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT``) set.
`init` reads them and joins the process group:

* **backend / device** — NCCL with one CUDA device per local rank (``cuda:LOCAL_RANK``)
  when the run is on CUDA, Gloo on the CPU.
* **timeouts** — every collective gives up after `timeout_seconds` (environment variable
  ``LATENT_STUDIO_DIST_TIMEOUT``, default 300 s), so a rank that hangs cannot hold the
  others for ever.
* **cancel** — SIGINT and SIGTERM only set a flag on the rank that receives them; the
  cancel check of a job (`Cancel`) all-reduces the flags (MAX), so a signal to rank 0 (or
  any rank) stops every rank at the same iteration, cleanly.
* **errors** — a rank that fails writes ``rank r: <one sentence>`` into the rendezvous
  store (`report_error`) and leaves; a watchdog thread on every rank polls the store
  and, when another rank failed (or the store itself went away, i.e. rank 0 or the
  launcher died), remembers the message and, if the main thread has not stopped on its
  own within `GRACE_SECONDS` (blocked in a collective), ends the process.  So one
  failing rank stops all of them within seconds, with the reason, and nothing hangs.

Outside ``torchrun`` (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) everything here is a no-op:
`world()` is a single process and the collectives return their inputs.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import io
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .jobs import CancelFn, Cancelled, MethodError, error_line, never_cancel

#: exit status of a rank stopped because another rank failed (the CLI's for `PeerFailed` too)
EXIT_PEER_FAILED = 3
#: seconds a rank stopped by another's failure waits for its main thread before it ends itself
GRACE_SECONDS = 3.0
#: seconds between two looks at the store for another rank's failure
POLL_SECONDS = 0.2
_ERROR_KEY = "latent-studio/error"
_ACK_KEY = "latent-studio/error-seen"


class PeerFailed(Exception):
    """This rank stopped because another rank failed; the message says which and why."""


@dataclass(frozen=True)
class World:
    """Where this process stands: its rank among ``size`` processes, its device and backend."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""  # "nccl" | "gloo"; "" when single

    @property
    def active(self) -> bool:
        """More than one process takes part."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints progress and results and writes files."""
        return self.rank == 0


SINGLE = World()


def share(total: int, rank: int, size: int) -> tuple[int, int]:
    """``(start, count)`` of rank ``rank``'s contiguous part of ``total`` items.

    The first ``total % size`` ranks hold one item more; the parts cover ``0 … total−1`` in
    rank order without overlap, so concatenating them in rank order gives back the whole.
    """
    base, extra = divmod(int(total), int(size))
    start = rank * base + min(rank, extra)
    return start, base + (1 if rank < extra else 0)


def env_world() -> tuple[int, int, int] | None:
    """``(RANK, WORLD_SIZE, LOCAL_RANK)`` from the environment ``torchrun`` sets, or None when absent.

    Raises `MethodError` when the variables are present but inconsistent.
    """
    if "WORLD_SIZE" not in os.environ:
        return None
    try:
        size = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise MethodError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    if size < 1 or not 0 <= rank < size or local < 0:
        raise MethodError(f"RANK {rank} and WORLD_SIZE {size} do not fit together (0 ≤ RANK < WORLD_SIZE)")
    return rank, size, local


def timeout_seconds() -> float:
    """Seconds before a collective gives up: ``$LATENT_STUDIO_DIST_TIMEOUT`` or 300."""
    text = os.environ.get("LATENT_STUDIO_DIST_TIMEOUT", "300")
    try:
        value = float(text)
    except ValueError:
        raise MethodError(f"LATENT_STUDIO_DIST_TIMEOUT={text!r} is not a number of seconds") from None
    if value <= 0:
        raise MethodError("LATENT_STUDIO_DIST_TIMEOUT must be positive")
    return value


def device_for(requested: str | torch.device, local_rank: int) -> torch.device:
    """The device of a rank: ``cuda:LOCAL_RANK`` when CUDA is asked for (or ``auto`` finds it), else the CPU."""
    name = str(requested)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type != "cuda":
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise MethodError(f"local rank {local_rank} needs a CUDA device of its own but this node has {count}; "
                          "start at most one process per GPU")
    return torch.device("cuda", local_rank)


# ---------------------------------------------------------------------- the process group
class _State:
    world: World = SINGLE
    device: torch.device = torch.device("cpu")
    store = None
    watchdog: threading.Thread | None = None
    stop = threading.Event()
    peer_error: str | None = None
    signalled = False
    old_handlers: dict = {}
    main_thread_done = threading.Event()


_S = _State()


def world() -> World:
    """This process's `World` (`SINGLE` unless `init` joined a group of several)."""
    return _S.world


def device() -> torch.device:
    """The device `init` chose for this rank."""
    return _S.device


def init(requested_device: str | torch.device = "auto") -> World:
    """Join the process group ``torchrun`` describes in the environment; returns this rank's `World`.

    Without the environment (or with one process) nothing is started and `SINGLE` is
    returned (the device still resolves ``auto``).  Installs the SIGINT/SIGTERM flag and
    the failure watchdog; call `shutdown` at the end.
    """
    found = env_world()
    if found is None or found[1] == 1:
        _S.device = device_for(requested_device, 0) if str(requested_device) == "auto" else torch.device(requested_device)
        return SINGLE
    if dist.is_initialized():
        return _S.world
    rank, size, local = found
    dev = device_for(requested_device, local)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    timeout = _dt.timedelta(seconds=timeout_seconds())
    try:
        store, rank, size = next(dist.rendezvous("env://", rank=rank, world_size=size, timeout=timeout))
        dist.init_process_group(backend, store=store, rank=rank, world_size=size, timeout=timeout)
    except (RuntimeError, ValueError) as exc:
        raise MethodError(f"could not join the {size} processes at {os.environ.get('MASTER_ADDR', '?')}:"
                          f"{os.environ.get('MASTER_PORT', '?')} ({str(exc).strip().splitlines()[0]})") from None
    _S.world, _S.device, _S.store = World(rank, size, local, backend), dev, store
    _S.stop.clear()
    _S.peer_error, _S.signalled = None, False
    _S.main_thread_done.clear()
    _install_signal_flag()
    _S.watchdog = threading.Thread(target=_watch, name="latent-studio-dist-watchdog", daemon=True)
    _S.watchdog.start()
    return _S.world


@contextlib.contextmanager
def session(requested_device: str | torch.device = "auto"):
    """``with session(device) as world:`` — `init`, then leave the group as the block ends.

    A block that ends normally or with `Cancelled` (which every rank sees at the same
    check) leaves together (`shutdown`).  A block that raises on one rank reports the
    error to the others (`report_error`) and leaves at once; on a rank whose block failed
    because another rank did (a collective broke), `PeerFailed` names that rank's error.
    """
    w = init(requested_device)
    try:
        yield w
    except Cancelled:
        shutdown()
        raise
    except BaseException as exc:
        if not w.active:
            raise
        peer = _S.peer_error
        if peer is None and not isinstance(exc, (MethodError, KeyboardInterrupt)):
            peer = wait_for_peer_error(1.0)  # a broken collective: did another rank say why?
        if peer is not None:
            abandon()
            raise PeerFailed(f"stopped because {peer}") from None
        report_error("interrupted" if isinstance(exc, KeyboardInterrupt) else error_line(exc))
        abandon()
        raise
    else:
        shutdown()


def shutdown() -> None:
    """Leave the group after a run every rank finished (or cancelled) together."""
    if not _S.world.active:
        return
    _stop_watchdog()
    try:
        dist.barrier()  # nobody leaves (and takes rank 0's store with it) while others still poll
    finally:
        _leave()


def abandon() -> None:
    """Leave the group after a failure on this rank: the others are stopped by the watchdog."""
    if not _S.world.active:
        return
    _stop_watchdog()
    _leave()


def _leave() -> None:
    _restore_signals()
    if dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - a group broken by a peer's exit is gone either way
            pass
    _S.world, _S.store = SINGLE, None


def _stop_watchdog() -> None:
    _S.main_thread_done.set()
    _S.stop.set()
    if _S.watchdog is not None and _S.watchdog is not threading.current_thread():
        _S.watchdog.join(timeout=2 * POLL_SECONDS + 1)
    _S.watchdog = None


# ---------------------------------------------------------------------- failures
def report_error(message: str) -> None:
    """Tell every other rank that this one failed with ``message`` (one sentence); waits briefly for them to see it."""
    if not _S.world.active or _S.store is None:
        return
    if _S.peer_error is not None:
        return  # this rank only fails because another did; that one has said why
    text = f"rank {_S.world.rank}: {message}"
    try:
        if not _S.store.check([_ERROR_KEY]):
            _S.store.set(_ERROR_KEY, text)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and int(_S.store.add(_ACK_KEY, 0)) < _S.world.size - 1:
            time.sleep(0.05)
    except Exception:  # noqa: BLE001 - the store went away: the others learn it from that
        pass


def peer_error() -> str | None:
    """The failure of another rank that stopped this one (``"rank r: …"``), or None."""
    return _S.peer_error


def wait_for_peer_error(seconds: float = 1.0) -> str | None:
    """After a collective failed: the other rank's reported failure, waiting up to ``seconds`` for the watchdog."""
    deadline = time.monotonic() + seconds
    while _S.peer_error is None and time.monotonic() < deadline and _S.watchdog is not None:
        time.sleep(0.05)
    return _S.peer_error


def _watch() -> None:
    store, me = _S.store, _S.world.rank
    while not _S.stop.wait(POLL_SECONDS):
        try:
            if not store.check([_ERROR_KEY]):
                continue
            text = store.get(_ERROR_KEY).decode("utf-8", "replace")
            if text.startswith(f"rank {me}:"):
                return
            _S.peer_error = text
            store.add(_ACK_KEY, 1)
        except Exception:  # noqa: BLE001 - the store's host (rank 0 or the launcher) is gone
            if _S.stop.is_set():
                return
            _S.peer_error = "rank 0 or the launcher stopped without saying why"
        # The main thread normally fails in its next collective (the peer left); if it is
        # stuck (e.g. NCCL waiting on a dead peer), end the process after a grace period.
        if not _S.main_thread_done.wait(GRACE_SECONDS):
            sys.stderr.write(f"error: stopped because {_S.peer_error}\n")
            sys.stderr.flush()
            os._exit(EXIT_PEER_FAILED)
        return


# ---------------------------------------------------------------------- cancel
def _install_signal_flag() -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def flag(signum, _frame):
        if _S.signalled:  # a second signal: stop now, the usual way
            _restore_signals()
            raise KeyboardInterrupt
        _S.signalled = True

    _S.old_handlers = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for s, h in _S.old_handlers.items():
        signal.signal(s, h)
    _S.old_handlers = {}


class Cancel:
    """A job's cancel check shared by every rank: True on all ranks once any asked to stop.

    Every rank must call it the same number of times (once per iteration or batch round):
    it is a collective (MAX of the ranks' flags).  The flag of a rank is its own ``cancel()``
    or a SIGINT/SIGTERM it received.
    """

    def __init__(self, cancel: CancelFn = never_cancel):
        self.inner = cancel
        self.stopped = False

    def __call__(self) -> bool:
        if self.stopped:
            return True
        local = bool(self.inner()) or _S.signalled
        if _S.world.active:
            flag = torch.tensor([1.0 if local else 0.0], device=_S.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            local = bool(flag.item() > 0)
        self.stopped = local
        return local


# ---------------------------------------------------------------------- collectives
def all_sum(t: torch.Tensor) -> torch.Tensor:
    """Σ over ranks of ``t`` (any shape and dtype, any device), returned on ``t``'s device."""
    if not _S.world.active:
        return t
    buf = t.detach().to(_S.device).clone()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


def broadcast_bytes(data: bytes | None) -> bytes:
    """Rank 0's ``data`` on every rank (other ranks pass None)."""
    if not _S.world.active:
        return data or b""
    n = torch.tensor([len(data) if _S.world.main and data is not None else 0], dtype=torch.int64, device=_S.device)
    dist.broadcast(n, 0)
    if _S.world.main:
        buf = torch.frombuffer(bytearray(data or b"\0"), dtype=torch.uint8)[: int(n.item())].to(_S.device)
    else:
        buf = torch.empty(int(n.item()), dtype=torch.uint8, device=_S.device)
    if int(n.item()):
        dist.broadcast(buf, 0)
    return bytes(buf.cpu().numpy().tobytes())


def broadcast_flag(value: bool) -> bool:
    """Rank 0's ``value`` on every rank."""
    if not _S.world.active:
        return value
    t = torch.tensor([1 if value else 0], dtype=torch.int64, device=_S.device)
    dist.broadcast(t, 0)
    return bool(t.item())


def gather_rows(x: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Every rank's ``x`` ``[counts[r], …]`` concatenated in rank order ``[Σ counts, …]``.

    Padded to the largest count for the all-gather, then trimmed.  Not differentiable
    (see `gather_rows_with_grad`).
    """
    if not _S.world.active:
        return x
    top = max(counts)
    pad = torch.zeros((top, *x.shape[1:]), dtype=x.dtype, device=_S.device)
    pad[: x.shape[0]] = x.detach().to(_S.device)
    parts = [torch.empty_like(pad) for _ in counts]
    dist.all_gather(parts, pad)
    return torch.cat([p[:c] for p, c in zip(parts, counts)]).to(x.device)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 1 whose backward sums every rank's gradient of its own slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, counts: list[int], rank: int) -> torch.Tensor:
        ctx.counts, ctx.rank = counts, rank
        moved = x.movedim(1, 0).contiguous()
        return gather_rows(moved, counts).movedim(0, 1).contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        total = all_sum(grad.contiguous())  # d(Σ_r L_r)/d(gathered); every rank's loss reads every slice
        start = sum(ctx.counts[: ctx.rank])
        return total.narrow(1, start, ctx.counts[ctx.rank]).contiguous(), None, None


def gather_rows_with_grad(x: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Every rank's ``x`` ``[K, counts[r], …]`` joined along dim 1 in rank order, with gradients.

    For a loss that every rank computes identically over the gathered batch (a contrastive
    loss whose negatives are the other ranks' samples too): each rank's gradient of its
    own slice is the sum over ranks, i.e. ``size`` × the single-process gradient, which
    `DistributedDataParallel`'s average over ranks turns back into the exact gradient.
    """
    if not _S.world.active:
        return x
    return _GatherWithGrad.apply(x, list(counts), _S.world.rank)


def load_bytes(data: bytes) -> dict:
    """``torch.load`` of a checkpoint passed as bytes (tensors and plain data only)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
