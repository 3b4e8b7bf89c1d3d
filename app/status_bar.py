"""The status bar's permanent widgets: jobs, render time and rate, model, device, canvas kind."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QLabel

from .canvas import RasterCanvas
from .devices import device_label
from .job_panel import JobPanel

if TYPE_CHECKING:
    from .window import MainWindow


def build_status_bar(w: "MainWindow") -> None:
    """Adds ``job_panel``, ``perf_label``, ``model_status``, ``device_status`` and ``canvas_status``
    to the window, and a timer that refreshes the render-time figures twice a second."""
    sb = w.statusBar()
    w.job_panel = JobPanel(w.runner)
    w.perf_label = QLabel("—")
    w.perf_label.setObjectName("perf")
    w.perf_label.setToolTip("the render worker's time for the last frames, and the frames shown per "
                            "second over the last two seconds (View ▸ Render-time plot shows both)")
    w.device_status = QLabel(device_label(w.device))
    w.model_status = QLabel("")
    w.canvas_status = QLabel("")
    for label in (w.perf_label, w.device_status, w.model_status, w.canvas_status):
        label.setContentsMargins(8, 0, 8, 0)
    for widget in (w.job_panel, w.perf_label, w.model_status, w.device_status, w.canvas_status):
        sb.addPermanentWidget(widget)
    show_canvas_status(w)
    w.stats_timer = QTimer(w)
    w.stats_timer.timeout.connect(lambda: w.shown_stamp and w.perf_label.setText(w.frame_times.summary()))
    w.stats_timer.start(500)


def show_canvas_status(w: "MainWindow") -> None:
    """Which canvas draws the frames (and why the raster one, when it is)."""
    c = w.canvas
    if isinstance(c, RasterCanvas):
        w.canvas_status.setText("raster canvas")
        w.statusBar().showMessage(f"Using the {c.description}", 15_000)
    else:
        w.canvas_status.setText("OpenGL canvas")
    w.canvas_status.setToolTip(c.description)
