"""`ExportActions`: the window's exports — the frame (or grid) as PNG, a sweep as a strip
image or an mp4 — each in a cancellable job that writes its file atomically.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QFileDialog

from editing.export import export_sweep_video, grid_image, strip_image, write_png
from editing.render import render_state

from .export_dialog import SweepDialog, SweepRequest
from .jobs import Job
from .render_worker import grid_columns

if TYPE_CHECKING:
    from .window import MainWindow


#: the sizes Export ▸ Output size offers besides the model's own (``main.py … --size``)
SIZES = (256, 512, 1024, 2048)


class ExportActions:
    """``size``: the edge of exported frames in pixels (None: the model's resolution), as ``--size``."""

    def __init__(self, window: "MainWindow"):
        self.w = window
        try:
            size = int(window.settings.get("export/size", 0) or 0)
        except (TypeError, ValueError):
            size = 0
        self.size: int | None = size if size in SIZES else None

    def set_size(self, size: int | None) -> None:
        self.size = int(size) if size else None
        self.w.settings.set("export/size", self.size or 0)

    def export_state(self):
        """The current state as exports render it: at the output size (the preview keeps its own)."""
        state = self.w.state
        return replace(state, size=self.size) if self.size is not None else state

    def export_png_dialog(self) -> None:
        w = self.w
        start = Path(w.settings.last_folder()) / f"seed{w.state.seed}.png"
        path, _ = QFileDialog.getSaveFileName(w, "Export frame", str(start), "PNG image (*.png)")
        if path:
            w.settings.remember_folder(path)
            self.export_png(path if path.lower().endswith(".png") else path + ".png")

    def export_png(self, path: str | Path) -> Job | None:
        """Write the current frame (or grid) as PNG in a job — the same pixels as `main.py render`."""
        w = self.w
        if w.generator is None:
            return None
        G, state, path = w.generator, self.export_state(), Path(path)
        seeds = w.grid_seeds()

        def work(progress, cancel):
            image = grid_image(G, state, seeds, grid_columns(len(seeds))) if seeds else render_state(G, state)
            write_png(path, image)
            progress(1.0, "written")
            return path

        return self.job(f"Exporting {path.name}", work)

    def export_sweep_dialog(self, kind: str) -> None:
        w = self.w
        cs = w.state.controls
        if cs is None or not len(cs):
            w.show_error("Nothing to sweep", "there are no controls yet", dialog=True)
            return
        focused = w.control_panel.focused_row()
        dlg = SweepDialog(kind, cs.names, focused.index if focused else 0, w.settings.last_folder(), w)
        if dlg.exec():
            req = dlg.request()
            w.settings.remember_folder(req.path)
            self.export_sweep(req)

    def export_sweep(self, req: SweepRequest) -> Job | None:
        """A strip image or an mp4 of one control swept from ``req.a`` to ``req.b``, in a job."""
        w = self.w
        if w.generator is None:
            return None
        G, state = w.generator, self.export_state()

        if req.kind == "strip":
            def work(progress, cancel):
                image = strip_image(G, state, [req.control], req.a, req.b, req.frames, progress=progress, cancel=cancel)
                write_png(req.path, image)
                return req.path
        else:
            def work(progress, cancel):
                export_sweep_video(G, state, req.control, req.a, req.b, req.frames, req.fps, req.path, progress, cancel)
                return req.path

        return self.job(f"Exporting {req.path.name}", work)

    def job(self, title: str, work) -> Job:
        """An export job: its file on success, a dialog on failure, a note when cancelled."""
        w = self.w
        return w.runner.start(
            title, work,
            on_success=lambda p: w.statusBar().showMessage(f"Wrote {p}", 8000),
            on_failure=lambda msg: w.show_error("Export failed", msg, dialog=True),
            on_cancel=lambda: w.statusBar().showMessage("Export cancelled; no file was written", 8000),
        )
