"""The running jobs in the status bar: one line each with a progress bar and a Cancel button."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from .jobs import Job, JobRunner


class JobRow(QWidget):
    """Title, progress bar (with the job's message as tooltip/text) and Cancel for one job."""

    def __init__(self, job: Job, parent: QWidget | None = None):
        super().__init__(parent)
        self.job = job
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(6)
        self.title = QLabel(job.title)
        self.title.setObjectName("jobTitle")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(True)
        self.bar.setFormat("starting…")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip(f"Stop “{job.title}”; nothing is written")
        self.cancel_button.setEnabled(job.cancellable)
        self.cancel_button.clicked.connect(self._cancel)
        lay.addWidget(self.title)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        job.progressed.connect(self._progress)

    def _progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(round(fraction * 1000)))
        self.bar.setFormat(f"{fraction * 100:.0f}%")
        self.bar.setToolTip(message)
        self.title.setToolTip(message)

    def _cancel(self) -> None:
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.bar.setFormat("cancelling…")


class JobPanel(QWidget):
    """Shows a `JobRow` for each job of a `JobRunner` while it runs."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._rows: dict[int, JobRow] = {}
        runner.jobStarted.connect(self._add)
        runner.jobEnded.connect(self._remove)
        self.setVisible(False)

    def rows(self) -> list[JobRow]:
        return list(self._rows.values())

    def row_for(self, job: Job) -> JobRow | None:
        return self._rows.get(id(job))

    def _add(self, job: Job) -> None:
        row = JobRow(job, self)
        self._rows[id(job)] = row
        self._layout.addWidget(row, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setVisible(True)

    def _remove(self, job: Job) -> None:
        row = self._rows.pop(id(job), None)
        if row is not None:
            self._layout.removeWidget(row)
            row.deleteLater()
        self.setVisible(bool(self._rows))
