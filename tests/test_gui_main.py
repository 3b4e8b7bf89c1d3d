"""`app.main.run_gui`: the program as `python main.py` starts it."""
from __future__ import annotations

import sys

import torch
from gui_helpers import cache_dir, generator, small_controls  # noqa: F401  (fixtures)
from PyQt6.QtCore import QSettings

import main as main_entry

from app.main import install_excepthook, parse_args, run_gui
from app.window import MainWindow


def test_run_gui_opens_the_model_shows_a_frame_and_closes_cleanly(qtbot, qapp, monkeypatch, tmp_path, cache_dir, small_controls):  # noqa: F811
    """Everything `python main.py` does up to the event loop, then the loop itself stood in by qtbot.

    (Running the real ``app.exec()`` and quitting it would end the test session's event
    loop for every later test.)
    """
    from PyQt6.QtWidgets import QApplication

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    threads = torch.get_num_threads()
    controls = tmp_path / "controls.npz"
    small_controls.save(controls)
    seen: dict = {}

    def event_loop(_app) -> int:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        assert len(windows) == 1
        w = windows[0]
        qtbot.waitUntil(lambda: w.frame is not None and w.state.controls is not None, timeout=30_000)
        seen.update(title=w.windowTitle(), rows=len(w.control_panel.rows), canvas=w.canvas_status.text())
        w.close()
        assert not w.runner.running, "closing waits for the jobs"
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    try:
        status = main_entry.main(["gui", "--controls", str(controls), "--device", "cpu"])
    finally:
        qapp.setStyleSheet("")
        qapp.setPalette(qapp.style().standardPalette())
        torch.set_num_threads(threads)
    assert status == 0
    assert seen["title"] == "untitled — dcgan-faces — Latent Studio"
    assert seen["rows"] == len(small_controls)
    assert seen["canvas"] in ("raster canvas", "OpenGL canvas")


def test_gui_arguments_default_to_the_default_model():
    args = parse_args([])
    assert args.model == "dcgan-faces" and args.device == "auto" and args.controls is None
    assert parse_args(["--model", "x.pt", "--canvas", "raster"]).canvas == "raster"


def test_an_exception_escaping_a_slot_is_shown_in_the_window_not_fatal(qtbot, monkeypatch):
    class FakeWindow:
        def __init__(self):
            self.errors = []

        def show_error(self, title, message):
            self.errors.append((title, message))

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    w = FakeWindow()
    install_excepthook(w)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    (title, message), = w.errors
    # one line in the window; the traceback in the error log, never on the terminal
    assert title == "Unexpected error" and message.startswith("boom (details in ") and "\n" not in message
    from methods.jobs import error_log_path

    assert "RuntimeError: boom" in error_log_path().read_text()
