"""Saying what a file is when it is not what was asked for, in one sentence without any
exception class name: an image, a JSON file invalid at line L, a checkpoint truncated at
byte N, or simply not a checkpoint.

The lowest layer's helpers: `models.loading` diagnoses checkpoints with them, and the
upper layers use `json_problem` and `error_sentence` for their own files and errors.
"""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

#: (magic bytes at offset 0, what the file is)
_IMAGES = [
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
]
_ZIP = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"  # a zip's end-of-central-directory record


def image_kind(head: bytes) -> str | None:
    """``"PNG"``, ``"JPEG"``, … when ``head`` (a file's first bytes) starts an image file."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _IMAGES if head.startswith(magic)), None)


def zip_end_missing(path: Path) -> bool:
    """Whether a zip archive lacks its end-of-central-directory record (it was cut short)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - (1 << 16) - 22))
        return _EOCD not in f.read()


def json_problem(exc: Exception) -> str:
    """Why text is not JSON: ``"JSON invalid at line 3 (Expecting ',' delimiter)"`` or ``"not UTF-8 text"``."""
    if isinstance(exc, json.JSONDecodeError):
        return f"JSON invalid at line {exc.lineno} ({exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start} cannot be decoded)"
    return error_sentence(exc)


def diagnose_checkpoint(path: Path) -> str | None:
    """A sentence when ``path`` is visibly not a loadable checkpoint (by its bytes), else None.

    Checked before unpickling: an image, a JSON file, a zip archive cut short, or bytes that
    start no checkpoint format at all (a PyTorch zip, or a pickle of protocol 2 or newer).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    kind = image_kind(head)
    if kind is not None:
        return f"{path.name} is an image ({kind}), not a checkpoint"
    if head.lstrip()[:1] in (b"{", b"["):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"{path.name} is not a checkpoint but a JSON file, {json_problem(exc)}"
        return f"{path.name} is a JSON file, not a checkpoint"
    if head.startswith(_ZIP):
        if zip_end_missing(path):
            return f"{path.name} is truncated at byte {size} (the checkpoint's archive ends there); copy it again"
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return f"{path.name} is a damaged zip archive, not a readable checkpoint"
        if not any(n.endswith("data.pkl") for n in names):
            return f"{path.name} is a zip archive without a PyTorch checkpoint in it"
        return None
    if head[:1] == pickle.PROTO and len(head) > 1 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return None  # a pickle (the legacy PyTorch format): the restricted loader decides
    return f"{path.name} is not a checkpoint (its first bytes start neither a PyTorch archive nor a pickle)"


#: modules a plain weights pickle may name (tensor rebuilding and containers)
_SAFE_MODULES = ("torch", "collections", "argparse", "_codecs", "numpy")


def pickle_problem(path: Path) -> str | None:
    """Why a pickle file cannot be loaded as weights, read by its opcodes (nothing is unpickled).

    Its first pickle is walked with `pickletools.genops`: a stream that ends before its
    STOP is truncated; one that names classes outside tensor rebuilding (``os.system``)
    holds other objects.  None when neither is seen.
    """
    import pickletools

    strings: list[str] = []
    foreign: list[str] = []
    try:
        with open(path, "rb") as f:
            for op, arg, _pos in pickletools.genops(f):
                if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                    strings.append(str(arg))
                elif op.name == "GLOBAL":
                    name = str(arg).replace(" ", ".")
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    name = f"{strings[-2]}.{strings[-1]}"
                else:
                    continue
                if op.name in ("GLOBAL", "STACK_GLOBAL") and not name.startswith(_SAFE_MODULES):
                    foreign.append(name)
    except ValueError as exc:
        if "exhausted" in str(exc) or "not enough data" in str(exc) or "truncated" in str(exc):
            return truncation_sentence(path)
        return f"{path.name} is not a checkpoint (its pickle is damaged: {error_sentence(exc)})"
    if foreign:
        return (f"{path.name} holds pickled objects other than tensors (it names {foreign[0]}), "
                "so it is not loaded (only plain weights are safe to open)")
    return None


def truncation_sentence(path: Path) -> str:
    """For a file whose parser met its end too early."""
    return f"{path.name} is truncated at byte {os.path.getsize(path)}; copy it again"


def error_sentence(exc: BaseException) -> str:
    """An exception as one line for a person, never its class name.

    ``file: reason`` for OS errors, else the first line of its message, else a generic
    sentence for exceptions without one.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc.strerror)
    if isinstance(exc, MemoryError):
        return "not enough memory"
    lines = str(exc).strip().strip("'\"").splitlines()
    return lines[0] if lines and lines[0] else "an internal error without a message (see the log)"
