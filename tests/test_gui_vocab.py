"""Vocabulary in the window: describing controls from before/after pairs, distilling, searching words."""
from __future__ import annotations

import threading

import pytest
from gui_helpers import cache_dir, make_window, wait_frame, wait_jobs  # noqa: F401  (fixtures)
from PyQt6.QtCore import Qt

import models
from methods.annotations import AnnotationStore
from methods.controls import random_controls
from methods.vocab import DistillConfig

SG2 = "tests/data/stylegan2/stylegan2_small_A.pt"
TEXTS = ["a wide smile", "smile", "dark hair", "hair gets dark", "smile and dark hair"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("LATENT_STUDIO_DATA", str(path))
    return path


def test_describe_controls_with_the_keyboard_then_distill_search_and_use_a_word(qtbot, make_window, data_dir):  # noqa: F811
    G = models.load_generator(SG2, "cpu")
    cs = random_controls(G, len(TEXTS) + 1)
    w = make_window(model=SG2, controls=cs)
    threads = []
    net = w.generator.unwrapped
    original = net.synthesize

    def spy(*a, **k):
        threads.append(threading.current_thread())
        return original(*a, **k)

    net.synthesize = spy
    dlg = w.vocab.open_annotation_dialog()
    qtbot.waitUntil(lambda: not dlg.after[0].pixmap().isNull(), timeout=10_000)
    assert threading.main_thread() not in threads, "pairs are rendered off the GUI thread"
    assert dlg.title.text().startswith("Control 0")
    for k, text in enumerate(TEXTS):
        assert dlg.index == k
        qtbot.keyClicks(dlg.text, text)
        qtbot.keyClick(dlg.text, Qt.Key.Key_Return)
    assert dlg.saved == len(TEXTS) and dlg.index == len(TEXTS)
    qtbot.keyClick(dlg.text, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert dlg.all_shown and dlg.skipped == 1, "Ctrl+Right skips the last control"
    assert not dlg.text.isEnabled() and "All" in dlg.title.text()
    dlg.back()
    assert dlg.index == len(TEXTS) and "Not described yet" in dlg.previous_label.text()
    dlg.back()
    assert "smile and dark hair" in dlg.previous_label.text()
    wait_jobs(qtbot, w)
    dlg.close()
    with AnnotationStore(data_dir / "annotations.sqlite", create=False) as store:
        assert store.counts()["annotations"] == len(TEXTS)
        assert store.annotations_of(cs, 2)[0].text == "dark hair"

    vd = w.vocab.open_vocabulary_dialog()
    vd.config = DistillConfig(min_count=2, lam=1.0)
    vd.distill()
    wait_jobs(qtbot, w)
    assert vd.words is not None, vd.info.text()
    items = {vd.list.item(i).text().split()[0]: vd.list.item(i).text() for i in range(vd.list.count())}
    assert {"smile", "hair", "dark"} <= set(items) and "(3)" in items["smile"]
    vd.search.setText("smi")
    assert vd.list.count() == 1 and vd.list.item(0).text().startswith("smile")
    before = w.state.controls
    vd._activated(vd.list.item(0))
    assert w.state.controls is vd.words
    assert w.control_panel.filter.text() == "smile"
    wait_frame(qtbot, w)
    w.undo()
    assert w.state.controls is before


def test_distill_with_an_empty_store_reports_instead_of_failing(qtbot, make_window, data_dir):  # noqa: F811
    G = models.load_generator(SG2, "cpu")
    w = make_window(model=SG2, controls=random_controls(G, 2))
    AnnotationStore().close()  # an empty store at the default path
    vd = w.vocab.open_vocabulary_dialog()
    vd.distill()
    wait_jobs(qtbot, w)
    assert vd.words is None and "failed" in vd.info.text() and vd.distill_button.isEnabled()
