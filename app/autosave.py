"""Autosave and crash restore of the window's session (issue 9).

The session is the current edit as a preset (`editing.preset.to_json`, controls
embedded, so unsaved ControlSets — discovered, renamed, distilled — come back too),
plus where it was saved.  The window writes it atomically every few seconds while
there are unsaved changes, removes it on a clean exit, and offers to restore it
when it finds one at start (the last session did not end cleanly).

Each running process writes its own file (``autosave-<pid>.json``), so two windows
open at once never offer each other's live sessions: only files whose process is
gone are *orphans*.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from editing import preset as presets
from models.atomic import atomic_open
from models.bounded import read_json_file
from editing.state import EditState
from methods.annotations import data_dir

FORMAT = "latent-studio.autosave"
VERSION = 1
PREFIX, SUFFIX = "autosave-", ".json"
#: seconds between two checks for changes to write
INTERVAL_S = 5.0


class AutosaveError(ValueError):
    """An autosave file that cannot be read."""


def autosave_path(pid: int | None = None) -> Path:
    """``data_dir()/autosave-<pid>.json`` of this process (``$LATENT_STUDIO_DATA`` moves it)."""
    return data_dir() / f"{PREFIX}{os.getpid() if pid is None else int(pid)}{SUFFIX}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running (ours counts as running)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def orphans(folder: str | os.PathLike) -> list[Path]:
    """Autosave files in ``folder`` whose process is gone, newest first.

    A file under this process's own id counts too: it was left by an earlier process
    that had the same id (ids are reused), since a window writes only after it starts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            pid = int(path.name[len(PREFIX):-len(SUFFIX)])
        except ValueError:
            continue
        if pid != os.getpid() and pid_alive(pid):
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def write(path: str | os.PathLike, state: EditState, fingerprint: str = "", name: str = "",
          controls_source: str = "", preset_path: str | None = None) -> None:
    """Write the session atomically (a crash mid-write leaves the previous autosave)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "pid": os.getpid(),
        "preset_path": preset_path,
        "preset": presets.to_json(state, fingerprint, name, controls_source),
    }
    with atomic_open(path, "w") as f:
        f.write(json.dumps(obj) + "\n")


def read(path: str | os.PathLike) -> tuple[EditState, dict[str, Any]]:
    """The autosaved state and its info (the preset's, plus ``preset_path``); `AutosaveError` if unusable."""
    try:
        obj = read_json_file(path)
    except (OSError, ValueError) as exc:  # InputLimitError, JSONDecodeError, UnicodeDecodeError
        raise AutosaveError(f"{path}: {exc}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("version") != VERSION:
        raise AutosaveError(f"{path} is not a Latent Studio autosave (version {VERSION})")
    try:
        state, info = presets.from_json(obj.get("preset"))
    except (presets.PresetError, ValueError, TypeError, KeyError) as exc:
        raise AutosaveError(f"{path}: {exc}") from None
    info = dict(info)
    pp = obj.get("preset_path")
    info["preset_path"] = pp if isinstance(pp, str) and pp else None
    return state, info


def remove(path: str | os.PathLike) -> None:
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass
