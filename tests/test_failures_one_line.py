"""Every failure is one line and loses nothing: generated exceptions, full disks, output onto input.

The CLI's top level turns an exception of any type into one line on stderr (exit 2, the
traceback in the error log); writers faced with ENOSPC leave the old file as it was and
leave no temporary files; a command never overwrites its own input; option values are bounded.
"""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli.commands as commands
from cli.commands import run
from editing import export
from methods.jobs import error_log_path
from models import atomic

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ROOT = Path(__file__).resolve().parents[1]


def run_cli(args) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err):
        try:
            code = run(args)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


def exception_of(kind: str, message: str) -> BaseException:
    return {
        "memory": lambda: MemoryError(message),
        "runtime": lambda: RuntimeError(message),
        "cv2": lambda: cv2.error(message),
        "overflow": lambda: OverflowError(message),
        "recursion": lambda: RecursionError(message),
        "enospc": lambda: OSError(errno.ENOSPC, "No space left on device", message),
        "zero": lambda: ZeroDivisionError(message),
        "attribute": lambda: AttributeError(message),
        "index": lambda: IndexError(message),
        "assertion": lambda: AssertionError(message),
    }[kind]()


@FAST
@given(kind=st.sampled_from(["memory", "runtime", "cv2", "overflow", "recursion", "enospc", "zero", "attribute", "index",
                             "assertion"]),
       message=st.text(max_size=3000))
def test_any_exception_in_a_command_is_one_line_and_exit_2(monkeypatch, tmp_path, kind, message):
    def boom(args):
        raise exception_of(kind, message)

    monkeypatch.setitem(commands.COMMANDS, "render", boom)
    code, err = run_cli(["render", "--model", "dcgan-faces", "--out", str(tmp_path / "x.png")])
    assert code == 2
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and "Traceback" not in err and len(err) < 1200, err
    if kind == "enospc":
        assert "disk full" in err
    if kind not in ("enospc",) and kind in ("memory", "runtime", "cv2", "recursion", "zero", "attribute", "index", "assertion"):
        assert "Traceback" in error_log_path().read_text(errors="replace")


@FAST
@given(name=st.text(min_size=1, max_size=20).map(lambda s: s * 500), newline=st.booleans())
def test_echoed_names_are_quoted_shortened_and_on_one_line(tmp_path, name, newline):
    spec = ("dir\n" if newline else "") + name
    code, err = run_cli(["render", "--model", spec, "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert err.count("\n") == 1 and len(err) < 1000, err[:300]


@FAST
@given(option=st.sampled_from([("export", "--frames"), ("render", "--grid"), ("render", "--size"), ("discover", "--batch"),
                               ("discover", "--samples"), ("export", "--fps"), ("semantics sample", "--init")]),
       value=st.sampled_from(["1e9", "1000000000", "1000000000000", "1e-300", "0", "-1", "nan", "inf", "9" * 400]))
def test_option_values_are_bounded_in_one_sentence(tmp_path, option, value):
    command, flag = option
    base = {"export": ["export", "--model", "dcgan-faces", "--control", "0", "--out", str(tmp_path / "v.mp4")],
            "render": ["render", "--model", "dcgan-faces", "--out", str(tmp_path / "r.png")],
            "discover": ["discover", "--model", "dcgan-faces", "--method", "ganspace", "--out", str(tmp_path / "c.npz")],
            "semantics sample": ["semantics", "sample", "--model", "dcgan-faces", "--extractor", "x.pt", "--target", "m.png",
                                 "--out", str(tmp_path / "s")]}[command]
    code, err = run_cli(base + [flag, value])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not any(tmp_path.iterdir())


def test_a_grid_that_cannot_fit_is_refused_with_its_estimate(tmp_path):
    code, err = run_cli(["render", "--model", "dcgan-faces", "--grid", "256", "--size", "8192", "--out", str(tmp_path / "g.png")])
    assert code == 2 and "would need about" in err and "TB" in err


@pytest.mark.parametrize("argv", [
    ["render", "--model", "{x}", "--out", "{x}"],
    ["render", "--model", "dcgan-faces", "--preset", "{x}", "--out", "{x}"],
    ["vocab", "export", "--db", "{x}", "--out", "{x}"],
])
def test_an_output_equal_to_an_input_is_refused(tmp_path, argv):
    x = tmp_path / ("X.png" if argv[0] == "render" and "--preset" not in argv else "X.csv")
    if "--preset" in argv:
        x = tmp_path / "X.json"
    x.write_bytes(b"precious")
    (tmp_path / "sub").mkdir()
    # the same file through another spelling of its path
    other = str(tmp_path / "sub" / ".." / x.name)
    args = [a.replace("{x}", str(x)) for a in argv]
    args[len(args) - 1] = other
    code, err = run_cli(args)
    assert code == 2 and "also the" in err, err
    assert x.read_bytes() == b"precious"


@FAST
@given(data=st.binary(max_size=4096), n_files=st.integers(1, 3), fail_at=st.integers(0, 2))
def test_a_full_disk_leaves_every_old_file_intact_and_no_temporaries(tmp_path, data, n_files, fail_at):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    targets = [tmp_path / f"f{i}.bin" for i in range(n_files)]
    for t in targets:
        t.write_bytes(b"old " + t.name.encode())
    real_fsync = os.fsync
    count = {"n": 0}

    def fsync(fd):  # ENOSPC surfaces at write or fsync time on real file systems
        if count["n"] == min(fail_at, n_files - 1):
            raise OSError(errno.ENOSPC, "No space left on device")
        count["n"] += 1
        return real_fsync(fd)

    os_fsync, atomic.os.fsync = atomic.os.fsync, fsync
    try:
        with pytest.raises(OSError) as info:
            atomic.write_files_atomic({t: data for t in targets})
    finally:
        atomic.os.fsync = os_fsync
    assert info.value.errno == errno.ENOSPC
    assert all(t.read_bytes() == b"old " + t.name.encode() for t in targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.name for t in targets)


def test_render_with_save_preset_writes_both_or_neither_on_a_full_disk(tmp_path, monkeypatch):
    out, preset = tmp_path / "r.png", tmp_path / "r.json"
    real_fsync = os.fsync
    seen = []

    def fsync(fd):
        seen.append(fd)
        if len(seen) == 2:  # the second file does not fit
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    code, err = run_cli(["render", "--model", "dcgan-faces", "--size", "16", "--out", str(out), "--save-preset", str(preset)])
    assert code == 2 and "disk full" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@FAST
@given(kept=st.integers(0, 7))
def test_an_mp4_that_does_not_verify_is_not_renamed_and_says_why(tmp_path, kept):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    out = tmp_path / "v.mp4"
    frames = [np.full((16, 16, 3), 30 * i, np.uint8) for i in range(8)]
    export.write_video(out, frames, 8, 10.0)
    good = out.read_bytes()
    real = cv2.VideoWriter

    class Dropping:
        """A writer whose writes stop landing after ``kept`` frames (what a full disk does to OpenCV)."""

        def __init__(self, *a):
            self.w, self.n = real(*a), 0

        def isOpened(self):
            return self.w.isOpened()

        def write(self, frame):
            self.n += 1
            if self.n <= kept:
                self.w.write(frame)

        def release(self):
            self.w.release()

    export.cv2.VideoWriter = Dropping
    try:
        with pytest.raises(export.ExportError) as info:
            export.write_video(out, frames, 8, 10.0)
    finally:
        export.cv2.VideoWriter = real
    assert "not written correctly" in str(info.value) or "disk full" in str(info.value)
    assert out.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


@pytest.mark.parametrize("fps", [1e-300, 1e300, float("nan")])
def test_video_fps_out_of_range_names_the_cause(tmp_path, fps):
    with pytest.raises(export.ExportError, match="frames per second"):
        export.write_video(tmp_path / "v.mp4", [np.zeros((16, 16, 3), np.uint8)], 1, fps)


WRITER = """
import os, sys, time
sys.path.insert(0, {root!r})
from models.atomic import atomic_open
with atomic_open({path!r}, "w") as f:
    f.write("partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_killed_writers_temporary_file_is_removed_at_the_next_write(tmp_path):
    path = tmp_path / "p.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".p.json.")]
        assert len(leftovers) == 1
        atomic.write_bytes_atomic(tmp_path / "other.json", b"{}")  # the writer is alive: its file stays
        assert leftovers[0].exists()
    finally:
        proc.kill()
        proc.wait()
    atomic.write_bytes_atomic(tmp_path / "other.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json"]


def test_a_damaged_cache_entry_counts_as_absent(tmp_path, monkeypatch, faces):
    import json as _json

    from methods import cache
    from methods.ganspace import GANSpaceConfig
    from methods.registry import METHODS

    monkeypatch.setenv("LATENT_STUDIO_CACHE", str(tmp_path))
    spec = METHODS["ganspace"]
    config = GANSpaceConfig(samples=500, components=3)
    path = cache.cache_path(faces, spec, config)
    np.savez(path, directions=np.zeros((0, 512), np.float32), **{"meta.json": np.frombuffer(_json.dumps([1, 2]).encode(), np.uint8)})
    assert cache.cached(faces, spec, config) is None


def test_a_full_disk_in_a_job_folder_is_one_line(tmp_path, monkeypatch):
    import builtins

    from methods import training

    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return Full(f) if "w" in mode else f

    monkeypatch.setattr(training, "open", full_open, raising=False)
    code, err = run_cli(["discover", "--model", "dcgan-faces", "--method", "latentclr", "--iterations", "2", "--batch", "2",
                         "--job-dir", str(tmp_path / "job"), "--checkpoint-every", "1", "--quiet", "--no-cache",
                         "--out", str(tmp_path / "c.npz")])
    assert code == 2 and "disk full" in err and err.count("\n") == 1, err
    assert not (tmp_path / "c.npz").exists()
    assert not [p for p in (tmp_path / "job").iterdir() if p.name.startswith(".")]


def test_libpng_warnings_do_not_reach_the_terminal(tmp_path):
    # a PNG whose IHDR CRC is wrong: libpng complains on fd 2 while OpenCV decodes it
    ok, buf = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    data = bytearray(buf.tobytes())
    data[29] ^= 0xFF
    (tmp_path / "m.png").write_bytes(bytes(data))
    code = ("import sys; sys.path.insert(0, {root!r})\n"
            "from methods.semantics.masks import read_mask\n"
            "from methods.semantics.common import SemanticsError\n"
            "try:\n    read_mask({p!r})\nexcept SemanticsError as e:\n    print(e, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code.format(root=str(ROOT), p=str(tmp_path / "m.png"))],
                       capture_output=True, text=True, timeout=60)
    assert "libpng" not in r.stderr and r.stderr.count("\n") <= 1, r.stderr
