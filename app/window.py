"""`MainWindow`: the explorer.  It composes the panels, the render worker and the jobs.

Every edit builds a new immutable `EditState`, pushes it on the undo `History` and asks
the `RenderWorker` for a frame; the window shows a result only if it is newer than the
frame on screen.  Generators run only on the render thread and in jobs; this thread
reads their metadata (layers, classes, names) and nothing else.
"""
from __future__ import annotations

import collections
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable

from PyQt6.QtCore import QSize, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import models
from editing import preset as presets
from editing.export import export_sweep_video, grid_image, strip_image, write_png
from editing.preset import PresetError
from editing.render import render_state
from editing.state import BaseLatents, EditState
from methods.cache import discover_cached
from methods.controls import ControlSet, ControlSetError
from methods.paper_settings import PAPER_METHODS, paper_settings
from methods.registry import METHODS

from . import autosave
from .canvas import Canvas, GLCanvas, RasterCanvas, make_canvas
from .control_panel import ControlPanel
from .discover_dialog import DiscoverDialog
from .export_dialog import SweepDialog, SweepRequest
from .history import History
from .image_panel import ImagePanel
from .job_panel import JobPanel
from .jobs import Job, JobRunner
from .render_worker import RenderWorker, grid_columns
from .settings import Settings
from .shared_generator import SharedGenerator
from .training_view import TrainingTools
from .widgets import set_quietly

APP_NAME = "Latent Studio"
#: seconds within which keyboard steps of one control merge into one undo step
STEP_COALESCE_S = 0.8


