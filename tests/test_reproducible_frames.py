"""Frames are the same bit for bit at every thread count, in every process and whatever
renders beside them — with oneDNN on where a family is exact and faster with it
(`editing.render._frame_kernels`)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from editing.render import render_state
from editing.state import EditState
from models.biggan import BigGANConfig, BigGANGenerator, BigGANNet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from frame_hashes import STYLEGAN2_FIXTURE, frame_hashes  # noqa: E402


@pytest.fixture(scope="module")
def gens(faces) -> dict:
    return {
        "dcgan-faces": faces,
        "stylegan2-64": models.load_generator(STYLEGAN2_FIXTURE),
        "biggan-tiny": BigGANGenerator(BigGANNet(BigGANConfig.published(128, 4)).randomize_(seed=0), "cpu",
                                       name="biggan-tiny", fingerprint=""),
    }


def _state(G, seed: int = 5) -> EditState:
    return EditState(model=G.name, seed=seed, truncation=0.7 if G.family != "dcgan" else 1.0)


def _at_threads(n: int, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["dcgan-faces", "stylegan2-64", "biggan-tiny"])
def test_frame_is_the_same_bit_for_bit_at_one_two_and_three_threads(gens, name):
    G = gens[name]
    frames = [_at_threads(n, lambda: render_state(G, _state(G))) for n in (1, 2, 3)]
    assert all(np.array_equal(frames[0], f) for f in frames[1:])


def test_stylegan2_frames_run_on_onednn_and_the_others_on_pytorch_kernels(gens, monkeypatch):
    seen: dict[str, bool] = {}

    def recording(name, synthesize):
        def wrapped(*args, **kwargs):
            seen[name] = torch.backends.mkldnn.enabled
            return synthesize(*args, **kwargs)
        return wrapped

    for name, G in gens.items():
        monkeypatch.setattr(G, "synthesize", recording(name, G.synthesize))
        render_state(G, _state(G))
    assert seen == {"dcgan-faces": False, "stylegan2-64": True, "biggan-tiny": False}
    assert torch.backends.mkldnn.enabled  # restored after the frames


def test_stylegan2_torgb_as_a_matrix_product_is_the_same_at_one_two_and_three_threads(gens):
    """Why ToRGB is a matrix product: on some CPUs oneDNN's 1x1 convolution splits the
    reduction by thread count and moves the frame in the last bit (seen on a 2-core Xeon
    without AVX-512; on others it happens not to), so the program does not rely on it."""
    G = gens["stylegan2-64"]
    conv = G.net.to_rgbs[-1].conv
    x = torch.randn(1, conv.in_channel, 64, 64, generator=torch.Generator().manual_seed(0))
    style = torch.full((conv.in_channel,), 0.1)
    with torch.no_grad():
        outs = [_at_threads(n, lambda: conv._forward_single(x, style)) for n in (1, 2, 3)]
    assert all(torch.equal(outs[0], o) for o in outs[1:])


def test_frames_of_families_needing_other_kernels_rendered_at_once_stay_exact(gens):
    sg2, dc = gens["stylegan2-64"], gens["dcgan-faces"]
    want = {id(sg2): render_state(sg2, _state(sg2)), id(dc): render_state(dc, _state(dc))}
    bad: list[str] = []

    def loop(G):
        for _ in range(6):
            if not np.array_equal(render_state(G, _state(G)), want[id(G)]):
                bad.append(G.name)

    threads = [threading.Thread(target=loop, args=(G,)) for G in (sg2, dc, sg2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_fast_preview_on_the_cpu_runs_on_the_exact_frames_kernels(gens, monkeypatch):
    """The trap: the CPU fast path used to run with oneDNN off, 2-3x slower than the exact frame."""
    G = gens["stylegan2-64"]
    monkeypatch.setattr(type(G), "fast_path_devices", ("cpu", "cuda"))
    flags: list[bool] = []
    real = G.fast_frames
    monkeypatch.setattr(G, "fast_frames", lambda lat, mode=None: flags.append(torch.backends.mkldnn.enabled) or real(lat, mode))
    render_state(G, _state(G), fast=True)
    assert flags == [True]


@pytest.mark.slow
def test_fresh_processes_at_other_thread_counts_give_this_processs_frames(gens):
    here = {name: frame for name, frame in frame_hashes().items() if name != "threads"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "frame_hashes.py"), "--processes", "2",
                        "--threads", "1,2", "--jobs", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["distinct_hashes"] == {name: 1 for name in here}
    assert {name: h[0] for name, h in out["hashes"].items()} == {name: h[:16] for name, h in here.items()}
