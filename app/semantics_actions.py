"""`SemanticsActions`: linear semantics in the window — the extractor, the class map of the
frame on screen, the segmentation overlay, extractor files and the Semantics panel.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QFileDialog

from .jobs import describe_error
from .widgets import set_quietly

if TYPE_CHECKING:
    from .window import MainWindow


class SemanticsActions:
    def __init__(self, window: "MainWindow"):
        self.w = window
        self.extractor = None
        self.labels = None  # uint8 [S, S] class map of the frame on screen (None without an extractor or in grid mode)
        self._incoming: tuple[int, Any] = (0, None)
        self.overlay_on = False
        self.overlay_alpha = 0.5
        self.dialog = None

    # ------------------------------------------------------------------ frames
    def on_labels(self, stamp: int, labels) -> None:
        """The class map of frame ``stamp``; its frame arrives next (same queue, same order)."""
        self._incoming = (stamp, labels)

    def frame_shown(self, stamp: int) -> None:
        """Frame ``stamp`` (``window.frame``) arrived: keep its class map, if one came with it, and draw it."""
        lstamp, labels = self._incoming
        self.labels = labels if lstamp == stamp else None
        self.w.canvas.set_frame(self.display_frame())
        if self.dialog is not None:
            self.dialog.frame_changed()

    def display_frame(self):
        """The frame on screen, with the segmentation blended over it when the overlay is on."""
        frame = self.w.frame
        if frame is None or not self.overlay_on or self.labels is None or self.extractor is None:
            return frame
        from methods.semantics import overlay

        return overlay(frame, self.labels, self.extractor.colors, alpha=self.overlay_alpha)

    def set_overlay(self, on: bool | None = None, alpha: float | None = None) -> None:
        """Show/hide the segmentation overlay and set its opacity (0..1); redraws without rendering."""
        if on is not None:
            self.overlay_on = bool(on)
        if alpha is not None:
            self.overlay_alpha = float(min(max(alpha, 0.0), 1.0))
        set_quietly(self.w.overlay_action, "setChecked", self.overlay_on)
        if self.w.frame is not None:
            self.w.canvas.set_frame(self.display_frame())
        if self.dialog is not None:
            self.dialog.sync_overlay()

    # ------------------------------------------------------------------ extractor
    def model_changed(self, G) -> None:
        """A new model opened: drop an extractor made for the previous one."""
        if self.extractor is not None:
            try:
                self.extractor.check_model(G)
            except Exception:
                self.set_extractor(None)

    def set_extractor(self, extractor) -> None:
        """Use ``extractor`` (a `SemanticExtractor` of this model, or None) for the overlay; re-renders."""
        self.extractor = extractor
        self.labels = None
        self.w.worker.set_extractor(extractor)
        if extractor is not None and not self.overlay_on:
            self.set_overlay(True)
        self.w.request_render()
        if self.dialog is not None:
            self.dialog.extractor_changed()

    def load_extractor(self, path: str | Path) -> bool:
        """Open an extractor file for the current model (reads the file here; no forward pass)."""
        from methods.semantics import SemanticExtractor

        w = self.w
        if w.generator is None:
            return False
        try:
            ext = SemanticExtractor.load(path, w.generator.unwrapped, device=w.generator.device)
        except Exception as exc:  # SemanticsError, OSError, a broken file
            w.show_error("Could not load the extractor", describe_error(exc), dialog=True)
            return False
        self.set_extractor(ext)
        w.statusBar().showMessage(f"Loaded extractor {Path(path).name} ({ext.kind}, {ext.n_class} classes)", 6000)
        return True

    def load_extractor_dialog(self) -> None:
        w = self.w
        path, _ = QFileDialog.getOpenFileName(w, "Load semantic extractor", w.settings.last_folder(),
                                              "Extractors (*.pt *.pth);;All files (*)")
        if path:
            w.settings.remember_folder(path)
            self.load_extractor(path)

    def save_extractor(self, path: str | Path) -> bool:
        w = self.w
        if self.extractor is None:
            return False
        try:
            self.extractor.save(path)
        except Exception as exc:
            w.show_error("Could not save the extractor", describe_error(exc), dialog=True)
            return False
        w.statusBar().showMessage(f"Saved extractor {path}", 6000)
        return True

    def save_extractor_dialog(self) -> None:
        w = self.w
        if self.extractor is None:
            w.show_error("Nothing to save", "there is no semantic extractor yet (load or train one)", dialog=True)
            return
        start = Path(w.settings.last_folder()) / "extractor.pt"
        path, _ = QFileDialog.getSaveFileName(w, "Save semantic extractor", str(start), "Extractors (*.pt)")
        if path:
            w.settings.remember_folder(path)
            self.save_extractor(path if path.endswith(".pt") else path + ".pt")

    def open_semantics_dialog(self):
        """The non-modal Semantics panel (overlay, paint, train, sample, edit)."""
        from .semantics_panel import SemanticsDialog

        if self.dialog is None:
            self.dialog = SemanticsDialog(self.w)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog
