"""Visual vocabulary in the window (issue 7): describe controls in words, distil, search words.

`AnnotationDialog` walks through the controls of a ControlSet.  For each one it shows
before/after pairs on a few seeds (rendered in a background job, never on the GUI
thread), takes a free-text description and writes it to the `AnnotationStore`
(Enter saves and goes on, Ctrl+Right skips, Ctrl+Left goes back).

`VocabularyDialog` distils every annotation of the store into word controls (a
background job with its own store connection: SQLite connections are per thread),
then lists the words matching a search with their support.  Activating a word makes
the distilled word set the active ControlSet (one undo step) and focuses that word's
slider.
"""
from __future__ import annotations

import getpass
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QImage, QKeyEvent, QKeySequence, QPixmap, QShortcut
from PyQt6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from editing.render import render_grid
from editing.state import EditState
from methods.annotations import AnnotationError, AnnotationStore, default_db_path
from methods.controls import ControlSet
from methods.vocab import DistillConfig, distill_store, search_words

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow

#: seeds shown per control, the edit's strength (in the control's unit) and the thumbnail edge
PAIR_SEEDS = 3
AMOUNT = 3.0
THUMB = 96


def to_pixmap(frame: np.ndarray, edge: int = THUMB) -> QPixmap:
    """``uint8 [H, W, 3]`` RGB -> a pixmap scaled to ``edge`` pixels."""
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


def pair_states(state: EditState, controls: ControlSet, index: int, amount: float) -> tuple[EditState, EditState]:
    """Before (no edit) and after (control ``index`` at ``amount``) of ``state``'s image."""
    base = replace(state, mix_seed=None, mix_range=None).with_controls(controls)
    return base, base.with_value(index, amount)


class DescriptionEdit(QLineEdit):
    """The description box: Ctrl+Right / Ctrl+Left skip / go back instead of moving by words."""

    skipRequested = pyqtSignal()
    backRequested = pyqtSignal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if event.key() == Qt.Key.Key_Right:
                self.skipRequested.emit()
                return
            if event.key() == Qt.Key.Key_Left:
                self.backRequested.emit()
                return
        super().keyPressEvent(event)


