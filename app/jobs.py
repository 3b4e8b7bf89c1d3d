"""Long work off the GUI thread: discovery, export, model loading.

A job is a function ``fn(progress, cancel) -> result`` following `methods.jobs`
(``progress(fraction, message)``, ``cancel() -> bool``, `Cancelled` when stopped).
`Job` runs one on its own `QThread` and reports through signals that arrive on the GUI
thread; `JobRunner` keeps the running jobs and hands out the outcome callbacks.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any, Callable

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from editing.export import ExportError
from editing.preset import PresetError
from methods.controls import ControlSetError
from methods.jobs import CancelFn, Cancelled, MethodError, ProgressFn, error_line
from models import LoadError

JobFn = Callable[[ProgressFn, CancelFn], Any]

#: errors whose message is already a sentence for the user
USER_ERRORS = (LoadError, ControlSetError, PresetError, ExportError, MethodError, OSError, KeyError, ValueError)


def describe_error(exc: BaseException) -> str:
    """One line for a dialog: the message, never the exception's class name."""
    return error_line(exc)


class Job(QThread):
    """One background computation with progress and cancellation.

    Exactly one of ``succeeded(result)``, ``failed(message)``, ``cancelled()`` is
    emitted, then QThread's ``finished``.
    """

    progressed = pyqtSignal(float, str)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    #: minimum seconds between two progress signals (the bar need not redraw faster)
    PROGRESS_INTERVAL = 0.04

    def __init__(self, title: str, fn: JobFn, parent: QObject | None = None, cancellable: bool = True):
        super().__init__(parent)
        self.title = title
        self.cancellable = cancellable
        self._fn = fn
        self._cancel = threading.Event()
        self._last_progress = 0.0
        self.fraction = 0.0
        self.message = ""
        self.outcome: str | None = None  # "succeeded", "failed", "cancelled"
        self.setObjectName(f"job: {title}")

    def cancel(self) -> None:
        """Ask the job to stop at its next check (thread-safe)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress < self.PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self.progressed.emit(float(min(max(fraction, 0.0), 1.0)), str(message))

    def run(self) -> None:  # the job's thread
        try:
            result = self._fn(self._progress, self._cancel.is_set)
        except Cancelled:
            self.outcome = "cancelled"
            self.cancelled.emit()
        except Exception as exc:  # every failure becomes a message; the program goes on
            if not isinstance(exc, USER_ERRORS):
                traceback.print_exc(file=sys.stderr)
            self.outcome = "failed"
            self.failed.emit(describe_error(exc))
        else:
            self.outcome = "succeeded"
            self.succeeded.emit(result)


class JobRunner(QObject):
    """Starts jobs and keeps them alive until they end; ``started``/``ended`` drive the progress panel."""

    jobStarted = pyqtSignal(object)
    jobEnded = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: list[Job] = []

    def start(
        self,
        title: str,
        fn: JobFn,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        cancellable: bool = True,
    ) -> Job:
        """Run ``fn`` on a new thread; the callbacks run on the GUI thread."""
        job = Job(title, fn, self, cancellable)
        if on_success is not None:
            job.succeeded.connect(on_success)
        if on_failure is not None:
            job.failed.connect(on_failure)
        if on_cancel is not None:
            job.cancelled.connect(on_cancel)
        job.finished.connect(lambda j=job: self._ended(j))
        self._jobs.append(job)
        self.jobStarted.emit(job)
        job.start()
        return job

    def _ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            self.jobEnded.emit(job)
            job.deleteLater()

    @property
    def running(self) -> list[Job]:
        return list(self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def wait_all(self, timeout_ms: int = 10000) -> bool:
        """Block until every job's thread has ended (used when the window closes)."""
        deadline = time.monotonic() + timeout_ms / 1000
        for job in list(self._jobs):
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not job.wait(left):
                return False
        return True
