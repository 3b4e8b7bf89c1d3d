"""Write files so that a crash or a kill never leaves a half-written file in place.

The lowest layer holds this module because every layer writes files: methods (controls,
job checkpoints, annotation exports), editing (presets, exports) and the app (autosave)."""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


#: temporary names: ``.<target name>.p<writer pid>.<random><suffix>``; the pid lets a later
#: writer tell a dead writer's leftover from a live writer's file in progress
_TEMP = re.compile(r"^\.(?P<name>.+)\.p(?P<pid>\d+)\.[A-Za-z0-9_]{6,}(\.[^.]*)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process (or a pid we cannot ask about): leave it
    return True


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files in ``folder`` whose writer process is gone (killed mid-write);
    returns what was removed.  Called before every atomic write to that folder."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        if not _alive(int(m.group("pid"))):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder so a rename inside it survives a power cut (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_beside(target: Path, suffix: str | None) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    clean_stale_temps(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.p{os.getpid()}.",
                               suffix=suffix if suffix is not None else target.suffix, dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the file the mode a plain open() would (or the old file's)
    os.chmod(tmp_path, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_UMASK)
    return tmp_path


def _commit(tmp_path: Path, target: Path) -> None:
    with open(tmp_path, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, target)
    fsync_dir(target.parent if str(target.parent) else Path("."))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is fsynced and renamed onto it.

    The temporary name keeps the target's suffix (OpenCV and NumPy choose formats by
    it).  If the block raises, the temporary file is removed and ``target`` is untouched.
    After the rename the folder is fsynced too; leftovers of writers killed mid-write are
    removed at the next write to the same folder.
    """
    target = Path(target)
    tmp_path = _temp_beside(target, suffix)
    try:
        yield tmp_path
        _commit(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_files_atomic(files: dict[str | os.PathLike, bytes]) -> None:
    """Write several files all or none: every temporary file is written and fsynced before the
    first rename, so a failed write (a full disk) leaves every target as it was."""
    temps: list[tuple[Path, Path]] = []
    try:
        for target, data in files.items():
            target = Path(target)
            tmp = _temp_beside(target, None)
            temps.append((tmp, target))
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, target in temps:
            os.replace(tmp, target)
        for folder in {t.parent if str(t.parent) else Path(".") for _tmp, t in temps}:
            fsync_dir(folder)
    finally:
        for tmp, _target in temps:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``target`` for writing; rename it into place on success."""
    with atomic_path(target) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_open(target, "wb") as f:
        f.write(data)
