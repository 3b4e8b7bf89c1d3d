"""Discover ▸ Label samples…: click thumbnails as "has it" / "doesn't" / "skip", then train a boundary.

Thumbnails are rendered in a job (a page of seeds at a time, at the window's truncation
and class, without the controls), so the GUI thread never runs the generator.  A click
cycles an unlabelled thumbnail through has it → doesn't → skip → has it.  "Train
direction" fits InterFaceGAN's linear SVM (`methods.boundary.boundary_from_labels`) in
another job and makes it the window's controls (one undo step); the held-out accuracy is
shown and kept in the controls' provenance.  Labels save to / load from a seed,label CSV,
the file `main.py discover --method boundary --labels` reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QBrush, QColor, QIcon
from PyQt6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QListView, QListWidget,
                             QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout)

from editing.render import synthesize_latents
from editing.state import EditState
from methods.boundary import BoundaryConfig, boundary_from_labels, read_labels, write_labels
from methods.jobs import MethodError

from .jobs import Job
from .projection_dialog import pixmap

if TYPE_CHECKING:
    from .window import MainWindow

THUMB = 96
PAGE = 24
#: label -> (text, background); None = skip
LOOK = {1: ("has it", QColor(70, 160, 90)), 0: ("doesn't", QColor(190, 70, 70)), None: ("skip", QColor(110, 110, 110))}
CYCLE = {"unlabelled": 1, 1: 0, 0: None, None: 1}


class LabelGallery(QDialog):
    """Sample thumbnails to label, and the boundary they train."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.w = window
        self.setWindowTitle("Label samples")
        self.setModal(False)
        self.labels: dict[int, int | None] = {}  # seed -> 1 has it, 0 doesn't, None skip
        self.seeds: list[int] = []  # seeds shown, in order
        self.page_job: Job | None = None
        self.train_job: Job | None = None
        self.fingerprint = window.generator.fingerprint if window.generator is not None else ""

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Attribute"))
        self.name_edit = QLineEdit("has it")
        self.name_edit.setToolTip("the name of the direction, e.g. smile")
        top.addWidget(self.name_edit)
        top.addWidget(QLabel("First seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(int(window.state.seed))
        top.addWidget(self.seed_spin)
        lay.addLayout(top)
        self.view = QListWidget()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setGridSize(QSize(THUMB + 16, THUMB + 34))
        self.view.setMinimumSize(6 * (THUMB + 16) + 24, 2 * (THUMB + 34) + 8)
        self.view.itemClicked.connect(self.cycle)
        lay.addWidget(self.view)
        buttons = QHBoxLayout()
        self.more_button = QPushButton("More samples")
        self.train_button = QPushButton("Train direction")
        self.save_button = QPushButton("Save labels…")
        self.load_button = QPushButton("Load labels…")
        for b in (self.more_button, self.train_button, self.save_button, self.load_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.counts_label = QLabel("")
        lay.addWidget(self.counts_label)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.more_button.clicked.connect(lambda: self.more())
        self.train_button.clicked.connect(lambda: self.train())
        self.save_button.clicked.connect(self.save_dialog)
        self.load_button.clicked.connect(self.load_dialog)
        self._update()

    # ------------------------------------------------------------------ thumbnails
    def thumb_state(self) -> EditState:
        """What a thumbnail shows: the window's model, truncation and class, no controls."""
        s = self.w.state
        return EditState(model=s.model, truncation=s.truncation, class_index=s.class_index, noise_mode=s.noise_mode)

    def more(self, count: int = PAGE) -> Job | None:
        """Render the next ``count`` seeds' thumbnails in a job."""
        G = self.w.generator
        if G is None or self.page_job is not None:
            return None
        first = (self.seeds[-1] + 1) if self.seeds else self.seed_spin.value()
        seeds = list(range(first, first + count))
        state = self.thumb_state()

        def work(progress, cancel):
            frames = []
            for i in range(0, len(seeds), 8):
                if cancel():
                    break
                with torch.no_grad():
                    lat = torch.cat([G.truncate(G.sample(1, s), state.truncation) for s in seeds[i:i + 8]])
                    frames.extend(synthesize_latents(G, state, lat))
                progress(min(1.0, (i + 8) / len(seeds)), "rendering thumbnails")
            return frames

        def done(frames) -> None:
            self.page_job = None
            for seed, frame in zip(seeds, frames):
                self._add(seed, frame)
            self._update()

        def ended(message: str) -> None:
            self.page_job = None
            self.status.setText(message)
            self._update()

        self.page_job = self.w.runner.start("Rendering thumbnails", work, done, lambda m: ended(f"Thumbnails failed: {m}"),
                                            lambda: ended("Thumbnails cancelled."))
        self._update()
        return self.page_job

    def _add(self, seed: int, frame: np.ndarray) -> None:
        item = QListWidgetItem(QIcon(pixmap(frame, THUMB)), "")
        item.setData(Qt.ItemDataRole.UserRole, int(seed))
        self.view.addItem(item)
        self.seeds.append(int(seed))
        self._paint(item)

    def _paint(self, item: QListWidgetItem) -> None:
        seed = int(item.data(Qt.ItemDataRole.UserRole))
        if seed in self.labels:
            text, colour = LOOK[self.labels[seed]]
            item.setBackground(QBrush(colour))
        else:
            text = ""
            item.setBackground(QBrush())
        item.setText(f"{seed}  {text}".strip())
        item.setToolTip(f"seed {seed}: click to label (has it → doesn't → skip)")

    # ------------------------------------------------------------------ labels
    def cycle(self, item: QListWidgetItem) -> None:
        """One click: unlabelled → has it → doesn't → skip → has it."""
        seed = int(item.data(Qt.ItemDataRole.UserRole))
        self.labels[seed] = CYCLE[self.labels[seed] if seed in self.labels else "unlabelled"]
        self._paint(item)
        self._update()

    def set_label(self, seed: int, label: int | None) -> None:
        self.labels[int(seed)] = label
        for i in range(self.view.count()):
            if int(self.view.item(i).data(Qt.ItemDataRole.UserRole)) == seed:
                self._paint(self.view.item(i))
        self._update()

    def counts(self) -> tuple[int, int, int]:
        vals = list(self.labels.values())
        return vals.count(1), vals.count(0), vals.count(None)

    def save(self, path: str | Path) -> bool:
        try:
            write_labels(path, self.labels)
        except OSError as exc:
            self.w.show_error("Could not save the labels", f"{path}: {exc.strerror or exc}", dialog=True)
            return False
        self.status.setText(f"Saved {len(self.labels)} labels to {Path(path).name}")
        return True

    def load(self, path: str | Path) -> bool:
        try:
            seeds, y = read_labels(path)
        except MethodError as exc:
            self.w.show_error("Could not read the labels", str(exc), dialog=True)
            return False
        for s, v in zip(seeds.tolist(), y.tolist()):
            self.labels[int(s)] = int(v)
        for i in range(self.view.count()):
            self._paint(self.view.item(i))
        self._update()
        return True

    def save_dialog(self) -> None:
        start = Path(self.w.settings.last_folder()) / "labels.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Save labels", str(start), "CSV (*.csv)")
        if path:
            self.w.settings.remember_folder(path)
            self.save(path if path.endswith(".csv") else path + ".csv")

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load labels", self.w.settings.last_folder(), "CSV (*.csv);;All files (*)")
        if path:
            self.w.settings.remember_folder(path)
            self.load(path)

    # ------------------------------------------------------------------ training
    def train(self) -> Job | None:
        """Fit the boundary on the labels in a job; the result becomes the window's controls."""
        w, G = self.w, self.w.generator
        if G is None or self.train_job is not None:
            return None
        if G.fingerprint != self.fingerprint:
            self.status.setText("Another model is open; these labels were made on the previous one.")
            return None
        pairs = sorted((s, v) for s, v in self.labels.items() if v is not None)
        seeds = np.array([s for s, _ in pairs], dtype=np.int64)
        y = np.array([v for _, v in pairs], dtype=np.int64)
        name = self.name_edit.text().strip() or "has it"
        config = BoundaryConfig(truncation=float(self.thumb_state().truncation), name=name)

        def work(progress, cancel):
            return boundary_from_labels(G, seeds, y, config, {"labels": "gallery"}, name, None, progress, cancel)

        def done(cs) -> None:
            self.train_job = None
            self.controls = cs
            acc = cs.stats.get("val_accuracy")
            if w.discovery.attach_controls(cs, source="label gallery"):
                self.status.setText(f"“{name}” trained on {len(y)} labels; held-out accuracy "
                                    + (f"{acc:.0%}" if acc is not None else "n/a") + ". It is now the control.")
            self._update()

        def ended(message: str) -> None:
            self.train_job = None
            self.status.setText(message)
            self._update()

        self.train_job = w.runner.start(f"Training “{name}”", work, done, lambda m: ended(f"Training failed: {m}"),
                                        lambda: ended("Training cancelled."))
        self._update()
        return self.train_job

    def _update(self) -> None:
        has, hasnt, skip = self.counts()
        self.train_button.setEnabled(self.train_job is None and has >= 2 and hasnt >= 2)
        self.more_button.setEnabled(self.page_job is None)
        self.save_button.setEnabled(bool(self.labels))
        self.counts_label.setText(f"{has} have it, {hasnt} don't, {skip} skipped"
                                  + ("" if has >= 2 and hasnt >= 2 else " — label at least 2 of each to train"))


def open_label_gallery(window: "MainWindow") -> LabelGallery | None:
    """Show the window's label gallery (a new one when the model changed), with a first page of thumbnails."""
    if window.generator is None:
        return None
    dlg = getattr(window, "label_gallery", None)
    if dlg is None or dlg.fingerprint != window.generator.fingerprint:
        dlg = window.label_gallery = LabelGallery(window)
        dlg.more()
    dlg.show()
    dlg.raise_()
    return dlg
