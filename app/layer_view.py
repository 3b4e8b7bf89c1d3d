"""The layer view: any layer of ``G.layer_names()`` for the frame on screen, as a grid of
channels or one channel large, normalised three ways; the pointer shows the value under it.

The activations come from the render worker (`RenderWorker.set_probe`): one extra
`Generator.features` call per single frame, and only while this view is shown.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QMouseEvent, QPainter
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from editing.activations import NORMALISATIONS, channel_grid, locate, normalise

if TYPE_CHECKING:
    from .window import MainWindow


class ActivationImage(QWidget):
    """A grey picture scaled to fit (nearest), reporting which of its pixels the pointer is on."""

    def __init__(self, on_hover, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.pixels: np.ndarray | None = None
        self._image: QImage | None = None
        self.on_hover = on_hover

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        self.pixels = None if pixels is None else np.ascontiguousarray(pixels)
        if self.pixels is not None:
            h, w = self.pixels.shape
            self._image = QImage(self.pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
        else:
            self._image = None
        self.update()

    def _rect(self):
        from .canvas import fit_rect

        h, w = self.pixels.shape
        return fit_rect(self.width(), self.height(), w, h)

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            p.drawImage(self._rect(), self._image)
        p.end()

    def to_pixel(self, x: float, y: float) -> tuple[float, float] | None:
        """Widget point -> picture pixel (x, y), or None outside."""
        if self.pixels is None:
            return None
        r = self._rect()
        if not r.contains(int(x), int(y)):
            return None
        h, w = self.pixels.shape
        return (x - r.x()) * w / r.width(), (y - r.y()) * h / r.height()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.on_hover(self.to_pixel(event.position().x(), event.position().y()))


class LayerView(QWidget):
    """Shown: asks the worker for ``layer``'s activations with every frame; hidden: stops."""

    def __init__(self, window: "MainWindow"):
        super().__init__()
        self.w = window
        self.acts: np.ndarray | None = None  # float32 [C, H, W] of the frame on screen
        self.stamp = 0
        self.last_ms = 0.0  # the features call's time for the last frame
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The generator layer whose activations are shown")
        self.mode_box = QComboBox()
        self.mode_box.addItems(["Channel grid", "One channel"])
        self.channel = QSpinBox()
        self.channel.setPrefix("channel ")
        self.norm_box = QComboBox()
        for key, text in NORMALISATIONS.items():
            self.norm_box.addItem(key, key)
            self.norm_box.setItemData(self.norm_box.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.norm_box.setToolTip("How values become grey levels: " + "; ".join(f"{k}: {v}" for k, v in NORMALISATIONS.items()))
        for wdg in (self.layer_box, self.mode_box, self.channel, self.norm_box):
            row.addWidget(wdg)
        lay.addLayout(row)
        self.image = ActivationImage(self._hover)
        lay.addWidget(self.image, 1)
        self.info = QLabel("Open a model to see its layers")
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.layer_box.currentTextChanged.connect(self._layer_changed)
        for sig in (self.mode_box.currentIndexChanged, self.channel.valueChanged, self.norm_box.currentIndexChanged):
            sig.connect(lambda *_: self.redraw())
        window.worker.featuresReady.connect(self.on_features)

    def model_changed(self) -> None:
        G = self.w.generator
        names = G.layer_names() if G is not None else []
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(names)
        if len(names) > 1:
            self.layer_box.setCurrentIndex(len(names) // 2)
        self.layer_box.blockSignals(False)
        self._layer_changed(self.layer_box.currentText())

    def _layer_changed(self, layer: str) -> None:
        self.acts = None
        self.image.set_pixels(None)
        if self.isVisible():
            self.w.worker.set_probe(layer or None)
            self.w.request_render()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.layer_box.count() == 0:
            self.model_changed()
        self.w.worker.set_probe(self.layer_box.currentText() or None)
        self.w.request_render()

    def hideEvent(self, event) -> None:  # noqa: N802
        self.w.worker.set_probe(None)  # nothing extra is computed while the view is closed
        super().hideEvent(event)

    def on_features(self, stamp: int, layer: str, acts, ms: float) -> None:
        if layer != self.layer_box.currentText() or stamp < self.stamp:
            return
        self.stamp, self.acts, self.last_ms = stamp, np.asarray(acts, dtype=np.float32), ms
        self.channel.setMaximum(max(0, self.acts.shape[0] - 1))
        self.redraw()

    @property
    def grid(self) -> bool:
        return self.mode_box.currentIndex() == 0

    def redraw(self) -> None:
        if self.acts is None:
            return
        a01 = normalise(self.acts, self.norm_box.currentData())
        c = min(self.channel.value(), a01.shape[0] - 1)
        self.image.set_pixels(channel_grid(a01) if self.grid else
                              np.clip(np.round(a01[c] * 255), 0, 255).astype(np.uint8))
        C, H, W = self.acts.shape
        self.info.setText(f"{self.layer_box.currentText()}: {C} channels of {H}×{W} · "
                          f"{self.last_ms:.0f} ms per frame to compute")

    def value_at(self, x: float, y: float):
        """``(channel, row, column, value)`` under picture pixel ``(x, y)``, or None."""
        if self.acts is None:
            return None
        where = locate(self.acts.shape, self.grid, self.channel.value(), x, y)
        return None if where is None else (*where, float(self.acts[where]))

    def _hover(self, pixel) -> None:
        hit = None if pixel is None else self.value_at(*pixel)
        if hit is not None:
            c, i, j, v = hit
            self.info.setText(f"{self.layer_box.currentText()} · channel {c}, row {i}, column {j}: {v:.4g}")
