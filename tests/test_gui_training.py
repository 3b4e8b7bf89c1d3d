"""Trained methods in the window: option widgets, live loss/accuracy plot, cancel and resume, evaluation."""
from __future__ import annotations

import threading

import pytest
import torch
from gui_helpers import cache_dir, generator, make_window, small_controls, wait_jobs  # noqa: F401  (fixtures)
from PyQt6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPushButton, QSpinBox, QTableWidget

from app.discover_dialog import DiscoverDialog, FloatSpinBox, FolderField
from app.training_view import EvalOptionsDialog, TrainingPlot
from methods import latentclr, voynov
from methods.evaluate import EvalConfig
from methods.reconstructor import RECONSTRUCTORS
from methods.registry import METHODS
from methods.training import progress_message, read_job

torch.set_num_threads(1)

#: a budget that scores a set in about a second on dcgan-faces
TINY_EVAL = EvalConfig(samples=40, test_samples=24, iterations=4, batch=8, gen_batch=24, image_size=16)


@pytest.fixture
def gui_thread_spy(monkeypatch):
    """Names of generator methods that ran on the GUI thread (must stay empty)."""
    from models.base import Generator
    from models.dcgan import DCGANGenerator

    calls: list[str] = []
    main = threading.main_thread()

    def spy(cls, name):
        original = getattr(cls, name)

        def wrapped(self, *a, **k):
            if threading.current_thread() is main:
                calls.append(name)
            return original(self, *a, **k)

        monkeypatch.setattr(cls, name, wrapped)

    for name in ("sample", "sample_z", "features", "layer_shape", "truncate"):
        spy(Generator, name)
    for name in ("synthesize", "map"):
        spy(DCGANGenerator, name)
    return calls


def test_the_latentclr_dialog_offers_lists_a_folder_checks_and_spin_boxes(qtbot, generator, tmp_path):  # noqa: F811
    dlg = DiscoverDialog("latentclr", generator.layer_names(), generator.default_pca_layer, "dcgan-faces")
    qtbot.addWidget(dlg)
    f = {name: w for name, (w, _t) in dlg.fields.items()}
    assert isinstance(f["direction_model"], QComboBox) and not f["direction_model"].isEditable()
    assert [f["direction_model"].itemText(i) for i in range(f["direction_model"].count())] == list(latentclr.DIRECTION_MODELS)
    assert isinstance(f["layer"], QComboBox) and f["layer"].isEditable()
    assert {f["layer"].itemText(i) for i in range(f["layer"].count())} >= set(generator.layer_names())
    assert "block1" in f["layer"].lineEdit().placeholderText(), "the model's default layer is named"
    assert isinstance(f["job_dir"], FolderField)
    assert isinstance(f["abs_similarity"], QCheckBox) and isinstance(f["amp"], QCheckBox)
    assert isinstance(f["components"], QSpinBox) and isinstance(f["iterations"], QSpinBox)
    assert isinstance(f["lr"], FloatSpinBox) and isinstance(f["tau"], FloatSpinBox)
    assert isinstance(f["lr_milestones"], QLineEdit)
    for name, w in f.items():
        assert w.toolTip() == latentclr.HELP[name], name
    assert dlg.config() == latentclr.LatentCLRConfig()
    assert not f["job_dir"].new_button.isHidden()
    f["job_dir"].new_button.click()
    assert "jobs" in f["job_dir"].text() and "latentclr-dcgan-faces-" in f["job_dir"].text()

    dlg.set_values(direction_model="global", layer="block2", job_dir=str(tmp_path), lr=1e-4, abs_similarity=False,
                   components=3, alpha_min=-2.5)
    f["tau"].stepBy(3)  # 2.0 + 3 × 0.1
    config = dlg.config()
    assert (config.direction_model, config.layer, config.job_dir) == ("global", "block2", str(tmp_path))
    assert (config.lr, config.abs_similarity, config.components, config.alpha_min) == (1e-4, False, 3, -2.5)
    assert config.tau == pytest.approx(2.3)
    f["lr"].lineEdit().setText("fast")
    with pytest.raises(ValueError):
        dlg.config()


