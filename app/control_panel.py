"""The list of controls: one row per control with its slider, value, ‖Δ‖, layer range, flip and reset.

The panel never changes the edit state itself: it emits what the person did
(``valueEdited``, ``rangeEdited``, ``renamed``, ``flipRequested``, ``resetRequested``,
``resetAllRequested``) and the window answers by building a new `EditState` and
calling `ControlPanel.sync`, which updates only the widgets whose values changed.
"""
from __future__ import annotations

from typing import Sequence

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QKeyEvent, QMouseEvent
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from editing.state import EditState
from methods.controls import ControlSet

from .widgets import OriginSlider, WheelGuard

#: slider span in the controls' unit (σ for GANSpace) and its step
SPAN = 10.0
STEP = 0.1


class ValueSlider(OriginSlider):
    """A horizontal slider over ±span (`SPAN` unless set) in STEP units, filled from 0 to the value."""

    def __init__(self, parent: QWidget | None = None, span: float = SPAN):
        super().__init__(0, parent)
        self.set_span(span)
        self.setSingleStep(1)
        self.setPageStep(10)
        self.setMinimumWidth(90)

    def set_span(self, span: float) -> None:
        """The slider covers ±``span`` (the value box still takes anything within ±100)."""
        n = max(1, int(round(span / STEP)))
        self.blockSignals(True)  # narrowing clamps the knob; the state keeps its value
        self.setRange(-n, n)
        self.blockSignals(False)

    @staticmethod
    def to_ticks(value: float) -> int:
        return int(round(value / STEP))

    @staticmethod
    def to_value(ticks: int) -> float:
        return round(ticks * STEP, 6)


class ValueSpin(WheelGuard, QDoubleSpinBox):
    """The numeric value next to a slider (typing a value beyond the slider's span is allowed)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(-100.0, 100.0)
        self.setDecimals(2)
        self.setSingleStep(STEP)
        self.setKeyboardTracking(False)
        self.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setFixedWidth(52)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)


class LayerSpin(WheelGuard, QSpinBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setKeyboardTracking(False)
        self.setFixedWidth(46)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)


class LastRowSpin(LayerSpin):
    """The end of a row range: `value` is one past the last row (Python's convention, as in
    `EditState.ranges`), but the box shows the last row itself, so "2 – 4" reads like the
    label's "rows 2–4"."""

    def textFromValue(self, value: int) -> str:  # noqa: N802
        return str(value - 1)

    def valueFromText(self, text: str) -> int:  # noqa: N802
        return int(text.strip() or 0) + 1

    def validate(self, text: str, pos: int):
        from PyQt6.QtGui import QValidator

        t = text.strip()
        if not t:
            return QValidator.State.Intermediate, text, pos
        if not t.isdigit():
            return QValidator.State.Invalid, text, pos
        ok = self.minimum() <= int(t) + 1 <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos


