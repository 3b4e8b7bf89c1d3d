"""Discovery that survives running out of memory: a smaller batch, then the CPU.

A method's config with a ``batch`` field is retried with half the batch after an
out-of-memory error (results do not depend on the batch size, only memory does); when
the batch is already 1 and the generator is on a GPU, it moves to the CPU and the run
starts again.  Each fallback is announced through ``notify``.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable

from models.devices import free_cuda_cache, is_out_of_memory, move_to_cpu

from .controls import ControlSet
from .jobs import CancelFn, ProgressFn, never_cancel, no_progress


def run_with_fallback(
    G,
    run: Callable[..., ControlSet],
    config,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never_cancel,
    notify: Callable[[str], None] = lambda _m: None,
) -> ControlSet:
    """``run(G, config, progress, cancel)``, retried on out-of-memory errors as described above."""
    has_batch = "batch" in {f.name for f in fields(config)}
    while True:
        try:
            return run(G, config, progress, cancel)
        except Exception as exc:  # noqa: BLE001 - only memory errors are retried, the rest re-raised
            if not is_out_of_memory(exc):
                raise
            free_cuda_cache()
            if has_batch and config.batch > 1:
                config = replace(config, batch=max(1, config.batch // 2))
                notify(f"out of memory: retrying with batch {config.batch}")
            elif move_to_cpu(G):
                notify("out of GPU memory: retrying on the CPU")
            else:
                raise
