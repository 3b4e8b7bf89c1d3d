"""The contract every long computation follows: report progress, stop when asked."""
from __future__ import annotations

from typing import Callable, Protocol

from models.diagnose import error_sentence

#: progress(fraction in [0, 1], message)
ProgressFn = Callable[[float, str], None]
#: cancel() -> True once the user asked to stop
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside a job when its cancel() returned True; its output file was not written.

    (Trained methods with a job folder do leave a checkpoint there to resume from.)
    """


class MethodError(ValueError):
    """A method's options or inputs are invalid; the message is one sentence for the user."""


def no_progress(_fraction: float, _message: str) -> None:
    """A progress callback that ignores everything."""


def never_cancel() -> bool:
    """A cancel callback for jobs nobody can stop."""
    return False


class Job(Protocol):
    def __call__(self, progress: ProgressFn, cancel: CancelFn): ...


def check_cancel(cancel: CancelFn) -> None:
    """Raise `Cancelled` if the user asked to stop."""
    if cancel():
        raise Cancelled()


def error_line(exc: BaseException) -> str:
    """An exception as one line for a person (`models.diagnose.error_sentence`: never its class name)."""
    return error_sentence(exc)