class NameEdit(QLineEdit):
    """The control's name: a flat label that becomes editable on double-click (Esc cancels)."""

    committed = pyqtSignal(str)

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setObjectName("controlName")
        self._before = text
        self._stop_editing(text)
        self.editingFinished.connect(self._finish)

    def _stop_editing(self, text: str) -> None:
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setText(text)
        self.setCursorPosition(0)
        self.setToolTip(f"{text} — double-click to rename")

    def start_editing(self) -> None:
        self._before = self.text()
        self.setReadOnly(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.selectAll()

    @property
    def editing(self) -> bool:
        return not self.isReadOnly()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.editing:
            self.start_editing()
        else:
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self.editing and event.key() == Qt.Key.Key_Escape:
            self._stop_editing(self._before)
            self.clearFocus()
            return
        super().keyPressEvent(event)

    def _finish(self) -> None:
        if not self.editing:
            return
        text = self.text().strip()
        self._stop_editing(self._before)
        if text and text != self._before:
            self.committed.emit(text)

    def show_name(self, text: str) -> None:
        """Set the shown name unless the person is typing one."""
        if not self.editing and self.text() != text:
            self._stop_editing(text)


def range_summary(labels: Sequence[str], start: int, end: int) -> str:
    """What latent rows ``start..end-1`` feed, from `Generator.describe_layers`.

    E.g. ``rows 0–3: 4² conv → 8² rgb, 16² conv`` (one row: ``row 2: 8² conv``).
    """

    def short(i: int) -> str:
        text = labels[i] if 0 <= i < len(labels) else f"layer {i}"
        return text.split(": ", 1)[-1]

    if end - start <= 1:
        return f"row {start}: {short(start)}"
    return f"rows {start}–{end - 1}: {short(start)} → {short(end - 1)}"


class ControlRow(QFrame):
    """One control: name, slider, value, ‖Δ‖, flip, reset and (multi-layer models) a layer range."""

    valueEdited = pyqtSignal(int, float, bool)  # index, value, part of a drag
    dragFinished = pyqtSignal(int)
    rangeEdited = pyqtSignal(int, int, int)
    renamed = pyqtSignal(int, str)
    flipRequested = pyqtSignal(int)
    resetRequested = pyqtSignal(int)

    def __init__(self, index: int, name: str, num_layers: int, layer_labels: Sequence[str], parent: QWidget | None = None,
                 span: float = SPAN):
        super().__init__(parent)
        self.index = index
        self.setObjectName("controlRow")
        self.num_layers = num_layers
        self.layer_labels = list(layer_labels)
        self._value = 0.0
        self._range: tuple[int, int] = (0, num_layers)
        self._delta = -1.0

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 3)
        outer.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(6)
        self.number = QLabel(str(index))
        self.number.setObjectName("controlIndex")
        self.number.setFixedWidth(22)
        self.number.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.name = NameEdit(name)
        self.name.setFixedWidth(84)
        self.slider = ValueSlider(span=span)
        self.slider.setToolTip(f"the control's value in its unit (σ for GANSpace), step {STEP:g}: arrow keys and "
                               "the wheel step it, Shift+drag moves finely, a double-click resets it")
        self.spin = ValueSpin()
        self.spin.setToolTip("value in the control's unit (σ); type a number and press Enter")
        self.delta = QLabel("0.00")
        self.delta.setObjectName("controlDelta")
        self.delta.setFixedWidth(40)
        self.delta.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.delta.setToolTip("‖Δ‖: length of this edit in latent units")
        self.flip_button = QToolButton()
        self.flip_button.setText("⇄")
        self.flip_button.setToolTip("Flip the direction (the sign of a component is arbitrary)")
        self.reset_button = QToolButton()
        self.reset_button.setText("↺")
        self.reset_button.setToolTip("Reset this control to 0 and its default layers")
        for b in (self.flip_button, self.reset_button):
            b.setAutoRaise(True)
            b.setFixedSize(QSize(22, 22))
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.number)
        top.addWidget(self.name)
        top.addWidget(self.slider, 1)
        top.addWidget(self.spin)
        top.addWidget(self.delta)
        top.addWidget(self.flip_button)
        top.addWidget(self.reset_button)
        outer.addLayout(top)

        self.layer_box = QWidget()
        lay = QHBoxLayout(self.layer_box)
        lay.setContentsMargins(28, 0, 0, 0)
        lay.setSpacing(4)
        caption = QLabel("rows")
        caption.setObjectName("muted")
        self.start_spin = LayerSpin()
        self.end_spin = LastRowSpin()
        self.start_spin.setRange(0, max(0, num_layers - 1))
        self.end_spin.setRange(1, max(1, num_layers))
        self.start_spin.setToolTip("first latent row the control writes")
        self.end_spin.setToolTip("last latent row the control writes")
        dash = QLabel("–")
        self.coverage = QLabel()
        self.coverage.setObjectName("muted")
        self.coverage.setWordWrap(True)  # what the rows feed wraps under the boxes instead of being cut off
        self.coverage.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(caption)
        lay.addWidget(self.start_spin)
        lay.addWidget(dash)
        lay.addWidget(self.end_spin)
        lay.addStretch(1)
        outer.addWidget(self.layer_box)
        self.coverage.setContentsMargins(28, 0, 0, 0)
        outer.addWidget(self.coverage)
        self.layer_box.setVisible(num_layers > 1)
        self.coverage.setVisible(num_layers > 1)

        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(lambda: self.dragFinished.emit(self.index))
        self.spin.valueChanged.connect(self._spin_changed)
        self.start_spin.valueChanged.connect(self._start_changed)
        self.end_spin.valueChanged.connect(self._end_changed)
        self.name.committed.connect(lambda text: self.renamed.emit(self.index, text))
        self.flip_button.clicked.connect(lambda: self.flipRequested.emit(self.index))
        self.reset_button.clicked.connect(lambda: self.resetRequested.emit(self.index))
        self._show_range(0, num_layers)

    # ------------------------------------------------------------------ from the person
    def _slider_moved(self, ticks: int) -> None:
        value = ValueSlider.to_value(ticks)
        self._value = value
        _set_quietly(self.spin, value)
        self.valueEdited.emit(self.index, value, self.slider.isSliderDown())

    def _spin_changed(self, value: float) -> None:
        self._value = value
        _set_quietly(self.slider, ValueSlider.to_ticks(value))
        self.valueEdited.emit(self.index, float(value), False)

    def _start_changed(self, start: int) -> None:
        end = max(self.end_spin.value(), start + 1)
        self._emit_range(start, end)

    def _end_changed(self, end: int) -> None:
        start = min(self.start_spin.value(), end - 1)
        self._emit_range(start, end)

    def _emit_range(self, start: int, end: int) -> None:
        self._show_range(start, end)
        self.rangeEdited.emit(self.index, start, end)

    # ------------------------------------------------------------------ from the state
    @property
    def value(self) -> float:
        return self._value

    def show_value(self, value: float, delta: float) -> None:
        if value != self._value:
            self._value = value
            _set_quietly(self.slider, ValueSlider.to_ticks(value))
            _set_quietly(self.spin, value)
        if abs(delta - self._delta) > 1e-9:
            self._delta = delta
            self.delta.setText(f"{delta:.2f}")

    def _show_range(self, start: int, end: int) -> None:
        self._range = (start, end)
        _set_quietly(self.start_spin, start)
        _set_quietly(self.end_spin, end)
        if self.num_layers > 1:
            self.coverage.setText(range_summary(self.layer_labels, start, end))
            self.coverage.setToolTip("\n".join(self.layer_labels[start:end]))

    def show_range(self, start: int, end: int) -> None:
        if (start, end) != self._range:
            self._show_range(start, end)

    def matches(self, text: str) -> bool:
        text = text.strip().lower()
        return not text or text in self.name.text().lower() or text == str(self.index)


