"""Exports: sweeps, strip images and mp4 videos that OpenCV reads back."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.atomic import atomic_open
from editing.export import ExportError, export_sweep_video, read_png, strip_image, sweep_values, write_png
from editing.state import EditState
from methods.jobs import Cancelled


@pytest.fixture
def state(face_controls):
    return EditState(model="dcgan-faces", seed=2).with_controls(face_controls)


def test_sweep_goes_to_the_end_and_back_so_the_video_loops():
    v = sweep_values(-2, 2, 8)
    assert v[0] == -2 and v[4] == 2 and v[-1] == -1
    assert sweep_values(0, 1, 3, back=False) == [0, 0.5, 1]


def test_video_has_the_requested_frame_count_and_size(faces, state, tmp_path):
    out = tmp_path / "sweep.mp4"
    n = export_sweep_video(faces, state.with_value(1, 0.0), 0, -3, 3, 12, 24, out)
    assert n == 12
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == 12 and frames[0].shape == (64, 64, 3)
    assert abs(cap.get(cv2.CAP_PROP_FPS) - 24) < 0.5
    assert np.abs(frames[0].astype(int) - frames[6].astype(int)).mean() > 5  # the sweep changes the image


def test_cancelled_export_leaves_no_file(faces, state, tmp_path):
    out = tmp_path / "sweep.mp4"
    calls = []
    with pytest.raises(Cancelled):
        export_sweep_video(faces, state, 0, -3, 3, 40, 24, out, cancel=lambda: calls.append(1) or len(calls) > 3)
    assert list(tmp_path.iterdir()) == []


def test_strip_has_one_row_per_control_and_one_column_per_step(faces, state, tmp_path):
    strip = strip_image(faces, state, [0, 1, 2], -2, 2, 5, pad=2)
    assert strip.shape == (3 * 64 + 2 * 2, 5 * 64 + 4 * 2, 3)
    path = tmp_path / "strip.png"
    write_png(path, strip)
    assert np.array_equal(read_png(path), strip)
    with pytest.raises(ExportError, match="control 99 does not exist"):
        strip_image(faces, state, [99], -2, 2, 5)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write("new, half written")
            raise RuntimeError("crash mid-save")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
