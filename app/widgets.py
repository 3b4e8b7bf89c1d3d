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
    step); a click on the knob grabs it where it is (the value does not move); Shift
    while dragging moves `FINE` times as fast; the wheel (with focus) moves one
    single step per notch; a double-click returns to the origin.
    """

    RADIUS = 6  # handle radius in pixels
    FINE = 0.1  # drag speed with Shift held

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
        x = event.position().x()
        self.setSliderDown(True)  # a press, the moves and the release are one drag (one undo step)
        if abs(x - self._x(self.value())) > self.RADIUS + 2:
            self.setValue(self._value_at(x))  # on the track: jump there
        self._anchor(x, event.modifiers())
        event.accept()

    def _anchor(self, x: float, modifiers) -> None:
        """Remember where the drag (re)starts: the pointer, the knob, and whether it is fine."""
        self._fine = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        self._press_x, self._knob_x = x, self._x(self.value())

    def _drag_value(self, x: float, modifiers) -> int:
        if bool(modifiers & Qt.KeyboardModifier.ShiftModifier) != getattr(self, "_fine", False):
            self._anchor(x, modifiers)  # Shift pressed or released mid-drag: no jump
        speed = self.FINE if self._fine else 1.0
        return self._value_at(self._knob_x + (x - self._press_x) * speed)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.isSliderDown() and hasattr(self, "_press_x"):
            self.setValue(self._drag_value(event.position().x(), event.modifiers()))
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        """One single step per wheel notch (focused sliders only: a scrolled list keeps scrolling)."""
        if not self.hasFocus():
            event.ignore()
            return
        self._wheel = getattr(self, "_wheel", 0) + event.angleDelta().y() + event.angleDelta().x()
        notches = int(self._wheel / 120)  # toward zero; high-resolution wheels add up to a notch
        self._wheel -= notches * 120
        if notches:
            self.setValue(self.value() + notches * self.singleStep())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.isSliderDown():
            if hasattr(self, "_press_x"):
                self.setValue(self._drag_value(event.position().x(), event.modifiers()))
            self.setSliderDown(False)
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.setValue(self.origin)
        event.accept()



def fit_within(x: int, y: int, w: int, h: int, avail_x: int, avail_y: int, avail_w: int, avail_h: int
               ) -> tuple[int, int, int, int]:
    """A rectangle ``(x, y, w, h)`` (a window with its frame) shrunk and moved to lie inside the available area."""
    w, h = max(1, min(w, avail_w)), max(1, min(h, avail_h))
    x = min(max(x, avail_x), avail_x + avail_w - w)
    y = min(max(y, avail_y), avail_y + avail_h - h)
    return x, y, w, h


def fit_to_screen(window: QWidget) -> None:
    """Shrink and move ``window`` so that all of it, frame and status bar included, is on its screen."""
    from PyQt6.QtGui import QGuiApplication

    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    a, f, g = screen.availableGeometry(), window.frameGeometry(), window.geometry()
    x, y, w, h = fit_within(f.x(), f.y(), f.width(), f.height(), a.x(), a.y(), a.width(), a.height())
    if (w, h) != (f.width(), f.height()):
        window.resize(g.width() - (f.width() - w), g.height() - (f.height() - h))
    if (x, y) != (f.x(), f.y()):
        window.move(x, y)  # a top-level window's position is its frame's


def plural(n: int, noun: str) -> str:
    """``"1 latent row"``, ``"14 latent rows"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