def _set_quietly(widget, value) -> None:
    """Set a widget's value without emitting its change signal."""
    if widget.value() == value:
        return
    widget.blockSignals(True)
    widget.setValue(value)
    widget.blockSignals(False)


class ControlPanel(QWidget):
    """Filter box, summary, Reset all, and a scroll area of `ControlRow`s."""

    valueEdited = pyqtSignal(int, float, bool)
    dragFinished = pyqtSignal(int)
    rangeEdited = pyqtSignal(int, int, int)
    renamed = pyqtSignal(int, str)
    flipRequested = pyqtSignal(int)
    resetRequested = pyqtSignal(int)
    resetAllRequested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[ControlRow] = []
        self.controls: ControlSet | None = None
        self.num_layers = 1
        self.layer_labels: list[str] = []
        self._unit_for: ControlSet | None = None
        self._unit: list[float] = []
        self._defaults: list = []

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter controls by name…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        self.span_spin = QDoubleSpinBox()
        self.span_spin.setRange(0.5, 100.0)
        self.span_spin.setDecimals(1)
        self.span_spin.setSingleStep(1.0)
        self.span_spin.setPrefix("±")
        self.span_spin.setValue(SPAN)
        self.span_spin.setKeyboardTracking(False)
        self.span_spin.setToolTip("The sliders' range, in the controls' unit (σ for GANSpace): "
                                  "a smaller range moves more finely")
        self.span_spin.valueChanged.connect(self.set_span)
        self.reset_all_button = QPushButton("Reset all")
        self.reset_all_button.setToolTip("All sliders to 0 and all layer ranges to their defaults (R)")
        self.reset_all_button.clicked.connect(self.resetAllRequested)
        head.addWidget(self.filter, 1)
        head.addWidget(self.span_spin)
        head.addWidget(self.reset_all_button)
        lay.addLayout(head)
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.container = QWidget()
        self.container.setObjectName("rowContainer")
        self.rows_layout = QVBoxLayout(self.container)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(1)
        self.placeholder = QLabel()
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.rows_layout.addWidget(self.placeholder)
        self.rows_layout.addStretch(1)
        self.scroll.setWidget(self.container)
        lay.addWidget(self.scroll, 1)
        self.set_placeholder("No controls yet. Discover ▸ GANSpace… finds some.")

    # ------------------------------------------------------------------ building
    def set_placeholder(self, text: str) -> None:
        """Text shown while there are no rows (e.g. while discovery runs)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(not self.rows)

    def set_controls(self, controls: ControlSet | None, num_layers: int, layer_labels: Sequence[str]) -> None:
        """Rebuild the rows for a new set of controls (or none)."""
        self.setUpdatesEnabled(False)
        try:
            for row in self.rows:
                self.rows_layout.removeWidget(row)
                row.setParent(None)
                row.deleteLater()
            self.rows = []
            self.controls = controls
            self.num_layers = num_layers
            self.layer_labels = list(layer_labels)
            if controls is not None:
                for i, name in enumerate(controls.names):
                    row = ControlRow(i, name, num_layers, layer_labels, self.container, span=self.span)
                    row.valueEdited.connect(self.valueEdited)
                    row.dragFinished.connect(self.dragFinished)
                    row.rangeEdited.connect(self.rangeEdited)
                    row.renamed.connect(self.renamed)
                    row.flipRequested.connect(self.flipRequested)
                    row.resetRequested.connect(self.resetRequested)
                    self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
                    self.rows.append(row)
            self.placeholder.setVisible(not self.rows)
            self.summary.setText(describe_controls(controls))
            self.summary.setToolTip(controls_tooltip(controls))
            self.summary.setVisible(controls is not None)
            self.reset_all_button.setEnabled(bool(self.rows))
            self.apply_filter(self.filter.text())
        finally:
            self.setUpdatesEnabled(True)

    def sync(self, state: EditState) -> None:
        """Show ``state``'s values, ranges and names (rebuilding only if the number of controls changed)."""
        cs = state.controls
        if (cs is None) != (self.controls is None) or (cs is not None and len(cs) != len(self.rows)):
            self.set_controls(cs, self.num_layers, self.layer_labels)
        if cs is None:
            return
        if cs is not self._unit_for:
            # ‖Δ‖ of every control is |value| times a constant of the control (its scale
            # and direction length); ask ControlSet.delta_norms for those constants once.
            self._unit_for, self._unit = cs, cs.delta_norms([1.0] * len(cs))
            self._defaults = cs.default_ranges()
        for i, row in enumerate(self.rows):
            v = state.values[i]
            row.show_value(v, abs(v) * self._unit[i])
            r = state.ranges[i] if state.ranges[i] is not None else self._defaults[i]
            row.show_range(*(r if r is not None else (0, self.num_layers)))
            row.name.show_name(cs[i].name)
        if cs is not self.controls:  # another set of the same length (undo across a load, a rename)
            self.controls = cs
            self.summary.setToolTip(controls_tooltip(cs))
            self.apply_filter(self.filter.text())

    def apply_filter(self, text: str) -> None:
        shown = 0
        for row in self.rows:
            visible = row.matches(text)
            row.setVisible(visible)
            shown += visible
        if self.controls is not None:
            base = describe_controls(self.controls)
            self.summary.setText(base if not text.strip() else f"{base} · {shown} shown")
            self.summary.setVisible(True)

    @property
    def span(self) -> float:
        return float(self.span_spin.value())

    def set_span(self, span: float) -> None:
        """Every slider covers ±``span``; values outside stay (the value boxes show them)."""
        if self.span_spin.value() != span:
            self.span_spin.setValue(span)  # comes back here through valueChanged
            return
        for row in self.rows:
            row.slider.set_span(span)
            _set_quietly(row.slider, ValueSlider.to_ticks(row.value))

    def row(self, index: int) -> ControlRow:
        return self.rows[index]

    def focused_row(self) -> ControlRow | None:
        for row in self.rows:
            if row.slider.hasFocus() or row.spin.hasFocus():
                return row
        return None


def describe_controls(cs: ControlSet | None) -> str:
    """One line about a ControlSet: method, layer, count, explained variance."""
    if cs is None:
        return ""
    parts = [cs.method if cs.method != "ganspace" else "GANSpace"]
    layer = cs.stats.get("layer") or cs.config.get("layer")
    if layer:
        parts.append(str(layer))
    parts.append(f"{len(cs)} controls")
    ev = cs.stats.get("explained_variance")
    if isinstance(ev, (int, float)):
        parts.append(f"{100 * ev:.0f}% of variance")
    return " · ".join(parts)


def controls_tooltip(cs: ControlSet | None) -> str:
    """Where the controls came from: method, model, settings, samples, date."""
    if cs is None:
        return ""
    lines = [f"method: {cs.method}", f"model: {cs.model.name} (weights {cs.model.fingerprint or 'any'})"]
    if cs.samples:
        lines.append(f"samples: {cs.samples:,}")
    if cs.seed is not None:
        lines.append(f"seed: {cs.seed}")
    lines += [f"{k}: {v}" for k, v in cs.config.items() if k not in ("seed", "samples")]
    if cs.created:
        lines.append(f"created: {cs.created}")
    return "\n".join(lines)
