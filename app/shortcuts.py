"""Window shortcuts that work wherever the focus is (bug: Ctrl+Z undid the filter box's text).

Qt lets a focused text field claim a key sequence first (``ShortcutOverride``): a line
edit takes Ctrl+Z for its own undo and Ctrl+E for "end of line", so the window's Undo and
Export never fired while the filter box or a value box had focus.  `GlobalShortcuts`
answers that claim for the window's own shortcuts:

* a value box (any spin box) never keeps them: its value is already part of the edit,
  so Ctrl+Z undoes the edit;
* a text field that is being edited on purpose keeps its own undo/redo while it has
  something to undo/redo (typing in the filter box, then Ctrl+Z, takes the typing back);
  every other window shortcut still goes to the window.
"""
from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QAction, QKeyEvent, QKeySequence
from PyQt6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget


def _sequence(event: QKeyEvent) -> QKeySequence:
    return QKeySequence(event.keyCombination())


class GlobalShortcuts(QObject):
    """Event filter on the application for ``window``'s actions (``undo``/``redo``: the two whose
    sequences a text field may keep while it has its own history)."""

    def __init__(self, window: QWidget, undo, redo):
        super().__init__(window)
        self.window = window
        self.undo, self.redo = undo, redo
        QApplication.instance().installEventFilter(self)

    def remove(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _window_action(self, seq: QKeySequence) -> QAction | None:
        """The window's enabled action bound to ``seq``, if any."""
        for act in self.window.findChildren(QAction):
            if act.isEnabled() and any(s.matches(seq) == QKeySequence.SequenceMatch.ExactMatch for s in act.shortcuts()):
                return act
        return None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(obj, QWidget):
            return False
        if obj.window() is not self.window:
            return False
        field = obj if isinstance(obj, (QLineEdit, QAbstractSpinBox)) else None
        if field is None:
            return False
        key: QKeyEvent = event  # type: ignore[assignment]
        seq = _sequence(key)
        act = self._window_action(seq)
        chord = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
        if act is None or not (key.modifiers() & chord):
            return False  # plain keys (typing, PgUp in a value box) stay in the field
        spin = isinstance(field, QAbstractSpinBox) or isinstance(field.parent(), QAbstractSpinBox)
        if not spin and isinstance(field, QLineEdit):
            if act is self.undo and field.isUndoAvailable():
                return False
            if act is self.redo and field.isRedoAvailable():
                return False
        event.ignore()  # not claimed: the window's shortcut fires
        return True
