"""Linear semantics in the window (METHODS.md §6): overlay, paint masks, train, sample and edit by layout.

`SemanticsDialog` is a non-modal panel (Semantics ▸ Semantics panel…).  On the left a
`PaintView` shows either the current image or a blank canvas with a class mask painted
over it at the model's resolution (255 = not painted).  On the right, tabs:

* Overlay — load/save the extractor, show the segmentation over the canvas, opacity, legend;
* Paint — class palette (add, rename, recolour), brush/eraser/fill, undo, "Start from
  prediction", "Add to training set" (`methods.semantics.append_mask`, by seed for unedited
  samples, by the edited latents otherwise);
* Train — few-shot LSE/NSE-1 from a mask folder, as a job; the result becomes the overlay's
  extractor (and is written to "Save to" when given);
* Sample — SCS: sample N images whose layout follows the painted mask, shown as a grid;
* Edit — SIE: edit the current image toward the repainted mask, previewed while it runs.

Every generator call runs in a job or on the render thread.  SCS/SIE results are shown
here and can be saved (PNG + ``.npy`` latents); clicking one loads it into the paint view
(paint, add to the training set by its latents, edit it further); "Use as current image"
(or a double-click on a sample) makes it the window's frame: its latents become the
`EditState`'s explicit base (`editing.state.BaseLatents`), one undoable step rendered by
the render worker, so the sliders, presets and exports work on it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from PyQt6.QtCore import QObject, QPoint, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QImage, QMouseEvent, QPainter, QPixmap
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from editing.render import _classes, state_latents, synthesize_latents, tile
from editing.state import EditState
from methods.semantics import (
    IGNORE,
    SCSConfig,
    SemanticsError,
    SIEConfig,
    TrainConfig,
    append_mask,
    default_colors,
    overlay,
    read_mask_folder,
    semantic_edit,
    semantic_sample,
    train_extractor,
)

from .canvas import fit_rect

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow

Color = tuple[int, int, int]
#: grey of the blank canvas; edge of the SCS thumbnails
BLANK = 96
THUMB = 112


def to_qimage(frame: np.ndarray) -> QImage:
    """``uint8 [H, W, 3]`` RGB -> a QImage owning its pixels."""
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def swatch(color: Color, edge: int = 14) -> QIcon:
    pm = QPixmap(edge, edge)
    pm.fill(QColor(*color))
    return QIcon(pm)


def is_unedited(state: EditState, G) -> bool:
    """Whether ``state``'s image is the plain sample of its seed (a mask item may name it by seed)."""
    return (state.latents is None and not state.active() and state.mix_seed is None and state.class_mix is None
            and G.classes is None and state.size in (None, G.resolution))


