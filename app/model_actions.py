"""`ModelActions`: opening generators — the file dialog, the loading job, and what a newly
opened model resets (history, panels, status bar).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PyQt6.QtWidgets import QFileDialog, QMessageBox

import models
from editing.state import EditState

from .devices import device_label
from .widgets import plural
from .jobs import Job
from .shared_generator import SharedGenerator

if TYPE_CHECKING:
    from .window import MainWindow


class ModelActions:
    def __init__(self, window: "MainWindow"):
        self.w = window
        self.job: Job | None = None

    def open_model_dialog(self) -> None:
        w = self.w
        path, _ = QFileDialog.getOpenFileName(
            w, "Open checkpoint", w.settings.last_folder(),
            "Checkpoints (*.pt *.pth *.pkl *.bin *.tar *.ckpt config.json);;All files (*)",
        )
        if path:
            w.settings.remember_folder(path)
            self.open_model(path)

    def open_model(self, spec: str, first: bool = False, then: Callable[[], None] | None = None) -> Job:
        """Load a model in a job; the current model stays in use until the new one is ready."""
        w = self.w
        spec = str(spec)
        if self.job is not None:
            self.job.cancel()
        if w.generator is None:
            w.canvas.set_message(f"Loading {spec}…")
        else:
            w.statusBar().showMessage(f"Loading {spec}…")
        device = w.device

        def load(progress, cancel):
            progress(0.0, f"reading {spec}")
            G = models.load_generator(spec, device)
            progress(1.0, "loaded")
            return G

        job = w.runner.start(
            f"Opening {Path(spec).name}", load,
            on_success=lambda G: self._loaded(job, G, then),
            on_failure=lambda msg: self._failed(job, spec, msg),
            cancellable=False,
        )
        self.job = job
        return job

    def _failed(self, job: Job, spec: str, message: str) -> None:
        w = self.w
        if self.job is job:
            self.job = None
        w.show_error(f"Could not open {Path(spec).name}", message, dialog=w.generator is not None)
        if w.generator is None:
            w.canvas.set_message(
                f"Could not open {spec}\n{message}\n\nModel ▸ Open checkpoint… (or drop a file here) to open another."
            )

    def _loaded(self, job: Job, G, then: Callable[[], None] | None) -> None:
        w = self.w
        if self.job is not job or job.cancel_requested or w.closing:
            return  # a newer request replaced this one
        self.job = None
        w.discovery.cancel()
        shared = SharedGenerator(G)
        w.generator = shared
        w.model_info = G.info()
        w.worker.set_generator(shared)
        w.semantics.model_changed(G)
        w.doc.new_model(EditState(model=G.name, truncation=G.default_truncation))
        w.seed_blend = None
        w.layer_view.model_changed()
        w.shown_stamp = max(w.shown_stamp, w.worker.latest_stamp)
        w.image_panel.set_classes(G.classes)
        w.image_panel.set_model_features(hasattr(G, "noise_mode"), G.num_layers, G.describe_layers())
        w.image_panel.set_view_transform(getattr(G, "view_transform", None) is not None)
        w.control_panel.set_controls(None, G.num_layers, G.describe_layers())
        w.model_status.setText(f"{G.name if G.name in models.REGISTRY else Path(G.name).name} · {G.resolution}px")
        w.model_status.setToolTip("\n".join(f"{k}: {v}" for k, v in w.model_info.items()))
        w.device_status.setText(device_label(G.device))
        w.canvas.set_message("")
        w.settings.recent_models.add(G.name if G.name in models.REGISTRY else str(Path(G.name).resolve()))
        w.state_changed()
        w.statusBar().showMessage(f"Opened {G.name} ({G.family}, {G.resolution}px, {plural(G.num_layers, 'latent row')})", 8000)
        if G.notes:
            w.show_note("Note: " + "\n".join(G.notes), 12)
        if then is not None:
            then()
            return
        w.discovery.after_model_loaded()

    def show_model_info(self) -> None:
        w = self.w
        if not w.model_info:
            return
        text = "\n".join(f"{k}: {v}" for k, v in w.model_info.items())
        QMessageBox(QMessageBox.Icon.Information, "Model information", text, QMessageBox.StandardButton.Ok, w).open()