@pytest.mark.parametrize("method", ["voynov", "warped"])
def test_reconstructor_methods_choose_from_the_reconstructors(qtbot, generator, method):  # noqa: F811
    dlg = DiscoverDialog(method, generator.layer_names(), generator.default_pca_layer, "dcgan-faces")
    qtbot.addWidget(dlg)
    box = dlg.fields["reconstructor"][0]
    assert isinstance(box, QComboBox) and not box.isEditable()
    assert [box.itemText(i) for i in range(box.count())] == list(RECONSTRUCTORS)
    dlg.set_values(reconstructor="resnet")
    assert dlg.config().reconstructor == "resnet"
    assert dlg.config() == METHODS[method].make_config(reconstructor="resnet")


@pytest.mark.parametrize("method", ["latentclr", "voynov", "warped"])
def test_paper_settings_button_fills_the_papers_values_and_quick_settings_restore_defaults(
    qtbot, generator, method  # noqa: F811
):
    from methods.paper_settings import paper_settings

    paper = paper_settings(method, generator)
    dlg = DiscoverDialog(method, generator.layer_names(), generator.default_pca_layer, "dcgan-faces", paper=paper)
    qtbot.addWidget(dlg)
    button = dlg.findChild(QPushButton, "paperSettings")
    assert "iterations" in button.toolTip()
    button.click()
    assert dlg.config() == METHODS[method].make_config(**paper)
    dlg.set_values(seed=5)  # a field the paper does not fix is left alone by both buttons
    dlg.findChild(QPushButton, "quickSettings").click()
    assert dlg.config() == METHODS[method].make_config(seed=5)


def test_methods_without_paper_settings_show_no_settings_buttons(qtbot, generator):  # noqa: F811
    dlg = DiscoverDialog("ganspace", generator.layer_names(), generator.default_pca_layer, "dcgan-faces")
    qtbot.addWidget(dlg)
    assert dlg.findChild(QPushButton, "paperSettings") is None


def test_the_plot_takes_points_from_progress_messages_and_redraws_throttled(qtbot):
    plot = TrainingPlot()
    qtbot.addWidget(plot)
    for i in range(1, 6):
        plot.add_message(progress_message(i, 10, 2.0 - 0.1 * i, 0.1 * i))
    plot.add_message("loaded from cache")  # not a training line
    plot.add_message(progress_message(3, 10, 9.0, 0.0))  # not past the last point
    assert plot.iterations == [1, 2, 3, 4, 5]
    assert plot.redraws == 0, "redraws wait for the timer"
    qtbot.waitUntil(lambda: plot.redraws == 1, timeout=2000)
    x, y = plot.loss_curve.getData()
    assert list(x) == [1, 2, 3, 4, 5] and y[-1] == pytest.approx(1.5)
    assert list(plot.acc_curve.getData()[1]) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_cancel_keeps_the_checkpoint_and_resume_continues_from_its_iteration(  # noqa: F811
        qtbot, make_window, small_controls, tmp_path, gui_thread_spy, monkeypatch):
    w = make_window(controls=small_controls)
    job_dir = tmp_path / "job"
    config = voynov.VoynovConfig(components=3, batch=2, iterations=100_000, checkpoint_every=100_000, log_every=1,
                                 job_dir=str(job_dir))
    job = w.discovery.run_discovery("voynov", config)
    monitor = w.training.monitor
    assert monitor is not None and monitor.job is job and monitor.isVisible()
    qtbot.waitUntil(lambda: len(monitor.plot.iterations) >= 3, timeout=20_000)
    qtbot.waitUntil(lambda: monitor.plot.redraws >= 1, timeout=2000)
    assert len(monitor.plot.loss_curve.getData()[0]) >= 1
    assert "iteration" in monitor.status.text()
    monitor.cancel_button.click()
    wait_jobs(qtbot, w)
    assert job.outcome == "cancelled"
    assert w.state.controls is small_controls, "a cancelled run attaches nothing"
    meta = read_job(job_dir)
    k = meta["iteration"]
    assert k >= monitor.plot.iterations[-1] >= 3 and not meta["done"]
    assert monitor.resume_button.isEnabled() and f"iteration {k}" in monitor.status.text()

    shown = []

    def accept(dlg):  # the resume dialog: only what a continuing run may change is editable
        shown.append(dlg)
        assert not dlg.fields["components"][0].isEnabled() and not dlg.fields["job_dir"][0].isEnabled()
        assert dlg.fields["iterations"][0].isEnabled() and f"iteration {k}" in dlg.intro.text()
        dlg.set_values(iterations=k + 2)
        return 1

    monkeypatch.setattr(DiscoverDialog, "exec", accept)
    monitor.resume_button.click()  # = Discover ▸ Resume training… with this folder
    assert len(shown) == 1
    job2 = w.discovery.job
    monitor2 = w.training.monitor
    assert monitor2 is not monitor and monitor2.job is job2
    assert monitor2.plot.iterations[:k] == list(range(1, k + 1)), "the plot starts from the job's history"
    wait_jobs(qtbot, w)
    assert job2.outcome == "succeeded", monitor2.status.text()
    cs = w.state.controls
    assert cs.method == "voynov" and len(cs) == 3
    assert cs.stats["resumed_from"] == k and cs.stats["iterations"] == k + 2
    assert monitor2.plot.iterations[-1] == k + 2 and "done" in monitor2.status.text()
    assert read_job(job_dir)["done"]
    assert gui_thread_spy == []


