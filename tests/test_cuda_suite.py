"""benchmarks/cuda_suite.sh: its dry run checks every step a GPU session would run, on the CPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "cuda_suite.sh"


@pytest.mark.slow
def test_dry_run_checks_every_step_without_installing_anything(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    r = subprocess.run(["bash", str(SUITE), "--dry-run", str(tmp_path / "out")], capture_output=True, text=True,
                       env=env, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = ["cuda_tests", "stylegan2_render", "stylegan2_render_tiny", "biggan_render", "trained_methods",
             "ganspace_w_pca_1m"]
    steps += [s for s in ("stylegan3_render", "projection") if (ROOT / "benchmarks" / f"{s}.py").exists()]
    for step in steps:
        assert f"{step}: ok" in r.stdout, step
    assert not (tmp_path / "out" / "venv").exists()  # nothing installed
    tiny = (tmp_path / "out" / "stylegan2_render_tiny.log").read_text().strip().splitlines()[-1]
    assert json.loads(tiny)["cpu"]["64"]["exact"]["ms_min"] > 0  # the tiny frame really rendered


def test_argument_check_refuses_an_option_the_script_does_not_have():
    check = [sys.executable, str(ROOT / "benchmarks" / "check_args.py"), str(ROOT / "benchmarks" / "biggan_render.py")]
    ok = subprocess.run([*check, "--sizes", "128,256,512", "--no-cpu"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*check, "--sizes", "128", "--bogus"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr


def test_a_suite_without_its_folder_argument_says_how_to_call_it():
    r = subprocess.run(["bash", str(SUITE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage: benchmarks/cuda_suite.sh [--dry-run] OUTDIR" in r.stderr
