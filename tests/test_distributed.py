"""torch.distributed runs (torchrun, Gloo on the CPU): two processes on 127.0.0.1 agree with one.

Each test starts real processes with the environment torchrun gives them (`dist_helpers`);
deselect them with ``-m "not distributed"``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from dist_helpers import ROOT, WORKER, finish, free_port, run_worker, start
from dist_worker import CLR, GANSPACE, export_frames, ganspace_runs
from toys import TinyConvGenerator

from methods import distributed, latentclr
from methods.controls import ControlSet

#: tests that start processes (several seconds each, mostly importing torch twice)
launches = pytest.mark.distributed


# ---------------------------------------------------------------------- pure parts
@pytest.mark.parametrize("total,size", [(7, 2), (8, 2), (10, 3), (3, 3), (250, 4)])
def test_shares_cover_every_item_once_in_rank_order(total, size):
    parts = [distributed.share(total, r, size) for r in range(size)]
    rows = [i for start, count in parts for i in range(start, start + count)]
    assert rows == list(range(total))
    assert max(c for _, c in parts) - min(c for _, c in parts) <= 1


def test_a_single_process_is_its_own_world(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.env_world() is None
    with distributed.session("cpu") as world:
        assert world == distributed.SINGLE and not world.active and world.main
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(distributed.MethodError, match="RANK 5 and WORLD_SIZE 2"):
        distributed.env_world()


def test_a_batch_smaller_than_the_processes_is_refused(monkeypatch):
    monkeypatch.setattr(distributed._S, "world", distributed.World(0, 4, 0, "gloo"))
    with pytest.raises(distributed.MethodError, match="batch 3 is smaller than the 4 processes"):
        latentclr.discover(TinyConvGenerator(), replace(CLR, batch=3))


# ---------------------------------------------------------------------- training on two ranks
@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """`dist_worker.train` on two ranks: LatentCLR one step, then resumed on to 20 iterations; GANSpace."""
    folder = tmp_path_factory.mktemp("two-ranks")
    results = run_worker("train", folder)
    assert [rc for rc, _, _ in results] == [0, 0], results
    assert results[1][1] == "" and results[1][2] == "", "rank 1 printed something"
    return folder


def _adam_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["optimizers"]["directions"]["state"]


@launches
@pytest.mark.slow
def test_one_step_on_two_ranks_has_the_gradient_of_one_process_on_the_union_batch(two_ranks, tmp_path):
    """After one Adam step the first moment is (1 − β1)(g + λθ₀), θ₀ the shared initialisation: the gradient g.

    The batch of 7 splits 4 + 3; the contrastive loss of the union compares every rank's samples with every
    other's, so matching it needs the gathered features and their gradients, not two separate halves.
    """
    latentclr.discover(TinyConvGenerator(), replace(CLR, job_dir=str(tmp_path / "one")))
    two, one = _adam_state(two_ranks / "one_step.pt"), _adam_state(tmp_path / "one" / "checkpoint.pt")
    assert one.keys() == two.keys()
    for key in one:
        g1, g2 = one[key]["exp_avg"], two[key]["exp_avg"]
        assert float(g1.abs().max()) > 1e-4
        torch.testing.assert_close(g2, g1, rtol=1e-5, atol=1e-7)


def _fields(cs: ControlSet) -> np.ndarray:
    return np.stack([c.field.arrays["W"] for c in cs.controls])


@launches
@pytest.mark.slow
def test_twenty_iterations_on_two_ranks_train_the_directions_of_one_process(two_ranks):
    single = latentclr.discover(TinyConvGenerator(), replace(CLR, iterations=20))
    two = ControlSet.load(two_ranks / "twenty.npz")
    np.testing.assert_allclose(_fields(two), _fields(single), atol=1e-5)
    assert two.stats["world_size"] == 2 and two.stats["batch_shares"] == [[0, 4], [4, 3]]
    assert two.stats["resumed_from"] == 1  # the second half was itself a resume on two ranks
    assert abs(two.stats["final_loss"] - single.stats["final_loss"]) < 1e-5


@launches
@pytest.mark.slow
def test_a_checkpoint_of_two_ranks_resumes_on_one_process(two_ranks, tmp_path):
    job = tmp_path / "job"
    shutil.copytree(two_ranks / "job", job)
    resumed = latentclr.discover(TinyConvGenerator(), replace(CLR, job_dir=str(job), iterations=25))
    straight = latentclr.discover(TinyConvGenerator(), replace(CLR, iterations=25))
    assert resumed.stats["resumed_from"] == 20 and resumed.stats["world_size"] == 1
    np.testing.assert_allclose(_fields(resumed), _fields(straight), atol=1e-5)


# ---------------------------------------------------------------------- GANSpace on two ranks
@pytest.fixture(scope="module")
def one_process_ganspace() -> dict:
    return ganspace_runs(TinyConvGenerator())


@launches
@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["exact-covariance", "exact-svd"])
def test_ganspace_exact_on_two_ranks_equals_one_process_on_the_same_seeds(two_ranks, one_process_ganspace, estimator):
    one, two = one_process_ganspace[estimator], ControlSet.load(two_ranks / f"ganspace-{estimator}.npz")
    assert one.stats["estimator"] == two.stats["estimator"] == estimator
    for key in ("act_comp", "act_stdev", "act_mean", "random_stdevs", "lat_stdev"):
        np.testing.assert_allclose(two.extras[key], one.extras[key], atol=1e-6, rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(np.stack([c.direction for c in two.controls]), np.stack([c.direction for c in one.controls]),
                               atol=1e-6)
    assert two.stats["world_size"] == 2 and one.stats["world_size"] == 1
    assert two.stats["seed_ranges"] == [[1, 301], [301, 601]] and one.stats["seed_ranges"] == [[1, 601]]
    assert two.stats["fresh_seed_ranges"] == [[601, 756], [756, 911]]


@launches
@pytest.mark.slow
def test_ganspace_incremental_on_two_ranks_merges_their_summaries_to_the_exact_components(two_ranks, one_process_ganspace):
    """Each rank's chunks differ from one process's, so agreement is incremental PCA's own accuracy, not rounding."""
    exact = one_process_ganspace["exact-covariance"].extras["act_comp"]
    merged = ControlSet.load(two_ranks / "ganspace-incremental.npz").extras["act_comp"]
    cos = np.abs(np.sum(exact * merged, axis=1))
    assert np.all(1 - cos < 1e-4), cos


