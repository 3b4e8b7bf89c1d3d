"""`run_gui(argv)`: the QApplication and the main window (``python main.py [--model M]``)."""
from __future__ import annotations

import argparse
import os
import sys

import models

from .settings import APPLICATION, ORGANIZATION


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="main.py", description="Open the Latent Studio explorer.")
    p.add_argument("--model", default=models.DEFAULT_MODEL, help=f"model to open (default {models.DEFAULT_MODEL})")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--controls", help="a controls file (.npz) to use instead of running discovery")
    p.add_argument("--preset", help="a preset (.json) to open")
    p.add_argument("--canvas", choices=["auto", "raster"], default="auto", help="force the raster canvas")
    return p.parse_args(argv)


def leave_core_for_gui() -> None:
    """On small machines keep one CPU core for the GUI thread.

    PyTorch's intra-op threads spin at barriers; when the GUI thread takes one of only
    two cores, a two-thread forward pass can stall for a whole scheduler slice.
    """
    import torch

    cores = os.cpu_count() or 1
    if cores <= 4 and torch.get_num_threads() > 1:
        torch.set_num_threads(max(1, cores - 1))


def install_excepthook(window) -> None:
    """An exception escaping a slot is reported in the window instead of aborting the program.

    (PyQt calls ``qFatal`` for unhandled exceptions when the default hook is in place.)
    """
    from methods.jobs import error_line, log_traceback

    def hook(exc_type, exc, tb) -> None:
        # the traceback goes to the error log, never the terminal; the window shows one line
        if exc is not None and exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        log = log_traceback(exc, "window") if exc is not None else None
        try:
            text = error_line(exc) if exc is not None else exc_type.__name__
            window.show_error("Unexpected error", text + (f" (details in {log})" if log else ""))
        except Exception:  # noqa: BLE001 - the window itself is broken: one line on stderr
            try:
                sys.stderr.write(f"error: {error_line(exc)}\n")
            except Exception:  # noqa: BLE001
                pass

    sys.excepthook = hook


def run_gui(argv: list[str] | None = None) -> int:
    """Start the explorer; returns the application's exit status."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    from PyQt6.QtCore import Qt
    from PyQt6.QtGui import QGuiApplication
    from PyQt6.QtWidgets import QApplication

    from .style import apply_style
    from .window import MainWindow

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_style(app)
    leave_core_for_gui()
    controls = None
    if args.controls:
        from methods.controls import ControlSet, ControlSetError

        try:
            controls = ControlSet.load(args.controls)
        except ControlSetError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2
    window = MainWindow(model=args.model, controls=controls, device=args.device,
                        canvas="raster" if args.canvas == "raster" else None)
    install_excepthook(window)
    window.show()
    if args.preset:
        window.presets.load_preset(args.preset)
    return app.exec()
