"""The window's remembered layout: size and place (fitted to the screen), splitter, docks,
the sliders' range and the scaling choice, kept in `Settings` between sessions."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtCore import QSize

from .control_panel import SPAN
from .widgets import fit_to_screen

if TYPE_CHECKING:
    from .window import MainWindow

#: the size of a first start (shrunk to fit smaller screens)
DEFAULT_SIZE = QSize(1320, 860)


def restore_layout(w: "MainWindow") -> None:
    s = w.settings
    geometry, splitter, docks = s.get("window/geometry"), s.get("window/splitter"), s.get("window/state")
    if geometry is None or not w.restoreGeometry(geometry):
        w.resize(DEFAULT_SIZE)
    if docks is not None:
        w.restoreState(docks)
    fit_to_screen(w)
    if splitter is not None:
        w.splitter.restoreState(splitter)
    try:
        w.control_panel.set_span(float(s.get("view/slider_span", SPAN)))
    except (TypeError, ValueError):
        pass


def save_layout(w: "MainWindow") -> None:
    s = w.settings
    s.set("view/smooth", w.smooth)
    s.set("window/geometry", w.saveGeometry())
    s.set("window/splitter", w.splitter.saveState())
    s.set("window/state", w.saveState())
    s.set("view/slider_span", w.control_panel.span)
    s.store.sync()
