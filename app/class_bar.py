"""`ClassBar`: the non-modal offer shown when the image's class differs from the one the
active controls were computed for ("Recompute for class …").  `current_class` and
`controls_class` are the pure rules it shows.
"""
from __future__ import annotations

from dataclasses import fields

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from editing.state import EditState
from methods.registry import METHODS


def current_class(G, state: EditState) -> int | None:
    """The class of the frame (the model's default when the state names none); None if unconditional."""
    if G is None or G.classes is None:
        return None
    c = state.class_index
    return int(c) if c is not None else int(getattr(G, "default_class", 0))


def controls_class(G, state: EditState) -> int | None:
    """The class the active controls were computed for (``cs.config["class_index"]``), if recorded."""
    cs = state.controls
    if cs is None or G is None or G.classes is None:
        return None
    c = cs.config.get("class_index")
    if isinstance(c, bool) or not isinstance(c, int):
        return None
    return c if c >= 0 else int(getattr(G, "default_class", 0))


def class_name(G, index: int) -> str:
    """``"3: goldfish"``, or the bare index when the model names no classes."""
    classes = G.classes if G is not None else None
    return f"{index}: {classes[index]}" if classes and 0 <= index < len(classes) else str(index)


def recomputable(state: EditState) -> bool:
    """Whether the active controls' method takes a class (so it can run again for another one)."""
    cs = state.controls
    return cs is not None and cs.method in METHODS and any(
        f.name == "class_index" for f in fields(METHODS[cs.method].config))


class ClassBar(QFrame):
    """The offer; ``recomputeRequested`` when its button is pressed.  ``×`` dismisses it for this
    ControlSet and class."""

    recomputeRequested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("classBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton("Recompute")
        self.button.clicked.connect(self.recomputeRequested)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Keep these controls")
        close.clicked.connect(self.dismiss)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.button)
        lay.addWidget(close)
        self._dismissed: tuple[int, int] | None = None  # (id of the ControlSet, class) not to offer again
        self._shown_for: tuple[int, int] | None = None
        self.hide()

    def update_for(self, G, state: EditState, running: bool) -> None:
        """Show the offer when the class differs from the controls' and the method can recompute."""
        cur, made_for = current_class(G, state), controls_class(G, state)
        key = (id(state.controls), cur) if cur is not None else None
        show = (cur is not None and made_for is not None and cur != made_for and recomputable(state)
                and self._dismissed != key)
        if show:
            self.label.setText(f"These controls were computed for class {class_name(G, made_for)}."
                               + (" Recomputing…" if running else ""))
            self.button.setText(f"Recompute for {class_name(G, cur)}")
            self.button.setEnabled(not running)
        self._shown_for = key
        self.setVisible(bool(show))

    def dismiss(self) -> None:
        if self._shown_for is not None:
            self._dismissed = self._shown_for
        self.hide()
