"""The dialog that runs a discovery method: one field per option of `METHODS[name].options()`.

Nothing here knows GANSpace: a method added to `methods.registry.METHODS` gets its
dialog from its config dataclass (int -> spin box, float -> `FloatSpinBox`, bool -> check
box, str -> text; an option named in `CHOICES` -> a fixed list, ``layer`` -> the model's
layer names (passed in by the window as metadata), ``job_dir`` -> a folder picker).
`OptionsForm` is the same form for any options dataclass (e.g. `methods.evaluate.EvalConfig`).
"""
from __future__ import annotations

import math
import re
from types import SimpleNamespace
import time
from typing import Any, Callable, Sequence

from PyQt6.QtGui import QValidator
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from methods import latentclr, sefa, voynov
from methods.annotations import data_dir
from methods.pca import ESTIMATORS
from methods.reconstructor import RECONSTRUCTORS
from methods.registry import METHODS, MethodSpec

from .process_job import PROCESS_METHODS

INT_MAX = 2_000_000_000
FLOAT_MAX = 1e15

#: options whose value is one of a fixed list (the first call of each method checks them again)
CHOICES: dict[str, tuple[str, ...]] = {
    "direction_model": tuple(latentclr.DIRECTION_MODELS),
    "reconstructor": tuple(RECONSTRUCTORS),
    "estimator": ESTIMATORS,
    "init": voynov.INITS,
    "weights": sefa.WEIGHT_CHOICES,
}

#: options that name a folder
FOLDER_OPTIONS = frozenset({"job_dir"})

#: labels of options whose field name reads badly
OPTION_LABELS = {
    "include_rgb": "Include ToRGB layers",
    "class_index": "Class (−1: the model's default)",
    "job_dir": "Job folder",
    "lr": "Learning rate",
}


def option_label(name: str) -> str:
    """``"regression_samples"`` -> ``"Regression samples"`` (or a label from `OPTION_LABELS`)."""
    return OPTION_LABELS.get(name) or name.replace("_", " ").capitalize()


def inapplicable_options(G) -> set[str]:
    """Options that mean nothing for generator ``G`` (metadata only): its class for an
    unconditional model, ToRGB layers for a model without any."""
    hidden = set()
    if G.classes is None:
        hidden.add("class_index")
    if not any("rgb" in label for label in G.describe_layers()):
        hidden.add("include_rgb")
    return hidden

_PARTIAL_FLOAT = re.compile(r"^[+-]?(\d*\.?\d*)?([eE][+-]?\d*)?$")


class FloatSpinBox(QAbstractSpinBox):
    """A spin box for a float that keeps the exact value typed (``1e-05`` stays 1e-05).

    Arrows/wheel step by a tenth of the default's decade (0.1 for 2.0, 1e-4 for 1e-3).
    """

    def __init__(self, value: float = 0.0, parent: QWidget | None = None):
        super().__init__(parent)
        self._step = 10.0 ** (math.floor(math.log10(abs(value))) - 1) if value else 0.1
        self.setValue(value)

    def value(self) -> float:
        """The number shown (ValueError when the text is not one)."""
        text = self.lineEdit().text().strip()
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{text!r} is not a finite number")
        return v

    def setValue(self, value: float) -> None:  # noqa: N802  (Qt naming)
        self.lineEdit().setText(repr(float(value)))

    def singleStep(self) -> float:  # noqa: N802
        return self._step

    def stepBy(self, steps: int) -> None:  # noqa: N802
        try:
            v = self.value()
        except ValueError:
            return
        new = round(v + steps * self._step, 12)
        self.setValue(max(-FLOAT_MAX, min(FLOAT_MAX, new)))

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        return QAbstractSpinBox.StepEnabledFlag.StepUpEnabled | QAbstractSpinBox.StepEnabledFlag.StepDownEnabled

    def validate(self, text: str, pos: int):  # noqa: D102
        s = text.strip()
        try:
            float(s)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            pass
        if _PARTIAL_FLOAT.match(s):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos


class FolderField(QWidget):
    """A folder path: text plus a "…" button that opens a folder picker."""

    def __init__(self, path: str = "", placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(path)
        self.edit.setPlaceholderText(placeholder)
        self.button = QToolButton()
        self.button.setText("…")
        self.button.setToolTip("Choose a folder")
        self.button.clicked.connect(self.browse)
        self.new_button = QToolButton()
        self.new_button.setText("New")
        self.new_button.setToolTip("A new folder for this run in the data folder")
        self.new_button.clicked.connect(self.fill_new)
        self.new_button.setVisible(False)
        self.suggest: Callable[[], str] | None = None
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.button)
        lay.addWidget(self.new_button)

    def text(self) -> str:
        return self.edit.text()

    def setText(self, text: str) -> None:  # noqa: N802
        self.edit.setText(text)

    def setToolTip(self, text: str) -> None:  # noqa: N802
        super().setToolTip(text)
        self.edit.setToolTip(text)

    def set_suggestion(self, suggest: Callable[[], str] | None) -> None:
        """Show a "New" button that fills in ``suggest()`` (a fresh folder name)."""
        self.suggest = suggest
        self.new_button.setVisible(suggest is not None)

    def fill_new(self) -> None:
        if self.suggest is not None:
            self.setText(self.suggest())

    def browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Job folder", self.text())
        if path:
            self.setText(path)


