"""What picks the image before any edit: seed, truncation, class, grid of seeds, filtering.

Like the control panel, it only reports what the person did; the window builds the
new `EditState` and calls `sync`.
"""
from __future__ import annotations

import random
from typing import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QWidget,
)

from editing.state import EditState

from .widgets import OriginSlider, WheelGuard

SEED_MAX = 2**31 - 1
#: truncation ψ range of the slider (NVIDIA's viewer offers −1 … 2) and its step
PSI_MIN, PSI_MAX, PSI_STEP = -1.0, 2.0, 0.01


class _Spin(WheelGuard, QSpinBox):
    pass


class _DoubleSpin(WheelGuard, QDoubleSpinBox):
    pass


def _quiet(widget, setter: str, value) -> None:
    widget.blockSignals(True)
    getattr(widget, setter)(value)
    widget.blockSignals(False)


class ImagePanel(QWidget):
    """Seed (box, previous, next, random), truncation ψ, class picker, grid and smooth toggles."""

    seedEdited = pyqtSignal(int)
    truncationEdited = pyqtSignal(float, bool)  # value, part of a drag
    truncationDragFinished = pyqtSignal()
    classEdited = pyqtSignal(int)
    gridChanged = pyqtSignal(bool, int)
    smoothChanged = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        grid.setColumnStretch(1, 1)

        # seed
        self.seed = _Spin()
        self.seed.setRange(0, SEED_MAX)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Seed of the image (PgUp / PgDn step it)")
        self.prev_button = _tool("◀", "Previous seed (PgUp)")
        self.next_button = _tool("▶", "Next seed (PgDn)")
        self.random_button = _tool("⚄", "Random seed")
        seed_row = QHBoxLayout()
        seed_row.setSpacing(4)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.prev_button)
        seed_row.addWidget(self.next_button)
        seed_row.addWidget(self.random_button)
        grid.addWidget(_caption("Seed"), 0, 0)
        grid.addLayout(seed_row, 0, 1)

        # truncation
        self.psi_slider = OriginSlider(origin=int(round(1.0 / PSI_STEP)))
        self.psi_slider.setRange(int(round(PSI_MIN / PSI_STEP)), int(round(PSI_MAX / PSI_STEP)))
        self.psi_slider.setToolTip("Truncation ψ: 1 = none, smaller = closer to the average image")
        self.psi_spin = _DoubleSpin()
        self.psi_spin.setRange(PSI_MIN, PSI_MAX)
        self.psi_spin.setDecimals(2)
        self.psi_spin.setSingleStep(0.05)
        self.psi_spin.setKeyboardTracking(False)
        self.psi_spin.setFixedWidth(64)
        psi_row = QHBoxLayout()
        psi_row.setSpacing(6)
        psi_row.addWidget(self.psi_slider, 1)
        psi_row.addWidget(self.psi_spin)
        grid.addWidget(_caption("Truncation ψ"), 1, 0)
        grid.addLayout(psi_row, 1, 1)

        # class (conditional models only)
        self.class_caption = _caption("Class")
        self.class_box = QComboBox()
        self.class_box.setEditable(True)
        self.class_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.class_box.setMaxVisibleItems(20)
        self.class_box.lineEdit().setPlaceholderText("type to search classes…")
        grid.addWidget(self.class_caption, 2, 0)
        grid.addWidget(self.class_box, 2, 1)

        # view
        self.grid_check = QCheckBox("Grid of")
        self.grid_check.setToolTip("Show several seeds at once, all with the same edits (G)")
        self.grid_count = _Spin()
        self.grid_count.setRange(2, 16)
        self.grid_count.setValue(9)
        self.grid_count.setSuffix(" seeds")
        self.grid_count.setFixedWidth(86)
        self.smooth_check = QCheckBox("Smooth scaling")
        self.smooth_check.setToolTip("Linear filtering when the image is scaled (off: nearest neighbour, whole-pixel zoom)")
        view_row = QHBoxLayout()
        view_row.setSpacing(6)
        view_row.addWidget(self.grid_check)
        view_row.addWidget(self.grid_count)
        view_row.addStretch(1)
        view_row.addWidget(self.smooth_check)
        grid.addWidget(_caption("View"), 3, 0)
        grid.addLayout(view_row, 3, 1)

        self.seed.valueChanged.connect(self.seedEdited)
        self.prev_button.clicked.connect(lambda: self.step_seed(-1))
        self.next_button.clicked.connect(lambda: self.step_seed(1))
        self.random_button.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 100_000)))
        self.psi_slider.valueChanged.connect(self._psi_slider)
        self.psi_slider.sliderReleased.connect(self.truncationDragFinished)
        self.psi_spin.valueChanged.connect(self._psi_spin)
        self.class_box.activated.connect(self._class_picked)
        self.grid_check.toggled.connect(lambda on: self.gridChanged.emit(on, self.grid_count.value()))
        self.grid_count.valueChanged.connect(lambda n: self.gridChanged.emit(self.grid_check.isChecked(), n))
        self.smooth_check.toggled.connect(self.smoothChanged)
        self.set_classes(None)

    # ------------------------------------------------------------------ person
    def step_seed(self, delta: int) -> None:
        self.seed.setValue(max(0, min(SEED_MAX, self.seed.value() + delta)))

    def _psi_slider(self, ticks: int) -> None:
        psi = round(ticks * PSI_STEP, 6)
        _quiet(self.psi_spin, "setValue", psi)
        self.truncationEdited.emit(psi, self.psi_slider.isSliderDown())

    def _psi_spin(self, psi: float) -> None:
        _quiet(self.psi_slider, "setValue", int(round(psi / PSI_STEP)))
        self.truncationEdited.emit(float(psi), False)

    def _class_picked(self, row: int) -> None:
        if 0 <= row < self.class_box.count():
            self.classEdited.emit(row)

    # ------------------------------------------------------------------ model and state
    def set_classes(self, classes: Sequence[str] | None) -> None:
        """Fill the class picker; hide it for unconditional models (``classes is None``)."""
        self.class_box.blockSignals(True)
        self.class_box.clear()
        if classes:
            self.class_box.addItems([f"{i}: {name}" for i, name in enumerate(classes)])
            completer = QCompleter(self.class_box.model(), self.class_box)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            completer.activated[str].connect(self._completer_picked)
            self.class_box.setCompleter(completer)
        self.class_box.blockSignals(False)
        visible = classes is not None
        self.class_box.setVisible(visible)
        self.class_caption.setVisible(visible)

    def _completer_picked(self, text: str) -> None:
        row = self.class_box.findText(text)
        if row >= 0:
            self.class_box.setCurrentIndex(row)
            self.classEdited.emit(row)

    def sync(self, state: EditState, grid: bool, grid_count: int, smooth: bool) -> None:
        if self.seed.value() != state.seed:
            _quiet(self.seed, "setValue", state.seed)
        if abs(self.psi_spin.value() - state.truncation) > 1e-9:
            _quiet(self.psi_spin, "setValue", state.truncation)
        ticks = int(round(state.truncation / PSI_STEP))
        if not self.psi_slider.isSliderDown() and self.psi_slider.value() != ticks:
            _quiet(self.psi_slider, "setValue", ticks)
        if self.class_box.isVisible() or self.class_box.count():
            idx = state.class_index if state.class_index is not None else 0
            if self.class_box.currentIndex() != idx and idx < self.class_box.count():
                _quiet(self.class_box, "setCurrentIndex", idx)
        if self.grid_check.isChecked() != grid:
            _quiet(self.grid_check, "setChecked", grid)
        if self.grid_count.value() != grid_count:
            _quiet(self.grid_count, "setValue", grid_count)
        if self.smooth_check.isChecked() != smooth:
            _quiet(self.smooth_check, "setChecked", smooth)


def _tool(text: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setFixedSize(28, 26)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return b


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("caption")
    return label
