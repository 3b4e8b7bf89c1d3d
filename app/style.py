"""The look: Qt's Fusion style with a dark palette and a few rules for the panels."""
from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ACCENT = QColor(94, 160, 255)

STYLESHEET = """
QGroupBox {
    font-weight: 600;
    border: 1px solid #34363c;
    border-radius: 6px;
    margin-top: 14px;
    padding: 8px 6px 6px 6px;
}
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #c9ccd3; }
QLabel#caption { color: #a9adb6; }
QLabel#muted { color: #8b9099; }
QLabel#controlIndex { color: #6f747d; font-size: 11px; }
QLabel#controlDelta { color: #8b9099; font-family: monospace; font-size: 11px; }
QLabel#placeholder { color: #8b9099; padding: 24px; }
QLabel#perf { font-family: monospace; }
QFrame#controlRow { border-radius: 4px; }
QFrame#controlRow:hover { background: #2a2c31; }
QLineEdit#controlName[readOnly="true"] { border: none; background: transparent; padding: 0 2px; }
QWidget#rowContainer { background: transparent; }
QScrollArea { background: transparent; }
QToolBar#mainToolbar { border: none; border-bottom: 1px solid #2c2e33; spacing: 2px; padding: 2px 6px; }
QToolBar#mainToolbar QToolButton { padding: 4px 10px; color: #d4d7dd; }
QToolBar#mainToolbar QToolButton:checked { background: #34507a; }
QToolBar#mainToolbar QToolButton:disabled { color: #6c7078; }
QStatusBar { border-top: 1px solid #2c2e33; }
QStatusBar QLabel { color: #b8bcc4; }
QSlider::groove:horizontal { height: 4px; background: #3a3d44; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #3a3d44; border-radius: 2px; }
QSlider::handle:horizontal {
    background: #d7dae0; width: 12px; height: 12px; margin: -5px 0; border-radius: 6px;
}
QSlider::handle:horizontal:hover { background: #ffffff; }
QSlider::handle:horizontal:focus { background: #5ea0ff; }
QToolButton { border-radius: 4px; padding: 2px; }
QToolButton:hover { background: #3a3d44; }
QProgressBar { border: 1px solid #3a3d44; border-radius: 3px; text-align: center; height: 14px; }
QProgressBar::chunk { background: #3f7fd9; border-radius: 2px; }
"""


def apply_style(app: QApplication) -> None:
    """Fusion + dark palette + the stylesheet above."""
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(30, 31, 35), QColor(37, 38, 43), QColor(222, 224, 229)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(20, 20, 24))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor(47, 49, 55))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 90, 90))
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(10, 10, 12))
    p.setColor(QPalette.ColorRole.Link, ACCENT)
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(120, 124, 132))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 113, 120))
    app.setPalette(p)
    app.setStyleSheet(STYLESHEET)


#: plot colours matching the dark palette (pyqtgraph defaults to its own black/white)
PLOT_BACKGROUND = "#1b1c20"
PLOT_FOREGROUND = "#b8bcc4"
PLOT_RED, PLOT_BLUE, PLOT_GREEN = "#ff6b5a", "#5ea0ff", "#6fd08c"


def style_plot(widget) -> None:
    """A `pyqtgraph.PlotWidget` in the window's dark theme: background, axes and their text."""
    import pyqtgraph as pg

    widget.setBackground(PLOT_BACKGROUND)
    pi = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = pi.getAxis(name)
        axis.setPen(pg.mkPen(PLOT_FOREGROUND))
        axis.setTextPen(pg.mkPen(PLOT_FOREGROUND))