class PaintView(QWidget):
    """A class mask painted over an image, both at the model's resolution ``S``.

    Tools: ``"brush"`` (class ``current``), ``"eraser"`` (back to 255 = not painted) and
    ``"fill"`` (flood fill of the clicked region of the mask).  Each stroke is one undo step.
    """

    maskChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 320)
        self.setMouseTracking(False)
        self.size_ = 64
        self.base = np.full((64, 64, 3), BLANK, dtype=np.uint8)
        self.mask = np.full((64, 64), IGNORE, dtype=np.uint8)
        self.colors: list[Color] = default_colors(2)
        self.current = 1
        self.brush = 4
        self.tool = "brush"
        self.alpha = 0.6
        self.undo_stack: list[np.ndarray] = []
        self._last: tuple[int, int] | None = None

    # ------------------------------------------------------------------ content
    def set_image(self, base: np.ndarray | None, size: int, mask: np.ndarray | None = None) -> None:
        """Show ``base`` (resized to ``size``; None = blank) with ``mask`` (None = nothing painted)."""
        self.size_ = int(size)
        if base is None:
            self.base = np.full((size, size, 3), BLANK, dtype=np.uint8)
        else:
            self.base = base if base.shape[:2] == (size, size) else cv2.resize(base, (size, size), interpolation=cv2.INTER_AREA)
        self.set_mask(mask, undoable=False)

    def set_mask(self, mask: np.ndarray | None, undoable: bool = True) -> None:
        if undoable:
            self.push_undo()
        else:
            self.undo_stack.clear()
        self.mask = (np.full((self.size_, self.size_), IGNORE, dtype=np.uint8) if mask is None
                     else np.ascontiguousarray(mask, dtype=np.uint8).copy())
        self.update()
        self.maskChanged.emit()

    def push_undo(self) -> None:
        self.undo_stack.append(self.mask.copy())
        del self.undo_stack[:-50]

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.mask = self.undo_stack.pop()
        self.update()
        self.maskChanged.emit()
        return True

    def painted(self) -> bool:
        return bool((self.mask != IGNORE).any())

    # ------------------------------------------------------------------ tools (model pixels)
    def _value(self) -> int:
        return IGNORE if self.tool == "eraser" else int(self.current)

    def dab(self, x: int, y: int, to: tuple[int, int] | None = None) -> None:
        """Paint (or erase) a disc at model pixel (x, y), or a thick line from ``to``."""
        r = max(0, int(self.brush) - 1)
        v = self._value()
        if to is not None:
            cv2.line(self.mask, to, (x, y), v, thickness=2 * r + 1)
        cv2.circle(self.mask, (x, y), r, v, thickness=-1)

    def fill(self, x: int, y: int) -> None:
        """Flood fill the 4-connected region of equal mask values around (x, y)."""
        if not (0 <= x < self.size_ and 0 <= y < self.size_):
            return
        ff = np.zeros((self.size_ + 2, self.size_ + 2), dtype=np.uint8)
        cv2.floodFill(self.mask, ff, (x, y), int(self.current), 0, 0, 4)

    def stroke(self, points: list[tuple[int, int]]) -> None:
        """One undo step: the current tool along ``points`` (model pixels)."""
        if not points:
            return
        self.push_undo()
        if self.tool == "fill":
            self.fill(*points[0])
        else:
            prev = None
            for p in points:
                self.dab(p[0], p[1], prev)
                prev = p
        self.update()
        self.maskChanged.emit()

    # ------------------------------------------------------------------ widget
    def image_rect(self):
        return fit_rect(self.width(), self.height(), self.size_, self.size_, margin=4)

    def to_model(self, pos: QPoint) -> tuple[int, int]:
        """Widget position -> model pixel (clamped)."""
        r = self.image_rect()
        x = int((pos.x() - r.x()) * self.size_ / max(1, r.width()))
        y = int((pos.y() - r.y()) * self.size_ / max(1, r.height()))
        return min(max(x, 0), self.size_ - 1), min(max(y, 0), self.size_ - 1)

    def composed(self) -> np.ndarray:
        """The base with the painted classes blended over it (background included)."""
        return overlay(self.base, self.mask, self.colors, alpha=self.alpha, skip_background=False)

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 25, 28))
        p.drawImage(self.image_rect(), to_qimage(self.composed()))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x, y = self.to_model(event.position().toPoint())
        self.push_undo()
        if self.tool == "fill":
            self.fill(x, y)
            self._last = None
        else:
            self.dab(x, y)
            self._last = (x, y)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is None:
            return
        x, y = self.to_model(event.position().toPoint())
        self.dab(x, y, self._last)
        self._last = (x, y)
        self.update()

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802
        self._last = None
        self.maskChanged.emit()


class _Bridge(QObject):
    """Carries preview frames from a job's thread to the GUI thread (queued)."""

    preview = pyqtSignal(object, int)