def option_widget(
    name: str, typ: type, default: Any, layer_names: Sequence[str] = (), choices: Sequence[str] | None = None
) -> QWidget:
    """An editor for one option, showing its default."""
    choices = CHOICES.get(name) if choices is None else choices
    if typ is bool:
        w = QCheckBox()
        w.setChecked(bool(default))
    elif typ is int:
        w = QSpinBox()
        w.setRange(0 if default >= 0 else -INT_MAX, INT_MAX)
        w.setGroupSeparatorShown(True)
        w.setValue(int(default))
    elif typ is float:
        w = FloatSpinBox(float(default))
    elif typ is str and choices:
        w = QComboBox()
        items = list(choices) if str(default) in choices else [str(default), *choices]
        w.addItems(items)
        w.setCurrentText(str(default))
    elif name == "layer" and layer_names:
        w = QComboBox()
        w.setEditable(True)
        w.addItem("")  # the family's default
        w.addItems(list(layer_names))
        w.setCurrentText(str(default))
        w.lineEdit().setPlaceholderText("model default")
    elif name in FOLDER_OPTIONS:
        w = FolderField(str(default), "none: no checkpoints (a cancelled run keeps nothing)")
    else:
        w = QLineEdit(str(default))
    return w


def option_value(w: QWidget, typ: type) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QSpinBox):
        return typ(w.value())
    if isinstance(w, FloatSpinBox):
        return w.value()
    if isinstance(w, QComboBox):
        return w.currentText().strip()
    text = w.text().strip()
    if typ is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    return typ(text)


def set_option_value(w: QWidget, value: Any) -> None:
    if isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, (QSpinBox, FloatSpinBox)):
        w.setValue(value)
    elif isinstance(w, QComboBox):
        if not w.isEditable() and w.findText(str(value)) < 0:
            w.addItem(str(value))
        w.setCurrentText(str(value))
    else:
        w.setText(str(value))


class OptionsForm(QWidget):
    """A form of ``(name, type, default, help)`` options; `values()` reads them back."""

    def __init__(self, options: Sequence[tuple[str, type, Any, str]], layer_names: Sequence[str] = (),
                 default_layer: str = "", parent: QWidget | None = None, hidden: Sequence[str] = ()):
        """``hidden``: options left out (they keep their defaults)."""
        super().__init__(parent)
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.fields: dict[str, tuple[QWidget, type]] = {}
        for name, typ, default, help_text in options:
            if name in hidden:
                continue
            w = option_widget(name, typ, default, layer_names)
            if name == "layer" and isinstance(w, QComboBox) and w.isEditable() and default_layer:
                w.lineEdit().setPlaceholderText(f"model default ({default_layer})")
            w.setToolTip(help_text)
            w.setObjectName(f"option_{name}")
            label = QLabel(option_label(name))
            label.setToolTip(help_text)
            form.addRow(label, w)
            self.fields[name] = (w, typ)

    def set_values(self, **values: Any) -> None:
        for name, value in values.items():
            set_option_value(self.fields[name][0], value)

    def values(self) -> dict[str, Any]:
        return {name: option_value(w, typ) for name, (w, typ) in self.fields.items()}

    def lock(self, names: Sequence[str]) -> None:
        """Make some fields read-only (e.g. what a resumed run may not change)."""
        for name in names:
            if name in self.fields:
                self.fields[name][0].setEnabled(False)


def method_default_layer(method: str, layer_names: Sequence[str], default_layer: str) -> str:
    """The layer a method uses when ``layer`` is empty, from the layer names alone (no generator call)."""
    if method == "latentclr" and layer_names:
        return latentclr.default_layer(SimpleNamespace(layer_names=lambda: list(layer_names)))
    return default_layer


def new_job_dir(method: str, model_name: str = "") -> str:
    """``<data folder>/jobs/<method>-<model>-<UTC time>``: a fresh job folder name (not created)."""
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name.replace("\\", "/").rsplit("/", 1)[-1])[:40]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return str(data_dir() / "jobs" / "-".join(p for p in (method, model, stamp) if p))


