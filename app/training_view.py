"""Trained discovery methods in the window: live loss/accuracy, cancel and resume, evaluation.

* `TrainingPlot` — loss (left axis) and accuracy (right axis, 0…1) of a training run,
  fed with the jobs' progress messages (`methods.training.parse_progress`) on the GUI
  thread and redrawn at most every `TrainingPlot.REDRAW_MS`.
* `TrainingMonitor` — a non-modal window beside a running trained method: the plot, the
  current iteration, Cancel (the job folder keeps its checkpoint) and Resume.
* `EvaluationDialog` — the RCA report of `methods.evaluate.evaluate` as a small table.
* `TrainingTools` — the window's side: watches discovery jobs, Discover ▸ Resume
  training… (`read_job` rebuilds the config) and Discover ▸ Evaluate controls….

Everything here runs on the GUI thread and only reads generator metadata; training and
evaluation run in `app.jobs.Job` threads.  (No preview strip of the current directions:
the training loops do not expose their modules while running, and rendering one would
need the generator on a further thread; the sliders show the result when it is done.)
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from methods.evaluate import EvalConfig, evaluate
from methods.jobs import MethodError
from methods.registry import METHODS
from methods.training import JOB_JSON, RESUME_MAY_CHANGE, parse_progress, read_job

from .discover_dialog import DiscoverDialog, OptionsForm
from .jobs import Job
from .style import PLOT_BLUE, PLOT_RED, style_plot

if TYPE_CHECKING:
    from .window import MainWindow

#: one line per `EvalConfig` option (tooltips of the evaluation dialog)
EVAL_HELP = {
    "samples": "training pairs generated for the fresh reconstructor",
    "test_samples": "held-out pairs it is scored on",
    "iterations": "reconstructor optimisation steps",
    "batch": "pairs per step",
    "lr": "Adam learning rate of the reconstructor",
    "shift_min": "smallest slider shift (both 0: the method's natural range)",
    "shift_max": "largest slider shift (both 0: the method's natural range)",
    "reconstructor": "reconstructor network: lenet (small images) or resnet (ResNet-18-like)",
    "image_size": "pairs are shown to the reconstructor at most this size",
    "seed": "seed of the pairs, shifts and reconstructor",
    "truncation": "truncation psi of the sampled latents (0: the model's default)",
    "baseline": "also score K random directions (the figure to beat)",
    "gen_batch": "generator batch (memory only)",
}


def is_trained(config: Any) -> bool:
    """Whether a method config belongs to a trained method (it has a ``job_dir``)."""
    try:
        return "job_dir" in {f.name for f in fields(config)}
    except TypeError:
        return False


class TrainingPlot(QWidget):
    """Loss and accuracy against the iteration; `add_message` takes progress lines."""

    REDRAW_MS = 200

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.iterations: list[int] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.redraws = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.widget = pg.PlotWidget()
        style_plot(self.widget)
        lay.addWidget(self.widget)
        pi = self.widget.getPlotItem()
        pi.setLabel("bottom", "iteration")
        pi.setLabel("left", "loss")
        pi.showAxis("right")
        pi.setLabel("right", "accuracy")
        pi.showGrid(x=True, y=True, alpha=0.2)
        legend = pi.addLegend(offset=(-10, 10))
        self.loss_curve = pi.plot([], [], pen=pg.mkPen(PLOT_RED, width=2), name="loss")
        self.acc_view = pg.ViewBox()
        pi.scene().addItem(self.acc_view)
        pi.getAxis("right").linkToView(self.acc_view)
        self.acc_view.setXLink(pi)
        self.acc_view.setYRange(0.0, 1.0, padding=0.02)
        self.acc_view.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
        self.acc_curve = pg.PlotDataItem([], [], pen=pg.mkPen(PLOT_BLUE, width=2))
        self.acc_view.addItem(self.acc_curve)
        legend.addItem(self.acc_curve, "accuracy")
        pi.vb.sigResized.connect(self._sync_views)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)

    def _sync_views(self) -> None:
        self.acc_view.setGeometry(self.widget.getPlotItem().vb.sceneBoundingRect())

    def add_point(self, iteration: int, loss: float, acc: float) -> None:
        """One point (ignored unless past the last one); the curves redraw shortly after."""
        if self.iterations and iteration <= self.iterations[-1]:
            return
        self.iterations.append(int(iteration))
        self.losses.append(float(loss))
        self.accs.append(float(acc))
        if not self._timer.isActive():
            self._timer.start(self.REDRAW_MS)

    def add_message(self, message: str) -> dict | None:
        """A progress line of a trained method; other lines are ignored.  Returns the parsed values."""
        point = parse_progress(message)
        if point is not None:
            self.add_point(point["iteration"], point["loss"], point["acc"])
        return point

    def set_history(self, history: Sequence[dict]) -> None:
        """Start from a job's recorded history (``[{"iteration", "loss", "acc"}, …]``)."""
        self.iterations, self.losses, self.accs = [], [], []
        for h in history:
            self.add_point(int(h["iteration"]), float(h["loss"]), float(h["acc"]))
        self.redraw()

    def redraw(self) -> None:
        self._timer.stop()
        self.loss_curve.setData(self.iterations, self.losses)
        self.acc_curve.setData(self.iterations, self.accs)
        self.redraws += 1


