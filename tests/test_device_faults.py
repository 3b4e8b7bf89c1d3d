"""Out-of-memory during discovery falls back to a smaller batch, then the CPU; cancel is prompt."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from methods.fallback import run_with_fallback
from methods.ganspace import GANSpaceConfig, discover
from methods.jobs import Cancelled
from models.devices import is_out_of_memory, move_to_cpu


def test_out_of_memory_halves_the_batch_until_the_run_fits(faces):
    batches, notes = [], []

    def flaky(G, config, progress, cancel):
        batches.append(config.batch)
        if config.batch > 60:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return discover(G, replace(config, samples=300, regression_samples=300), progress, cancel)

    cs = run_with_fallback(faces, flaky, GANSpaceConfig(components=4, batch=250), notify=notes.append)
    assert batches == [250, 125, 62, 31] and len(cs) == 4
    assert notes[-1] == "out of memory: retrying with batch 31"


def test_other_errors_are_not_retried(faces):
    calls = []

    def broken(G, config, progress, cancel):
        calls.append(1)
        raise ValueError("a real bug")

    with pytest.raises(ValueError):
        run_with_fallback(faces, broken, GANSpaceConfig())
    assert calls == [1]


def test_memory_errors_are_recognised():
    assert is_out_of_memory(RuntimeError("CUDA out of memory"))
    assert is_out_of_memory(MemoryError("out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_a_generator_on_the_cpu_is_not_moved(faces):
    assert move_to_cpu(faces) is False and faces.device == torch.device("cpu")


def test_cancel_stops_discovery_within_a_second(faces):
    asked = {}

    def cancel():
        if "t" not in asked and time.perf_counter() - start > 0.3:
            asked["t"] = time.perf_counter()
        return "t" in asked

    start = time.perf_counter()
    with pytest.raises(Cancelled):
        discover(faces, GANSpaceConfig(samples=200_000, components=8), cancel=cancel)
    assert time.perf_counter() - asked["t"] < 1.0
