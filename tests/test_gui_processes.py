"""The discover dialog's "Processes" field and the local torchrun job behind it."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.discover_dialog import DiscoverDialog
from app.process_job import discover_command, run_in_processes
from methods.ganspace import GANSpaceConfig, discover
from methods.jobs import Cancelled, MethodError
from methods.training import read_job
from methods.latentclr import LatentCLRConfig

LAYERS = ["latent", "block1", "block2"]


def test_the_processes_field_appears_only_when_several_processes_are_possible(qtbot):
    many = DiscoverDialog("latentclr", LAYERS, "block1", "dcgan-faces", max_processes=4)
    qtbot.addWidget(many)
    assert many.processes is not None and many.processes.maximum() == 4 and many.process_count() == 1
    many.processes.setValue(3)
    assert many.process_count() == 3
    one = DiscoverDialog("latentclr", LAYERS, "block1", "dcgan-faces", max_processes=1)
    sefa = DiscoverDialog("sefa", LAYERS, "block1", "dcgan-faces", max_processes=4)  # one process only
    for dlg in (one, sefa):
        qtbot.addWidget(dlg)
        assert dlg.processes is None and dlg.process_count() == 1


def test_the_job_command_line_carries_the_changed_options_to_torchrun():
    cfg = replace(LatentCLRConfig(), components=5, abs_similarity=False, job_dir="/tmp/j")
    cmd = discover_command("dcgan-faces", "latentclr", cfg, 3, "cpu", "/tmp/o.npz", 29511)
    assert cmd[1:7] == ["-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "3"]
    assert "127.0.0.1" in cmd and "29511" in cmd and "--progress-lines" in cmd and "--no-cache" in cmd
    tail = cmd[cmd.index("--out"):]
    assert tail == ["--out", "/tmp/o.npz", "--components", "5", "--abs-similarity", "false", "--job-dir", "/tmp/j"]


def test_a_method_of_one_process_is_refused():
    with pytest.raises(MethodError, match="sefa runs in one process only"):
        run_in_processes("dcgan-faces", "sefa", None, 2, "cpu", lambda f, m: None, lambda: False)


@pytest.mark.distributed
@pytest.mark.slow
def test_ganspace_in_two_local_processes_reports_progress_and_equals_one_process(faces):
    cfg = GANSpaceConfig(samples=400, components=4, regression_samples=200, layer="block1", batch=50)
    seen = []
    cs = run_in_processes("dcgan-faces", "ganspace", cfg, 2, "cpu", lambda f, m: seen.append((f, m)), lambda: False)
    one = discover(faces, cfg)
    assert cs.stats["world_size"] == 2
    np.testing.assert_allclose(cs.extras["act_comp"], one.extras["act_comp"], atol=1e-6)
    fractions = [f for f, _ in seen]
    assert len(seen) == 7  # 4 rounds of pass 1, 2 of pass 2, done
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("PCA of block1" in m for _, m in seen)


@pytest.mark.distributed
@pytest.mark.slow
def test_cancelling_a_two_process_training_stops_both_and_keeps_a_checkpoint(tmp_path):
    cfg = replace(LatentCLRConfig(), direction_model="linear", components=3, batch=4, iterations=100_000,
                  job_dir=str(tmp_path / "job"))
    seen = []
    with pytest.raises(Cancelled):
        run_in_processes("dcgan-faces", "latentclr", cfg, 2, "cpu", lambda f, m: seen.append(m), lambda: len(seen) >= 3)
    job = read_job(tmp_path / "job")
    assert 3 <= job["iteration"] < 100_000 and not job["done"]
