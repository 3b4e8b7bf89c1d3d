"""The loop every trained discovery method shares (METHODS.md §8).

LatentCLR, Voynov–Babenko and WarpedGANSpace differ in their models and losses; they
share the rest, which lives here:

* **seeding** — module initialisation under ``torch.manual_seed(seed)`` in a forked RNG
  (the caller's global RNG is untouched); latents for iteration i are ``G.sample`` of
  seeds derived from (seed, i); every other random draw (direction index, shift, α)
  comes from one CPU ``torch.Generator`` whose state is checkpointed.
* **progress / cancel** — ``progress(fraction, "iteration i/N loss L acc A")`` once per
  iteration (`parse_progress` reads it back), ``cancel()`` checked before each iteration.
* **history** — mean loss and accuracy of every ``log_every`` iterations, returned in the
  ControlSet's ``stats["history"]`` for a GUI to plot.
* **checkpoints** — with a ``job_dir``, every ``checkpoint_every`` iterations, when
  cancelled and when finished: ``checkpoint.pt`` (``torch.save`` of plain state dicts,
  tensors, numbers and a JSON string; loadable with ``weights_only=True``) then
  ``job.json`` (the same metadata for people and GUIs), both written atomically.  A run
  whose ``job_dir`` holds a checkpoint of the same job continues from it with the same
  RNG stream, so an interrupted and resumed run equals an uninterrupted one on the CPU.
* **mixed precision** — ``torch.autocast`` (float16) and a ``GradScaler`` on CUDA only,
  when the config's ``amp`` is on; the CPU path runs in float32 untouched.
* **several processes** (``torchrun``, `methods.distributed`) — data parallel: rank r
  takes rows ``share(B, r, W)`` of every iteration's batch, i.e. the latents of its own
  seed range ``iteration_seed(i) + start … + start + count − 1``; the loop's RNG is the
  same stream on every rank and every rank draws the whole batch's values (k, ε, α),
  keeping its rows (`mine`).  So the union of the ranks' shares is exactly the
  single-process batch, whatever the number of ranks.  The trainable modules are
  wrapped in ``DistributedDataParallel`` (`net`); the frozen generator is replicated.
  A per-sample mean loss is weighted by the rank's share so DDP's average is the union
  batch's mean; a loss over the whole batch (LatentCLR's contrastive loss, whose
  negatives are every rank's samples) gathers features with `distributed.gather_rows_with_grad`.
  Rank 0 alone writes checkpoints and the job's log; a resumed checkpoint is read by
  rank 0 and broadcast, so the job folder need only be on rank 0's disk.

  What is reproduced exactly: a run (or a resumed run) on any number of ranks sees the
  same batches and random draws as one process; its gradients equal the single-process
  gradients up to the float rounding of the all-reduce, so the trained directions agree
  to rounding (not bit for bit).  BatchNorm layers (LatentCLR's nonlinear MLPs, the
  reconstructors) normalise each rank's share rather than the union batch, as DDP does
  without SyncBatchNorm; with them, runs on different numbers of ranks differ by more
  than rounding.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import math
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from models.bounded import loads_json, safe_torch_load

from . import distributed
from .jobs import CancelFn, Cancelled, MethodError, ProgressFn

CHECKPOINT = "checkpoint.pt"
JOB_JSON = "job.json"
JOB_FORMAT = "latent-studio.job"
JOB_VERSION = 1

#: config fields a continuing run may change; every other field must equal the folder's
RESUME_MAY_CHANGE = frozenset({"iterations", "job_dir", "checkpoint_every", "log_every", "amp"})

#: fields every trained method's config has (the loop reads them)
COMMON_HELP = {
    "iterations": "training iterations N",
    "batch": "samples per iteration B",
    "seed": "seed of the initialisation and of every random draw",
    "truncation": "truncation psi of the sampled latents (0: the model's default); edits come after it",
    "job_dir": "folder for checkpoints; a run whose folder holds a checkpoint of the same job continues it",
    "checkpoint_every": "iterations between checkpoints (with job_dir)",
    "log_every": "iterations averaged into one point of the loss/accuracy history",
    "amp": "mixed precision (autocast + GradScaler) on CUDA; ignored on the CPU",
}

_MESSAGE = re.compile(r"^iteration (\d+)/(\d+) loss (\S+) acc (\S+)")


def progress_message(iteration: int, total: int, loss: float, acc: float) -> str:
    """The progress line of a trained method: ``"iteration i/N loss L acc A"``."""
    return f"iteration {iteration}/{total} loss {loss:.4f} acc {acc:.3f}"


def parse_progress(message: str) -> dict | None:
    """``{"iteration", "iterations", "loss", "acc"}`` from a `progress_message`, else None (for a live plot)."""
    m = _MESSAGE.match(message)
    if not m:
        return None
    return {"iteration": int(m.group(1)), "iterations": int(m.group(2)), "loss": float(m.group(3)), "acc": float(m.group(4))}


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with the global torch RNG seeded, restoring the caller's RNG afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def amp_enabled(device: torch.device, amp: bool) -> bool:
    """Mixed precision runs only on CUDA (autocast float16 + GradScaler); never on the CPU."""
    return bool(amp) and torch.device(device).type == "cuda"


def psi_of(G, truncation: float) -> float:
    """The truncation a config asks for: its value, or the model's default when 0."""
    return float(truncation) if truncation > 0 else float(G.default_truncation)