class AnnotationDialog(QDialog):
    """Describe each control of ``controls`` in words; writes to the annotation store at ``store_path``."""

    def __init__(self, window: "MainWindow", controls: ControlSet, store_path: str | Path | None = None):
        super().__init__(window)
        self.setWindowTitle("Describe controls")
        self.window_ = window
        self.controls = controls
        self.store = AnnotationStore(store_path)  # this (GUI) thread's connection
        self.indices = [i for i, c in enumerate(controls.controls) if c.kind == "linear"]
        self.position = 0
        self.saved = 0
        self.skipped = 0
        self.job = None
        self._stamp = 0
        self._closed = False
        self._pixmaps: dict[int, tuple[list[QPixmap], list[QPixmap]]] = {}
        self.seeds = [window.state.seed + k for k in range(PAIR_SEEDS)]

        lay = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setObjectName("caption")
        lay.addWidget(self.title)
        pairs = QWidget()
        grid = QGridLayout(pairs)
        grid.addWidget(QLabel("before"), 0, 0)
        grid.addWidget(QLabel("after"), 1, 0)
        self.before = [QLabel() for _ in self.seeds]
        self.after = [QLabel() for _ in self.seeds]
        for k, (b, a) in enumerate(zip(self.before, self.after)):
            for label in (b, a):
                label.setFixedSize(THUMB, THUMB)
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setText("…")
            grid.addWidget(b, 0, k + 1)
            grid.addWidget(a, 1, k + 1)
        lay.addWidget(pairs)
        self.previous_label = QLabel()
        self.previous_label.setObjectName("muted")
        self.previous_label.setWordWrap(True)
        lay.addWidget(self.previous_label)

        form = QHBoxLayout()
        self.amount = QDoubleSpinBox()
        self.amount.setRange(-20.0, 20.0)
        self.amount.setValue(AMOUNT)
        self.amount.setSingleStep(0.5)
        self.amount.setToolTip("Strength of the edit in the 'after' images (the control's unit)")
        self.amount.valueChanged.connect(lambda _v: self._refresh(rerender=True))
        self.annotator = QLineEdit(_user())
        self.annotator.setToolTip("Who describes (kept with each description)")
        self.annotator.setFixedWidth(120)
        form.addWidget(QLabel("step"))
        form.addWidget(self.amount)
        form.addStretch(1)
        form.addWidget(QLabel("annotator"))
        form.addWidget(self.annotator)
        lay.addLayout(form)

        self.text = DescriptionEdit()
        self.text.skipRequested.connect(self.skip)
        self.text.backRequested.connect(self.back)
        self.text.setPlaceholderText("What changes from before to after? (Enter saves, Ctrl+→ skips)")
        self.text.returnPressed.connect(self.save_and_next)
        lay.addWidget(self.text)
        buttons = QHBoxLayout()
        self.back_button = QPushButton("◀ Back")
        self.skip_button = QPushButton("Skip ▶")
        self.save_button = QPushButton("Save && next")
        for b in (self.back_button, self.skip_button, self.save_button):
            b.setAutoDefault(False)  # Enter belongs to the text box (returnPressed), once
        self.back_button.clicked.connect(self.back)
        self.skip_button.clicked.connect(self.skip)
        self.save_button.clicked.connect(self.save_and_next)
        self.progress = QProgressBar()
        self.progress.setRange(0, max(1, len(self.indices)))
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.save_button)
        lay.addLayout(buttons)
        self.status = QLabel()
        self.status.setObjectName("muted")
        lay.addWidget(self.status)
        QShortcut(QKeySequence("Ctrl+Right"), self, self.skip)
        QShortcut(QKeySequence("Ctrl+Left"), self, self.back)
        self.resize(520, 420)
        self._refresh(rerender=True)

    # ------------------------------------------------------------------ navigation
    @property
    def index(self) -> int | None:
        """The control being described (None when every control has been shown)."""
        return self.indices[self.position] if self.position < len(self.indices) else None

    @property
    def all_shown(self) -> bool:
        return self.index is None

    def save_and_next(self) -> bool:
        """Write the description (if any) of the current control and go to the next one."""
        if self.all_shown:
            return False
        text = self.text.text().strip()
        if text:
            try:
                self.store.annotate(self.controls, self.index, text, annotator=self.annotator.text().strip() or "anonymous")
            except AnnotationError as exc:
                self.status.setText(f"Not saved: {exc}")
                return False
            self.saved += 1
        else:
            self.skipped += 1
        self._go(self.position + 1)
        return bool(text)

    def skip(self) -> None:
        if not self.all_shown:
            self.skipped += 1
            self._go(self.position + 1)

    def back(self) -> None:
        if self.position > 0:
            self._go(self.position - 1)

    def _go(self, position: int) -> None:
        self.position = max(0, min(position, len(self.indices)))
        self.text.clear()
        self._refresh(rerender=False)

    # ------------------------------------------------------------------ showing
    def _refresh(self, rerender: bool) -> None:
        n = len(self.indices)
        self.progress.setValue(self.position)
        self.progress.setFormat(f"{min(self.position + 1, n)} of {n}")
        self.back_button.setEnabled(self.position > 0)
        for w in (self.text, self.skip_button, self.save_button):
            w.setEnabled(not self.all_shown)
        counts = self.store.counts()
        self.status.setText(f"{self.saved} described, {self.skipped} skipped this session · "
                            f"{counts['annotations']} descriptions in {self.store.path}")
        if self.all_shown:
            self.title.setText(f"All {n} controls shown. Vocabulary ▸ Distill words… turns the descriptions into controls.")
            self.previous_label.setText("")
            return
        i = self.index
        self.title.setText(f"Control {i}: {self.controls[i].name}")
        previous = self.store.annotations_of(self.controls, i)
        self.previous_label.setText(
            "Said before: " + "; ".join(a.text for a in previous[-5:]) if previous else "Not described yet.")
        self.text.setFocus()
        if rerender:
            self._pixmaps.clear()
        if i in self._pixmaps:
            self._show(i)
        else:
            self._render(i)

    def _render(self, index: int) -> None:
        """Render the pairs of control ``index`` in a job (the generator never runs on this thread)."""
        G = self.window_.generator
        if G is None:
            return
        before_state, after_state = pair_states(self.window_.state, self.controls, index, self.amount.value())
        seeds = list(self.seeds)
        self._stamp += 1
        stamp = self._stamp
        for label in self.before + self.after:
            label.clear()
            label.setText("…")

        def work(progress, cancel):
            with G.lock:
                before = render_grid(G.unwrapped, before_state, seeds)
                after = render_grid(G.unwrapped, after_state, seeds)
            return before, after

        def done(result: Any) -> None:
            before, after = result
            if self._closed:
                return
            if stamp == self._stamp or index not in self._pixmaps:
                self._pixmaps[index] = ([to_pixmap(f) for f in before], [to_pixmap(f) for f in after])
                self._show(index)

        self.job = self.window_.runner.start(
            f"Rendering pairs of control {index}", work, done,
            lambda msg: self.status.setText(f"Could not render: {msg}"))

    def _show(self, index: int) -> None:
        if self.index != index:
            return
        before, after = self._pixmaps[index]
        for label, pm in zip(self.before, before):
            label.setPixmap(pm)
        for label, pm in zip(self.after, after):
            label.setPixmap(pm)

    def closeEvent(self, event) -> None:  # noqa: N802
        self._closed = True
        self.store.close()
        super().closeEvent(event)


