"""`VocabActions`: the Vocabulary menu's two non-modal dialogs (describe controls, words)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .window import MainWindow


class VocabActions:
    """``annotation_path``: the annotation store (None: the user's own)."""

    def __init__(self, window: "MainWindow", annotation_path=None):
        self.w = window
        self.annotation_path = annotation_path
        self.annotation_dialog = None
        self.vocabulary_dialog = None

    def open_annotation_dialog(self):
        """The non-modal dialog that collects descriptions of the active controls."""
        from methods.annotations import AnnotationError

        from .vocab_panel import AnnotationDialog

        w = self.w
        cs = w.state.controls
        if w.generator is None or cs is None or not len(cs):
            w.show_error("Nothing to describe", "there are no controls yet", dialog=True)
            return None
        if self.annotation_dialog is not None:
            self.annotation_dialog.close()
            self.annotation_dialog.deleteLater()
        try:
            dlg = AnnotationDialog(w, cs, self.annotation_path)
        except AnnotationError as exc:
            w.show_error("Could not open the annotation store", str(exc), dialog=True)
            return None
        self.annotation_dialog = dlg
        dlg.show()
        return dlg

    def open_vocabulary_dialog(self):
        """The non-modal dialog that distils and searches the concept words."""
        from .vocab_panel import VocabularyDialog

        if self.vocabulary_dialog is None:
            self.vocabulary_dialog = VocabularyDialog(self.w, self.annotation_path)
        self.vocabulary_dialog.show()
        self.vocabulary_dialog.raise_()
        return self.vocabulary_dialog