def test_resume_refuses_a_folder_without_a_checkpoint(qtbot, make_window, small_controls, tmp_path, monkeypatch):  # noqa: F811
    w = make_window(controls=small_controls)
    errors = []
    monkeypatch.setattr(w, "show_error", lambda title, message, dialog=False: errors.append(message))
    assert w.training.resume_training(tmp_path, ask=False) is None
    assert errors and "checkpoint" in errors[0] and not w.runner.running


def test_evaluate_controls_runs_as_a_job_and_shows_the_table(qtbot, make_window, small_controls, gui_thread_spy):  # noqa: F811
    w = make_window(controls=small_controls)
    job = w.training.evaluate_controls(TINY_EVAL)
    assert job is not None and w.job_panel.row_for(job) is not None, "progress and cancel in the status bar"
    wait_jobs(qtbot, w)
    assert job.outcome == "succeeded"
    dlg = w.training.evaluation_dialog
    assert dlg is not None and dlg.isVisible()
    table = dlg.findChild(QTableWidget)
    assert table.rowCount() == len(small_controls) and table.columnCount() == 3
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == list(small_controls.names)
    assert [table.item(r, 1).text() for r in range(table.rowCount())] == [
        "—" if a is None else f"{a:.3f}" for a in dlg.report["rca_per_control"]]  # None: no held-out pair
    summary = dlg.summary.text()
    assert "RCA" in summary and "random" in summary
    assert dlg.report["rca_random"] is not None
    assert gui_thread_spy == []


def test_the_evaluation_options_default_to_the_eval_config(qtbot):
    dlg = EvalOptionsDialog()
    qtbot.addWidget(dlg)
    assert dlg.config() == EvalConfig()
    assert isinstance(dlg.form.fields["reconstructor"][0], QComboBox)
    dlg.form.set_values(iterations=7, baseline=False)
    assert (dlg.config().iterations, dlg.config().baseline) == (7, False)


def test_evaluation_can_be_cancelled(qtbot, make_window, small_controls):  # noqa: F811
    w = make_window(controls=small_controls)
    job = w.training.evaluate_controls(EvalConfig(samples=100_000, test_samples=10, gen_batch=8))
    w.job_panel.row_for(job).cancel_button.click()
    wait_jobs(qtbot, w)
    assert job.outcome == "cancelled" and w.training.evaluation_dialog is None