def scrolled(form: QWidget, rows: int) -> QWidget:
    """The form itself, or a scroll area around it when it is long."""
    if rows <= 10:
        return form
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(form)
    scroll.setMinimumHeight(360)
    return scroll


class DiscoverDialog(QDialog):
    """Options of one method; `config()` builds its config dataclass."""

    def __init__(
        self,
        method: str,
        layer_names: Sequence[str] = (),
        default_layer: str = "",
        model_name: str = "",
        parent: QWidget | None = None,
        paper: dict[str, Any] | None = None,
        hidden: Sequence[str] = (),
        max_processes: int = 1,
    ):
        """``paper``: the method's published settings for this model (`methods.paper_settings`),
        offered by a "Paper settings" button beside "Quick settings" (the defaults).
        ``hidden``: options that do not apply to the model (`inapplicable_options`).
        ``max_processes`` > 1 (several GPUs, or many cores; `app.process_job.max_processes`):
        a "Processes" field runs the job in that many local torchrun processes."""
        super().__init__(parent)
        self.spec: MethodSpec = METHODS[method]
        title = self.spec.display_name
        self.setWindowTitle(f"Discover controls — {title}")
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        self.intro = QLabel(f"<b>{title}</b>: {self.spec.summary}." + (f"<br>Model: {model_name}" if model_name else ""))
        self.intro.setWordWrap(True)
        self.intro.setMinimumWidth(480)  # word-wrapped text gets its full height (it was clipped)
        lay.addWidget(self.intro)
        self.form = OptionsForm(self.spec.options(), layer_names, method_default_layer(method, layer_names, default_layer),
                                hidden=hidden)
        self.fields = self.form.fields
        lay.addWidget(scrolled(self.form, len(self.fields)), 1 if len(self.fields) > 10 else 0)
        if isinstance(self.fields.get("job_dir", (None,))[0], FolderField):
            self.fields["job_dir"][0].set_suggestion(lambda: new_job_dir(method, model_name))
        self.paper = dict(paper or {})
        if self.paper:
            lay.addLayout(self._settings_buttons())
        self.processes: QSpinBox | None = None
        if max_processes > 1 and method in PROCESS_METHODS:
            row = QHBoxLayout()
            row.addWidget(QLabel("Processes"))
            self.processes = QSpinBox()
            self.processes.setObjectName("processes")
            self.processes.setRange(1, max_processes)
            self.processes.setValue(1)
            self.processes.setToolTip("Run the job in this many local processes (torchrun: one per GPU, or CPU "
                                      "processes); results agree with one process (README: Several processes)")
            row.addWidget(self.processes)
            row.addStretch(1)
            lay.addLayout(row)
        self.use_cache = QCheckBox("Reuse a cached result for the same model and settings")
        self.use_cache.setChecked(True)
        if "job_dir" in self.fields:
            self.use_cache.setToolTip("A run with a job folder continues from that folder instead")
        lay.addWidget(self.use_cache)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.run_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.run_button.setText("Run")
        self.run_button.setObjectName("runButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _settings_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        quick = QPushButton("Quick settings")
        quick.setObjectName("quickSettings")
        quick.setToolTip("The defaults: scaled down to finish in minutes on a CPU")
        quick.clicked.connect(self.use_quick_settings)
        paper = QPushButton("Paper settings")
        paper.setObjectName("paperSettings")
        iters = self.paper.get("iterations")
        paper.setToolTip("The original paper's settings for this model's family"
                         + (f" ({iters:,} iterations: hours on a GPU)" if iters else ""))
        paper.clicked.connect(self.use_paper_settings)
        row.addWidget(quick)
        row.addWidget(paper)
        row.addStretch(1)
        return row

    def use_paper_settings(self) -> None:
        """Fill the fields the paper fixes with its values for this model."""
        self.form.set_values(**{k: v for k, v in self.paper.items() if k in self.fields})

    def use_quick_settings(self) -> None:
        """Put the fields the paper fixes back to the method's (CPU-sized) defaults."""
        defaults = {name: default for name, _typ, default, _help in self.spec.options()}
        self.form.set_values(**{k: defaults[k] for k in self.paper if k in self.fields})

    def process_count(self) -> int:
        """Local processes the job should use (1 without the field)."""
        return self.processes.value() if self.processes is not None else 1

    def set_values(self, **values: Any) -> None:
        """Fill fields (tests, and re-running with the last settings)."""
        self.form.set_values(**values)

    def values(self) -> dict[str, Any]:
        return self.form.values()

    def config(self):
        """The method's config dataclass from the fields (raises ValueError/TypeError on bad input)."""
        return self.spec.make_config(**self.values())
