"""The dialog for sweep exports: a strip image (PNG) or a video (mp4) of one control swept A → B."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class SweepRequest:
    """What to export: control index, values a -> b, frames (video) or columns (strip), fps, file."""

    kind: str  # "strip" or "video"
    control: int
    a: float
    b: float
    frames: int
    fps: float
    path: Path


class SweepDialog(QDialog):
    """Options of a strip or video export, with the output file chosen here."""

    def __init__(self, kind: str, names: Sequence[str], current: int = 0, folder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        if kind not in ("strip", "video"):
            raise ValueError(kind)
        self.kind = kind
        self.setWindowTitle("Export strip image" if kind == "strip" else "Export sweep video")
        self.setMinimumWidth(440)
        lay = QVBoxLayout(self)
        text = (
            "One row of frames with the control at evenly spaced values from A to B."
            if kind == "strip"
            else "An mp4 that sweeps the control A → B → A, so it loops."
        )
        intro = QLabel(text)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.control = QComboBox()
        self.control.addItems([f"{i}: {n}" for i, n in enumerate(names)])
        self.control.setCurrentIndex(max(0, min(current, len(names) - 1)))
        self.a = QDoubleSpinBox()
        self.b = QDoubleSpinBox()
        for w, v in ((self.a, -3.0), (self.b, 3.0)):
            w.setRange(-100, 100)
            w.setDecimals(2)
            w.setSingleStep(0.5)
            w.setValue(v)
            w.setSuffix(" σ")
        self.frames = QSpinBox()
        self.frames.setRange(2 if kind == "strip" else 2, 100 if kind == "strip" else 10_000)
        self.frames.setValue(7 if kind == "strip" else 60)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 240)
        self.fps.setValue(30)
        self.path = QLineEdit()
        suffix = ".png" if kind == "strip" else ".mp4"
        self.path.setText(str(Path(folder or ".") / f"sweep{suffix}"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("control", self.control)
        form.addRow("from (A)", self.a)
        form.addRow("to (B)", self.b)
        form.addRow("columns" if kind == "strip" else "frames", self.frames)
        if kind == "video":
            form.addRow("frames per second", self.fps)
        form.addRow("file", row)
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        filt = "PNG image (*.png)" if self.kind == "strip" else "MPEG-4 video (*.mp4)"
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.path.text(), filt)
        if path:
            suffix = ".png" if self.kind == "strip" else ".mp4"
            self.path.setText(path if path.lower().endswith(suffix) else path + suffix)

    def request(self) -> SweepRequest:
        return SweepRequest(
            self.kind, self.control.currentIndex(), self.a.value(), self.b.value(),
            self.frames.value(), self.fps.value(), Path(self.path.text()).expanduser(),
        )
