"""Seeds and animation: a fractional seed, a 2-D pad between four seeds (as NVIDIA's latent
widget), an Animate toggle that walks through seeds at a set speed, and the loop export.

While dragging or animating, frames are previews of seed blends (`editing.seeds`), resolved
on the render thread (`RenderWorker.request(..., blend=)`); when the drag ends or the
animation stops, the blend shown becomes the image's explicit base: one undo step.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from editing.export import export_seed_walk_video
from editing.seeds import fractional_blend, pad_blend, walk_position

if TYPE_CHECKING:
    from .window import MainWindow

SEED_MAX = 2**31 - 2


def parse_seeds(text: str) -> list[int]:
    """``"3, 8, 12"`` -> ``[3, 8, 12]`` (ValueError with a sentence otherwise)."""
    try:
        seeds = [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of seeds") from None
    if len(seeds) < 2 or min(seeds) < 0:
        raise ValueError("a seed walk needs at least two seeds, none negative")
    return seeds


class SeedPad(QWidget):
    """A square with a draggable point; ``moved(x, y, dragging)`` in [0, 1]² (x right, y down)."""

    moved = pyqtSignal(float, float, bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(120, 120)
        self.point = (0.0, 0.0)
        self.dragging = False

    def _xy(self, pos) -> tuple[float, float]:
        s = self._side()
        return (min(max((pos.x() - 6) / s, 0.0), 1.0), min(max((pos.y() - 6) / s, 0.0), 1.0))

    def _side(self) -> float:
        return max(1.0, min(self.width(), self.height()) - 12.0)

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = self._side()
        p.setPen(QPen(QColor(90, 94, 102), 1))
        p.setBrush(QColor(30, 31, 35))
        p.drawRect(QRectF(6, 6, s, s))
        x, y = self.point
        p.setPen(QPen(QColor(94, 160, 255), 2))
        p.setBrush(QColor(222, 225, 231))
        p.drawEllipse(QPointF(6 + x * s, 6 + y * s), 6, 6)
        p.end()

    def mousePressEvent(self, e) -> None:  # noqa: N802
        self.dragging = True
        self.point = self._xy(e.position())
        self.update()
        self.moved.emit(*self.point, True)

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self.dragging:
            self.point = self._xy(e.position())
            self.update()
            self.moved.emit(*self.point, True)

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        if self.dragging:
            self.dragging = False
            self.point = self._xy(e.position())
            self.update()
            self.moved.emit(*self.point, False)


class SeedPanel(QWidget):
    """See the module docstring.  ``position``: the animation's place along the walk (seeds)."""

    def __init__(self, window: "MainWindow"):
        super().__init__()
        self.w = window
        self.blend: tuple | None = None  # the blend on preview
        self._sent: dict[int, tuple] = {}  # stamp -> blend of the previews sent
        self._base = None  # (blend, BaseLatents) of the last preview rendered
        self._commit_waiting = False
        self.position = 0.0
        self._last_tick = 0.0
        lay = QVBoxLayout(self)

        frac = QGroupBox("Between two seeds")
        fl = QHBoxLayout(frac)
        self.frac_slider = QSlider(Qt.Orientation.Horizontal)
        self.frac_slider.setRange(0, 100)
        self.frac_slider.setToolTip("Seed s + t: 0 is the current seed, 100 the next "
                                    "(W blend for StyleGANs, slerp in z for the others)")
        self.frac_label = QLabel("seed 0.00")
        fl.addWidget(self.frac_slider, 1)
        fl.addWidget(self.frac_label)
        lay.addWidget(frac)

        pad = QGroupBox("Four seeds")
        pl = QGridLayout(pad)
        self.corners = []
        for i, (r, c) in enumerate(((0, 0), (0, 2), (2, 0), (2, 2))):
            sp = QSpinBox()
            sp.setRange(0, SEED_MAX)
            sp.setValue(i)
            sp.setToolTip("The seed at this corner of the pad")
            pl.addWidget(sp, r, c)
            self.corners.append(sp)
        self.pad = SeedPad()
        pl.addWidget(self.pad, 1, 1)
        lay.addWidget(pad)

        anim = QGroupBox("Animation")
        al = QGridLayout(anim)
        self.animate = QCheckBox("Animate")
        self.animate.setToolTip("Walk through the seeds below, looping (stopping keeps the frame shown: one undo step)")
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.05, 20.0)
        self.speed.setValue(0.5)
        self.speed.setSingleStep(0.1)
        self.speed.setSuffix(" seeds/s")
        self.walk_seeds = QLineEdit("0, 1, 2, 3")
        self.walk_seeds.setToolTip("The seeds the animation and the loop export walk through, back to the first")
        self.frames_per_seed = QSpinBox()
        self.frames_per_seed.setRange(1, 600)
        self.frames_per_seed.setValue(30)
        self.frames_per_seed.setSuffix(" frames per seed")
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(30)
        self.fps.setSuffix(" fps")
        self.export_button = QPushButton("Export loop (mp4)…")
        self.export_button.setToolTip("An mp4 of the walk, looping back to its first seed, with the current edits")
        al.addWidget(self.animate, 0, 0)
        al.addWidget(self.speed, 0, 1)
        al.addWidget(QLabel("Seeds"), 1, 0)
        al.addWidget(self.walk_seeds, 1, 1)
        al.addWidget(self.frames_per_seed, 2, 0)
        al.addWidget(self.fps, 2, 1)
        al.addWidget(self.export_button, 3, 0, 1, 2)
        lay.addWidget(anim)
        lay.addStretch(1)

        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._tick)
        self.frac_slider.valueChanged.connect(self._frac_moved)
        self.frac_slider.sliderReleased.connect(self.commit)
        self.pad.moved.connect(self._pad_moved)
        self.animate.toggled.connect(self.set_animating)
        self.export_button.clicked.connect(self.export_loop_dialog)
        window.worker.blendReady.connect(self._on_base)

    # ------------------------------------------------------------------ previews
    def preview(self, blend: tuple | None) -> None:
        """Show ``blend`` of seeds (not an undo step); None goes back to the state's own image."""
        self.blend = blend
        self.w.seed_blend = blend
        stamp = self.w.request_render()
        if blend is not None:
            self._sent = {s: b for s, b in self._sent.items() if s > stamp - 8}
            self._sent[stamp] = blend

    def _on_base(self, stamp: int, base) -> None:
        blend = self._sent.get(stamp)
        if blend is not None and blend == self.blend:
            self._base = (blend, base)
            if self._commit_waiting:
                self.commit()

    def commit(self) -> None:
        """The blend on preview becomes the image (explicit latents, one undo step)."""
        if self.blend is None:
            return
        if self._base is None or self._base[0] != self.blend:
            self._commit_waiting = True  # its base is still being computed
            return
        base = self._base[1]
        self._commit_waiting = False
        self.blend, self.w.seed_blend = None, None
        self.w.commit(replace(self.w.state, latents=base))

    def _frac_moved(self, value: int) -> None:
        seed = self.w.state.seed + value / 100
        self.frac_label.setText(f"seed {seed:.2f}")
        self.preview(fractional_blend(seed))
        if not self.frac_slider.isSliderDown():
            self.commit()

    def _pad_moved(self, x: float, y: float, dragging: bool) -> None:
        self.preview(pad_blend([c.value() for c in self.corners], x, y))
        if not dragging:
            self.commit()

    # ------------------------------------------------------------------ animation
    def seeds(self) -> list[int] | None:
        try:
            return parse_seeds(self.walk_seeds.text())
        except ValueError as exc:
            self.w.show_error("Seeds", str(exc))
            return None

    def set_animating(self, on: bool) -> None:
        if on and self.w.generator is not None and self.seeds() is not None:
            self._last_tick = time.monotonic()
            self.timer.start()
        else:
            self.timer.stop()
            if self.animate.isChecked():
                self.animate.blockSignals(True)
                self.animate.setChecked(False)
                self.animate.blockSignals(False)
            self.commit()

    def _tick(self) -> None:
        now = time.monotonic()
        self.position += self.speed.value() * (now - self._last_tick)
        self._last_tick = now
        seeds = self.seeds()
        if seeds is None:
            self.set_animating(False)
            return
        if self.w.worker.idle():  # a new frame only when the last one is drawn
            self.preview(walk_position(seeds, self.position))

    # ------------------------------------------------------------------ export
    def export_loop_dialog(self) -> None:
        start = Path(self.w.settings.last_folder()) / "seed-walk.mp4"
        path, _ = QFileDialog.getSaveFileName(self, "Export seed walk", str(start), "MPEG-4 video (*.mp4)")
        if path:
            self.w.settings.remember_folder(path)
            self.export_loop(path if path.lower().endswith(".mp4") else path + ".mp4")

    def export_loop(self, path: str | Path):
        """The walk as a looping mp4 in a job (the exporter's own atomic write)."""
        w, seeds = self.w, self.seeds()
        if w.generator is None or seeds is None:
            return None
        G, state, path = w.generator, w.exports.export_state(), Path(path)
        n, fps = self.frames_per_seed.value(), float(self.fps.value())

        def work(progress, cancel):
            export_seed_walk_video(G, state, seeds, n, fps, path, progress, cancel)
            return path

        return w.exports.job(f"Exporting {path.name}", work)