class TrainingMonitor(QDialog):
    """Live view of one trained discovery job: plot, iteration, Cancel, and Resume after a cancel."""

    def __init__(self, tools: "TrainingTools", job: Job, method: str, config: Any,
                 history: Sequence[dict] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.tools, self.job, self.method, self.config = tools, job, method, config
        self.job_dir = str(getattr(config, "job_dir", "") or "")
        self.setWindowTitle(f"Training {METHODS[method].display_name if method in METHODS else method}")
        self.setModal(False)
        self.resize(560, 380)
        lay = QVBoxLayout(self)
        where = f"checkpoints in {self.job_dir}" if self.job_dir else "no job folder: a cancelled run keeps nothing"
        self.title = QLabel(f"<b>{METHODS[method].display_name if method in METHODS else method}</b> — {config.iterations} iterations, batch {config.batch}; {where}")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.plot = TrainingPlot(self)
        if history:
            self.plot.set_history(history)
        lay.addWidget(self.plot, 1)
        self.status = QLabel("starting…")
        self.status.setObjectName("trainingStatus")
        lay.addWidget(self.status)
        row = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("Stop at the next iteration" + ("; the job folder keeps a checkpoint" if self.job_dir else ""))
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume…")
        self.resume_button.setToolTip("Continue this run from its checkpoint")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self.resume)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row.addWidget(self.cancel_button)
        row.addWidget(self.resume_button)
        row.addStretch(1)
        row.addWidget(close)
        lay.addLayout(row)
        job.progressed.connect(self._progress)
        job.succeeded.connect(self._succeeded)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)

    def _progress(self, fraction: float, message: str) -> None:
        point = self.plot.add_message(message)
        if point is not None:
            self.status.setText(f"iteration {point['iteration']}/{point['iterations']} · loss {point['loss']:.4f} · "
                                f"accuracy {point['acc']:.3f}")
        else:
            self.status.setText(message)

    def cancel(self) -> None:
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling…")

    def _ended(self) -> None:
        self.cancel_button.setEnabled(False)
        self.plot.redraw()

    def _succeeded(self, cs: Any) -> None:
        self._ended()
        stats = getattr(cs, "stats", {}) or {}
        speed = stats.get("iterations_per_s")
        self.status.setText(f"done: {len(cs)} controls attached"
                            + (f" · final loss {stats['final_loss']:.4f}, accuracy {stats['final_acc']:.3f}" if "final_loss" in stats else "")
                            + (f" · {speed} it/s" if speed else ""))

    def _failed(self, message: str) -> None:
        self._ended()
        self.status.setText(f"failed: {message}")
        self.resume_button.setEnabled(self._checkpoint_iteration() is not None)

    def _cancelled(self) -> None:
        self._ended()
        it = self._checkpoint_iteration()
        if it is None:
            self.status.setText("cancelled; nothing was kept (no job folder)")
        else:
            self.status.setText(f"cancelled; checkpoint at iteration {it} in {self.job_dir} (Resume continues it)")
        self.resume_button.setEnabled(it is not None)

    def _checkpoint_iteration(self) -> int | None:
        """The iteration recorded in the job folder's ``job.json`` (small; read on this thread)."""
        if not self.job_dir:
            return None
        try:
            with open(Path(self.job_dir) / JOB_JSON, encoding="utf-8") as f:
                return int(json.load(f)["iteration"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def resume(self) -> None:
        if self.job_dir:
            self.tools.resume_training(self.job_dir)


class EvaluationDialog(QDialog):
    """The RCA report of a ControlSet: summary line and one table row per control."""

    def __init__(self, report: dict, names: Sequence[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.report = report
        self.setWindowTitle(f"Evaluation — {report.get('method', '')} controls")
        self.setModal(False)
        self.resize(460, 420)
        lay = QVBoxLayout(self)
        rca, rnd = report["rca"], report.get("rca_random")
        lo, hi = report.get("shift_range", (0, 0))
        text = (f"<b>RCA {rca:.3f}</b> (reconstructor accuracy at telling the {report['controls']} controls apart)"
                + (f" vs <b>{rnd:.3f}</b> for random directions" if rnd is not None else "")
                + f"; chance {report['chance']:.3f}.<br>Shifts of {lo:g}…{hi:g} slider units; "
                + f"mean image change {report.get('image_change_mean')}; {report.get('seconds', 0):.1f} s.")
        self.summary = QLabel(text)
        self.summary.setObjectName("evaluationSummary")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        per, change = report.get("rca_per_control", []), report.get("image_change", [])
        self.table = QTableWidget(len(per), 3)
        self.table.setHorizontalHeaderLabels(["control", "RCA", "image change"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for k, acc in enumerate(per):
            name = names[k] if k < len(names) else f"control {k}"
            cells = [name, "—" if acc is None else f"{acc:.3f}",
                     "—" if k >= len(change) or change[k] is None else f"{change[k]:.4f}"]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(k, c, item)
        lay.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)


class EvalOptionsDialog(QDialog):
    """The budget of an evaluation (`EvalConfig`), with its defaults."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Evaluate controls")
        lay = QVBoxLayout(self)
        intro = QLabel("Trains a fresh reconstructor to tell the controls apart from image pairs and scores it on "
                       "held-out pairs (and the same for random directions). The defaults take about a minute on a CPU.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.form = OptionsForm([(f.name, type(f.default), f.default, EVAL_HELP.get(f.name, "")) for f in fields(EvalConfig)])
        lay.addWidget(self.form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Evaluate")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def config(self) -> EvalConfig:
        return EvalConfig(**self.form.values())


class TrainingTools:
    """The window's trained-method features; `MainWindow` holds one as ``window.training``."""

    def __init__(self, window: "MainWindow"):
        self.window = window
        self.monitor: TrainingMonitor | None = None
        self.evaluation_dialog: EvaluationDialog | None = None
        self.evaluation_job: Job | None = None
        self._pending_history: list[dict] = []

    # -------------------------------------------------------------- training
    def watch(self, method: str, config: Any, job: Job | None) -> TrainingMonitor | None:
        """Open a monitor for a discovery job of a trained method (others are left alone)."""
        history, self._pending_history = self._pending_history, []
        if job is None or not is_trained(config):
            return None
        if self.monitor is not None:
            self.monitor.close()
            self.monitor.deleteLater()
        self.monitor = TrainingMonitor(self, job, method, config, history, self.window)
        self.monitor.show()
        return self.monitor

    def resume_training_dialog(self) -> None:
        """Discover ▸ Resume training…: pick a job folder."""
        w = self.window
        path = QFileDialog.getExistingDirectory(w, "Resume training — choose a job folder", w.settings.last_folder())
        if path:
            w.settings.remember_folder(path)
            self.resume_training(path)

    def resume_training(self, path: str | Path, ask: bool = True, **changes: Any) -> Job | None:
        """Continue the run in job folder ``path`` (its config from `read_job`; ``changes`` e.g. more iterations)."""
        w = self.window
        G = w.generator
        if G is None:
            return None
        try:
            meta = read_job(path)
        except MethodError as exc:
            w.show_error("Cannot resume", str(exc), dialog=True)
            return None
        method = meta.get("method")
        if method not in METHODS:
            w.show_error("Cannot resume", f"{path} holds a run of an unknown method {method!r}", dialog=True)
            return None
        model = meta.get("model", {})
        if model.get("fingerprint") != G.fingerprint:
            w.show_error("Cannot resume", f"this job was trained on {model.get('name')!r}, not the open model; "
                         "open that model first", dialog=True)
            return None
        spec = METHODS[method]
        known = {f.name for f in fields(spec.config)}
        values = {k: v for k, v in meta["config"].items() if k in known}
        values.update(job_dir=str(path), **changes)
        done = int(meta.get("iteration", 0))
        if ask:
            dlg = DiscoverDialog(method, G.layer_names(), G.default_pca_layer, G.name, w)
            dlg.setWindowTitle(f"Resume training — {METHODS[method].display_name}")
            dlg.intro.setText(f"<b>{METHODS[method].display_name}</b>: continue from iteration {done} of {values.get('iterations')}"
                              + (" (finished: raise iterations to train further)" if meta.get("done") else "")
                              + f".<br>Folder: {path}")
            dlg.set_values(**values)
            dlg.form.lock([n for n in dlg.fields if n not in RESUME_MAY_CHANGE or n == "job_dir"])
            dlg.use_cache.hide()
            dlg.run_button.setText("Resume")
            if not dlg.exec():
                return None
            try:
                config = dlg.config()
            except (TypeError, ValueError) as exc:
                w.show_error("Invalid option", str(exc), dialog=True)
                return None
        else:
            config = spec.make_config(**values)
        self._pending_history = list(meta.get("history", []))
        return w.discovery.run_discovery(method, config, use_cache=False)

    # -------------------------------------------------------------- evaluation
    def evaluate_dialog(self) -> None:
        """Discover ▸ Evaluate controls…: the budget, then the job."""
        if self.window.state.controls is None:
            self.window.show_error("Nothing to evaluate", "Discover or load controls first", dialog=True)
            return
        dlg = EvalOptionsDialog(self.window)
        if not dlg.exec():
            return
        try:
            config = dlg.config()
        except (TypeError, ValueError) as exc:
            self.window.show_error("Invalid option", str(exc), dialog=True)
            return
        self.evaluate_controls(config)

    def evaluate_controls(self, config: EvalConfig | None = None) -> Job | None:
        """RCA of the active controls (and of random directions) in a job; the table shows when done."""
        w = self.window
        G, cs = w.generator, w.state.controls
        if G is None or cs is None:
            return None
        config = config or EvalConfig()
        names = list(cs.names)
        if self.evaluation_job is not None:
            self.evaluation_job.cancel()

        def work(progress, cancel) -> dict:
            return evaluate(G, cs, config, progress, cancel)

        job: Job

        def done(report: dict) -> None:
            if self.evaluation_job is job:
                self.evaluation_job = None
            self.show_report(report, names)

        def failed(message: str) -> None:
            if self.evaluation_job is job:
                self.evaluation_job = None
            w.show_error("Evaluation failed", message, dialog=True)

        def cancelled() -> None:
            if self.evaluation_job is job:
                self.evaluation_job = None
            w.statusBar().showMessage("Evaluation cancelled", 6000)

        job = w.runner.start(f"Evaluating {cs.method} controls", work, done, failed, cancelled)
        self.evaluation_job = job
        return job

    def show_report(self, report: dict, names: Sequence[str]) -> EvaluationDialog:
        if self.evaluation_dialog is not None:
            self.evaluation_dialog.close()
            self.evaluation_dialog.deleteLater()
        self.evaluation_dialog = EvaluationDialog(report, names, self.window)
        self.evaluation_dialog.show()
        return self.evaluation_dialog


__all__ = ["TrainingPlot", "TrainingMonitor", "EvaluationDialog", "EvalOptionsDialog", "TrainingTools", "is_trained"]