def sample_latents(G, seed: int, n: int, psi: float) -> torch.Tensor:
    """Truncated editing-space latents ``[n, num_layers, latent_dim]`` for seeds ``seed…seed+n-1``.

    The family's own sampler (e.g. BigGAN's truncated normal), then `G.truncate`; edits are
    added afterwards (METHODS.md §0).
    """
    with torch.no_grad():
        return G.truncate(G.sample(n, seed), psi).float()


def iteration_seed(seed: int, iteration: int, batch: int) -> int:
    """First sample seed of a training iteration: disjoint from the GUI's small seeds."""
    return 1_000_000_000 + int(seed) * 100_000_000 + iteration * batch


def parse_range(text: str, num_layers: int) -> tuple[int, int] | None:
    """``"A:B"`` -> latent rows [A, B); empty -> None (all rows)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        a, b = (int(p) for p in text.split(":"))
    except ValueError:
        raise MethodError(f"feed_layers {text!r} must look like A:B (latent rows A..B-1)") from None
    if not 0 <= a < b <= num_layers:
        raise MethodError(f"feed_layers {a}:{b} is outside the model's latent rows 0:{num_layers}")
    return (a, b)


# ---------------------------------------------------------------------- job folders
def _config_json(config) -> dict:
    return json.loads(json.dumps(asdict(config)))


def read_job(job_dir: str | Path) -> dict:
    """The metadata of a job folder: ``method``, ``model``, ``config``, ``iteration``, ``history``, ``done``.

    Raises `MethodError` (one sentence) when the folder or its checkpoint is missing or damaged.
    """
    folder = Path(job_dir)
    if not folder.is_dir():
        raise MethodError(f"job folder {folder} does not exist")
    path = folder / CHECKPOINT
    if not path.is_file():
        raise MethodError(f"{folder} holds no {CHECKPOINT}, so it is not a training job folder")
    return _checkpoint_meta(_load(path), path)


def _load(path: Path) -> dict:
    try:
        return safe_torch_load(path, what=path.name, finite=False)
    except Exception:  # a damaged or foreign file: any failure reads the same to the user
        raise MethodError(f"{path} is damaged or not a Latent Studio checkpoint") from None


def _checkpoint_meta(blob, path: Path) -> dict:
    """The metadata of a loaded checkpoint, checked; `MethodError` when it is not ours or of another version."""
    try:
        meta = loads_json(blob["meta"], what=f"{path.name}'s meta")
        if meta.get("format") != JOB_FORMAT or not isinstance(meta.get("config"), dict):
            raise ValueError
    except Exception:  # a damaged or foreign file: any failure reads the same to the user
        raise MethodError(f"{path} is damaged or not a Latent Studio checkpoint") from None
    if meta.get("version") != JOB_VERSION:
        raise MethodError(f"{path} has job version {meta.get('version')!r}; this program reads version {JOB_VERSION}")
    return meta


class TrainLoop:
    """Drives one training run: resume, iterate, log, checkpoint, finish.

    ``modules`` and ``optimizers`` are what a checkpoint holds (with the loop's RNG and
    GradScaler); ``config`` must have the `COMMON_HELP` fields.  Use::

        loop = TrainLoop(G, "voynov", config, modules, optimizers, progress, cancel)
        stats = loop.run(step)   # step(i) -> (loss tensor, accuracy float); the loop does backward
    """

    def __init__(
        self,
        G,
        method: str,
        config,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        progress: ProgressFn,
        cancel: CancelFn,
        loss_over: str = "samples",
    ):
        """``loss_over``: ``"samples"`` when ``step``'s loss is a mean over the rank's samples,
        ``"batch"`` when every rank computes the same loss over the whole (gathered) batch."""
        if config.iterations < 1 or config.batch < 1:
            raise MethodError("iterations and batch must be at least 1")
        if config.checkpoint_every < 1 or config.log_every < 1:
            raise MethodError("checkpoint_every and log_every must be at least 1")
        self.G, self.method, self.config = G, method, config
        self.modules, self.optimizers = modules, optimizers
        self.progress = progress
        self.loss_over = loss_over
        self.world = distributed.world()
        W = self.world.size
        if config.batch < W:
            raise MethodError(f"batch {config.batch} is smaller than the {W} processes; each needs at least one sample")
        #: rows of every iteration's batch per rank: rank r holds [start_r, start_r + count_r)
        self.shares = [distributed.share(config.batch, r, W) for r in range(W)]
        self.batch_start, self.batch_count = self.shares[self.world.rank]
        self.cancel = distributed.Cancel(cancel)  # the same answer on every rank
        self.amp = amp_enabled(G.device, config.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        #: every random draw of the run except the latents (which are seeded per iteration);
        #: the same stream on every rank
        self.gen = torch.Generator().manual_seed(int(config.seed) * 7919 + 17)
        self.iteration = 0
        self.history: list[dict] = []
        self.window_loss: list[float] = []
        self.window_acc: list[float] = []
        self.resumed_from: int | None = None
        self.job_dir = Path(config.job_dir) if config.job_dir else None
        if self.job_dir is not None:
            found = False
            if self.world.main:
                if self.job_dir.exists() and not self.job_dir.is_dir():
                    raise MethodError(f"job folder {self.job_dir} is a file")
                found = (self.job_dir / CHECKPOINT).is_file()
            if distributed.broadcast_flag(found):
                self._resume()
        # after resuming: DDP starts every rank from rank 0's parameters
        self.nets = {k: self._wrap(m) for k, m in modules.items()}

    def _wrap(self, module: nn.Module) -> nn.Module:
        if not self.world.active or not any(p.requires_grad for p in module.parameters()):
            return module
        from torch.nn.parallel import DistributedDataParallel

        dev = distributed.device()
        return DistributedDataParallel(module, device_ids=[dev.index] if dev.type == "cuda" else None)

    def net(self, name: str) -> nn.Module:
        """The module ``name`` to call in ``step``: wrapped in DDP when several ranks train (call it, do not read its attributes)."""
        return self.nets[name]

    @property
    def counts(self) -> list[int]:
        """Samples per rank of every iteration's batch (``[B]`` with one process)."""
        return [c for _, c in self.shares]

    def mine(self, values: torch.Tensor) -> torch.Tensor:
        """This rank's rows of per-sample draws ``[B, …]`` of the whole batch: ``[count, …]``."""
        return values[self.batch_start : self.batch_start + self.batch_count]

    def world_stats(self) -> dict:
        """How the run was split: ``world_size`` and each rank's ``[start, count]`` rows of every batch."""
        return {"world_size": self.world.size, "batch_shares": [list(s) for s in self.shares]}

    # -------------------------------------------------------------- random draws
    def randint(self, high: int, n: int) -> torch.Tensor:
        """``[n]`` integers in ``[0, high)`` from the run's RNG, on the generator's device."""
        return torch.randint(high, (n,), generator=self.gen).to(self.G.device)

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform ``[0, 1)`` of ``shape`` from the run's RNG, on the generator's device."""
        return torch.rand(*shape, generator=self.gen).to(self.G.device)

    def randperm(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.gen).to(self.G.device)

    def latents(self, iteration: int) -> torch.Tensor:
        """This rank's share of iteration ``iteration``'s truncated latents ``[count, L, D]`` (all B with one process)."""
        first = iteration_seed(self.config.seed, iteration, self.config.batch) + self.batch_start
        return sample_latents(self.G, first, self.batch_count, psi_of(self.G, self.config.truncation))

    def autocast(self):
        """float16 autocast on CUDA when AMP is on; a no-op context otherwise."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    # -------------------------------------------------------------- checkpoints
    def _meta(self, done: bool) -> dict:
        return {
            "format": JOB_FORMAT,
            "version": JOB_VERSION,
            "method": self.method,
            "model": {"name": self.G.name, "fingerprint": self.G.fingerprint},
            "config": _config_json(self.config),
            "iteration": self.iteration,
            "history": self.history,
            "window": {"loss": self.window_loss, "acc": self.window_acc},  # the unfinished history point
            "done": done,
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def save(self, done: bool = False) -> None:
        """Write ``checkpoint.pt`` then ``job.json`` atomically into the job folder (no-op without one, or off rank 0)."""
        if self.job_dir is None or not self.world.main:
            return
        from models.atomic import atomic_open, atomic_path

        self.job_dir.mkdir(parents=True, exist_ok=True)
        meta = self._meta(done)
        blob = {
            "meta": json.dumps(meta),
            "modules": {k: {n: t.detach().cpu() for n, t in m.state_dict().items()} for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.amp else {},
            "rng": self.gen.get_state(),
        }
        # serialised in memory, written by Python: a full disk is then an OSError (ENOSPC,
        # "disk full" in one line), not torch's "inline_container.cc" RuntimeError
        buf = io.BytesIO()
        torch.save(blob, buf)
        with atomic_path(self.job_dir / CHECKPOINT) as tmp, open(tmp, "wb") as f:
            f.write(buf.getbuffer())
        with atomic_open(self.job_dir / JOB_JSON, "w") as f:
            json.dump(meta, f, indent=1)

    def _resume(self) -> None:
        """Continue from the job folder's checkpoint, read on rank 0 and broadcast to the others."""
        assert self.job_dir is not None
        path = self.job_dir / CHECKPOINT
        raw = path.read_bytes() if self.world.main else None
        try:
            blob = distributed.load_bytes(distributed.broadcast_bytes(raw))
        except Exception:  # a damaged or foreign file: any failure reads the same to the user
            raise MethodError(f"{path} is damaged or not a Latent Studio checkpoint") from None
        meta = _checkpoint_meta(blob, path)
        where = str(self.job_dir)
        if meta["method"] != self.method:
            raise MethodError(f"job folder {where} holds a {meta['method']} run, not {self.method}")
        if meta.get("model", {}).get("fingerprint") != self.G.fingerprint:
            raise MethodError(f"job folder {where} was trained on model {meta.get('model', {}).get('name')!r} with other weights")
        mine = _config_json(self.config)
        for key, value in meta["config"].items():
            if key not in RESUME_MAY_CHANGE and mine.get(key) != value:
                raise MethodError(
                    f"job folder {where} was started with {key}={value!r}, not {mine.get(key)!r}; "
                    "resume it with the same settings or choose another folder"
                )
        if int(meta["iteration"]) > self.config.iterations:
            raise MethodError(f"job folder {where} is already at iteration {meta['iteration']}, beyond iterations={self.config.iterations}")
        try:
            for k, m in self.modules.items():
                m.load_state_dict(blob["modules"][k])
            for k, o in self.optimizers.items():
                o.load_state_dict(blob["optimizers"][k])
            if self.amp and blob.get("scaler"):
                self.scaler.load_state_dict(blob["scaler"])
            self.gen.set_state(blob["rng"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise MethodError(f"job folder {where} does not fit this run ({str(exc).splitlines()[0]})") from None
        self.iteration = int(meta["iteration"])
        self.history = list(meta.get("history", []))
        window = meta.get("window") or {}
        self.window_loss = [float(v) for v in window.get("loss", [])]
        self.window_acc = [float(v) for v in window.get("acc", [])]
        self.resumed_from = self.iteration

    # -------------------------------------------------------------- the loop
    def step_optimizers(self, loss: torch.Tensor) -> None:
        """Zero grads, (scaled) backward, step every optimizer, update the scaler."""
        for o in self.optimizers.values():
            o.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for o in self.optimizers.values():
            self.scaler.step(o)
        self.scaler.update()

    def _union(self, loss: torch.Tensor, acc: float) -> tuple[float, float, torch.Tensor]:
        """(loss and accuracy of the whole batch, the loss to back-propagate on this rank).

        With a per-sample mean loss, rank r's loss is weighted by ``W · count_r / B``:
        DDP averages gradients over the W ranks, so the result is the gradient of the
        union batch's mean.  A whole-batch loss is the same on every rank already.
        """
        if not self.world.active or self.loss_over == "batch":
            return float(loss.detach()), acc, loss
        w = self.batch_count / self.config.batch
        both = distributed.all_sum(torch.tensor([float(loss.detach()) * w, acc * w], dtype=torch.float64))
        return float(both[0]), float(both[1]), loss * (w * self.world.size)

    def run(self, step: Callable[[int], tuple[torch.Tensor, float]]) -> dict:
        """Iterate from the current iteration to ``config.iterations``; returns the run's stats.

        ``step(i)`` computes iteration i's loss (inside `autocast` as it sees fit) and its
        accuracy in [0, 1]; this loop does the backward pass and the optimizer steps.
        """
        cfg = self.config
        N = cfg.iterations
        for m in self.modules.values():
            m.train()
        start_iteration, t0 = self.iteration, time.perf_counter()
        if self.iteration == N:
            self.progress(1.0, "the job folder holds a finished run")
        while self.iteration < N:
            if self.cancel():
                self.save()
                raise Cancelled()
            loss, acc = step(self.iteration)
            lv, acc, backward_loss = self._union(loss, float(acc))
            if not math.isfinite(lv):
                raise MethodError(f"training diverged at iteration {self.iteration + 1} (loss {lv}); lower the learning rate")
            self.step_optimizers(backward_loss)
            self.iteration += 1
            self.window_loss.append(lv)
            self.window_acc.append(float(acc))
            if self.iteration % cfg.log_every == 0 or self.iteration == N:
                self.history.append({
                    "iteration": self.iteration,
                    "loss": sum(self.window_loss) / len(self.window_loss),
                    "acc": sum(self.window_acc) / len(self.window_acc),
                })
                self.window_loss, self.window_acc = [], []
            self.progress(self.iteration / N, progress_message(self.iteration, N, lv, float(acc)))
            if self.iteration % cfg.checkpoint_every == 0 and self.iteration < N:
                self.save()
        self.save(done=True)
        for m in self.modules.values():
            m.eval()
        seconds = time.perf_counter() - t0
        done_here = self.iteration - start_iteration
        last = self.history[-1] if self.history else {"loss": math.nan, "acc": math.nan}
        return {
            "iterations": N,
            "resumed_from": self.resumed_from,
            "history": self.history,
            "final_loss": last["loss"],
            "final_acc": last["acc"],
            "amp": self.amp,
            "train_seconds": round(seconds, 2),
            "iterations_per_s": round(done_here / seconds, 3) if done_here and seconds > 0 else None,
            **self.world_stats(),
        }
