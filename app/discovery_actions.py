"""`DiscoveryActions`: the window's controls — discovery jobs, attaching, loading and saving
ControlSets, and recomputing them for another class.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QFileDialog

from methods.cache import discover_cached
from methods.controls import ControlSet, ControlSetError
from methods.paper_settings import PAPER_METHODS, paper_settings
from methods.registry import METHODS

from .class_bar import controls_class, current_class
from .discover_dialog import DiscoverDialog, inapplicable_options
from .jobs import Job, describe_error
from .process_job import max_processes, run_in_processes

if TYPE_CHECKING:
    from .window import MainWindow


def method_title(name: str) -> str:
    """The method's proper name for the UI ("SeFa", "Voynov–Babenko"), not its registry key."""
    spec = METHODS.get(name)
    return spec.display_name if spec is not None else name


class DiscoveryActions:
    """``default``: ``(method, config)`` run when a model opens without controls; ``auto``:
    whether to run it; ``initial``: a ControlSet to attach instead, once."""

    def __init__(self, window: "MainWindow", default: tuple[str, Any], auto: bool, initial: ControlSet | None):
        self.w = window
        self.default = default
        self.auto = auto
        self.initial = initial
        self.job: Job | None = None
        self.class_job: Job | None = None

    def after_model_loaded(self) -> None:
        """A model just opened (and no preset waits): attach the initial controls or discover some."""
        initial, self.initial = self.initial, None
        if initial is not None:
            self.attach_controls(initial, base=True)
        elif self.auto:
            method, config = self.default
            self.run_discovery(method, config, base=True)
        else:
            self.w.control_panel.set_placeholder("No controls yet. Discover ▸ GANSpace… finds some.")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # ------------------------------------------------------------------ attach / discover
    def attach_controls(self, cs: ControlSet, base: bool = False, source: str = "") -> bool:
        """Use ``cs`` (values reset to 0); refuses, with a message, controls made for another model."""
        w = self.w
        if w.generator is None:
            return False
        try:
            cs.check_model(w.generator)
        except ControlSetError as exc:
            w.show_error("These controls do not fit the model", str(exc), dialog=True)
            return False
        new = w.state.with_controls(cs)
        w.doc.controls_source = source
        if base and not w.history.can_undo():
            w.doc.set_base_controls(new)
            w.state_changed()
        else:
            w.commit(new)
        w.statusBar().showMessage(f"{len(cs)} controls from {method_title(cs.method)}", 6000)
        return True

    def discover_dialog(self, method: str) -> None:
        w = self.w
        if w.generator is None:
            return
        G = w.generator
        paper = paper_settings(method, G) if method in PAPER_METHODS else None
        dlg = DiscoverDialog(method, G.layer_names(), G.default_pca_layer, G.name, w, paper=paper,
                             hidden=inapplicable_options(G), max_processes=self.max_processes())
        if not dlg.exec():
            return
        try:
            config = dlg.config()
        except (TypeError, ValueError) as exc:
            w.show_error("Invalid option", str(exc), dialog=True)
            return
        self.run_discovery(method, config, use_cache=dlg.use_cache.isChecked(), processes=dlg.process_count())

    def max_processes(self) -> int:
        """Local processes the discover dialog offers (found once: it asks CUDA for its devices)."""
        if getattr(self, "_max_processes", None) is None:
            self._max_processes = max_processes()
        return self._max_processes

    def run_discovery(self, method: str, config: Any = None, base: bool = False, use_cache: bool = True,
                      processes: int = 1) -> Job | None:
        """Run (or load from the cache) a discovery method in a job; attach its controls when done.

        ``processes`` > 1: in that many local torchrun processes (`app.process_job`), no cache."""
        w = self.w
        if w.generator is None:
            return None
        spec = METHODS[method]
        title = method_title(method)
        config = config if config is not None else spec.make_config()
        self.cancel()
        G = w.generator
        if not w.control_panel.rows:
            w.control_panel.set_placeholder(f"Discovering controls with {title}…\n(progress in the status bar)")

        model, device = w.state.model, "cuda" if str(G.device).startswith("cuda") else "cpu"

        def work(progress, cancel):
            if processes > 1:
                return run_in_processes(model, method, config, processes, device, progress, cancel)
            return discover_cached(G, spec, config, progress, cancel, use_cache=use_cache)

        job: Job

        def done(cs: ControlSet) -> None:
            if self.job is job:
                self.job = None
            if w.generator is G and not job.cancel_requested:
                self.attach_controls(cs, base=base, source="")

        def failed(msg: str) -> None:
            if self.job is job:
                self.job = None
            w.show_error(f"{title} failed", msg, dialog=not base)
            w.control_panel.set_placeholder(f"{title} failed: {msg}")

        def cancelled() -> None:
            if self.job is job:
                self.job = None
            kept = ("; its job folder keeps a checkpoint (Discover ▸ Resume training…)"
                    if getattr(config, "job_dir", "") else "; nothing was saved")
            w.statusBar().showMessage(f"{title} cancelled{kept}", 6000)
            w.control_panel.set_placeholder("Discovery was cancelled. Discover ▸ a method… starts it again.")

        job = w.runner.start(f"Discovering ({title})", work, done, failed, cancelled)
        self.job = job
        w.training.watch(method, config, job)
        return job

    # ------------------------------------------------------------------ files
    def load_controls_dialog(self) -> None:
        w = self.w
        path, _ = QFileDialog.getOpenFileName(w, "Load controls", w.settings.last_folder(), "Controls (*.npz)")
        if path:
            w.settings.remember_folder(path)
            self.load_controls(path)

    def load_controls(self, path: str | Path) -> bool:
        """Read a ControlSet file and attach it (errors leave everything as it was)."""
        w = self.w
        try:
            cs = ControlSet.load(path)
        except ControlSetError as exc:
            w.show_error("Could not load controls", str(exc), dialog=True)
            return False
        ok = self.attach_controls(cs, source=str(Path(path).resolve()))
        if ok:
            w.settings.recent_controls.add(str(Path(path).resolve()))
        return ok

    def import_released_dialog(self) -> None:
        """Discover ▸ Import released directions…: a file the original methods' code wrote."""
        w = self.w
        path, _ = QFileDialog.getOpenFileName(
            w, "Import released directions", w.settings.last_folder(),
            "Direction files (*.npz *.pkl *.pt *.npy);;All files (*)")
        if path:
            w.settings.remember_folder(path)
            self.import_released(path)

    def import_released(self, path: str | Path) -> Job | None:
        """Import ``path`` (`methods.released.import_controls`) in a job and attach the controls."""
        from methods.released import import_controls

        w = self.w
        if w.generator is None:
            return None
        G, name = w.generator, Path(path).name
        job: Job

        def work(progress, cancel):
            progress(0.0, f"reading {name}")
            return import_controls(path, G)

        def done(cs: ControlSet) -> None:
            if w.generator is G and not job.cancel_requested:
                self.attach_controls(cs, source=str(Path(path).resolve()))

        def failed(msg: str) -> None:
            w.show_error("Could not import these directions", msg, dialog=True)

        job = w.runner.start(f"Importing {name}", work, done, failed, lambda: None)
        return job

    def save_controls_dialog(self) -> None:
        w = self.w
        if w.state.controls is None:
            w.show_error("Nothing to save", "there are no controls yet", dialog=True)
            return
        path, _ = QFileDialog.getSaveFileName(
            w, "Save controls", str(Path(w.settings.last_folder()) / "controls.npz"), "Controls (*.npz)")
        if path:
            self.save_controls(path if path.endswith(".npz") else path + ".npz")

    def save_controls(self, path: str | Path) -> bool:
        w = self.w
        try:
            w.state.controls.save(path)
        except (OSError, ControlSetError) as exc:
            w.show_error("Could not save controls", describe_error(exc), dialog=True)
            return False
        w.settings.recent_controls.add(str(Path(path).resolve()))
        w.statusBar().showMessage(f"Saved {path}", 6000)
        return True

    # ------------------------------------------------------------------ class-specific controls
    def current_class(self) -> int | None:
        return current_class(self.w.generator, self.w.state)

    def controls_class(self) -> int | None:
        return controls_class(self.w.generator, self.w.state)

    def update_class_bar(self) -> None:
        self.w.class_bar.update_for(self.w.generator, self.w.state, self.class_job is not None)

    def recompute_for_class(self) -> Job | None:
        """Run the active controls' method again, with the same settings, for the current class (a job)."""
        cs, cur = self.w.state.controls, self.current_class()
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
        self.update_class_bar()
        return job

    def _class_job_ended(self, job: Job) -> None:
        if self.class_job is job:
            self.class_job = None
            self.update_class_bar()
