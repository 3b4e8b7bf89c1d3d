"""What picks the image before any edit: seed, truncation, class (and class mix), noise,
style mixing, grid of seeds, filtering, and StyleGAN3's translate/rotate view.

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
    QSlider,
    QCompleter,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from editing.state import EditState

from .control_panel import LastRowSpin, LayerSpin, range_summary
from .widgets import OriginSlider, WheelGuard
from .widgets import set_quietly as _quiet

#: noise modes of StyleGAN-like models (`models.stylegan2.NOISE_MODES`)
NOISE_MODES = ("fixed", "random", "zero")
NOISE_TIPS = {
    "fixed": "the model's stored noise: the same image every time",
    "random": "fresh noise on every frame (fine detail changes)",
    "zero": "no noise (smoother, less detail)",
}
#: steps of the class-mix weight slider over [0, 1]
MIX_STEPS = 100

SEED_MAX = 2**31 - 1
#: StyleGAN3 view: translation range of the spin boxes (input units) and rotation slider (degrees)
TRANSLATE_MAX, ROTATE_MAX, ROTATE_STEP = 4.0, 180.0, 0.5
#: truncation ψ range of the slider (NVIDIA's viewer offers −1 … 2) and its step
PSI_MIN, PSI_MAX, PSI_STEP = -1.0, 2.0, 0.01


class _Spin(WheelGuard, QSpinBox):
    pass


class _DoubleSpin(WheelGuard, QDoubleSpinBox):
    pass


class ImagePanel(QWidget):
    """Seed (box, previous, next, random), truncation ψ, class picker and class mix,
    noise mode, style mixing, grid and smooth toggles.

    ``mixEdited(None | (seed, (start, end)))`` and ``classMixEdited(None | (class,
    weight), dragging)`` carry the whole new value of the EditState field.
    """

    seedEdited = pyqtSignal(int)
    truncationEdited = pyqtSignal(float, bool)  # value, part of a drag
    truncationDragFinished = pyqtSignal()
    classEdited = pyqtSignal(int)
    classMixEdited = pyqtSignal(object, bool)
    classMixDragFinished = pyqtSignal()
    noiseEdited = pyqtSignal(str)
    mixEdited = pyqtSignal(object)
    gridChanged = pyqtSignal(bool, int)
    smoothChanged = pyqtSignal(bool)
    transformEdited = pyqtSignal(object, float, bool)  # (tx, ty), rotate in degrees, part of a drag
    transformDragFinished = pyqtSignal()

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
        # shown instead of a seed's image: explicit latents (a Semantics result) are the base
        self.base_label = QLabel("sampled image")
        self.base_label.setObjectName("muted")
        self.base_label.setToolTip("The image is explicit latents (from the Semantics panel), not a seed's sample;\n"
                                   "choose a seed (◀ ▶ ⚄, or type one and press Enter) to go back to seeds")
        self.base_label.setVisible(False)
        self._explicit = False
        seed_row.addWidget(self.base_label)
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

        # class mix (conditional models only)
        self.class_mix_caption = _caption("Class mix")
        self.class_mix_check = QCheckBox()
        self.class_mix_check.setToolTip("Blend the class vector with a second class")
        self.class_mix_box = QComboBox()
        self.class_mix_box.setMaxVisibleItems(20)
        self.class_mix_box.setToolTip("The second class")
        self.class_mix_slider = QSlider(Qt.Orientation.Horizontal)
        self.class_mix_slider.setRange(0, MIX_STEPS)
        self.class_mix_slider.setValue(MIX_STEPS // 2)
        self.class_mix_slider.setToolTip("Weight of the second class: (1 − w)·first + w·second")
        self.class_mix_label = QLabel("0.50")
        self.class_mix_label.setFixedWidth(34)
        cm_row = QHBoxLayout()
        cm_row.setSpacing(6)
        cm_row.addWidget(self.class_mix_check)
        self.class_mix_box.setMinimumContentsLength(8)
        self.class_mix_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_mix_slider.setMinimumWidth(90)
        cm_row.addWidget(self.class_mix_box, 1)
        cm_row.addWidget(self.class_mix_slider, 1)
        cm_row.addWidget(self.class_mix_label)
        self.class_mix_row = QWidget()
        self.class_mix_row.setLayout(cm_row)
        cm_row.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.class_mix_caption, 3, 0)
        grid.addWidget(self.class_mix_row, 3, 1)

        # noise (StyleGAN-like models only)
        self.noise_caption = _caption("Noise")
        self.noise_box = QComboBox()
        for mode in NOISE_MODES:
            self.noise_box.addItem(mode)
            self.noise_box.setItemData(self.noise_box.count() - 1, NOISE_TIPS[mode], Qt.ItemDataRole.ToolTipRole)
        self.noise_box.setToolTip("Per-pixel noise inputs: fixed, random on every frame, or zero")
        grid.addWidget(self.noise_caption, 4, 0)
        grid.addWidget(self.noise_box, 4, 1)

        # style mixing (multi-row latents only)
        self.mix_caption = _caption("Style mix")
        self.mix_check = QCheckBox("seed")
        self.mix_check.setToolTip("Take some latent rows from a second seed (style mixing)")
        self.mix_seed = _Spin()
        self.mix_seed.setRange(0, SEED_MAX)
        self.mix_seed.setKeyboardTracking(False)
        self.mix_seed.setToolTip("The seed whose rows replace the image's own inside the range")
        self.mix_start = LayerSpin()
        self.mix_end = LastRowSpin()
        self.mix_start.setToolTip("first latent row taken from the second seed")
        self.mix_end.setToolTip("last latent row taken from the second seed")
        self.mix_coverage = QLabel()
        self.mix_coverage.setObjectName("muted")
        self.mix_coverage.setWordWrap(True)
        mix_top = QHBoxLayout()
        mix_top.setSpacing(4)
        mix_top.setContentsMargins(0, 0, 0, 0)
        mix_top.addWidget(self.mix_check)
        mix_top.addWidget(self.mix_seed, 1)
        mix_top.addWidget(QLabel("rows"))
        mix_top.addWidget(self.mix_start)
        mix_top.addWidget(QLabel("–"))
        mix_top.addWidget(self.mix_end)
        self.mix_row = QWidget()
        mix_lay = QVBoxLayout(self.mix_row)
        mix_lay.setContentsMargins(0, 0, 0, 0)
        mix_lay.setSpacing(2)
        mix_lay.addLayout(mix_top)
        mix_lay.addWidget(self.mix_coverage)
        grid.addWidget(self.mix_caption, 5, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.mix_row, 5, 1)
        self.num_layers = 1
        self.layer_labels: list[str] = []

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
        grid.addWidget(_caption("View"), 6, 0)
        grid.addLayout(view_row, 6, 1)

        # StyleGAN3's view transform (NVIDIA's viewer: translate and rotate the input)
        self.transform_caption = _caption("Translate / rotate")
        self.tx_spin, self.ty_spin = _DoubleSpin(), _DoubleSpin()
        for spin, axis in ((self.tx_spin, "x"), (self.ty_spin, "y")):
            spin.setRange(-TRANSLATE_MAX, TRANSLATE_MAX)
            spin.setDecimals(3)
            spin.setSingleStep(0.025)
            spin.setKeyboardTracking(False)
            spin.setFixedWidth(70)
            spin.setToolTip(f"Move the view along {axis} (StyleGAN3; the input's units, as in NVIDIA's viewer)")
        self.rotate_slider = OriginSlider(origin=0)
        self.rotate_slider.setRange(int(-ROTATE_MAX / ROTATE_STEP), int(ROTATE_MAX / ROTATE_STEP))
        self.rotate_slider.setToolTip("Rotate the view (StyleGAN3), in degrees")
        self.rotate_spin = _DoubleSpin()
        self.rotate_spin.setRange(-ROTATE_MAX, ROTATE_MAX)
        self.rotate_spin.setDecimals(1)
        self.rotate_spin.setSuffix("°")
        self.rotate_spin.setKeyboardTracking(False)
        self.rotate_spin.setFixedWidth(70)
        self.transform_reset = _tool("⟲", "Back to the untransformed view")
        tr_row = QHBoxLayout()
        tr_row.setSpacing(4)
        tr_row.setContentsMargins(0, 0, 0, 0)
        tr_row.addWidget(self.tx_spin)
        tr_row.addWidget(self.ty_spin)
        tr_row.addWidget(self.rotate_slider, 1)
        tr_row.addWidget(self.rotate_spin)
        tr_row.addWidget(self.transform_reset)
        self.transform_row = QWidget()
        self.transform_row.setLayout(tr_row)
        grid.addWidget(self.transform_caption, 7, 0)
        grid.addWidget(self.transform_row, 7, 1)
        self.tx_spin.valueChanged.connect(lambda _v: self._emit_transform(False))
        self.ty_spin.valueChanged.connect(lambda _v: self._emit_transform(False))
        self.rotate_slider.valueChanged.connect(self._rotate_slider)
        self.rotate_slider.sliderReleased.connect(self.transformDragFinished)
        self.rotate_spin.valueChanged.connect(self._rotate_spin)
        self.transform_reset.clicked.connect(self._reset_transform)
        self.set_view_transform(False)

        self.seed.valueChanged.connect(self.seedEdited)
        # Enter on the unchanged number also picks that seed while a sampled image is shown
        self.seed.editingFinished.connect(lambda: self._explicit and self.seedEdited.emit(self.seed.value()))
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
        self.class_mix_check.toggled.connect(lambda _on: self._emit_class_mix(False))
        self.class_mix_box.activated.connect(lambda _row: self._emit_class_mix(False))
        self.class_mix_slider.valueChanged.connect(lambda _v: self._emit_class_mix(self.class_mix_slider.isSliderDown()))
        self.class_mix_slider.sliderReleased.connect(self.classMixDragFinished)
        self.noise_box.activated.connect(lambda row: self.noiseEdited.emit(NOISE_MODES[row]))
        self.mix_check.toggled.connect(self._mix_toggled)
        self.mix_seed.valueChanged.connect(lambda _v: self._emit_mix())
        self.mix_start.valueChanged.connect(self._mix_start_changed)
        self.mix_end.valueChanged.connect(self._mix_end_changed)
        self.set_classes(None)
        self.set_model_features(False, 1, [])

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

    def _emit_class_mix(self, dragging: bool) -> None:
        w = self.class_mix_slider.value() / MIX_STEPS
        self.class_mix_label.setText(f"{w:.2f}")
        self.class_mix_box.setEnabled(self.class_mix_check.isChecked())
        self.class_mix_slider.setEnabled(self.class_mix_check.isChecked())
        if not self.class_mix_check.isChecked():
            self.classMixEdited.emit(None, False)
        else:
            self.classMixEdited.emit((max(0, self.class_mix_box.currentIndex()), w), dragging)

    def _rotate_slider(self, ticks: int) -> None:
        _quiet(self.rotate_spin, "setValue", round(ticks * ROTATE_STEP, 6))
        self._emit_transform(self.rotate_slider.isSliderDown())

    def _rotate_spin(self, degrees: float) -> None:
        _quiet(self.rotate_slider, "setValue", int(round(degrees / ROTATE_STEP)))
        self._emit_transform(False)

    def _reset_transform(self) -> None:
        for spin in (self.tx_spin, self.ty_spin, self.rotate_spin):
            _quiet(spin, "setValue", 0.0)
        _quiet(self.rotate_slider, "setValue", 0)
        self._emit_transform(False)

    def _emit_transform(self, dragging: bool) -> None:
        translate = (float(self.tx_spin.value()), float(self.ty_spin.value()))
        self.transformEdited.emit(translate, float(self.rotate_spin.value()), dragging)

    def set_view_transform(self, available: bool) -> None:
        """Show the translate/rotate row only for models with a view transform (StyleGAN3)."""
        self.transform_caption.setVisible(available)
        self.transform_row.setVisible(available)

    def _sync_transform(self, state: EditState) -> None:
        for spin, value in ((self.tx_spin, state.translate[0]), (self.ty_spin, state.translate[1]),
                            (self.rotate_spin, state.rotate)):
            if abs(spin.value() - value) > 1e-9:
                _quiet(spin, "setValue", value)
        ticks = int(round(state.rotate / ROTATE_STEP))
        if not self.rotate_slider.isSliderDown() and self.rotate_slider.value() != ticks:
            _quiet(self.rotate_slider, "setValue", ticks)

    def _mix_start_changed(self, start: int) -> None:
        if self.mix_end.value() <= start:
            _quiet(self.mix_end, "setValue", start + 1)
        self._emit_mix()

    def _mix_end_changed(self, end: int) -> None:
        if self.mix_start.value() >= end:
            _quiet(self.mix_start, "setValue", end - 1)
        self._emit_mix()

    def mix_value(self) -> tuple[int, tuple[int, int]] | None:
        """The style-mixing setting the widgets show (None when off)."""
        if not self.mix_check.isChecked():
            return None
        return self.mix_seed.value(), (self.mix_start.value(), self.mix_end.value())

    def _show_mix_coverage(self) -> None:
        s, e = self.mix_start.value(), self.mix_end.value()
        self.mix_coverage.setText(range_summary(self.layer_labels, s, e) if self.layer_labels else "")
        self.mix_coverage.setToolTip("\n".join(self.layer_labels[s:e]))

    def _mix_toggled(self, on: bool) -> None:
        if on and self.mix_seed.value() == self.seed.value():
            _quiet(self.mix_seed, "setValue", min(SEED_MAX, self.seed.value() + 1))
        self._emit_mix()

    def _emit_mix(self) -> None:
        on = self.mix_check.isChecked()
        for w in (self.mix_seed, self.mix_start, self.mix_end):
            w.setEnabled(on)
        self._show_mix_coverage()
        self.mixEdited.emit(self.mix_value())

    # ------------------------------------------------------------------ model and state
    def set_model_features(self, noise: bool, num_layers: int, layer_labels: Sequence[str]) -> None:
        """Show the noise picker only for models with noise inputs, style mixing only for multi-row latents."""
        self.noise_caption.setVisible(noise)
        self.noise_box.setVisible(noise)
        self.num_layers = max(1, int(num_layers))
        self.layer_labels = list(layer_labels)
        mixing = self.num_layers > 1
        self.mix_caption.setVisible(mixing)
        self.mix_row.setVisible(mixing)
        for spin, lo, hi in ((self.mix_start, 0, max(0, self.num_layers - 1)), (self.mix_end, 1, self.num_layers)):
            spin.blockSignals(True)
            spin.setRange(lo, hi)
            spin.blockSignals(False)
        _quiet(self.mix_check, "setChecked", False)
        _quiet(self.mix_start, "setValue", self.num_layers // 2)
        _quiet(self.mix_end, "setValue", self.num_layers)
        for w in (self.mix_seed, self.mix_start, self.mix_end):
            w.setEnabled(False)
        self._show_mix_coverage()

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
        self.class_mix_box.blockSignals(True)
        self.class_mix_box.clear()
        if classes:
            self.class_mix_box.addItems([f"{i}: {name}" for i, name in enumerate(classes)])
        self.class_mix_box.blockSignals(False)
        _quiet(self.class_mix_check, "setChecked", False)
        self.class_mix_box.setEnabled(False)
        self.class_mix_slider.setEnabled(False)
        visible = classes is not None
        for w in (self.class_box, self.class_caption, self.class_mix_caption, self.class_mix_row):
            w.setVisible(visible)

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
        self._sync_class_mix(state)
        self._sync_mix(state)
        self._sync_transform(state)
        if self.noise_box.currentText() != state.noise_mode and state.noise_mode in NOISE_MODES:
            _quiet(self.noise_box, "setCurrentIndex", NOISE_MODES.index(state.noise_mode))
        if self.grid_check.isChecked() != grid:
            _quiet(self.grid_check, "setChecked", grid)
        if self.grid_count.value() != grid_count:
            _quiet(self.grid_count, "setValue", grid_count)
        if self.smooth_check.isChecked() != smooth:
            _quiet(self.smooth_check, "setChecked", smooth)
        self._sync_base(state)

    def _sync_base(self, state: EditState) -> None:
        """Explicit latents: say so beside the seed; ψ and style mixing (which act on the
        seed's sample) are disabled until a seed is chosen."""
        self._explicit = explicit = state.latents is not None
        self.base_label.setVisible(explicit)
        why = "the sampled image's latents are already truncated; choose a seed to change ψ"
        for w in (self.psi_slider, self.psi_spin):
            w.setEnabled(not explicit)
            w.setToolTip(why if explicit else "Truncation ψ: 1 = none, smaller = closer to the average image")
        self.mix_check.setEnabled(not explicit)
        if explicit:
            for w in (self.mix_seed, self.mix_start, self.mix_end):
                w.setEnabled(False)


    def _sync_class_mix(self, state: EditState) -> None:
        on = state.class_mix is not None
        if self.class_mix_check.isChecked() != on:
            _quiet(self.class_mix_check, "setChecked", on)
        self.class_mix_box.setEnabled(on)
        self.class_mix_slider.setEnabled(on)
        if on:
            other, w = state.class_mix
            if self.class_mix_box.currentIndex() != other and other < self.class_mix_box.count():
                _quiet(self.class_mix_box, "setCurrentIndex", other)
            ticks = int(round(w * MIX_STEPS))
            if not self.class_mix_slider.isSliderDown() and self.class_mix_slider.value() != ticks:
                _quiet(self.class_mix_slider, "setValue", ticks)
            self.class_mix_label.setText(f"{w:.2f}")

    def _sync_mix(self, state: EditState) -> None:
        on = state.mix_seed is not None and state.mix_range is not None
        if self.mix_check.isChecked() != on:
            _quiet(self.mix_check, "setChecked", on)
        if on:
            if self.mix_seed.value() != state.mix_seed:
                _quiet(self.mix_seed, "setValue", state.mix_seed)
            s, e = state.mix_range
            _quiet(self.mix_start, "setValue", s)
            _quiet(self.mix_end, "setValue", e)
        for w in (self.mix_seed, self.mix_start, self.mix_end):
            w.setEnabled(on)
        self._show_mix_coverage()


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
