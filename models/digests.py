"""Weights-file digests remembered by ``(size, mtime_ns, inode)``, so a start does not re-hash the file.

The cache is one small JSON file in the user's cache folder (`user_cache_dir`), written
atomically; a digest is reused only when the file's size, modification time (ns) and
inode are all unchanged.  A missing, oversized, unreadable or malformed cache is ignored
(the file is hashed) and rewritten; a cache that cannot be written is skipped.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable

from .atomic import atomic_open
from .bounded import read_json_file

CACHE_NAME = "digests.json"
MAX_ENTRIES = 64  # weights files remembered; the oldest entry goes first
MAX_BYTES = 64 * 1024  # a larger cache file is not read
_DIGEST = re.compile(r"^[0-9a-f]{16,64}$")


def user_cache_dir() -> Path:
    """``$LATENT_STUDIO_CACHE``, else ``$XDG_CACHE_HOME/latent-studio``, else ``~/.cache/latent-studio``."""
    env = os.environ.get("LATENT_STUDIO_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "latent-studio"


def _read(path: Path) -> dict:
    try:
        data = read_json_file(path, max_bytes=MAX_BYTES)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_digest(path: str | os.PathLike, compute: Callable[[Path], str]) -> str:
    """``compute(path)``, or the digest remembered for this exact file state."""
    path = Path(path)
    st = path.stat()
    key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns, st.st_ino]
    cache = user_cache_dir() / CACHE_NAME
    entries = _read(cache)
    entry = entries.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("digest"), str) \
            and _DIGEST.match(entry["digest"]):
        return entry["digest"]
    digest = compute(path)
    entries.pop(key, None)
    entries[key] = {"stamp": stamp, "digest": digest}
    while len(entries) > MAX_ENTRIES:
        entries.pop(next(iter(entries)))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(cache) as f:
            json.dump(entries, f)
    except OSError:
        pass  # a read-only cache folder costs one hash per start, nothing else
    return digest
