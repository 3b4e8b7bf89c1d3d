"""The dialog that runs a discovery method: one field per option of `METHODS[name].options()`.

Nothing here knows GANSpace: a method added to `methods.registry.METHODS` gets its
dialog from its config dataclass (int -> spin box, float -> number box, bool -> check
box, str -> text; an option called ``layer`` offers the model's layer names).
"""
from __future__ import annotations

from typing import Any, Sequence

from PyQt6.QtCore import QLocale
from PyQt6.QtGui import QDoubleValidator
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from methods.registry import METHODS, MethodSpec

INT_MAX = 2_000_000_000


def option_widget(name: str, typ: type, default: Any, layer_names: Sequence[str] = ()) -> QWidget:
    """An editor for one option, showing its default."""
    if typ is bool:
        w = QCheckBox()
        w.setChecked(bool(default))
    elif typ is int:
        w = QSpinBox()
        w.setRange(0 if default >= 0 else -INT_MAX, INT_MAX)
        w.setGroupSeparatorShown(True)
        w.setValue(int(default))
    elif typ is float:
        w = QLineEdit(repr(float(default)))  # text, so 1e-5 and 0.0001 both fit
        validator = QDoubleValidator(w)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        validator.setLocale(QLocale.c())  # "0.5" whatever the desktop's decimal separator
        w.setValidator(validator)
    elif name == "layer" and layer_names:
        w = QComboBox()
        w.setEditable(True)
        w.addItem("")  # the family's default
        w.addItems(list(layer_names))
        w.setCurrentText(str(default))
        w.lineEdit().setPlaceholderText("model default")
    else:
        w = QLineEdit(str(default))
    return w


def option_value(w: QWidget, typ: type) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QSpinBox):
        return typ(w.value())
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
    elif isinstance(w, QSpinBox):
        w.setValue(value)
    elif isinstance(w, QComboBox):
        w.setCurrentText(str(value))
    else:
        w.setText(str(value))


class DiscoverDialog(QDialog):
    """Options of one method; `config()` builds its config dataclass."""

    def __init__(
        self,
        method: str,
        layer_names: Sequence[str] = (),
        default_layer: str = "",
        model_name: str = "",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.spec: MethodSpec = METHODS[method]
        self.setWindowTitle(f"Discover controls — {method}")
        self.setMinimumWidth(460)
        lay = QVBoxLayout(self)
        intro = QLabel(f"<b>{method}</b>: {self.spec.summary}." + (f"<br>Model: {model_name}" if model_name else ""))
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.fields: dict[str, tuple[QWidget, type]] = {}
        for name, typ, default, help_text in self.spec.options():
            w = option_widget(name, typ, default, layer_names)
            if name == "layer" and isinstance(w, QComboBox) and default_layer:
                w.lineEdit().setPlaceholderText(f"model default ({default_layer})")
            w.setToolTip(help_text)
            w.setObjectName(f"option_{name}")
            label = QLabel(name.replace("_", " "))
            label.setToolTip(help_text)
            form.addRow(label, w)
            self.fields[name] = (w, typ)
        if len(self.fields) > 10:  # long option lists scroll
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(form_widget)
            scroll.setMinimumHeight(360)
            lay.addWidget(scroll, 1)
        else:
            lay.addWidget(form_widget)
        self.use_cache = QCheckBox("Reuse a cached result for the same model and settings")
        self.use_cache.setChecked(True)
        lay.addWidget(self.use_cache)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setObjectName("runButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def set_values(self, **values: Any) -> None:
        """Fill fields (tests, and re-running with the last settings)."""
        for name, value in values.items():
            set_option_value(self.fields[name][0], value)

    def values(self) -> dict[str, Any]:
        return {name: option_value(w, typ) for name, (w, typ) in self.fields.items()}

    def config(self):
        """The method's config dataclass from the fields (raises ValueError/TypeError on bad input)."""
        return self.spec.make_config(**self.values())
