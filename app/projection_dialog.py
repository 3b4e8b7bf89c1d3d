"""Model ▸ Project image… (or an image dropped on the canvas): the user's own image becomes the current image.

The projection (`methods.projection.project`) runs as a job; every few steps the job sends
the reconstruction it just made (from its own forward pass, so the GUI thread never runs
the generator) with its PSNR, and the dialog shows it beside the target.  At the end the
latents become the edit state's explicit base (one undo step) and every control edits
them; "Keep optimising" continues from the result.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import (QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                             QVBoxLayout)

from editing.projection import projected_state
from methods.jobs import MethodError
from methods.projection import ProjectionConfig, is_style_family, prepare_target, project, read_image

from .jobs import Job

if TYPE_CHECKING:
    from .window import MainWindow

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
VIEW = 224  # edge of the target / reconstruction views in pixels
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"


def pixmap(frame: np.ndarray, size: int = VIEW) -> QPixmap:
    """``uint8 [H, W, 3]`` -> a pixmap scaled to ``size`` (nearest: the pixels as they are)."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    img = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(img).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.FastTransformation)


class _Previews(QObject):
    """Carries the job thread's previews to the GUI thread (a queued signal)."""

    preview = pyqtSignal(int, object, float)


class ProjectionDialog(QDialog):
    """Target | reconstruction with its PSNR, steps and space, Project / Keep optimising / Cancel."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.w = window
        self.setWindowTitle("Project an image")
        self.setModal(False)
        self.path: Path | None = None
        self.image: np.ndarray | None = None  # the image as read, RGB uint8
        self.result = None  # the last ProjectionResult
        self.result_fingerprint = ""
        self.job: Job | None = None
        self.previews = _Previews(self)
        self.previews.preview.connect(self._show_preview)

        lay = QVBoxLayout(self)
        views = QHBoxLayout()
        self.target_view, self.recon_view = QLabel("no image"), QLabel("reconstruction")
        for view, title in ((self.target_view, "Target"), (self.recon_view, "Reconstruction")):
            view.setFixedSize(VIEW, VIEW)
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            view.setFrameShape(QLabel.Shape.StyledPanel)
            col = QVBoxLayout()
            col.addWidget(QLabel(title))
            col.addWidget(view)
            views.addLayout(col)
        lay.addLayout(views)
        self.psnr_label = QLabel("")
        lay.addWidget(self.psnr_label)
        form = QFormLayout()
        self.space_combo = QComboBox()
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(300)
        self.steps_spin.setToolTip("optimiser steps (Adam with the StyleGAN2 projector's learning-rate ramp)")
        form.addRow("Space", self.space_combo)
        form.addRow("Steps", self.steps_spin)
        lay.addLayout(form)
        buttons = QHBoxLayout()
        self.choose_button = QPushButton("Choose image…")
        self.project_button = QPushButton("Project")
        self.more_button = QPushButton("Keep optimising")
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        for b in (self.choose_button, self.project_button, self.more_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.choose_button.clicked.connect(self.choose_image)
        self.project_button.clicked.connect(lambda: self.start())
        self.more_button.clicked.connect(lambda: self.start(keep=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.model_changed()

    # ------------------------------------------------------------------ inputs
    def model_changed(self) -> None:
        """Offer the spaces of the open model's family; a result made for another model is dropped."""
        G = self.w.generator
        self._model_fp = G.fingerprint if G is not None else ""
        spaces = ["auto", "w+", "w", "z"] if G is not None and is_style_family(G) else ["auto", "z"]
        self.space_combo.clear()
        self.space_combo.addItems(spaces)
        self.space_combo.setToolTip("auto: W then W+ for StyleGAN, z for DCGAN, ProGAN and BigGAN")
        if G is None or G.fingerprint != self.result_fingerprint:
            self.result = None
        self._update_buttons()

    def set_image(self, path: str | Path) -> bool:
        """Read ``path`` as the target (a one-sentence message when it is not an image)."""
        try:
            image = read_image(path)
        except MethodError as exc:
            self.status.setText(str(exc))
            self.w.show_error("Could not read the image", str(exc), dialog=True)
            return False
        self.path, self.image, self.result = Path(path), image, None
        G = self.w.generator
        shown = prepare_target(image, G.resolution) if G is not None else image
        self.target_view.setPixmap(pixmap(shown))
        self.recon_view.clear()
        self.recon_view.setText("reconstruction")
        self.psnr_label.setText("")
        self.status.setText(f"{self.path.name}: {image.shape[1]}×{image.shape[0]} px, centre-cropped and resized to "
                            f"{G.resolution if G is not None else '?'} px")
        self._update_buttons()
        return True

    def choose_image(self) -> None:
        w = self.w
        path, _ = QFileDialog.getOpenFileName(w, "Project an image", w.settings.last_folder(), IMAGE_FILTER)
        if path:
            w.settings.remember_folder(path)
            if self.set_image(path):
                self.start()

    def config(self) -> ProjectionConfig:
        return ProjectionConfig(space=self.space_combo.currentText() or "auto", steps=self.steps_spin.value(),
                                seed=int(self.w.state.seed))

    # ------------------------------------------------------------------ the job
    def start(self, config: ProjectionConfig | None = None, keep: bool = False) -> Job | None:
        """Project the image (``keep``: continue from the last result) in a job."""
        w, G = self.w, self.w.generator
        if G is None or self.image is None or self.job is not None:
            return None
        if G.fingerprint != self._model_fp:
            self.model_changed()  # another model opened since: its spaces, and no result to continue
        if keep and self.result is None:
            return None
        cfg = config or self.config()
        image, start, fingerprint = self.image, (self.result if keep else None), G.fingerprint
        emit = self.previews.preview.emit
        t0 = time.monotonic()

        def work(progress, cancel):
            return project(G, image, cfg, progress, cancel, preview=lambda s, f, p: emit(s, f, p), start=start)

        def done(result) -> None:
            self._ended()
            if w.generator is None or w.generator.fingerprint != fingerprint:
                self.status.setText("The model changed while projecting; the result was dropped.")
                return
            self.result, self.result_fingerprint = result, fingerprint
            self.recon_view.setPixmap(pixmap(result.reconstruction))  # side by side with the target
            self.psnr_label.setText(f"PSNR {result.psnr:.2f} dB after {result.steps} steps ({result.space})")
            w.commit(projected_state(w.state, result))
            self.status.setText(f"Done in {time.monotonic() - t0:.1f} s; the reconstruction is the current image — "
                                "every control edits it (Undo goes back).")
            self._update_buttons()

        def ended(message: str) -> None:
            self._ended()
            self.status.setText(message)

        self.job = w.runner.start(f"Projecting {self.path.name if self.path else 'an image'}", work, done,
                                  lambda m: ended(f"Projection failed: {m}"), lambda: ended("Projection cancelled."))
        self.job.progressed.connect(lambda f, m: self.status.setText(f"Projecting… {m}"))
        self.status.setText("Projecting…")
        self._update_buttons()
        return self.job

    def _show_preview(self, step: int, frame, value: float) -> None:
        if self.job is None:
            return
        self.recon_view.setPixmap(pixmap(frame))
        self.psnr_label.setText(f"PSNR {value:.2f} dB at step {step}")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _ended(self) -> None:
        self.job = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.job is not None
        ready = self.w.generator is not None and self.image is not None
        self.project_button.setEnabled(ready and not running)
        self.more_button.setEnabled(ready and not running and self.result is not None)
        self.cancel_button.setEnabled(running)
        self.choose_button.setEnabled(not running)


def open_projection(window: "MainWindow", path: str | Path | None = None) -> ProjectionDialog:
    """Show the window's projection dialog; with ``path``, read it and start projecting at once."""
    dlg = getattr(window, "projection_dialog", None)
    if dlg is None:
        dlg = window.projection_dialog = ProjectionDialog(window)
    dlg.model_changed()
    dlg.show()
    dlg.raise_()
    if path is not None and dlg.set_image(path):
        dlg.start()
    elif path is None and dlg.image is None:
        dlg.choose_image()
    return dlg