class SemanticsDialog(QDialog):
    """The Semantics panel; see the module docstring."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Semantics")
        self.setModal(False)
        self.resize(980, 620)
        self.classes: list[str] = ["background", "object"]
        self.colors: list[Color] = default_colors(2)
        self.source = "blank"  # what the paint view shows: "blank", "image" (the window's) or "result" (SCS/SIE)
        self.source_state: EditState | None = None  # the state of the image in the paint view (a result's: how to render it)
        self.source_labels: np.ndarray | None = None  # the extractor's class map of that image
        self.source_latents: torch.Tensor | None = None  # a result's latents [1, L, D] (cpu)
        self.train_job = self.sample_job = self.edit_job = self.add_job = None
        self.sample_result = None  # (latents [N, L, D] cpu, frames [N, H, W, 3], labels [N, S, S], render state)
        self.edit_result = None  # the same for the one edited image
        self.result_fingerprint: dict[str, str] = {}  # "sample"/"edit" -> weights the result was made with
        self.added = 0
        self._bridge = _Bridge()
        self._bridge.preview.connect(self._edit_preview)

        root = QHBoxLayout(self)
        left = QVBoxLayout()
        self.view = PaintView()
        self.view.colors = self.colors
        left.addWidget(self.view, 1)
        src = QHBoxLayout()
        self.current_button = QPushButton("Current image")
        self.current_button.setToolTip("Paint on the image in the window (clears the mask)")
        self.current_button.clicked.connect(self.use_current_image)
        self.blank_button = QPushButton("Blank canvas")
        self.blank_button.setToolTip("Paint a layout on a blank canvas (for Sample)")
        self.blank_button.clicked.connect(self.use_blank)
        self.predict_button = QPushButton("Start from prediction")
        self.predict_button.setToolTip("Fill the mask with the overlay's segmentation of the current image")
        self.predict_button.clicked.connect(self.start_from_prediction)
        for b in (self.current_button, self.blank_button, self.predict_button):
            src.addWidget(b)
        left.addLayout(src)
        self.source_label = QLabel("Blank canvas")
        left.addWidget(self.source_label)
        root.addLayout(left, 3)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_overlay_tab(), "Overlay")
        self.tabs.addTab(self._build_paint_tab(), "Paint")
        self.tabs.addTab(self._build_train_tab(), "Train")
        self.tabs.addTab(self._build_sample_tab(), "Sample")
        self.tabs.addTab(self._build_edit_tab(), "Edit")
        root.addWidget(self.tabs, 2)
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)  # Enter must not press "Current image" and wipe the mask
        self.extractor_changed()
        self.use_blank()

    # ================================================================== building
    def _build_overlay_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.extractor_label = QLabel()
        self.extractor_label.setWordWrap(True)
        lay.addWidget(self.extractor_label)
        row = QHBoxLayout()
        load = QPushButton("Load extractor…")
        load.clicked.connect(self.window_.semantics.load_extractor_dialog)
        self.save_button = QPushButton("Save extractor…")
        self.save_button.clicked.connect(self.window_.semantics.save_extractor_dialog)
        row.addWidget(load)
        row.addWidget(self.save_button)
        lay.addLayout(row)
        self.overlay_check = QCheckBox("Show segmentation overlay")
        self.overlay_check.toggled.connect(lambda on: self.window_.semantics.set_overlay(on))
        lay.addWidget(self.overlay_check)
        op = QHBoxLayout()
        op.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.valueChanged.connect(lambda v: self.window_.semantics.set_overlay(alpha=v / 100))
        op.addWidget(self.opacity, 1)
        lay.addLayout(op)
        lay.addWidget(QLabel("Legend"))
        self.legend = QListWidget()
        lay.addWidget(self.legend, 1)
        return w

    def _build_paint_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(QLabel("Classes (double-click to rename)"))
        self.palette = QListWidget()
        self.palette.currentRowChanged.connect(self._class_selected)
        self.palette.itemDoubleClicked.connect(lambda _it: self.rename_class_dialog())
        lay.addWidget(self.palette, 1)
        row = QHBoxLayout()
        add = QPushButton("Add class")
        add.clicked.connect(lambda: self.add_class())
        rename = QPushButton("Rename…")
        rename.clicked.connect(self.rename_class_dialog)
        colour = QPushButton("Colour…")
        colour.clicked.connect(self.recolor_class_dialog)
        for b in (add, rename, colour):
            row.addWidget(b)
        lay.addLayout(row)
        self._fill_palette()  # the classes are listed from the start, not only after "Add class"
        self.palette.setCurrentRow(self.view.current)
        tools = QHBoxLayout()
        self.tool_group = QButtonGroup(self)
        for name in ("brush", "eraser", "fill"):
            rb = QRadioButton(name.capitalize())
            rb.setChecked(name == "brush")
            rb.toggled.connect(lambda on, n=name: on and self.set_tool(n))
            self.tool_group.addButton(rb)
            tools.addWidget(rb)
        lay.addLayout(tools)
        form = QFormLayout()
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(1, 64)
        self.brush_spin.setValue(self.view.brush)
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setToolTip("Brush radius in model pixels")
        self.brush_spin.valueChanged.connect(lambda v: setattr(self.view, "brush", int(v)))
        form.addRow("Brush", self.brush_spin)
        lay.addLayout(form)
        row = QHBoxLayout()
        undo = QPushButton("Undo stroke")
        undo.setShortcut("Ctrl+Z")
        undo.clicked.connect(self.view.undo)
        clear = QPushButton("Clear mask")
        clear.clicked.connect(lambda: self.view.set_mask(None))
        row.addWidget(undo)
        row.addWidget(clear)
        lay.addLayout(row)
        lay.addWidget(QLabel("Training set (mask folder)"))
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder for labels.json and mask PNGs")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_folder)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.add_button = QPushButton("Add to training set")
        self.add_button.clicked.connect(lambda: self.add_to_training_set())
        lay.addWidget(self.add_button)
        self.paint_status = QLabel("")
        self.paint_status.setWordWrap(True)
        lay.addWidget(self.paint_status)
        return w

    def _build_train_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        form = QFormLayout()
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(["lse", "nse1"])
        form.addRow("Kind", self.kind_combo)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(TrainConfig().epochs)
        form.addRow("Epochs", self.epochs_spin)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 512)
        self.steps_spin.setValue(TrainConfig().steps_per_epoch)
        form.addRow("Steps per epoch", self.steps_spin)
        self.train_out = QLineEdit()
        self.train_out.setPlaceholderText("optional: save the extractor here (.pt)")
        form.addRow("Save to", self.train_out)
        lay.addLayout(form)
        lay.addWidget(QLabel("Trains on the mask folder chosen in the Paint tab."))
        row = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(lambda: self.train())
        self.train_cancel = QPushButton("Cancel")
        self.train_cancel.setEnabled(False)
        self.train_cancel.clicked.connect(lambda: self.train_job and self.train_job.cancel())
        row.addWidget(self.train_button)
        row.addWidget(self.train_cancel)
        lay.addLayout(row)
        self.train_status = QLabel("")
        self.train_status.setWordWrap(True)
        lay.addWidget(self.train_status)
        lay.addStretch(1)
        return w

    def _build_sample_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(QLabel("Paint a layout (e.g. on a blank canvas); unpainted pixels are free."))
        form = QFormLayout()
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 64)
        self.count_spin.setValue(4)
        form.addRow("Images", self.count_spin)
        self.init_spin = QSpinBox()
        self.init_spin.setRange(1, 1000)
        self.init_spin.setValue(SCSConfig().n_init)
        form.addRow("Initial draws", self.init_spin)
        self.scs_iter_spin = QSpinBox()
        self.scs_iter_spin.setRange(1, 2000)
        self.scs_iter_spin.setValue(SCSConfig().n_iter)
        form.addRow("Iterations", self.scs_iter_spin)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.sample_button = QPushButton("Sample to layout")
        self.sample_button.clicked.connect(lambda: self.sample())
        self.sample_cancel = QPushButton("Cancel")
        self.sample_cancel.setEnabled(False)
        self.sample_cancel.clicked.connect(lambda: self.sample_job and self.sample_job.cancel())
        row.addWidget(self.sample_button)
        row.addWidget(self.sample_cancel)
        lay.addLayout(row)
        self.sample_status = QLabel("")
        self.sample_status.setWordWrap(True)
        lay.addWidget(self.sample_status)
        self.sample_view = QListWidget()
        self.sample_view.setViewMode(QListWidget.ViewMode.IconMode)
        self.sample_view.setIconSize(QSize(THUMB, THUMB))
        self.sample_view.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.sample_view.setMovement(QListWidget.Movement.Static)
        self.sample_view.setMinimumHeight(200)
        self.sample_view.setToolTip("Click a sample to paint on it, add it to the training set or edit it;\n"
                                    "double-click it to make it the current image")
        self.sample_view.itemClicked.connect(lambda it: self.use_result("sample", self.sample_view.row(it)))
        self.sample_view.itemDoubleClicked.connect(lambda it: self.use_as_current("sample", self.sample_view.row(it)))
        self.sample_view.currentRowChanged.connect(lambda row: self.sample_current.setEnabled(row >= 0))
        lay.addWidget(self.sample_view, 1)
        row = QHBoxLayout()
        self.sample_current = QPushButton("Use as current image")
        self.sample_current.setToolTip("Make the selected sample the window's image (undo with Ctrl+Z)")
        self.sample_current.setEnabled(False)
        self.sample_current.clicked.connect(lambda: self.use_as_current("sample", self.sample_view.currentRow()))
        self.sample_save = QPushButton("Save results…")
        self.sample_save.setEnabled(False)
        self.sample_save.clicked.connect(lambda: self._save_dialog("sample"))
        row.addWidget(self.sample_current)
        row.addWidget(self.sample_save)
        lay.addLayout(row)
        return w

    def _build_edit_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(QLabel("Current image → Start from prediction → repaint a region → Edit."))
        form = QFormLayout()
        self.sie_iter_spin = QSpinBox()
        self.sie_iter_spin.setRange(1, 2000)
        self.sie_iter_spin.setValue(SIEConfig().n_iter)
        form.addRow("Iterations", self.sie_iter_spin)
        self.region_spin = QSpinBox()
        self.region_spin.setRange(1, 100)
        self.region_spin.setValue(1)
        self.region_spin.setToolTip("Weight of the repainted pixels (1 = the paper's behaviour)")
        form.addRow("Region weight", self.region_spin)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.edit_button = QPushButton("Edit by painting")
        self.edit_button.clicked.connect(lambda: self.edit())
        self.edit_cancel = QPushButton("Cancel")
        self.edit_cancel.setEnabled(False)
        self.edit_cancel.clicked.connect(lambda: self.edit_job and self.edit_job.cancel())
        row.addWidget(self.edit_button)
        row.addWidget(self.edit_cancel)
        lay.addLayout(row)
        self.edit_status = QLabel("")
        self.edit_status.setWordWrap(True)
        lay.addWidget(self.edit_status)
        self.edit_view = QLabel()
        self.edit_view.setMinimumHeight(200)
        self.edit_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.edit_view, 1)
        row = QHBoxLayout()
        self.edit_use = QPushButton("Paint on the result")
        self.edit_use.setToolTip("Load the edited image (and its segmentation) to repaint it again or add it to the training set")
        self.edit_use.setEnabled(False)
        self.edit_use.clicked.connect(lambda: self.use_result("edit", 0))
        self.edit_current = QPushButton("Use as current image")
        self.edit_current.setToolTip("Make the edited image the window's image (undo with Ctrl+Z)")
        self.edit_current.setEnabled(False)
        self.edit_current.clicked.connect(lambda: self.use_as_current("edit", 0))
        self.edit_save = QPushButton("Export result…")
        self.edit_save.setEnabled(False)
        self.edit_save.clicked.connect(lambda: self._save_dialog("edit"))
        row.addWidget(self.edit_use)
        row.addWidget(self.edit_current)
        row.addWidget(self.edit_save)
        lay.addLayout(row)
        return w

    # ================================================================== window events
    def extractor_changed(self) -> None:
        """The window's extractor changed: legend, palette (its classes) and buttons follow."""
        ext = self.window_.semantics.extractor
        self.legend.clear()
        if ext is None:
            self.extractor_label.setText("No extractor. Load one, or paint masks and train one.")
        else:
            info = ext.info or {}
            self.extractor_label.setText(
                f"{ext.kind.upper()} · {ext.n_class} classes · {len(ext.layers)} layers"
                + (f" · trained on {info['shots']} masks" if isinstance(info.get("shots"), int) else ""))
            for name, color in zip(ext.classes, ext.colors):
                self.legend.addItem(QListWidgetItem(swatch(color), name))
            self.set_classes(list(ext.classes), [tuple(c) for c in ext.colors])
        self.save_button.setEnabled(ext is not None)
        for b in (self.predict_button, self.sample_button, self.edit_button):
            b.setEnabled(ext is not None)
        self.sync_overlay()

    def sync_overlay(self) -> None:
        w = self.window_
        for widget, value in ((self.overlay_check, w.semantics.overlay_on), (self.opacity, int(round(w.semantics.overlay_alpha * 100)))):
            widget.blockSignals(True)
            widget.setChecked(value) if isinstance(widget, QCheckBox) else widget.setValue(value)
            widget.blockSignals(False)
        self.overlay_check.setEnabled(w.semantics.extractor is not None)

    def frame_changed(self) -> None:
        """A new frame is on the canvas (nothing to do: the paint view keeps its snapshot)."""

    # ================================================================== palette
    def set_classes(self, classes: list[str], colors: list[Color] | None = None) -> None:
        """Replace the palette; a painted mask keeps only the classes that still exist."""
        self.classes = list(classes)
        self.colors = list(colors) if colors is not None else default_colors(len(classes))
        self.view.colors = self.colors
        m = self.view.mask
        m[(m != IGNORE) & (m >= len(self.classes))] = IGNORE
        self._fill_palette()
        self.view.current = min(max(1, self.view.current), len(self.classes) - 1)
        self.palette.setCurrentRow(self.view.current)
        self.view.update()

    def _fill_palette(self) -> None:
        row = self.palette.currentRow()
        self.palette.blockSignals(True)
        self.palette.clear()
        for i, (name, color) in enumerate(zip(self.classes, self.colors)):
            self.palette.addItem(QListWidgetItem(swatch(color), f"{i}  {name}"))
        self.palette.blockSignals(False)
        if 0 <= row < len(self.classes):
            self.palette.setCurrentRow(row)

    def _class_selected(self, row: int) -> None:
        if row >= 0:
            self.view.current = row

    def add_class(self, name: str | None = None) -> int:
        """Append a class (its colour from the default palette); returns its index."""
        name = name or f"class {len(self.classes)}"
        if name in self.classes:
            raise SemanticsError(f"there is already a class {name!r}")
        self.classes.append(name)
        self.colors.append(default_colors(len(self.classes))[-1])
        self._fill_palette()
        self.palette.setCurrentRow(len(self.classes) - 1)
        return len(self.classes) - 1

    def rename_class(self, index: int, name: str) -> None:
        name = name.strip()
        if not name or name in self.classes[:index] + self.classes[index + 1:]:
            raise SemanticsError("class names must be non-empty and different")
        self.classes[index] = name
        self._fill_palette()

    def rename_class_dialog(self) -> None:
        i = self.palette.currentRow()
        if i < 0:
            return
        name, ok = QInputDialog.getText(self, "Rename class", "Name", text=self.classes[i])
        if ok:
            try:
                self.rename_class(i, name)
            except SemanticsError as exc:
                self.paint_status.setText(str(exc))

    def recolor_class_dialog(self) -> None:
        i = self.palette.currentRow()
        if i < 0:
            return
        c = QColorDialog.getColor(QColor(*self.colors[i]), self, "Class colour")
        if c.isValid():
            self.colors[i] = (c.red(), c.green(), c.blue())
            self._fill_palette()
            self.view.update()

    def set_tool(self, tool: str) -> None:
        self.view.tool = tool

    # ================================================================== paint sources
    def _size(self) -> int:
        G = self.window_.generator
        return int(G.resolution) if G is not None else self.view.size_

    def use_current_image(self) -> bool:
        """Paint on the window's current frame (the mask is cleared)."""
        w = self.window_
        if w.frame is None or w.grid_mode:
            self.paint_status.setText("There is no single current image (leave grid mode).")
            return False
        self.source, self.source_state = "image", w.state
        self.source_labels = w.semantics.labels.copy() if w.semantics.labels is not None and w.shown_stamp >= w.last_stamp else None
        self.view.set_image(w.frame, self._size())
        self.source_label.setText(f"Current image: {w.state.describe_base()}" + ("" if is_unedited(w.state, w.generator) else " (edited)"))
        return True

    def use_result(self, which: str, index: int) -> bool:
        """Paint on sample ``index`` of the SCS results (``"sample"``) or on the SIE result (``"edit"``).

        Here it can be painted, added to the training set (by its latents) and edited;
        `use_as_current` makes it the window's image instead.
        """
        result = self.sample_result if which == "sample" else self.edit_result
        if result is None or not 0 <= index < len(result[0]):
            return False
        lat, frames, labels, state = result
        self.source, self.source_state = "result", state
        self.source_latents, self.source_labels = lat[index:index + 1].clone(), labels[index].copy()
        self.view.set_image(frames[index], self._size())
        self.source_label.setText(f"{'Sample' if which == 'sample' else 'Edit result'} {index + 1} (explicit latents)")
        return True

    def use_as_current(self, which: str, index: int) -> bool:
        """Make sample ``index`` (``"sample"``) or the SIE result (``"edit"``) the window's current image.

        Its latents ``[L, D]`` (editing space, already truncated) become the state's explicit
        base, with the truncation, class and noise mode it was rendered with; the sliders
        go to 0 (an SIE result already contains the edits it started from).  One undo step
        through the window's commit; the render worker draws it (no generator call here).
        Grid mode is left, since a grid shows seeds.
        """
        w = self.window_
        result = self.sample_result if which == "sample" else self.edit_result
        status = self.sample_status if which == "sample" else self.edit_status
        if result is None or w.generator is None or not 0 <= index < len(result[0]):
            return False
        G = w.generator
        lat, _frames, _labels, state = result
        if self.result_fingerprint.get(which) != G.fingerprint or tuple(lat.shape[1:]) != (G.num_layers, G.latent_dim):
            status.setText("This result was made with another model; it cannot become the current image.")
            return False
        if w.grid_mode:
            w.set_grid(False)
        w.use_latents(lat[index], truncation=state.truncation, class_index=state.class_index,
                      class_mix=state.class_mix, noise_mode=state.noise_mode)
        what = f"Sample {index + 1}" if which == "sample" else "The edited image"
        w.statusBar().showMessage(f"{what} is the current image (Ctrl+Z goes back)", 8000)
        return True

    def use_blank(self) -> None:
        self.source, self.source_state, self.source_labels, self.source_latents = "blank", None, None, None
        self.view.set_image(None, self._size())
        self.source_label.setText("Blank canvas")

    def start_from_prediction(self) -> bool:
        """Fill the mask with the overlay's class map of the current image (one undo step)."""
        w = self.window_
        if w.semantics.extractor is None:
            self.paint_status.setText("Load or train an extractor first.")
            return False
        if self.source == "result":
            self.view.set_mask(self.source_labels)
            return True
        if self.source != "image" or self.source_state is not w.state:
            if not self.use_current_image():
                return False
        if self.source_labels is None and w.semantics.labels is not None and w.shown_stamp >= w.last_stamp:
            self.source_labels = w.semantics.labels.copy()  # the overlay was off (or loaded) when the image was taken
        if self.source_labels is None:
            self.paint_status.setText("The segmentation of this image is not ready yet; try again in a moment.")
            return False
        self.view.set_mask(self.source_labels)
        return True

    # ================================================================== add to training set
    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Mask folder", self.folder_edit.text() or self.window_.settings.last_folder())
        if path:
            self.folder_edit.setText(path)

    def add_to_training_set(self, folder: str | Path | None = None):
        """Append the painted mask of the current image to the mask folder, in a job."""
        w = self.window_
        G = w.generator
        folder = Path(folder or self.folder_edit.text().strip() or "")
        if not str(folder) or str(folder) == ".":
            self.paint_status.setText("Choose a mask folder first.")
            return None
        if self.source not in ("image", "result") or self.source_state is None or G is None:
            self.paint_status.setText("Paint on the current image first (“Current image”).")
            return None
        if not self.view.painted():
            self.paint_status.setText("Nothing is painted yet.")
            return None
        state, mask = self.source_state, self.view.mask.copy()
        classes, colors = list(self.classes), list(self.colors)
        unedited = self.source == "image" and is_unedited(state, G)
        given = self.source_latents[0].clone() if self.source == "result" else None

        def work(progress, cancel):
            if given is not None:
                return append_mask(folder, mask, classes, latents=given, colors=colors)
            by_seed = unedited
            if by_seed and (folder / "labels.json").is_file():
                psi = read_mask_folder(folder).truncation
                by_seed = (psi if psi is not None else G.default_truncation) == state.truncation
            elif by_seed:
                by_seed = state.truncation == G.default_truncation
            if by_seed:
                return append_mask(folder, mask, classes, seed=state.seed, colors=colors)
            with torch.no_grad():
                lat = state_latents(G, state)[0]
            return append_mask(folder, mask, classes, latents=lat, colors=colors)

        def done(item) -> None:
            self.added += 1
            how = f"seed {item.seed}" if item.seed is not None else "latents"
            self.paint_status.setText(f"Added {item.mask_file} ({how}) to {folder}")

        self.add_job = w.runner.start(f"Adding a mask to {folder.name}", work, done,
                                      lambda msg: self.paint_status.setText(f"Could not add the mask: {msg}"))
        return self.add_job

    # ================================================================== train
    def train(self, folder: str | Path | None = None, kind: str | None = None, epochs: int | None = None,
              steps: int | None = None, save_to: str | Path | None = None):
        """Train an extractor on the mask folder in a job; it becomes the overlay's extractor."""
        w = self.window_
        G = w.generator
        folder = Path(folder or self.folder_edit.text().strip() or "")
        if G is None or not str(folder) or str(folder) == ".":
            self.train_status.setText("Choose a mask folder (Paint tab) first.")
            return None
        cfg = TrainConfig(kind=kind or self.kind_combo.currentText(), epochs=int(epochs or self.epochs_spin.value()),
                          steps_per_epoch=int(steps or self.steps_spin.value()))
        out = save_to if save_to is not None else (self.train_out.text().strip() or None)
        out = Path(out) if out else None

        def work(progress, cancel):
            mf = read_mask_folder(folder, G)
            if not mf.items:
                raise SemanticsError(f"{folder} holds no masks yet")
            ext = train_extractor(G, mf.latents(G), mf.masks(), mf.classes, mf.resolved_colors(), cfg, progress, cancel)
            if cancel():
                from methods.jobs import Cancelled
                raise Cancelled()
            if out is not None:
                ext.save(out)
            return ext

        def done(ext) -> None:
            self._train_ended()
            self.train_status.setText(f"Trained {cfg.kind.upper()} on {folder.name}" + (f"; saved {out}" if out else ""))
            w.semantics.set_extractor(ext)

        def failed(msg: str) -> None:
            self._train_ended()
            self.train_status.setText(f"Training failed: {msg}")

        def cancelled() -> None:
            self._train_ended()
            self.train_status.setText("Training cancelled; nothing was saved")

        self.train_button.setEnabled(False)
        self.train_cancel.setEnabled(True)
        self.train_status.setText("Training…")
        self.train_job = w.runner.start(f"Training {cfg.kind.upper()}", work, done, failed, cancelled)
        self.train_job.progressed.connect(lambda f, m: self.train_status.setText(f"Training… {int(f * 100)}% {m}"))
        return self.train_job

    def _train_ended(self) -> None:
        self.train_job = None
        self.train_button.setEnabled(True)
        self.train_cancel.setEnabled(False)

    # ================================================================== sample (SCS)
    def sample(self, config: SCSConfig | None = None):
        """SCS in a job: ``count`` images following the painted layout, shown as a grid."""
        w = self.window_
        G, ext = w.generator, w.semantics.extractor
        if G is None or ext is None:
            self.sample_status.setText("Load or train an extractor first.")
            return None
        if not self.view.painted():
            self.sample_status.setText("Paint a layout first.")
            return None
        cfg = config or SCSConfig(count=self.count_spin.value(), n_init=self.init_spin.value(),
                                  n_iter=self.scs_iter_spin.value(), truncation=float(w.state.truncation),
                                  seed=int(w.state.seed))
        target = torch.from_numpy(self.view.mask.astype(np.int64))
        state = replace(EditState(model=G.name), truncation=cfg.truncation, noise_mode=w.state.noise_mode)

        def work(progress, cancel):
            res = semantic_sample(G, ext, target, cfg, progress, cancel)
            lat = res.latents.detach()
            frames = synthesize_latents(G, state, lat)
            labels = ext.predict(G, lat).to(torch.uint8).cpu().numpy()
            return lat.cpu(), frames, labels, res.agreement_before, res.agreement_after

        def done(out) -> None:
            self._sample_ended()
            lat, frames, labels, before, after = out
            self.sample_result = (lat, frames, labels, state)
            self.result_fingerprint["sample"] = G.fingerprint
            self.sample_current.setEnabled(False)
            self.sample_view.clear()
            for i, f in enumerate(frames):
                item = QListWidgetItem(QIcon(self._pixmap(f, THUMB)), f"{i + 1}")
                item.setToolTip(f"agreement with the layout {before[i]:.0%} → {after[i]:.0%}")
                self.sample_view.addItem(item)
            self.sample_save.setEnabled(True)
            self.sample_status.setText(
                f"{len(frames)} samples; agreement with the layout {np.mean(before):.0%} → {np.mean(after):.0%}")

        def ended(msg: str) -> None:
            self._sample_ended()
            self.sample_status.setText(msg)

        self.sample_button.setEnabled(False)
        self.sample_cancel.setEnabled(True)
        self.sample_status.setText("Sampling…")
        self.sample_job = w.runner.start("Sampling to a layout", work, done,
                                         lambda m: ended(f"Sampling failed: {m}"), lambda: ended("Sampling cancelled"))
        self.sample_job.progressed.connect(lambda f, m: self.sample_status.setText(f"Sampling… {int(f * 100)}%"))
        return self.sample_job

    def _sample_ended(self) -> None:
        self.sample_job = None
        self.sample_button.setEnabled(self.window_.semantics.extractor is not None)
        self.sample_cancel.setEnabled(False)

    # ================================================================== edit (SIE)
    def edit(self, config: SIEConfig | None = None):
        """SIE in a job: edit the painted image toward the mask; previews while it runs."""
        w = self.window_
        G, ext = w.generator, w.semantics.extractor
        if G is None or ext is None:
            self.edit_status.setText("Load or train an extractor first.")
            return None
        if self.source not in ("image", "result") or self.source_state is None:
            self.edit_status.setText("Paint on the current image first (“Start from prediction”, then repaint).")
            return None
        if not self.view.painted():
            self.edit_status.setText("Nothing is painted yet.")
            return None
        cfg = config or SIEConfig(n_iter=self.sie_iter_spin.value(), region_weight=float(self.region_spin.value()))
        state, target = self.source_state, torch.from_numpy(self.view.mask.astype(np.int64))
        before_frame = self.view.base.copy()
        given = self.source_latents.clone() if self.source == "result" else None
        bridge = self._bridge

        def preview(lat: torch.Tensor, it: int) -> None:
            bridge.preview.emit(synthesize_latents(G, state, lat.detach())[0], it)

        def work(progress, cancel):
            if given is not None:
                lat0 = given.to(G.device)
            else:
                with torch.no_grad():
                    lat0 = state_latents(G, state)
            cls = _classes(G, state, 1)
            res = semantic_edit(G, ext, lat0, target, None, cfg, progress, cancel, preview, classes=cls)
            lat = res.latents.detach()
            frames = synthesize_latents(G, state, lat)
            labels = ext.predict(G, lat, classes=cls).to(torch.uint8).cpu().numpy()
            return lat.cpu(), frames, labels, res.agreement_before, res.agreement_after

        def done(out) -> None:
            self._edit_ended()
            lat, frames, labels, before, after = out
            self.edit_result = (lat, frames, labels, state)
            self.result_fingerprint["edit"] = G.fingerprint
            self.edit_current.setEnabled(True)
            self._show_edit(before_frame, frames[0])
            self.edit_save.setEnabled(True)
            self.edit_use.setEnabled(True)
            self.edit_status.setText(f"Edited; agreement with the mask {before[0]:.0%} → {after[0]:.0%}")

        def ended(msg: str) -> None:
            self._edit_ended()
            self.edit_status.setText(msg)

        self._edit_before = before_frame
        self.edit_button.setEnabled(False)
        self.edit_cancel.setEnabled(True)
        self.edit_status.setText("Editing…")
        self.edit_job = w.runner.start("Editing by painting", work, done,
                                       lambda m: ended(f"Editing failed: {m}"), lambda: ended("Editing cancelled"))
        self.edit_job.progressed.connect(lambda f, m: self.edit_status.setText(f"Editing… {int(f * 100)}%"))
        return self.edit_job

    def _edit_preview(self, frame: np.ndarray, iteration: int) -> None:
        if self.edit_job is not None:
            self._show_edit(self._edit_before, frame)
            self.edit_status.setText(f"Editing… iteration {iteration}")

    def _show_edit(self, before: np.ndarray, after: np.ndarray) -> None:
        s = before.shape[0]
        after = after if after.shape[:2] == (s, s) else cv2.resize(after, (s, s), interpolation=cv2.INTER_AREA)
        self.edit_view.setPixmap(self._pixmap(tile(np.stack([before, after]), 2, pad=2), 360))

    def _edit_ended(self) -> None:
        self.edit_job = None
        self.edit_button.setEnabled(self.window_.semantics.extractor is not None)
        self.edit_cancel.setEnabled(False)

    # ================================================================== results
    @staticmethod
    def _pixmap(image: np.ndarray, width: int) -> QPixmap:
        """``uint8 [H, W, 3]`` -> a pixmap ``width`` pixels wide."""
        return QPixmap.fromImage(to_qimage(image)).scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)

    def save_results(self, which: str, folder: str | Path) -> list[Path]:
        """Write ``result_NNN.png`` and ``result_NNN_latents.npy`` ([L, D]) for the sample or edit results."""
        from editing.export import write_png

        result = self.sample_result if which == "sample" else self.edit_result
        if result is None:
            return []
        lat, frames = result[0], result[1]
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for i, (l, f) in enumerate(zip(lat.numpy(), frames)):
            png = folder / f"{which}_{i:03d}.png"
            write_png(png, f)
            np.save(folder / f"{which}_{i:03d}_latents.npy", l.astype(np.float32))
            written.append(png)
        return written

    def _save_dialog(self, which: str) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save results to folder", self.window_.settings.last_folder())
        if path:
            try:
                n = len(self.save_results(which, path))
            except OSError as exc:
                self.window_.show_error("Could not save the results", str(exc), dialog=True)
                return
            self.window_.statusBar().showMessage(f"Wrote {n} images and latents to {path}", 8000)

    def closeEvent(self, event) -> None:  # noqa: N802
        for job in (self.train_job, self.sample_job, self.edit_job):
            if job is not None:
                job.cancel()
        super().closeEvent(event)
