"""`MainWindow`: the explorer's shell.  It lays out the panels, wires their signals, and
owns the render worker and the job runner.

The session (the edit, its history, preset identity, dirty flag, autosave) is the Qt-free
`Document` (``window.doc``); what the menus do lives in actions modules: ``models``
(opening generators), ``discovery`` (controls), ``presets`` (presets, autosave, restore),
``exports``, ``semantics`` and ``vocab``.  Every edit builds a new immutable `EditState`,
pushes it on the document's history and asks the `RenderWorker` for a frame; a result is
shown only if it is newer than the frame on screen.  Generators run only on the render
thread and in jobs; this thread reads their metadata (layers, classes, names).
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import QGroupBox, QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

import models
from editing.state import BaseLatents, EditState
from methods.controls import ControlSet, ControlSetError
from methods.registry import METHODS

from . import autosave
from .canvas import Canvas, GLCanvas, RasterCanvas, make_canvas
from .class_bar import ClassBar
from .control_panel import ControlPanel
from .devices import device_label, pick_device
from .discovery_actions import DiscoveryActions
from .document import Document
from .export_actions import ExportActions
from .frame_times import FrameTimes
from .help import APP_NAME
from .image_panel import ImagePanel
from .jobs import JobRunner
from .menus import build_menus
from .model_actions import ModelActions
from .preset_actions import PresetActions
from .render_worker import RenderWorker, grid_columns
from .semantics_actions import SemanticsActions
from .settings import Settings
from .shortcuts import GlobalShortcuts
from .status_bar import build_status_bar, show_canvas_status
from .shared_generator import SharedGenerator
from .vocab_actions import VocabActions
from .widgets import fit_to_screen, set_quietly
from .window_layout import restore_layout, save_layout

#: seconds within which keyboard steps of one control merge into one undo step
STEP_COALESCE_S = 0.8


class MainWindow(QMainWindow):
    """The Latent Studio window.

    ``model``: registry name or checkpoint path opened at start.  ``controls``: a
    ControlSet to attach instead of running discovery.  ``discovery``: ``(method
    name, config)`` run (cached) when a model opens without controls; None uses the
    method's defaults; ``auto_discover=False`` runs none.  ``settings``: where recent
    files are kept (tests pass an ini file).  ``canvas``: ``"raster"`` forces the
    raster canvas.  ``autosave``: True autosaves to `app.autosave.autosave_path`, a path
    autosaves there, False turns autosave (and the crash-restore offer) off.
    """

    def __init__(
        self,
        model: str | None = None,
        controls: ControlSet | None = None,
        discovery: tuple[str, Any] | None = None,
        auto_discover: bool = True,
        settings: Settings | None = None,
        device: str | None = None,
        canvas: str | None = None,
        autosave: str | Path | None | bool = True,
    ):
        super().__init__()
        self.settings = settings or Settings()
        self.device = pick_device(device)
        where = None if autosave is False else (_autosave_default() if autosave in (True, None) else Path(autosave))
        self.doc = Document(EditState(model=model or models.DEFAULT_MODEL), where)
        self.generator: SharedGenerator | None = None
        self.model_info: dict = {}
        self.grid_mode = False
        self.grid_count = 9
        self.smooth = self.settings.get_bool("view/smooth", True)
        self.fast_preview = self.settings.get_bool("view/fast_preview", True)
        self.frame = None  # the frame on screen (uint8 [H, W, 3])
        self.seed_blend: tuple | None = None  # a blend of seeds previewed instead of the state's base (seed panel)
        self.shown_stamp = 0
        self.last_stamp = 0
        self.last_render_ms = 0.0
        self.stale_results = 0
        self.last_error = ""
        self.error_box: QMessageBox | None = None
        self._render_error_shown = False
        self.frame_times = FrameTimes()
        self.closing = False
        self.close_confirmed = False  # the person answered (or there was nothing to ask)

        self.runner = JobRunner(self)
        self.models = ModelActions(self)
        self.discovery = DiscoveryActions(
            self, discovery or ("ganspace", METHODS["ganspace"].make_config()), auto_discover, controls)
        self.presets = PresetActions(self)
        self.exports = ExportActions(self)
        self.semantics = SemanticsActions(self)
        self.vocab = VocabActions(self)
        self.worker = RenderWorker()
        self.worker.frameReady.connect(self._on_frame)
        self.worker.failed.connect(self._on_render_failed)
        self.worker.notice.connect(self._on_render_notice)
        self.worker.labelsReady.connect(self.semantics.on_labels)
        self.worker.set_fast_preview(self.fast_preview)
        self.worker.start()

        self._build_ui(canvas)
        build_menus(self)
        self.shortcuts = GlobalShortcuts(self, self.undo_action, self.redo_action)
        self.setAcceptDrops(True)
        restore_layout(self)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._clear_transient_message)
        self.update_title()
        self.presets.start_autosave()
        self.models.open_model(self.state.model, first=True)

    # ================================================================== building
    def _build_ui(self, canvas_kind: str | None) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.canvas_holder = QWidget()
        holder = QVBoxLayout(self.canvas_holder)
        holder.setContentsMargins(0, 0, 0, 0)
        self.canvas: Canvas = make_canvas(self.canvas_holder, canvas_kind)
        holder.addWidget(self.canvas)
        self.canvas.on_painted = self.frame_times.displayed
        self.canvas.tileClicked.connect(self._tile_clicked)
        if isinstance(self.canvas, GLCanvas):
            self.canvas.glFailed.connect(self._gl_failed)
        self.canvas.set_smooth(self.smooth)
        splitter.addWidget(self.canvas_holder)

        side = QWidget()
        side.setObjectName("sidebar")
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(10, 10, 10, 6)
        side_lay.setSpacing(10)
        image_group = QGroupBox("Image")
        ig = QVBoxLayout(image_group)
        self.image_panel = ImagePanel()
        ig.addWidget(self.image_panel)
        side_lay.addWidget(image_group)
        controls_group = QGroupBox("Controls")
        cg = QVBoxLayout(controls_group)
        self.class_bar = ClassBar()
        self.class_bar.recomputeRequested.connect(self.discovery.recompute_for_class)
        cg.addWidget(self.class_bar)
        self.control_panel = ControlPanel()
        cg.addWidget(self.control_panel)
        side_lay.addWidget(controls_group, 1)
        side.setMinimumWidth(440)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([840, 480])
        self.setCentralWidget(splitter)
        self.splitter = splitter

        p = self.image_panel
        p.seedEdited.connect(self.set_seed)
        p.truncationEdited.connect(lambda psi, drag: self._edited(replace(self.state, truncation=float(psi)),
                                                                  "truncation", drag))
        p.truncationDragFinished.connect(self.history.seal)
        p.classEdited.connect(lambda i: self.commit(replace(self.state, class_index=int(i))))
        p.classMixEdited.connect(self._class_mix_edited)
        p.classMixDragFinished.connect(self.history.seal)
        p.noiseEdited.connect(lambda m: self.commit(replace(self.state, noise_mode=str(m))))
        p.mixEdited.connect(self._mix_edited)
        p.gridChanged.connect(self.set_grid)
        p.transformEdited.connect(lambda t, r, drag: self._edited(replace(self.state, translate=tuple(t), rotate=float(r)),
                                                                  "transform", drag))
        p.transformDragFinished.connect(self.history.seal)
        p.smoothChanged.connect(self.set_smooth)
        c = self.control_panel
        c.valueEdited.connect(lambda i, v, drag: self._edited(self.state.with_value(i, v), i, drag))
        c.dragFinished.connect(lambda _i: self.history.seal())
        c.rangeEdited.connect(lambda i, s, e: self.commit(self.state.with_range(i, (s, e))))
        c.renamed.connect(self.rename_control)
        c.flipRequested.connect(self.flip_control)
        c.resetRequested.connect(self.reset_control)
        c.resetAllRequested.connect(self.reset_all)

        build_status_bar(self)
        self.image_panel.sync(self.state, self.grid_mode, self.grid_count, self.smooth)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        fit_to_screen(self)  # the frame's size is known once shown

    # ================================================================== state
    @property
    def state(self) -> EditState:
        return self.doc.state

    @property
    def history(self):
        return self.doc.history

    @property
    def dirty(self) -> bool:
        """Whether the state differs from the last saved (or loaded) preset."""
        return self.doc.dirty

    def commit(self, new: EditState, key: Any = None, window: float | None = None) -> None:
        """Make ``new`` the current state (one undo step, or merged by ``key``) and render it."""
        if self.generator is not None and self.doc.push(new, key, window):
            self.state_changed()

    def state_changed(self) -> None:
        """Bring the panels, the title and the frame up to date with the document's state."""
        state = self.state
        self.control_panel.sync(state)
        self.image_panel.sync(state, self.grid_mode, self.grid_count, self.smooth)
        self.request_render()
        self.update_title()
        self.update_undo_actions()
        self.discovery.update_class_bar()

    def grid_seeds(self) -> list[int] | None:
        """The seeds of the grid view (from the current seed on), or None outside it."""
        return list(range(self.state.seed, self.state.seed + self.grid_count)) if self.grid_mode else None

    def request_render(self) -> int:
        """Send the current state to the render worker; returns the request's stamp."""
        if self.generator is None:
            return self.last_stamp
        blend = self.seed_blend if not self.grid_mode else None
        self.last_stamp = self.worker.request(self.state, self.grid_seeds(), blend)
        return self.last_stamp

    def _edited(self, new: EditState, what: Any, dragging: bool) -> None:
        """A slider's edit: a drag is one undo step; keyboard steps within `STEP_COALESCE_S` merge."""
        if dragging:
            self.commit(new, ("drag", what))
        else:
            self.commit(new, ("step", what), STEP_COALESCE_S)

    def set_seed(self, seed: int) -> None:
        """Show seed ``seed``'s image (one undo step); it replaces explicit latents (a sampled image)."""
        self.commit(replace(self.state, seed=int(seed), latents=None))

    def use_latents(self, latents, **changes) -> None:
        """Make explicit latents ``[L, D]`` (editing space, already truncated) the current image.

        One undo step through `commit`, rendered by the render worker; the sliders go back
        to 0 (the latents are the image as shown).  ``changes``: other `EditState` fields
        that belong to the image (its truncation, class, noise mode).
        """
        n = len(self.state.values)
        self.commit(replace(self.state, latents=BaseLatents(latents), values=(0.0,) * n, **changes))

    def _class_mix_edited(self, mix: tuple[int, float] | None, dragging: bool) -> None:
        new = replace(self.state, class_mix=None if mix is None else (int(mix[0]), float(mix[1])))
        self._edited(new, "class_mix", dragging)

    def _mix_edited(self, mix: tuple[int, tuple[int, int]] | None) -> None:
        """Style mixing on/off, its seed or its layer range (one undo step each)."""
        if mix is None:
            self.commit(replace(self.state, mix_seed=None, mix_range=None))
        else:
            seed, (s, e) = mix
            self.commit(replace(self.state, mix_seed=int(seed), mix_range=(int(s), int(e))))

    def set_value(self, index: int, value: float) -> None:
        """Set control ``index`` to ``value`` (one undo step)."""
        self.commit(self.state.with_value(index, value))

    def rename_control(self, index: int, name: str) -> None:
        try:
            cs = self.state.controls.renamed(index, name)
        except ControlSetError as exc:
            self.show_error("Rename", str(exc))
            return
        self.commit(replace(self.state, controls=cs))

    def flip_control(self, index: int) -> None:
        """Reverse control ``index``; its value changes sign, so the image stays the same."""
        state = self.state
        value = state.values[index]
        self.commit(replace(state, controls=state.controls.flipped(index)).with_value(index, -value if value else 0.0))

    def reset_control(self, index: int) -> None:
        self.commit(self.state.with_value(index, 0.0).with_range(index, None))

    def reset_all(self) -> None:
        self.commit(self.state.reset())

    def undo(self) -> None:
        if self.doc.undo():
            self.state_changed()

    def redo(self) -> None:
        if self.doc.redo():
            self.state_changed()

    def update_undo_actions(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())

    def set_grid(self, on: bool, count: int | None = None) -> None:
        """Show ``count`` seeds at once (the view changes; the edit state does not)."""
        self.grid_mode = bool(on)
        if count is not None:
            self.grid_count = int(count)
        set_quietly(self.grid_action, "setChecked", self.grid_mode)
        self.image_panel.sync(self.state, self.grid_mode, self.grid_count, self.smooth)
        self.request_render()

    def set_smooth(self, on: bool) -> None:
        self.smooth = bool(on)
        self.canvas.set_smooth(self.smooth)
        self.settings.set("view/smooth", self.smooth)
        set_quietly(self.smooth_action, "setChecked", self.smooth)
        self.image_panel.sync(self.state, self.grid_mode, self.grid_count, self.smooth)

    def set_fast_preview(self, on: bool) -> None:
        """Let the preview use the generator's fast GPU path (StyleGAN2 on CUDA), and redraw."""
        self.fast_preview = bool(on)
        self.worker.set_fast_preview(self.fast_preview)
        self.settings.set("view/fast_preview", self.fast_preview)
        set_quietly(self.fast_action, "setChecked", self.fast_preview)
        if self.generator is not None:
            self.request_render()

    def focus_filter(self) -> None:
        self.control_panel.filter.setFocus()
        self.control_panel.filter.selectAll()

    # ================================================================== frames
    def _on_frame(self, stamp: int, frame, ms: float) -> None:
        if stamp <= self.shown_stamp:
            self.stale_results += 1
            return
        self.shown_stamp = stamp
        self.frame = frame
        self.last_render_ms = ms
        self.frame_times.shown(ms)
        seeds = self.grid_seeds()
        self.canvas.set_tiles([f"seed {s}" for s in seeds] if seeds else None, grid_columns(len(seeds or [1])))
        self.semantics.frame_shown(stamp)
        if self.canvas.message and self._render_error_shown:
            self.canvas.set_message("")
            self._render_error_shown = False

    def _tile_clicked(self, index: int) -> None:
        """A click on a grid tile: that seed becomes the current image (the grid closes)."""
        seeds = self.grid_seeds()
        if seeds is not None and 0 <= index < len(seeds):
            self.set_grid(False)
            self.set_seed(seeds[index])

    def _on_render_failed(self, stamp: int, message: str) -> None:
        if stamp < self.shown_stamp:
            return
        self.shown_stamp = stamp
        self._render_error_shown = True
        self.last_error = message
        self.canvas.set_message(f"Could not render this frame:\n{message}")
        self.statusBar().showMessage(f"Render failed: {message}", 10_000)

    def _on_render_notice(self, message: str) -> None:
        self.statusBar().showMessage(message, 15_000)
        if self.generator is not None:
            self.device_status.setText(device_label(self.generator.device))

    def fps(self) -> float:
        """Frames shown per second over the last `frame_times.RATE_WINDOW_S` seconds."""
        return self.frame_times.rate()

    def _gl_failed(self, reason: str) -> None:
        """The GL canvas could not start: swap in the raster canvas with the same frame and message."""
        old = self.canvas
        if not isinstance(old, GLCanvas):
            return
        new = RasterCanvas(self.canvas_holder, reason)
        new.set_smooth(self.smooth)
        if old.frame is not None:
            new.set_frame(old.frame)
        new.set_message(old.message)
        new.on_painted = self.frame_times.displayed
        new.tileClicked.connect(self._tile_clicked)
        self.canvas_holder.layout().replaceWidget(old, new)
        old.hide()
        old.deleteLater()
        self.canvas = new
        show_canvas_status(self)

    # ================================================================== messages
    def show_error(self, title: str, message: str, dialog: bool = False) -> None:
        """Show an error on the canvas and in the status bar (and in a dialog when asked).

        Nothing else changes: the state, the frame and the model stay as they were.
        """
        self.last_error = message
        self.canvas.set_message(f"{title}\n{message}")
        self._render_error_shown = False
        self._message_timer.start(12_000)
        self.statusBar().showMessage(f"{title}: {message}", 15_000)
        if dialog and not self.closing:
            if self.error_box is not None:
                self.error_box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            box.open()  # never blocks: the window keeps rendering
            self.error_box = box

    def show_note(self, text: str, seconds: float = 6.0) -> None:
        """A transient message on the canvas."""
        self.canvas.set_message(text)
        self._render_error_shown = False
        self._message_timer.start(int(seconds * 1000))

    def _clear_transient_message(self) -> None:
        if self.generator is not None:
            self.canvas.set_message("")

    def update_title(self) -> None:
        model = self.model_info.get("name") or self.state.model
        self.setWindowTitle(f"{self.doc.title(model, self.generator is not None)} — {APP_NAME}")

    # ================================================================== files
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    def open_file(self, path: str | Path) -> None:
        """What a dropped file means: ``.json`` preset, ``.npz`` controls, an image is projected
        into the model, anything else a checkpoint."""
        from .projection_dialog import IMAGE_SUFFIXES, open_projection

        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            open_projection(self, path)
        elif suffix == ".json" and Path(path).name != "config.json":
            self.presets.load_preset(path)
        elif suffix == ".npz":
            self.discovery.load_controls(path)
        else:
            self.models.open_model(str(path))

    # ================================================================== closing
    def request_quit(self) -> None:
        """Model ▸ Quit: asks first when there are unsaved edits."""
        if self.presets.confirm_quit():
            self.close_confirmed = True
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if event.spontaneous() and not self.close_confirmed and not self.presets.confirm_quit():
            event.ignore()  # the title bar's close button: the question decides
            return
        self.closing = True
        self.stats_timer.stop()
        self._message_timer.stop()
        self.runner.cancel_all()
        self.runner.wait_all(15_000)
        self.worker.stop()
        if isinstance(self.canvas, GLCanvas):
            self.canvas.cleanup()
        save_layout(self)
        self.presets.stop_autosave()
        self.shortcuts.remove()
        super().closeEvent(event)


def _autosave_default() -> Path:
    return autosave.autosave_path()
