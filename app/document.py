"""`Document`: the window's session without any widget — the edit, its history, where it
was saved, whether it changed since, and its autosave.

Qt-free (the window, the actions modules and the unit tests all drive the same object):
every method either returns a value or raises one of `editing.preset.PresetError` /
`OSError`; showing a message is the caller's job.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable

from editing import preset as presets
from editing.state import EditState

from . import autosave
from .history import History


def is_current_model(spec: str, fingerprint: str, G) -> bool:
    """Whether ``spec`` (a registry name or a path) with ``fingerprint`` names generator ``G``."""
    if fingerprint and fingerprint == G.fingerprint:
        return True
    if spec == G.name:
        return True
    try:
        return Path(spec).resolve() == Path(G.name).resolve() and Path(spec).exists()
    except OSError:
        return False


def short_model_name(spec: str) -> str:
    """A registry name as it is; a checkpoint path by its file name."""
    return Path(spec).name if Path(spec).suffix else spec


class Document:
    """The current `EditState` with undo history, preset identity, dirty flag and autosave.

    ``autosave_to``: the session's autosave file, or None for no autosave.
    """

    def __init__(self, state: EditState, autosave_to: str | Path | None = None):
        self.history: History[EditState] = History(state)
        self.saved_state: EditState | None = state
        self.preset_path: Path | None = None
        self.preset_name = ""
        self.controls_source = ""
        self.autosave_path: Path | None = None if autosave_to is None else Path(autosave_to)
        self.autosaved: EditState | None = None  # the state the autosave file holds
        self.restore_pending = False  # an orphaned session is on offer; autosave waits for the answer

    # ------------------------------------------------------------------ the edit
    @property
    def state(self) -> EditState:
        return self.history.current

    @property
    def dirty(self) -> bool:
        """Whether the state differs from the last saved (or loaded) preset."""
        return self.state != self.saved_state

    def push(self, new: EditState, key: Hashable | None = None, window: float | None = None) -> bool:
        """Make ``new`` current (one undo step, or merged with the last by ``key`` within ``window`` s).

        Returns False (and changes nothing) when ``new`` equals the current state.
        """
        if new == self.state:
            return False
        self.history.push(new, key, window)
        return True

    def undo(self) -> bool:
        return self.history.undo() is not None

    def redo(self) -> bool:
        return self.history.redo() is not None

    def new_model(self, state: EditState) -> None:
        """A freshly opened model: ``state`` starts the history, unsaved and unnamed, and counts as clean."""
        self.history.reset(state)
        self.saved_state = state
        self.preset_path, self.preset_name, self.controls_source = None, "", ""

    def set_base_controls(self, state: EditState) -> None:
        """The automatic first controls: where the history starts rather than an undoable step."""
        self.history.reset(state)
        if self.saved_state is not None and self.saved_state.controls is None:
            self.saved_state = state

    def title(self, model: str, loaded: bool = True) -> str:
        """``name[*] — model`` (``*``: unsaved changes, shown once a model is loaded)."""
        mark = "*" if self.dirty and loaded else ""
        return f"{self.preset_name or 'untitled'}{mark} — {short_model_name(model)}"

    # ------------------------------------------------------------------ presets
    def save_preset(self, path: str | Path, fingerprint: str) -> Path:
        """Write the state as a preset (the CLI's ``--save-preset`` format); it becomes the saved state.

        Raises OSError / PresetError with the old file left intact.
        """
        path = Path(path)
        presets.save(path, self.state, fingerprint, path.stem, self.controls_source)
        self.preset_path, self.preset_name = path, path.stem
        self.saved_state = self.state
        return path

    def apply_preset(self, path: str | Path, state: EditState, info: dict, G) -> bool:
        """Make a loaded preset current (one undo step) after checking it fits ``G`` (PresetError).

        Returns whether the state changed.
        """
        path = Path(path)
        presets.check_against(state, G, info["fingerprint"])
        changed = self.push(state)
        self.preset_path, self.preset_name = path, info.get("name") or path.stem
        self.controls_source = info.get("controls_source", "")
        self.saved_state = self.state
        return changed

    # ------------------------------------------------------------------ autosave
    def autosave(self, fingerprint: str) -> bool:
        """Write the session if it changed since the last write; returns whether a file was written.

        A clean session removes the file (nothing unsaved to lose).  Raises OSError /
        PresetError when the write fails (the previous autosave stays).
        """
        if self.autosave_path is None or self.restore_pending:
            return False
        state = self.state
        if state is self.autosaved:
            return False
        if not self.dirty:
            autosave.remove(self.autosave_path)
            self.autosaved = state
            return False
        autosave.write(self.autosave_path, state, fingerprint, self.preset_name,
                       self.controls_source, str(self.preset_path) if self.preset_path else None)
        self.autosaved = state
        return True

    def restore(self, state: EditState, info: dict, G) -> bool:
        """Make a restored session current (unsaved, under its old preset name); PresetError if it does not fit ``G``.

        Returns whether the state changed.
        """
        presets.check_against(state, G, info.get("fingerprint", ""))
        changed = self.push(state)
        pp = info.get("preset_path")
        self.preset_path = Path(pp) if pp else None
        self.preset_name = info.get("name") or (self.preset_path.stem if self.preset_path else "")
        self.controls_source = info.get("controls_source", "")
        self.saved_state = None  # restored edits are unsaved
        return changed

    def end_session(self) -> None:
        """A clean exit: the autosave goes (unless an unanswered offer keeps the old session for next time)."""
        if self.autosave_path is not None and not self.restore_pending:
            autosave.remove(self.autosave_path)

    def orphan(self) -> tuple[Any, ...] | None:
        """The first readable autosave of a session that did not end cleanly: ``(path, state, info)``.

        Unreadable orphans are removed; their reasons come back in ``skipped``.
        """
        self.skipped: list[str] = []
        if self.autosave_path is None:
            return None
        for path in autosave.orphans(self.autosave_path.parent):
            try:
                state, info = autosave.read(path)
            except autosave.AutosaveError as exc:
                autosave.remove(path)
                self.skipped.append(str(exc))
                continue
            return path, state, info
        return None