# ---------------------------------------------------------------------- frames on two ranks
@launches
@pytest.mark.slow
def test_frames_rendered_on_two_ranks_come_back_in_order_as_one_process_renders_them(two_ranks):
    import cv2

    from methods import ganspace

    G = TinyConvGenerator()
    frames, grid = export_frames(G, ganspace.discover(G, GANSPACE))
    two = np.load(two_ranks / "sweep.npy")
    assert two.shape == (21, 16, 16, 3)
    assert np.array_equal(two, np.stack(frames))  # the same batches of 8 as one process: bit for bit
    assert np.abs(np.load(two_ranks / "grid.npy").astype(int) - grid.astype(int)).max() <= 1  # other batches: ±1 level
    cap = cv2.VideoCapture(str(two_ranks / "sweep.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 21
    assert sorted(p.name for p in two_ranks.iterdir() if p.suffix == ".mp4") == ["sweep.mp4"]  # no temp file left


# ---------------------------------------------------------------------- failure and cancel
def _wait_ends(procs: list[subprocess.Popen], timeout: float) -> list[float | None]:
    """The time each process ended (None: still running at ``timeout``)."""
    ends: list[float | None] = [None] * len(procs)
    deadline = time.monotonic() + timeout
    while None in ends and time.monotonic() < deadline:
        for i, p in enumerate(procs):
            if ends[i] is None and p.poll() is not None:
                ends[i] = time.time()
        time.sleep(0.05)
    return ends


@launches
@pytest.mark.slow
def test_a_rank_that_raises_stops_the_other_within_seconds_with_its_message(tmp_path):
    procs = start([str(WORKER), "fail", str(tmp_path)])
    ends = _wait_ends(procs, 120)
    results = finish(procs, 5)
    assert None not in ends, f"a rank was still running: {results}"
    raised = float((tmp_path / "raised").read_text())
    assert ends[0] - raised < 15, f"rank 0 took {ends[0] - raised:.1f} s to stop"  # a hang would last the 300 s timeout
    (rc0, _, err0), (rc1, _, err1) = results
    assert rc1 == 2 and err1.strip() == "error: the test's rank 1 failed on purpose"
    assert rc0 == distributed.EXIT_PEER_FAILED
    assert err0.strip() == "error: stopped because rank 1: the test's rank 1 failed on purpose"
    assert "Traceback" not in err0 + err1


@launches
@pytest.mark.slow
def test_sigterm_to_rank_zero_cancels_every_rank_at_the_same_iteration_with_a_checkpoint(tmp_path):
    procs = start([str(WORKER), "cancel", str(tmp_path)])
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists() and time.monotonic() < deadline and procs[0].poll() is None:
        time.sleep(0.05)
    procs[0].send_signal(signal.SIGTERM)
    results = finish(procs, 60)
    assert [rc for rc, _, _ in results] == [130, 130], results
    job = json.loads((tmp_path / "job" / "job.json").read_text())
    assert 3 <= job["iteration"] < 100_000 and not job["done"]


# ---------------------------------------------------------------------- the command line under torchrun
def _leftovers(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(cmd)
    return found


@launches
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for leftover processes in /proc")
def test_torchrun_two_processes_discover_latentclr_from_the_command_line(tmp_path):
    out = tmp_path / "clr.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), str(ROOT / "main.py"), "discover",
           "--method", "latentclr", "--model", "dcgan-faces", "--device", "cpu", "--direction-model", "linear",
           "--components", "3", "--batch", "6", "--iterations", "4", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout  # the final JSON line from rank 0 only
    summary = json.loads(lines[0])
    assert summary["world_size"] == 2 and summary["batch_shares"] == [[0, 3], [3, 3]]
    assert ControlSet.load(out).stats["world_size"] == 2
    assert r.stderr.count("iteration 4/4") == 1  # progress from rank 0 only
    assert _leftovers(str(out)) == []
