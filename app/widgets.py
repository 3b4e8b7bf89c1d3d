"""Small widgets shared by the panels: wheel-safe inputs and a slider that shows its offset from an origin."""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PyQt6.QtWidgets import QSlider, QStyle, QWidget

TRACK = QColor(58, 61, 68)
POSITIVE = QColor(94, 160, 255)
NEGATIVE = QColor(255, 160, 80)
HANDLE = QColor(222, 225, 231)


def set_quietly(widget, setter: str, value) -> None:
    """``widget.<setter>(value)`` without emitting its signals (syncing a view to the state)."""
    widget.blockSignals(True)
    getattr(widget, setter)(value)
    widget.blockSignals(False)


class WheelGuard:
    """Mixin: the mouse wheel changes the widget only when it has focus (so a scrolled list scrolls)."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt name)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class OriginSlider(WheelGuard, QSlider):
    """A horizontal slider drawn as a track filled from ``origin`` to the value.

    Blue to the right of the origin, orange to the left, so an edit's sign and size
    read at a glance.  A click on the track jumps there and starts a drag (one undo
    step); a double-click returns to the origin.
    """

    RADIUS = 6  # handle radius in pixels

    def __init__(self, origin: int = 0, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.origin = origin
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(20)

    def _x(self, value: int) -> float:
        lo, hi = self.minimum(), self.maximum()
        span = max(1, hi - lo)
        r = self.RADIUS
        return r + (value - lo) / span * (self.width() - 2 * r)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        cy = self.height() / 2
        r = self.RADIUS
        enabled = self.isEnabled()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(TRACK)
        p.drawRoundedRect(QRectF(r, cy - 2, self.width() - 2 * r, 4), 2, 2)
        x0, x1 = self._x(self.origin), self._x(self.value())
        if self.value() != self.origin and enabled:
            p.setBrush(POSITIVE if self.value() > self.origin else NEGATIVE)
            p.drawRoundedRect(QRectF(min(x0, x1), cy - 2, abs(x1 - x0), 4), 2, 2)
        p.setPen(QPen(QColor(120, 124, 132), 1))
        p.drawLine(QPointF(x0, cy - 5), QPointF(x0, cy + 5))  # the origin
        p.setPen(QPen(POSITIVE, 2) if self.hasFocus() else Qt.PenStyle.NoPen)
        p.setBrush(HANDLE if enabled else TRACK)
        p.drawEllipse(QPointF(x1, cy), r - 1, r - 1)
        p.end()

    def _value_at(self, x: float) -> int:
        r = self.RADIUS
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), int(round(x - r)), max(1, self.width() - 2 * r))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.setSliderDown(True)  # a press, the moves and the release are one drag (one undo step)
        self.setValue(self._value_at(event.position().x()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.isSliderDown():
            self.setValue(self._value_at(event.position().x()))
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.isSliderDown():
            self.setValue(self._value_at(event.position().x()))
            self.setSliderDown(False)
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.setValue(self.origin)
        event.accept()
