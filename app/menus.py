"""The window's menus and tool bar: every action, its shortcut and what it calls.

`build_menus(window)` creates the actions (kept on the window as ``*_action`` so tests and
panels can reach them) and connects each to the window or one of its actions modules.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QDockWidget, QMenu, QToolButton

import models
from methods.registry import METHODS

from . import help as help_pages
from .label_gallery import open_label_gallery
from .projection_dialog import open_projection
from .export_actions import SIZES
from .guide import show_guide
from .layer_view import LayerView
from .render_plot import RenderPlot
from .seed_panel import SeedPanel
from .training_view import TrainingTools

if TYPE_CHECKING:
    from .window import MainWindow


def add_action(window, menu: QMenu, text: str, slot: Callable, shortcut: Any = None, tip: str = "") -> QAction:
    """A menu entry that calls ``slot()``; ``shortcut``: one key sequence or a list of them."""
    act = QAction(text, window)
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


def fill_recent(menu: QMenu, recent, opener: Callable[[str], Any]) -> None:
    """Refill a "Recent …" menu from a `RecentList` (shortened paths, full ones as tool tips)."""
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


def _recent_menu(w, parent: QMenu, title: str, recent, opener) -> QMenu:
    menu = parent.addMenu(title)
    menu.aboutToShow.connect(lambda: fill_recent(menu, recent, opener))
    return menu


def _checkable(w, menu: QMenu, text: str, checked: bool, slot: Callable[[bool], Any], shortcut: str | None = None,
               tip: str = "") -> QAction:
    act = QAction(text, w, checkable=True)
    act.setChecked(checked)
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
    if tip:
        act.setToolTip(tip)
    act.toggled.connect(slot)
    menu.addAction(act)
    return act


def build_menus(w: "MainWindow") -> None:
    mb = w.menuBar()
    S = w.settings

    m = mb.addMenu("&Model")
    w.open_action = add_action(w, m, "&Open checkpoint…", w.models.open_model_dialog, QKeySequence.StandardKey.Open,
                               "Open a generator checkpoint (.pt, .pth, .pkl state dicts, NVIDIA .pkl snapshots, config.json folders)")
    w.registry_menu = m.addMenu("Installed models")
    for name, entry in models.REGISTRY.items():
        act = add_action(w, w.registry_menu, name, lambda n=name: w.models.open_model(n), tip=entry.description)
        act.setEnabled(entry.locate() is not None)
    w.recent_models_menu = _recent_menu(w, m, "Recent models", S.recent_models, w.models.open_model)
    w.project_action = add_action(w, m, "&Project image…", lambda: open_projection(w), "Ctrl+I",
                                  "Turn your own image into the current image (optimised latents; or drop it on the canvas)")
    m.addSeparator()
    add_action(w, m, "Model &information", w.models.show_model_info)
    m.addSeparator()
    w.quit_action = add_action(w, m, "&Quit", w.request_quit, QKeySequence.StandardKey.Quit)

    e = mb.addMenu("&Edit")
    w.undo_action = add_action(w, e, "&Undo", w.undo, QKeySequence.StandardKey.Undo)
    w.redo_action = add_action(w, e, "&Redo", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
    e.addSeparator()
    add_action(w, e, "Reset &all controls", w.reset_all, "R", "All sliders to 0 and layer ranges to defaults")
    add_action(w, e, "Previous seed", lambda: w.image_panel.step_seed(-1), "PgUp")
    add_action(w, e, "Next seed", lambda: w.image_panel.step_seed(1), "PgDown")
    add_action(w, e, "Find control", w.focus_filter, QKeySequence.StandardKey.Find)

    v = mb.addMenu("&View")
    w.smooth_action = _checkable(w, v, "&Smooth scaling", w.smooth, w.set_smooth)
    w.fast_action = _checkable(
        w, v, "&Fast GPU preview", w.fast_preview, w.set_fast_preview,
        tip="On a GPU, draw StyleGAN2 frames through the float16 / CUDA-graph path "
            "(within 1/255 of the exact frame); exports and presets always use the exact path")
    w.grid_action = _checkable(w, v, "&Grid of seeds", False, lambda on: w.set_grid(on, w.grid_count), "G")
    v.addSeparator()
    build_docks(w, v)

    d = mb.addMenu("&Discover")
    w.training = TrainingTools(w)  # trained methods: live plot, resume, evaluation
    w.discover_menu = d
    w.discover_actions = [
        add_action(w, d, f"{spec.display_name}…", lambda n=name: w.discovery.discover_dialog(n), tip=spec.summary)
        for name, spec in METHODS.items()
    ]
    w.label_action = add_action(w, d, "&Label samples…", lambda: open_label_gallery(w),
                                tip="Click thumbnails as has it / doesn't / skip and train an InterFaceGAN boundary")
    d.addSeparator()
    w.load_controls_action = add_action(
        w, d, "&Load controls…", w.discovery.load_controls_dialog, "Ctrl+Shift+O", "Load a ControlSet (.npz)")
    w.recent_controls_menu = _recent_menu(w, d, "Recent controls", S.recent_controls, w.discovery.load_controls)
    add_action(w, d, "&Import released directions…", w.discovery.import_released_dialog,
               tip="Open directions saved by GANSpace, LatentCLR, Voynov–Babenko, WarpedGANSpace or InterFaceGAN")
    add_action(w, d, "&Save controls…", w.discovery.save_controls_dialog, tip="Save the controls (names, signs) as .npz")
    d.addSeparator()
    add_action(w, d, "Resume &training…", lambda: w.training.resume_training_dialog(),
               tip="Continue a cancelled or finished training run from its job folder")
    add_action(w, d, "&Evaluate controls…", lambda: w.training.evaluate_dialog(),
               tip="Score the controls: reconstructor accuracy (RCA) vs random directions, per control")

    voc = mb.addMenu("&Vocabulary")
    add_action(w, voc, "&Describe controls…", w.vocab.open_annotation_dialog,
               tip="Describe what each control does, in words (saved to the annotation store)")
    add_action(w, voc, "&Words…", w.vocab.open_vocabulary_dialog,
               tip="Distill the descriptions into word controls and search them")

    sem = mb.addMenu("&Semantics")
    w.semantics_menu = sem
    add_action(w, sem, "Semantics &panel…", w.semantics.open_semantics_dialog,
               tip="Segmentation overlay, paint masks, train extractors, sample and edit by layout")
    add_action(w, sem, "&Load extractor…", w.semantics.load_extractor_dialog, tip="Open a semantic extractor (.pt)")
    w.save_extractor_action = add_action(w, sem, "&Save extractor…", w.semantics.save_extractor_dialog,
                                         tip="Save the current semantic extractor")
    w.overlay_action = _checkable(w, sem, "Show segmentation &overlay", False,
                                  lambda on: w.semantics.set_overlay(on), "Ctrl+Shift+M")

    pm = mb.addMenu("&Preset")
    P = w.presets
    w.save_preset_action = add_action(w, pm, "&Save preset", P.save_preset, QKeySequence.StandardKey.Save,
                                      "Save the edit as a preset (JSON; main.py render --preset reads it)")
    add_action(w, pm, "Save preset &as…", P.save_preset_dialog, QKeySequence.StandardKey.SaveAs)
    w.load_preset_action = add_action(w, pm, "&Load preset…", P.load_preset_dialog, "Ctrl+L", "Open a preset")
    w.recent_presets_menu = _recent_menu(w, pm, "Recent presets", S.recent_presets, P.load_preset)

    x = mb.addMenu("E&xport")
    X = w.exports
    w.export_png_action = add_action(w, x, "Frame as &PNG…", X.export_png_dialog, "Ctrl+E",
                                     "Save the frame (or grid) as PNG")
    w.export_strip_action = add_action(w, x, "&Strip image of a sweep…", lambda: X.export_sweep_dialog("strip"),
                                       tip="One control at evenly spaced values, side by side")
    w.export_video_action = add_action(w, x, "Sweep &video (mp4)…", lambda: X.export_sweep_dialog("video"),
                                       tip="An mp4 of one control swept back and forth")
    x.addSeparator()
    w.export_size_menu = x.addMenu("Output &size")
    group = QActionGroup(w)
    w.export_size_actions = {}
    for size in (None, *SIZES):
        act = QAction("The model's own" if size is None else f"{size} × {size} px", w, checkable=True)
        act.setChecked(size == X.size)
        act.triggered.connect(lambda _c=False, s=size: X.set_size(s))
        group.addAction(act)
        w.export_size_menu.addAction(act)
        w.export_size_actions[size] = act

    h = mb.addMenu("&Help")
    w.help_menu = h
    w.guide_action = add_action(w, h, "&Guide", lambda: show_guide(w), "F1",
                                "σ units, layer ranges, the methods and their papers, shortcuts")
    add_action(w, h, "&Keyboard shortcuts", lambda: help_pages.show_shortcuts(w))
    add_action(w, h, "&About Latent Studio", lambda: help_pages.show_about(w))
    w.update_undo_actions()
    build_toolbar(w)


def build_docks(w: "MainWindow", view_menu: QMenu) -> None:
    """The seed/animation panel, the render-time plot and the layer view, as docks (hidden at
    first; View menu entries show them)."""
    for attr, title, make, area, key in (
        ("seed_panel", "Seeds and animation", SeedPanel, Qt.DockWidgetArea.RightDockWidgetArea, "Ctrl+Shift+A"),
        ("render_plot", "Render-time plot", RenderPlot, Qt.DockWidgetArea.BottomDockWidgetArea, "Ctrl+Shift+T"),
        ("layer_view", "Layer view", LayerView, Qt.DockWidgetArea.RightDockWidgetArea, "Ctrl+Shift+L"),
    ):
        panel = make(w)
        dock = QDockWidget(title, w)
        dock.setObjectName(attr + "Dock")
        dock.setWidget(panel)
        w.addDockWidget(area, dock)
        dock.hide()
        act = dock.toggleViewAction()
        act.setShortcut(QKeySequence(key))
        view_menu.addAction(act)
        setattr(w, attr, panel)
        setattr(w, attr + "_dock", dock)


def build_toolbar(w: "MainWindow") -> None:
    tb = w.addToolBar("Main")
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    w.open_action.setIconText("Open model")
    tb.addAction(w.open_action)
    discover_button = QToolButton()
    discover_button.setText("Discover")
    discover_button.setToolTip("Run a discovery method on this model")
    discover_button.setMenu(w.discover_menu)
    discover_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    tb.addWidget(discover_button)
    tb.addSeparator()
    w.undo_action.setIconText("Undo")
    w.redo_action.setIconText("Redo")
    tb.addAction(w.undo_action)
    tb.addAction(w.redo_action)
    tb.addSeparator()
    w.load_preset_action.setIconText("Load preset")
    w.save_preset_action.setIconText("Save preset")
    tb.addAction(w.load_preset_action)
    tb.addAction(w.save_preset_action)
    tb.addSeparator()
    w.export_png_action.setIconText("Export PNG")
    w.export_video_action.setIconText("Export video")
    tb.addAction(w.export_png_action)
    tb.addAction(w.export_video_action)
    tb.addAction(w.grid_action)
    w.grid_action.setIconText("Grid")
    w.toolbar = tb