class VocabularyDialog(QDialog):
    """Distil the store's descriptions into word controls, search them, and use one."""

    def __init__(self, window: "MainWindow", store_path: str | Path | None = None,
                 config: DistillConfig = DistillConfig()):
        super().__init__(window)
        self.setWindowTitle("Vocabulary")
        self.window_ = window
        self.store_path = Path(store_path) if store_path is not None else default_db_path()
        self.config = config
        self.words: ControlSet | None = None
        self.job = None

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.distill_button = QPushButton("Distill")
        self.distill_button.setToolTip("Turn every description in the store into word controls (a background job)")
        self.distill_button.clicked.connect(self.distill)
        self.distill_button.setAutoDefault(False)
        self.info = QLabel(f"Store: {self.store_path}")
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        top.addWidget(self.distill_button)
        top.addWidget(self.info, 1)
        lay.addLayout(top)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search concept words…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.fill)
        self.search.setEnabled(False)
        lay.addWidget(self.search)
        self.list = QListWidget()
        self.list.itemActivated.connect(self._activated)
        self.list.itemDoubleClicked.connect(self._activated)
        lay.addWidget(self.list, 1)
        hint = QLabel("Double-click (or Enter on) a word to use the word controls and focus its slider.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.resize(380, 480)

    def distill(self):
        """Run `distill_store` in a job; its own store connection lives on the job's thread."""
        G = self.window_.generator
        latent_dim = G.latent_dim if G is not None else None
        path, config = self.store_path, self.config

        def work(progress, cancel):
            with AnnotationStore(path, create=False) as store:
                return distill_store(store, config, latent_dim=latent_dim, progress=progress, cancel=cancel)

        def done(cs: ControlSet) -> None:
            self.job = None
            self.distill_button.setEnabled(True)
            self.set_words(cs)

        def failed(msg: str) -> None:
            self.job = None
            self.distill_button.setEnabled(True)
            self.info.setText(f"Distillation failed: {msg}")

        self.distill_button.setEnabled(False)
        self.info.setText("Distilling…")
        self.job = self.window_.runner.start("Distilling words", work, done, failed,
                                             lambda: (self.distill_button.setEnabled(True), self.info.setText("Cancelled")))
        return self.job

    def set_words(self, cs: ControlSet) -> None:
        self.words = cs
        self.info.setText(f"{len(cs)} words from {cs.samples} descriptions")
        self.search.setEnabled(True)
        self.fill(self.search.text())

    def fill(self, query: str = "") -> None:
        """List the words matching ``query`` with their support (annotations behind them)."""
        self.list.clear()
        if self.words is None:
            return
        for index, word, support in search_words(self.words, query):
            item = QListWidgetItem(f"{word}    ({support})")
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(f"{support} descriptions use '{word}'")
            self.list.addItem(item)

    def _activated(self, item: QListWidgetItem) -> None:
        self.use_word(int(item.data(Qt.ItemDataRole.UserRole)))

    def use_word(self, index: int) -> bool:
        """Make the word set the active controls (unless it already is) and focus word ``index``."""
        w = self.window_
        if self.words is None:
            return False
        if w.state.controls is not self.words and not w.discovery.attach_controls(self.words, source="vocabulary"):
            return False
        row = w.control_panel.row(index)
        w.control_panel.filter.setText(self.words[index].name)
        row.slider.setFocus()
        return True


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return "anonymous"
