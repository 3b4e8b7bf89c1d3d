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


def one_line(text: str, limit: int = 400) -> str:
    """A message as one line of at most ~``limit`` characters: newlines and other control
    characters (from paths or names in the message) are escaped, the middle of a long one cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text).strip())
    return text if len(text) <= limit else text[: limit // 2] + " … " + text[-(limit // 2):]


def error_line(exc: BaseException) -> str:
    """An exception as one line for a person: "disk full" for ENOSPC, quoted paths, named causes
    for memory, nesting and OpenCV errors, else `models.diagnose.error_sentence` (never the
    class name), escaped and shortened by `one_line`."""
    import errno

    from models.bounded import quote_name

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {quote_name(exc.filename)}" if exc.filename else ""
        return f"disk full{where}; the old file, if any, is unchanged"
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return one_line(f"{quote_name(exc.filename)}: {exc.strerror}")
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller size, batch or sample count (or free memory)"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if type(exc).__name__ == "error" and type(exc).__module__.startswith("cv2"):
        lines = str(exc).strip().splitlines()
        text = lines[0].split("error: ", 1)[-1] if lines else ""
        return one_line(f"OpenCV failed: {text}" if text else "OpenCV failed")
    return one_line(error_sentence(exc))


#: most bytes the error log keeps before it starts again (one rotation to ``.1``)
ERROR_LOG_LIMIT = 1 << 20


def error_log_path():
    """Where tracebacks of unexpected errors go: ``<cache dir>/errors.log`` (see `methods.cache.cache_dir`)."""
    from .cache import cache_dir

    return cache_dir() / "errors.log"


def log_traceback(exc: BaseException, context: str = ""):
    """Append ``exc``'s traceback to `error_log_path` (never to the terminal); returns the path,
    or None when the log cannot be written (the one-line message is then all there is)."""
    import datetime
    import traceback

    try:
        path = error_log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > ERROR_LOG_LIMIT:
            path.replace(path.with_name(path.name + ".1"))
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with open(path, "a", encoding="utf-8", errors="replace") as f:
            f.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')} {context}\n{text}")
        return path
    except Exception:  # noqa: BLE001 - logging must never be the second failure
        return None