def pick_device(name: str | None = None) -> str:
    """``auto`` (default): the first CUDA GPU when there is one, else the CPU."""
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def device_label(device: Any) -> str:
    """``cpu``, or the GPU's name for CUDA devices."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(dev)} ({dev})"
    return str(dev)


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
        self.discovery = discovery or ("ganspace", METHODS["ganspace"].make_config())
        self.auto_discover = auto_discover
        self._initial_controls = controls

        self.generator: SharedGenerator | None = None
        self.model_info: dict = {}
        self.history: History[EditState] = History(EditState(model=model or models.DEFAULT_MODEL))
        self.preset_path: Path | None = None
        self.preset_name = ""
        self.saved_state: EditState | None = self.history.current
        self.controls_source = ""
        self.grid_mode = False
        self.grid_count = 9
        self.smooth = self.settings.get_bool("view/smooth", True)
        self.fast_preview = self.settings.get_bool("view/fast_preview", True)
        self.frame = None  # the frame on screen (uint8 [H, W, 3])
        self.shown_stamp = 0
        self.last_stamp = 0
        self.last_render_ms = 0.0
        self.stale_results = 0
        self.last_error = ""
        self.error_box: QMessageBox | None = None
        self.model_job: Job | None = None
        self.annotation_path: Path | None = None  # None: the user's annotation store
        self.annotation_dialog = None
        self.vocabulary_dialog = None
        self.discovery_job: Job | None = None
        # linear semantics (app/semantics_panel.py): extractor, class map of the frame on screen, overlay
        self.extractor = None
        self.labels = None  # uint8 [S, S] class map of `frame` (None without an extractor or in grid mode)
        self._incoming_labels: tuple[int, Any] = (0, None)
        self.overlay_on = False
        self.overlay_alpha = 0.5
        self.semantics_dialog = None
        self._frame_times: collections.deque[float] = collections.deque(maxlen=240)
        self._closing = False

        self.runner = JobRunner(self)
        self.worker = RenderWorker()
        self.worker.frameReady.connect(self._on_frame)
        self.worker.failed.connect(self._on_render_failed)
        self.worker.notice.connect(self._on_render_notice)
        self.worker.labelsReady.connect(self._on_labels)
        self.worker.set_fast_preview(self.fast_preview)
        self.worker.start()

        self._build_ui(canvas)
        self._build_menus()
        self.setAcceptDrops(True)
        self.resize(QSize(1320, 860))
        geometry, splitter = self.settings.get("window/geometry"), self.settings.get("window/splitter")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self._stats_timer = QTimer(self)
        self._stats_timer.timeout.connect(self._update_perf_label)
        self._stats_timer.start(500)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._clear_transient_message)
        self._update_title()
        self._setup_autosave(autosave)
        self.open_model(self.history.current.model, first=True)

    # ================================================================== building
    def _build_ui(self, canvas_kind: str | None) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.canvas_holder = QWidget()
        holder = QVBoxLayout(self.canvas_holder)
        holder.setContentsMargins(0, 0, 0, 0)
        self.canvas: Canvas = make_canvas(self.canvas_holder, canvas_kind)
        holder.addWidget(self.canvas)
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
        self._build_class_bar()
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
        p.truncationEdited.connect(self._truncation_edited)
        p.truncationDragFinished.connect(self.history.seal)
        p.classEdited.connect(lambda i: self.commit(replace(self.state, class_index=int(i))))
        p.classMixEdited.connect(self._class_mix_edited)
        p.classMixDragFinished.connect(self.history.seal)
        p.noiseEdited.connect(lambda m: self.commit(replace(self.state, noise_mode=str(m))))
        p.mixEdited.connect(self._mix_edited)
        p.gridChanged.connect(self.set_grid)
        p.smoothChanged.connect(self.set_smooth)
        c = self.control_panel
        c.valueEdited.connect(self._value_edited)
        c.dragFinished.connect(lambda _i: self.history.seal())
        c.rangeEdited.connect(lambda i, s, e: self.commit(self.state.with_range(i, (s, e))))
        c.renamed.connect(self.rename_control)
        c.flipRequested.connect(self.flip_control)
        c.resetRequested.connect(self.reset_control)
        c.resetAllRequested.connect(self.reset_all)

        sb = self.statusBar()
        self.job_panel = JobPanel(self.runner)
        self.perf_label = QLabel("—")
        self.perf_label.setObjectName("perf")
        self.perf_label.setToolTip("time to render the last frame, and frames shown per second")
        self.device_status = QLabel(device_label(self.device))
        self.model_status = QLabel("")
        self.canvas_status = QLabel("")
        for w in (self.perf_label, self.device_status, self.model_status, self.canvas_status):
            w.setContentsMargins(8, 0, 8, 0)
        sb.addPermanentWidget(self.job_panel)
        sb.addPermanentWidget(self.perf_label)
        sb.addPermanentWidget(self.model_status)
        sb.addPermanentWidget(self.device_status)
        sb.addPermanentWidget(self.canvas_status)
        self._show_canvas_status()
        self.image_panel.sync(self.state, self.grid_mode, self.grid_count, self.smooth)

    def _build_class_bar(self) -> None:
        """The non-modal offer shown when the class differs from the one the controls were computed for."""
        bar = QFrame()
        bar.setObjectName("classBar")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(6, 4, 6, 4)
        self.class_bar_label = QLabel()
        self.class_bar_label.setWordWrap(True)
        self.class_bar_button = QPushButton("Recompute")
        self.class_bar_button.clicked.connect(self.recompute_for_class)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Keep these controls")
        close.clicked.connect(self._dismiss_class_bar)
        lay.addWidget(self.class_bar_label, 1)
        lay.addWidget(self.class_bar_button)
        lay.addWidget(close)
        bar.hide()
        self.class_bar = bar
        self._class_bar_dismissed: tuple[int, int] | None = None  # (id of the ControlSet, class) not to offer again
        self.class_job: Job | None = None

    def _action(self, menu: QMenu, text: str, slot: Callable, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                act.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Model")
        self.open_action = self._action(m, "&Open checkpoint…", self.open_model_dialog, QKeySequence.StandardKey.Open,
                     "Open a generator checkpoint (.pt, .pth, .pkl state dicts, config.json folders)")
        self.registry_menu = m.addMenu("Installed models")
        for name, entry in models.REGISTRY.items():
            act = self._action(self.registry_menu, name, lambda n=name: self.open_model(n), tip=entry.description)
            act.setEnabled(entry.locate() is not None)
        self.recent_models_menu = m.addMenu("Recent models")
        self.recent_models_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_models_menu, self.settings.recent_models, self.open_model))
        m.addSeparator()
        self._action(m, "Model &information", self.show_model_info)
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = mb.addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(e, "&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        e.addSeparator()
        self._action(e, "Reset &all controls", self.reset_all, "R", "All sliders to 0 and layer ranges to defaults")
        self._action(e, "Previous seed", lambda: self.image_panel.step_seed(-1), "PgUp")
        self._action(e, "Next seed", lambda: self.image_panel.step_seed(1), "PgDown")
        self._action(e, "Find control", self._focus_filter, QKeySequence.StandardKey.Find)

        v = mb.addMenu("&View")
        self.smooth_action = QAction("&Smooth scaling", self, checkable=True)
        self.smooth_action.setChecked(self.smooth)
        self.smooth_action.toggled.connect(self.set_smooth)
        v.addAction(self.smooth_action)
        self.fast_action = QAction("&Fast GPU preview", self, checkable=True)
        self.fast_action.setToolTip(
            "On a GPU, draw StyleGAN2 frames through the float16 / CUDA-graph path "
            "(within 1/255 of the exact frame); exports and presets always use the exact path"
        )
        self.fast_action.setChecked(self.fast_preview)
        self.fast_action.toggled.connect(self.set_fast_preview)
        v.addAction(self.fast_action)
        self.grid_action = QAction("&Grid of seeds", self, checkable=True)
        self.grid_action.setShortcut(QKeySequence("G"))
        self.grid_action.toggled.connect(lambda on: self.set_grid(on, self.grid_count))
        v.addAction(self.grid_action)

        d = mb.addMenu("&Discover")
        self.training = TrainingTools(self)  # trained methods: live plot, resume, evaluation
        self.discover_menu = d
        self.discover_actions = []
        for name, spec in METHODS.items():
            self.discover_actions.append(
                self._action(d, f"Run {name}…", lambda n=name: self.discover_dialog(n), tip=spec.summary))
        d.addSeparator()
        self.load_controls_action = self._action(
            d, "&Load controls…", self.load_controls_dialog, "Ctrl+Shift+O", "Load a ControlSet (.npz)")
        self.recent_controls_menu = d.addMenu("Recent controls")
        self.recent_controls_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_controls_menu, self.settings.recent_controls, self.load_controls))
        self._action(d, "&Save controls…", self.save_controls_dialog, tip="Save the controls (names, signs) as .npz")
        d.addSeparator()
        self._action(d, "Resume &training…", lambda: self.training.resume_training_dialog(),
                     tip="Continue a cancelled or finished training run from its job folder")
        self._action(d, "&Evaluate controls…", lambda: self.training.evaluate_dialog(),
                     tip="Score the controls: reconstructor accuracy (RCA) vs random directions, per control")

        voc = mb.addMenu("&Vocabulary")
        self._action(voc, "&Describe controls…", self.open_annotation_dialog,
                     tip="Describe what each control does, in words (saved to the annotation store)")
        self._action(voc, "&Words…", self.open_vocabulary_dialog,
                     tip="Distill the descriptions into word controls and search them")

        sem = mb.addMenu("&Semantics")
        self.semantics_menu = sem
        self._action(sem, "Semantics &panel…", self.open_semantics_dialog,
                     tip="Segmentation overlay, paint masks, train extractors, sample and edit by layout")
        self._action(sem, "&Load extractor…", self.load_extractor_dialog, tip="Open a semantic extractor (.pt)")
        self.save_extractor_action = self._action(sem, "&Save extractor…", self.save_extractor_dialog,
                                                  tip="Save the current semantic extractor")
        self.overlay_action = QAction("Show segmentation &overlay", self, checkable=True)
        self.overlay_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.overlay_action.toggled.connect(lambda on: self.set_overlay(on))
        sem.addAction(self.overlay_action)

        pm = mb.addMenu("&Preset")
        self.save_preset_action = self._action(pm, "&Save preset", self.save_preset, QKeySequence.StandardKey.Save,
                                               "Save the edit as a preset (JSON; main.py render --preset reads it)")
        self._action(pm, "Save preset &as…", self.save_preset_dialog, QKeySequence.StandardKey.SaveAs)
        self.load_preset_action = self._action(pm, "&Load preset…", self.load_preset_dialog, "Ctrl+L", "Open a preset")
        self.recent_presets_menu = pm.addMenu("Recent presets")
        self.recent_presets_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_presets_menu, self.settings.recent_presets, self.load_preset))

        x = mb.addMenu("E&xport")
        self.export_png_action = self._action(x, "Frame as &PNG…", self.export_png_dialog, "Ctrl+E",
                                              "Save the frame (or grid) as PNG")
        self.export_strip_action = self._action(x, "&Strip image of a sweep…", lambda: self.export_sweep_dialog("strip"),
                                                tip="One control at evenly spaced values, side by side")
        self.export_video_action = self._action(x, "Sweep &video (mp4)…", lambda: self.export_sweep_dialog("video"),
                                                tip="An mp4 of one control swept back and forth")

        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", self.show_shortcuts)
        self._action(h, "&About Latent Studio", self.show_about)
        self._update_undo_actions()

        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.open_action.setIconText("Open model")
        tb.addAction(self.open_action)
        discover_button = QToolButton()
        discover_button.setText("Discover")
        discover_button.setToolTip("Run a discovery method on this model")
        discover_button.setMenu(self.discover_menu)
        discover_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        tb.addWidget(discover_button)
        tb.addSeparator()
        self.undo_action.setIconText("Undo")
        self.redo_action.setIconText("Redo")
        tb.addAction(self.undo_action)
        tb.addAction(self.redo_action)
        tb.addSeparator()
        self.load_preset_action.setIconText("Load preset")
        self.save_preset_action.setIconText("Save preset")
        tb.addAction(self.load_preset_action)
        tb.addAction(self.save_preset_action)
        tb.addSeparator()
        self.export_png_action.setIconText("Export PNG")
        self.export_video_action.setIconText("Export video")
        tb.addAction(self.export_png_action)
        tb.addAction(self.export_video_action)
        tb.addAction(self.grid_action)
        self.grid_action.setIconText("Grid")

    def _fill_recent(self, menu: QMenu, recent, opener: Callable[[str], Any]) -> None:
        menu.clear()
        items = recent.items()
        if not items:
            act = menu.addAction("(none yet)")
            act.setEnabled(False)
            return
        for item in items:
            act = menu.addAction(item if len(item) < 70 else "…" + item[-68:])
            act.setToolTip(item)
            act.triggered.connect(lambda _c=False, it=item: opener(it))
        menu.addSeparator()
        menu.addAction("Clear list").triggered.connect(lambda: recent.clear())

    # ================================================================== state
    @property
    def state(self) -> EditState:
        return self.history.current

    @property
    def dirty(self) -> bool:
        """Whether the state differs from the last saved (or loaded) preset."""
        return self.state != self.saved_state

    def commit(self, new: EditState, key: Any = None, window: float | None = None) -> None:
        """Make ``new`` the current state (one undo step, or merged by ``key``) and render it."""
        if self.generator is None or new == self.state:
            return
        self.history.push(new, key, window)
        self._state_changed()

    def _state_changed(self) -> None:
        state = self.state
        self.control_panel.sync(state)
        self.image_panel.sync(state, self.grid_mode, self.grid_count, self.smooth)
        self.request_render()
        self._update_title()
        self._update_undo_actions()
        self._update_class_bar()

    def request_render(self) -> int:
        """Send the current state to the render worker; returns the request's stamp."""
        if self.generator is None:
            return self.last_stamp
        seeds = None
        if self.grid_mode:
            seeds = list(range(self.state.seed, self.state.seed + self.grid_count))
        self.last_stamp = self.worker.request(self.state, seeds)
        return self.last_stamp

    def _value_edited(self, index: int, value: float, dragging: bool) -> None:
        if dragging:
            self.commit(self.state.with_value(index, value), ("drag", index))
        else:
            self.commit(self.state.with_value(index, value), ("step", index), STEP_COALESCE_S)

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

    def _truncation_edited(self, psi: float, dragging: bool) -> None:
        new = replace(self.state, truncation=float(psi))
        if dragging:
            self.commit(new, ("drag", "truncation"))
        else:
            self.commit(new, ("step", "truncation"), STEP_COALESCE_S)

    def _class_mix_edited(self, mix: tuple[int, float] | None, dragging: bool) -> None:
        new = replace(self.state, class_mix=None if mix is None else (int(mix[0]), float(mix[1])))
        if dragging:
            self.commit(new, ("drag", "class_mix"))
        else:
            self.commit(new, ("step", "class_mix"), STEP_COALESCE_S)

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
        cs = state.controls.flipped(index)
        value = state.values[index]
        self.commit(replace(state, controls=cs).with_value(index, -value if value else 0.0))

    def reset_control(self, index: int) -> None:
        self.commit(self.state.with_value(index, 0.0).with_range(index, None))

    def reset_all(self) -> None:
        self.commit(self.state.reset())

    def undo(self) -> None:
        if self.history.undo() is not None:
            self._state_changed()

    def redo(self) -> None:
        if self.history.redo() is not None:
            self._state_changed()

    def _update_undo_actions(self) -> None:
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

    def _focus_filter(self) -> None:
        self.control_panel.filter.setFocus()
        self.control_panel.filter.selectAll()

    # ================================================================== class-specific controls
    def current_class(self) -> int | None:
        """The class of the frame (the model's default when the state names none); None if unconditional."""
        G = self.generator
        if G is None or G.classes is None:
            return None
        c = self.state.class_index
        return int(c) if c is not None else int(getattr(G, "default_class", 0))

    def controls_class(self) -> int | None:
        """The class the active controls were computed for (``cs.config["class_index"]``), if recorded."""
        cs = self.state.controls
        if cs is None or self.generator is None or self.generator.classes is None:
            return None
        c = cs.config.get("class_index")
        if isinstance(c, bool) or not isinstance(c, int):
            return None
        return c if c >= 0 else int(getattr(self.generator, "default_class", 0))

    def _class_name(self, index: int) -> str:
        classes = self.generator.classes if self.generator is not None else None
        return f"{index}: {classes[index]}" if classes and 0 <= index < len(classes) else str(index)

    def _update_class_bar(self) -> None:
        cur, made_for = self.current_class(), self.controls_class()
        cs = self.state.controls
        recomputable = cs is not None and cs.method in METHODS and any(
            f.name == "class_index" for f in fields(METHODS[cs.method].config))
        show = (cur is not None and made_for is not None and cur != made_for and recomputable
                and self._class_bar_dismissed != (id(cs), cur))
        if show:
            running = self.class_job is not None
            self.class_bar_label.setText(
                f"These controls were computed for class {self._class_name(made_for)}."
                + (" Recomputing…" if running else ""))
            self.class_bar_button.setText(f"Recompute for {self._class_name(cur)}")
            self.class_bar_button.setEnabled(not running)
        self.class_bar.setVisible(bool(show))

    def _dismiss_class_bar(self) -> None:
        cur = self.current_class()
        if self.state.controls is not None and cur is not None:
            self._class_bar_dismissed = (id(self.state.controls), cur)
        self.class_bar.hide()

    def recompute_for_class(self) -> Job | None:
        """Run the active controls' method again, with the same settings, for the current class (a job)."""
        cs, cur = self.state.controls, self.current_class()
        if cs is None or cur is None or cs.method not in METHODS:
            return None
        spec = METHODS[cs.method]
        names = {f.name for f in fields(spec.config)}
        config = spec.make_config(**{k: v for k, v in cs.config.items() if k in names and k != "class_index"},
                                  class_index=cur)
        job = self.run_discovery(cs.method, config)
        self.class_job = job
        if job is not None:
            job.finished.connect(lambda j=job: self._class_job_ended(j))
        self._update_class_bar()
        return job

    def _class_job_ended(self, job: Job) -> None:
        if self.class_job is job:
            self.class_job = None
            self._update_class_bar()

    # ================================================================== frames
    def _on_frame(self, stamp: int, frame, ms: float) -> None:
        if stamp <= self.shown_stamp:
            self.stale_results += 1
            return
        self.shown_stamp = stamp
        self.frame = frame
        lstamp, labels = self._incoming_labels
        self.labels = labels if lstamp == stamp else None
        self.last_render_ms = ms
        self._frame_times.append(time.monotonic())
        self.canvas.set_frame(self.display_frame())
        if self.semantics_dialog is not None:
            self.semantics_dialog.frame_changed()
        if self.canvas.message and self._render_error_shown:
            self.canvas.set_message("")
            self._render_error_shown = False

    _render_error_shown = False

    def _on_labels(self, stamp: int, labels) -> None:
        """The class map of frame ``stamp``; its frame arrives next (same queue, same order)."""
        self._incoming_labels = (stamp, labels)

    # ================================================================== semantics
    def display_frame(self):
        """The frame on screen: `frame`, with the segmentation blended over it when the overlay is on."""
        if self.frame is None or not self.overlay_on or self.labels is None or self.extractor is None:
            return self.frame
        from methods.semantics import overlay

        return overlay(self.frame, self.labels, self.extractor.colors, alpha=self.overlay_alpha)

    def set_overlay(self, on: bool | None = None, alpha: float | None = None) -> None:
        """Show/hide the segmentation overlay and set its opacity (0..1); redraws without rendering."""
        if on is not None:
            self.overlay_on = bool(on)
        if alpha is not None:
            self.overlay_alpha = float(min(max(alpha, 0.0), 1.0))
        set_quietly(self.overlay_action, "setChecked", self.overlay_on)
        if self.frame is not None:
            self.canvas.set_frame(self.display_frame())
        if self.semantics_dialog is not None:
            self.semantics_dialog.sync_overlay()

    def set_extractor(self, extractor) -> None:
        """Use ``extractor`` (a `SemanticExtractor` of this model, or None) for the overlay; re-renders."""
        self.extractor = extractor
        self.labels = None
        self.worker.set_extractor(extractor)
        if extractor is not None and not self.overlay_on:
            self.set_overlay(True)
        self.request_render()
        if self.semantics_dialog is not None:
            self.semantics_dialog.extractor_changed()

    def load_extractor(self, path: str | Path) -> bool:
        """Open an extractor file for the current model (reads the file here; no forward pass)."""
        from methods.semantics import SemanticExtractor

        if self.generator is None:
            return False
        try:
            ext = SemanticExtractor.load(path, self.generator.unwrapped, device=self.generator.device)
        except Exception as exc:  # SemanticsError, OSError, a broken file
            self.show_error("Could not load the extractor", _describe(exc), dialog=True)
            return False
        self.set_extractor(ext)
        self.statusBar().showMessage(f"Loaded extractor {Path(path).name} ({ext.kind}, {ext.n_class} classes)", 6000)
        return True

    def load_extractor_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load semantic extractor", self.settings.last_folder(),
                                              "Extractors (*.pt *.pth);;All files (*)")
        if path:
            self.settings.remember_folder(path)
            self.load_extractor(path)

    def save_extractor(self, path: str | Path) -> bool:
        if self.extractor is None:
            return False
        try:
            self.extractor.save(path)
        except Exception as exc:
            self.show_error("Could not save the extractor", _describe(exc), dialog=True)
            return False
        self.statusBar().showMessage(f"Saved extractor {path}", 6000)
        return True

    def save_extractor_dialog(self) -> None:
        if self.extractor is None:
            self.show_error("Nothing to save", "there is no semantic extractor yet (load or train one)", dialog=True)
            return
        start = Path(self.settings.last_folder()) / "extractor.pt"
        path, _ = QFileDialog.getSaveFileName(self, "Save semantic extractor", str(start), "Extractors (*.pt)")
        if path:
            self.settings.remember_folder(path)
            self.save_extractor(path if path.endswith(".pt") else path + ".pt")

    def open_semantics_dialog(self):
        """The non-modal Semantics panel (overlay, paint, train, sample, edit)."""
        from .semantics_panel import SemanticsDialog

        if self.semantics_dialog is None:
            self.semantics_dialog = SemanticsDialog(self)
        self.semantics_dialog.show()
        self.semantics_dialog.raise_()
        return self.semantics_dialog

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
        """Frames shown per second over the last second."""
        now = time.monotonic()
        recent = [t for t in self._frame_times if now - t <= 1.0]
        if len(recent) < 2:
            return float(len(recent))
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def _update_perf_label(self) -> None:
        if self.shown_stamp == 0:
            return
        fps = self.fps()
        rate = f"{fps:.0f} fps" if fps > 0 else "idle"
        self.perf_label.setText(f"render {self.last_render_ms:.1f} ms · {rate}")

    def _show_canvas_status(self) -> None:
        c = self.canvas
        if isinstance(c, RasterCanvas):
            self.canvas_status.setText("raster canvas")
            self.canvas_status.setToolTip(c.description)
            self.statusBar().showMessage(f"Using the {c.description}", 15_000)
        else:
            self.canvas_status.setText("OpenGL canvas")
            self.canvas_status.setToolTip(c.description)

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
        self.canvas_holder.layout().replaceWidget(old, new)
        old.hide()
        old.deleteLater()
        self.canvas = new
        self._show_canvas_status()

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
        if dialog and not self._closing:
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

    def _update_title(self) -> None:
        name = self.preset_name or "untitled"
        mark = "*" if self.dirty and self.generator is not None else ""
        model = self.model_info.get("name") or self.state.model
        self.setWindowTitle(f"{name}{mark} — {Path(model).name if Path(model).suffix else model} — {APP_NAME}")

    # ================================================================== models
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open checkpoint", self.settings.last_folder(),
            "Checkpoints (*.pt *.pth *.pkl *.bin *.tar *.ckpt config.json);;All files (*)",
        )
        if path:
            self.settings.remember_folder(path)
            self.open_model(path)

    def open_model(self, spec: str, first: bool = False, then: Callable[[], None] | None = None) -> Job:
        """Load a model in a job; the current model stays in use until the new one is ready."""
        spec = str(spec)
        if self.model_job is not None:
            self.model_job.cancel()
        if self.generator is None:
            self.canvas.set_message(f"Loading {spec}…")
        else:
            self.statusBar().showMessage(f"Loading {spec}…")
        device = self.device

        def load(progress, cancel):
            progress(0.0, f"reading {spec}")
            G = models.load_generator(spec, device)
            progress(1.0, "loaded")
            return G

        job = self.runner.start(
            f"Opening {Path(spec).name}", load,
            on_success=lambda G: self._model_loaded(job, G, spec, then),
            on_failure=lambda msg: self._model_failed(job, spec, msg),
            cancellable=False,
        )
        self.model_job = job
        return job

    def _model_failed(self, job: Job, spec: str, message: str) -> None:
        if self.model_job is job:
            self.model_job = None
        self.show_error(f"Could not open {Path(spec).name}", message, dialog=self.generator is not None)
        if self.generator is None:
            self.canvas.set_message(
                f"Could not open {spec}\n{message}\n\nModel ▸ Open checkpoint… (or drop a file here) to open another."
            )

    def _model_loaded(self, job: Job, G, spec: str, then: Callable[[], None] | None) -> None:
        if self.model_job is not job or job.cancel_requested or self._closing:
            return  # a newer request replaced this one
        self.model_job = None
        if self.discovery_job is not None:
            self.discovery_job.cancel()
        shared = SharedGenerator(G)
        self.generator = shared
        self.model_info = G.info()
        self.worker.set_generator(shared)
        if self.extractor is not None:
            try:
                self.extractor.check_model(G)
            except Exception:
                self.set_extractor(None)  # made for the previous model
        state = EditState(model=G.name, truncation=G.default_truncation)
        self.history.reset(state)
        self.saved_state = state
        self.preset_path, self.preset_name, self.controls_source = None, "", ""
        self.shown_stamp = max(self.shown_stamp, self.worker.latest_stamp)
        self.image_panel.set_classes(G.classes)
        self.image_panel.set_model_features(hasattr(G, "noise_mode"), G.num_layers, G.describe_layers())
        self.control_panel.set_controls(None, G.num_layers, G.describe_layers())
        self.model_status.setText(f"{G.name if G.name in models.REGISTRY else Path(G.name).name} · {G.resolution}px")
        self.model_status.setToolTip("\n".join(f"{k}: {v}" for k, v in self.model_info.items()))
        self.device_status.setText(device_label(G.device))
        self.canvas.set_message("")
        if G.name not in models.REGISTRY:
            self.settings.recent_models.add(str(Path(G.name).resolve()))
        else:
            self.settings.recent_models.add(G.name)
        self._state_changed()
        self.statusBar().showMessage(f"Opened {G.name} ({G.family}, {G.resolution}px, {G.num_layers} latent rows)", 8000)
        if G.notes:
            self.show_note("Note: " + "\n".join(G.notes), 12)
        if then is not None:
            then()
            return
        initial, self._initial_controls = self._initial_controls, None
        if initial is not None:
            self.attach_controls(initial, base=True)
        elif self.auto_discover:
            method, config = self.discovery
            self.run_discovery(method, config, base=True)
        else:
            self.control_panel.set_placeholder("No controls yet. Discover ▸ Run GANSpace… finds some.")

    def show_model_info(self) -> None:
        if not self.model_info:
            return
        text = "\n".join(f"{k}: {v}" for k, v in self.model_info.items())
        box = QMessageBox(QMessageBox.Icon.Information, "Model information", text, QMessageBox.StandardButton.Ok, self)
        box.open()

    # ================================================================== controls
    def attach_controls(self, cs: ControlSet, base: bool = False, source: str = "") -> bool:
        """Use ``cs`` (values reset to 0); refuses, with a message, controls made for another model."""
        if self.generator is None:
            return False
        try:
            cs.check_model(self.generator)
        except ControlSetError as exc:
            self.show_error("These controls do not fit the model", str(exc), dialog=True)
            return False
        new = self.state.with_controls(cs)
        self.controls_source = source
        if base and not self.history.can_undo():
            # the automatic first discovery is where the history starts, not an undoable step
            self.history.reset(new)
            if self.saved_state is not None and self.saved_state.controls is None:
                self.saved_state = new
            self._state_changed()
        else:
            self.commit(new)
        self.statusBar().showMessage(f"{len(cs)} controls from {cs.method}", 6000)
        return True

    def discover_dialog(self, method: str) -> None:
        if self.generator is None:
            return
        G = self.generator
        paper = paper_settings(method, G) if method in PAPER_METHODS else None
        dlg = DiscoverDialog(method, G.layer_names(), G.default_pca_layer, G.name, self, paper=paper)
        if not dlg.exec():
            return
        try:
            config = dlg.config()
        except (TypeError, ValueError) as exc:
            self.show_error("Invalid option", str(exc), dialog=True)
            return
        self.run_discovery(method, config, use_cache=dlg.use_cache.isChecked())

    def run_discovery(self, method: str, config: Any = None, base: bool = False, use_cache: bool = True) -> Job | None:
        """Run (or load from the cache) a discovery method in a job; attach its controls when done."""
        if self.generator is None:
            return None
        spec = METHODS[method]
        config = config if config is not None else spec.make_config()
        if self.discovery_job is not None:
            self.discovery_job.cancel()
        G = self.generator
        if not self.control_panel.rows:
            self.control_panel.set_placeholder(f"Discovering controls with {method}…\n(progress in the status bar)")

        def work(progress, cancel):
            return discover_cached(G, spec, config, progress, cancel, use_cache=use_cache)

        job: Job

        def done(cs: ControlSet) -> None:
            if self.discovery_job is job:
                self.discovery_job = None
            if self.generator is G and not job.cancel_requested:
                self.attach_controls(cs, base=base, source="")

        def failed(msg: str) -> None:
            if self.discovery_job is job:
                self.discovery_job = None
            self.show_error(f"{method} failed", msg, dialog=not base)
            self.control_panel.set_placeholder(f"{method} failed: {msg}")

        def cancelled() -> None:
            if self.discovery_job is job:
                self.discovery_job = None
            kept = "; its job folder keeps a checkpoint (Discover ▸ Resume training…)" if getattr(config, "job_dir", "") else "; nothing was saved"
            self.statusBar().showMessage(f"{method} cancelled{kept}", 6000)
            self.control_panel.set_placeholder("Discovery was cancelled. Discover ▸ Run … to start it again.")

        job = self.runner.start(f"Discovering ({method})", work, done, failed, cancelled)
        self.discovery_job = job
        self.training.watch(method, config, job)
        return job

    def load_controls_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load controls", self.settings.last_folder(), "Controls (*.npz)")
        if path:
            self.settings.remember_folder(path)
            self.load_controls(path)

    def load_controls(self, path: str | Path) -> bool:
        """Read a ControlSet file and attach it (errors leave everything as it was)."""
        try:
            cs = ControlSet.load(path)
        except ControlSetError as exc:
            self.show_error("Could not load controls", str(exc), dialog=True)
            return False
        ok = self.attach_controls(cs, source=str(Path(path).resolve()))
        if ok:
            self.settings.recent_controls.add(str(Path(path).resolve()))
        return ok

    def save_controls_dialog(self) -> None:
        if self.state.controls is None:
            self.show_error("Nothing to save", "there are no controls yet", dialog=True)
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save controls", str(Path(self.settings.last_folder()) / "controls.npz"), "Controls (*.npz)")
        if path:
            self.save_controls(path if path.endswith(".npz") else path + ".npz")

    def save_controls(self, path: str | Path) -> bool:
        try:
            self.state.controls.save(path)
        except (OSError, ControlSetError) as exc:
            self.show_error("Could not save controls", _describe(exc), dialog=True)
            return False
        self.settings.recent_controls.add(str(Path(path).resolve()))
        self.statusBar().showMessage(f"Saved {path}", 6000)
        return True

    # ================================================================== autosave
    def _setup_autosave(self, where: str | Path | None | bool) -> None:
        """Start the autosave timer; offer to restore a session that did not end cleanly."""
        self.autosave_path: Path | None = None
        self.restore_box: QMessageBox | None = None
        self.restore_path: Path | None = None  # the orphaned autosave on offer
        self._autosaved: EditState | None = None
        self._restore_pending = False
        if where is False:
            return
        self.autosave_path = autosave.autosave_path() if where in (True, None) else Path(where)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.timeout.connect(self.autosave_now)
        self._autosave_timer.start(int(autosave.INTERVAL_S * 1000))
        for orphan in autosave.orphans(self.autosave_path.parent):
            try:
                state, info = autosave.read(orphan)
            except autosave.AutosaveError as exc:
                autosave.remove(orphan)
                self.statusBar().showMessage(f"Ignored an unreadable autosave ({exc})", 10_000)
                continue
            self._offer_restore(orphan, state, info)
            break

    def _offer_restore(self, path: Path, state: EditState, info: dict) -> None:
        self._restore_pending = True
        self.restore_path = path
        name = info.get("name") or "untitled"
        model = Path(state.model).name if Path(state.model).suffix else state.model
        box = QMessageBox(QMessageBox.Icon.Question, "Restore the last session?",
                          f"Latent Studio did not close cleanly last time.\n"
                          f"Restore the unsaved edit “{name}” of {model} ({state.describe_base()})?",
                          QMessageBox.StandardButton.NoButton, self)
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
        self._restore_pending = False
        if self.restore_path is not None:
            autosave.remove(self.restore_path)
        self.statusBar().showMessage("The last session was discarded", 6000)

    def restore_autosave(self, state: EditState, info: dict) -> None:
        """Accept the offer: open the session's model if needed, then make its state current."""
        self._restore_pending = False
        if self.discovery_job is not None:
            self.discovery_job.cancel()
        self._initial_controls = None

        def apply() -> None:
            if self.discovery_job is not None:
                self.discovery_job.cancel()
            G = self.generator
            try:
                presets.check_against(state, G, info.get("fingerprint", ""))
            except PresetError as exc:
                self.show_error("Could not restore the last session", str(exc), dialog=True)
                return
            self.commit(state)
            pp = info.get("preset_path")
            self.preset_path = Path(pp) if pp else None
            self.preset_name = info.get("name") or (self.preset_path.stem if self.preset_path else "")
            self.controls_source = info.get("controls_source", "")
            self.saved_state = None  # restored edits are unsaved
            self._update_title()
            if self.restore_path is not None and self.restore_path != self.autosave_path:
                autosave.remove(self.restore_path)  # this window's own autosave takes over
            self.autosave_now()
            self.statusBar().showMessage("Restored the last session", 8000)

        if self.generator is not None and self.model_job is None and self._is_current_model(state.model, info.get("fingerprint", "")):
            apply()
        else:
            self.open_model(state.model, then=apply)

    def autosave_now(self) -> bool:
        """Write the session if it changed since the last write; returns whether a file was written."""
        if self.autosave_path is None or self._restore_pending or self.generator is None or self._closing:
            return False
        state = self.state
        if state is self._autosaved:
            return False
        if not self.dirty:
            autosave.remove(self.autosave_path)  # nothing unsaved to lose
            self._autosaved = state
            return False
        try:
            autosave.write(self.autosave_path, state, self.generator.fingerprint, self.preset_name,
                           self.controls_source, str(self.preset_path) if self.preset_path else None)
        except (OSError, PresetError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {_describe(exc)}", 10_000)
            return False
        self._autosaved = state
        return True

    # ================================================================== vocabulary
    def open_annotation_dialog(self):
        """The non-modal dialog that collects descriptions of the active controls."""
        from methods.annotations import AnnotationError

        from .vocab_panel import AnnotationDialog

        cs = self.state.controls
        if self.generator is None or cs is None or not len(cs):
            self.show_error("Nothing to describe", "there are no controls yet", dialog=True)
            return None
        if self.annotation_dialog is not None:
            self.annotation_dialog.close()
            self.annotation_dialog.deleteLater()
        try:
            dlg = AnnotationDialog(self, cs, self.annotation_path)
        except AnnotationError as exc:
            self.show_error("Could not open the annotation store", str(exc), dialog=True)
            return None
        self.annotation_dialog = dlg
        dlg.show()
        return dlg

    def open_vocabulary_dialog(self):
        """The non-modal dialog that distils and searches the concept words."""
        from .vocab_panel import VocabularyDialog

        if self.vocabulary_dialog is None:
            self.vocabulary_dialog = VocabularyDialog(self, self.annotation_path)
        self.vocabulary_dialog.show()
        self.vocabulary_dialog.raise_()
        return self.vocabulary_dialog

    # ================================================================== presets
    def save_preset(self) -> bool:
        if self.preset_path is None:
            return self.save_preset_dialog()
        return self.save_preset_to(self.preset_path)

    def save_preset_dialog(self) -> bool:
        start = self.preset_path or Path(self.settings.last_folder()) / "preset.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save preset", str(start), "Presets (*.json)")
        if not path:
            return False
        self.settings.remember_folder(path)
        return self.save_preset_to(path if path.endswith(".json") else path + ".json")

    def save_preset_to(self, path: str | Path) -> bool:
        """Write the current state as a preset (the CLI's ``--save-preset`` format)."""
        if self.generator is None:
            return False
        path = Path(path)
        try:
            presets.save(path, self.state, self.generator.fingerprint, path.stem, self.controls_source)
        except (OSError, PresetError) as exc:
            self.show_error("Could not save the preset", _describe(exc), dialog=True)
            return False
        self.preset_path, self.preset_name = path, path.stem
        self.saved_state = self.state
        self.settings.recent_presets.add(str(path.resolve()))
        self._update_title()
        self.statusBar().showMessage(f"Saved preset {path}", 6000)
        return True

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", self.settings.last_folder(), "Presets (*.json)")
        if path:
            self.settings.remember_folder(path)
            self.load_preset(path)

    def load_preset(self, path: str | Path) -> bool:
        """Restore a preset; opens its model first when it names another one.

        Returns False when the file is unusable (the state is kept and the reason shown).
        """
        path = Path(path)
        try:
            state, info = presets.load(path)
        except PresetError as exc:
            self.show_error("Could not load the preset", str(exc), dialog=True)
            return False
        if self.generator is not None and self._is_current_model(state.model, info["fingerprint"]):
            return self._apply_preset(path, state, info)
        self.open_model(state.model, then=lambda: self._apply_preset(path, state, info))
        return True

    def _is_current_model(self, spec: str, fingerprint: str) -> bool:
        G = self.generator
        if fingerprint and fingerprint == G.fingerprint:
            return True
        if spec == G.name:
            return True
        try:
            return Path(spec).resolve() == Path(G.name).resolve() and Path(spec).exists()
        except OSError:
            return False

    def _apply_preset(self, path: Path, state: EditState, info: dict) -> bool:
        G = self.generator
        try:
            presets.check_against(state, G, info["fingerprint"])
        except PresetError as exc:
            self.show_error("The preset does not fit the model", f"{path.name}: {exc}", dialog=True)
            return False
        self.commit(state)
        self.preset_path, self.preset_name = path, info.get("name") or path.stem
        self.controls_source = info.get("controls_source", "")
        self.saved_state = self.state
        self.settings.recent_presets.add(str(path.resolve()))
        self._update_title()
        self.statusBar().showMessage(f"Loaded preset {path}", 6000)
        return True

    # ================================================================== export
    def export_png_dialog(self) -> None:
        start = Path(self.settings.last_folder()) / f"seed{self.state.seed}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export frame", str(start), "PNG image (*.png)")
        if path:
            self.settings.remember_folder(path)
            self.export_png(path if path.lower().endswith(".png") else path + ".png")

    def export_png(self, path: str | Path) -> Job | None:
        """Write the current frame (or grid) as PNG in a job — the same pixels as `main.py render`."""
        if self.generator is None:
            return None
        G, state, path = self.generator, self.state, Path(path)
        seeds = list(range(state.seed, state.seed + self.grid_count)) if self.grid_mode else None

        def work(progress, cancel):
            image = grid_image(G, state, seeds, grid_columns(len(seeds))) if seeds else render_state(G, state)
            write_png(path, image)
            progress(1.0, "written")
            return path

        return self._export_job(f"Exporting {path.name}", work)

    def export_sweep_dialog(self, kind: str) -> None:
        cs = self.state.controls
        if cs is None or not len(cs):
            self.show_error("Nothing to sweep", "there are no controls yet", dialog=True)
            return
        focused = self.control_panel.focused_row()
        dlg = SweepDialog(kind, cs.names, focused.index if focused else 0, self.settings.last_folder(), self)
        if dlg.exec():
            req = dlg.request()
            self.settings.remember_folder(req.path)
            self.export_sweep(req)

    def export_sweep(self, req: SweepRequest) -> Job | None:
        """A strip image or an mp4 of one control swept from ``req.a`` to ``req.b``, in a job."""
        if self.generator is None:
            return None
        G, state = self.generator, self.state

        if req.kind == "strip":
            def work(progress, cancel):
                image = strip_image(G, state, [req.control], req.a, req.b, req.frames, progress=progress, cancel=cancel)
                write_png(req.path, image)
                return req.path
        else:
            def work(progress, cancel):
                export_sweep_video(G, state, req.control, req.a, req.b, req.frames, req.fps, req.path, progress, cancel)
                return req.path

        return self._export_job(f"Exporting {req.path.name}", work)

    def _export_job(self, title: str, work) -> Job:
        return self.runner.start(
            title, work,
            on_success=lambda p: self.statusBar().showMessage(f"Wrote {p}", 8000),
            on_failure=lambda msg: self.show_error("Export failed", msg, dialog=True),
            on_cancel=lambda: self.statusBar().showMessage("Export cancelled; no file was written", 8000),
        )

    # ================================================================== help
    def show_shortcuts(self) -> None:
        text = (
            "Ctrl+Z / Ctrl+Shift+Z — undo / redo\n"
            "← → (on a focused slider) — step it by 0.1σ\n"
            "PgUp / PgDn — previous / next seed\n"
            "R — reset all controls\n"
            "G — grid of seeds\n"
            "Ctrl+F — filter controls\n"
            "Ctrl+S — save preset, Ctrl+L — load preset\n"
            "Ctrl+E — export the frame as PNG\n"
            "Double-click a control's name — rename it\n"
            "Vocabulary ▸ Describe controls: Enter saves and goes on, Ctrl+→ skips, Ctrl+← goes back\n"
            "Ctrl+Shift+M — segmentation overlay on/off (Semantics menu)"
        )
        QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", text, QMessageBox.StandardButton.Ok, self).open()

    def show_about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<b>{APP_NAME}</b><br>Explore and steer the latent spaces of pretrained GANs.<br>"
            "Everything here is also a headless command: <tt>python main.py --help</tt>.",
        )

    # ================================================================== drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    def open_file(self, path: str | Path) -> None:
        """What a dropped file means: ``.json`` preset, ``.npz`` controls, anything else a checkpoint."""
        suffix = Path(path).suffix.lower()
        if suffix == ".json" and Path(path).name != "config.json":
            self.load_preset(path)
        elif suffix == ".npz":
            self.load_controls(path)
        else:
            self.open_model(str(path))

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._closing = True
        self._stats_timer.stop()
        self._message_timer.stop()
        self.runner.cancel_all()
        self.runner.wait_all(15_000)
        self.worker.stop()
        if isinstance(self.canvas, GLCanvas):
            self.canvas.cleanup()
        self.settings.set("view/smooth", self.smooth)
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/splitter", self.splitter.saveState())
        self.settings.store.sync()
        if self.autosave_path is not None:
            self._autosave_timer.stop()
            if not self._restore_pending:  # an unanswered offer keeps the old session for next time
                autosave.remove(self.autosave_path)
        super().closeEvent(event)


def _describe(exc: BaseException) -> str:
    from .jobs import describe_error

    return describe_error(exc)
