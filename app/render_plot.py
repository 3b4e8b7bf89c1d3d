"""The render-time plot: the render worker's time and the canvas's drawing time of every
frame over the last seconds (from `FrameTimes`), and the FPS cap."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .style import PLOT_BLUE, PLOT_GREEN, style_plot

if TYPE_CHECKING:
    from .window import MainWindow

#: seconds of history shown
SPAN_S = 10.0


class RenderPlot(QWidget):
    def __init__(self, window: "MainWindow"):
        super().__init__()
        self.w = window
        lay = QVBoxLayout(self)
        self.plot = pg.PlotWidget()
        style_plot(self.plot)
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "seconds ago")
        pi.setLabel("left", "ms per frame")
        pi.showGrid(x=True, y=True, alpha=0.2)
        pi.addLegend(offset=(10, 10))
        pi.setXRange(-SPAN_S, 0, padding=0)
        self.render_curve = pi.plot([], [], pen=pg.mkPen(PLOT_BLUE, width=2), symbol="o", symbolSize=4, name="render")
        self.display_curve = pi.plot([], [], pen=pg.mkPen(PLOT_GREEN, width=2), symbol="o", symbolSize=4, name="display")
        self.plot.setMinimumHeight(140)
        lay.addWidget(self.plot, 1)
        row = QHBoxLayout()
        self.summary = QLabel("—")
        self.summary.setObjectName("muted")
        self.cap = QDoubleSpinBox()
        self.cap.setRange(0, 240)
        self.cap.setDecimals(0)
        self.cap.setSuffix(" fps cap")
        self.cap.setSpecialValueText("no fps cap")
        self.cap.setToolTip("Render at most this many frames a second (0: as fast as the generator goes)")
        self.cap.valueChanged.connect(lambda v: self.w.worker.set_max_fps(float(v)))
        row.addWidget(self.summary, 1)
        row.addWidget(self.cap)
        lay.addLayout(row)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.timer.start(250)
        self.refresh()

    def hideEvent(self, event) -> None:  # noqa: N802
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        ages, render, display = self.w.frame_times.series(SPAN_S)
        self.render_curve.setData(ages, render)
        self.display_curve.setData(ages, display)
        self.summary.setText(self.w.frame_times.summary())
