"""`PresetActions`: saving and loading presets, the autosave timer and the crash-restore offer.

The decisions (what is dirty, what a preset or a restored session changes) are the
Qt-free `Document`'s; this module asks for paths, shows messages and drives timers.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QFileDialog, QMessageBox

from editing import preset as presets
from editing.preset import PresetError
from editing.state import EditState

from . import autosave
from .document import is_current_model, short_model_name
from .jobs import describe_error

if TYPE_CHECKING:
    from .window import MainWindow


class PresetActions:
    def __init__(self, window: "MainWindow"):
        self.w = window
        self.restore_box: QMessageBox | None = None
        self.restore_button = self.discard_button = None
        self.restore_path: Path | None = None  # the orphaned autosave on offer
        self._timer: QTimer | None = None

    @property
    def doc(self):
        return self.w.doc

    # ------------------------------------------------------------------ presets
    def save_preset(self) -> bool:
        if self.doc.preset_path is None:
            return self.save_preset_dialog()
        return self.save_preset_to(self.doc.preset_path)

    def save_preset_dialog(self) -> bool:
        w = self.w
        start = self.doc.preset_path or Path(w.settings.last_folder()) / "preset.json"
        path, _ = QFileDialog.getSaveFileName(w, "Save preset", str(start), "Presets (*.json)")
        if not path:
            return False
        w.settings.remember_folder(path)
        return self.save_preset_to(path if path.endswith(".json") else path + ".json")

    def save_preset_to(self, path: str | Path) -> bool:
        """Write the current state as a preset (the CLI's ``--save-preset`` format)."""
        w = self.w
        if w.generator is None:
            return False
        try:
            path = self.doc.save_preset(path, w.generator.fingerprint)
        except (OSError, PresetError) as exc:
            w.show_error("Could not save the preset", describe_error(exc), dialog=True)
            return False
        w.settings.recent_presets.add(str(path.resolve()))
        w.update_title()
        w.statusBar().showMessage(f"Saved preset {path}", 6000)
        return True

    def load_preset_dialog(self) -> None:
        w = self.w
        path, _ = QFileDialog.getOpenFileName(w, "Load preset", w.settings.last_folder(), "Presets (*.json)")
        if path:
            w.settings.remember_folder(path)
            self.load_preset(path)

    def load_preset(self, path: str | Path) -> bool:
        """Restore a preset; opens its model first when it names another one.

        Returns False when the file is unusable (the state is kept and the reason shown).
        """
        w = self.w
        path = Path(path)
        try:
            state, info = presets.load(path)
        except PresetError as exc:
            w.show_error("Could not load the preset", str(exc), dialog=True)
            return False
        if w.generator is not None and is_current_model(state.model, info["fingerprint"], w.generator):
            return self._apply_preset(path, state, info)
        w.models.open_model(state.model, then=lambda: self._apply_preset(path, state, info))
        return True

    def _apply_preset(self, path: Path, state: EditState, info: dict) -> bool:
        w = self.w
        try:
            changed = self.doc.apply_preset(path, state, info, w.generator)
        except PresetError as exc:
            w.show_error("The preset does not fit the model", f"{path.name}: {exc}", dialog=True)
            return False
        if changed:
            w.state_changed()
        w.settings.recent_presets.add(str(path.resolve()))
        w.update_title()
        w.statusBar().showMessage(f"Loaded preset {path}", 6000)
        return True

    # ------------------------------------------------------------------ quitting
    def confirm_quit(self) -> bool:
        """Before quitting with unsaved edits, ask Save / Discard / Cancel (without blocking).

        Returns True when there is nothing to ask (the caller may close now); otherwise the
        answer closes the window itself: Save (when the preset is written) or Discard.
        """
        w = self.w
        if w.generator is None or not self.doc.dirty:
            return True
        name = self.doc.preset_name or "the untitled edit"
        box = QMessageBox(QMessageBox.Icon.Question, "Save the edit?",
                          f"{name} has unsaved changes. Save them as a preset before quitting?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, w)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            choice = box.standardButton(button)
            if choice == QMessageBox.StandardButton.Save and not self.save_preset():
                return  # not written (or the dialog was cancelled): stay
            if choice in (QMessageBox.StandardButton.Save, QMessageBox.StandardButton.Discard):
                w.close_confirmed = True
                w.close()

        box.buttonClicked.connect(answered)
        box.open()
        self.quit_box = box
        return False

    # ------------------------------------------------------------------ autosave
    def start_autosave(self) -> None:
        """Start the autosave timer; offer to restore a session that did not end cleanly."""
        if self.doc.autosave_path is None:
            return
        self._timer = QTimer(self.w)
        self._timer.timeout.connect(self.autosave_now)
        self._timer.start(int(autosave.INTERVAL_S * 1000))
        found = self.doc.orphan()
        for reason in self.doc.skipped:
            self.w.statusBar().showMessage(f"Ignored an unreadable autosave ({reason})", 10_000)
        if found is not None:
            self._offer_restore(*found)

    def stop_autosave(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.doc.end_session()

    def _offer_restore(self, path: Path, state: EditState, info: dict) -> None:
        self.doc.restore_pending = True
        self.restore_path = path
        name = info.get("name") or "untitled"
        box = QMessageBox(QMessageBox.Icon.Question, "Restore the last session?",
                          f"Latent Studio did not close cleanly last time.\n"
                          f"Restore the unsaved edit “{name}” of {short_model_name(state.model)} "
                          f"({state.describe_base()})?",
                          QMessageBox.StandardButton.NoButton, self.w)
        self.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(self.restore_button)
        box.buttonClicked.connect(
            lambda b: self.restore_autosave(state, info) if b is self.restore_button else self.discard_autosave())
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()  # never blocks: the model loads meanwhile
        self.restore_box = box

    def discard_autosave(self) -> None:
        """Decline the offer: the autosave file is removed."""
        self.doc.restore_pending = False
        if self.restore_path is not None:
            autosave.remove(self.restore_path)
        self.w.statusBar().showMessage("The last session was discarded", 6000)

    def restore_autosave(self, state: EditState, info: dict) -> None:
        """Accept the offer: open the session's model if needed, then make its state current."""
        w = self.w
        self.doc.restore_pending = False
        w.discovery.cancel()
        w.discovery.initial = None

        def apply() -> None:
            w.discovery.cancel()
            try:
                changed = self.doc.restore(state, info, w.generator)
            except PresetError as exc:
                w.show_error("Could not restore the last session", str(exc), dialog=True)
                return
            if changed:
                w.state_changed()
            w.update_title()
            if self.restore_path is not None and self.restore_path != self.doc.autosave_path:
                autosave.remove(self.restore_path)  # this window's own autosave takes over
            self.autosave_now()
            w.statusBar().showMessage("Restored the last session", 8000)

        if (w.generator is not None and w.models.job is None
                and is_current_model(state.model, info.get("fingerprint", ""), w.generator)):
            apply()
        else:
            w.models.open_model(state.model, then=apply)

    def autosave_now(self) -> bool:
        """Write the session if it changed since the last write; returns whether a file was written."""
        w = self.w
        if w.generator is None or w.closing:
            return False
        try:
            return self.doc.autosave(w.generator.fingerprint)
        except (OSError, PresetError) as exc:
            w.statusBar().showMessage(f"Autosave failed: {describe_error(exc)}", 10_000)
            return False
