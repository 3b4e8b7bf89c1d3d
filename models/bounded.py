"""Bounded reading of untrusted input: a file cannot ask for more memory than it holds.

Every layer reads files from strangers (checkpoints, controls, presets, datasets, masks), so
these checks live at the bottom, beside `models.atomic`.  Each check runs *before* anything
is allocated from a declared size and raises `InputLimitError`, one sentence naming the file
(``what``) and the limit; callers re-raise it as their own error type.

- `loads_json` / `read_json_file`: JSON with a nesting-depth and size limit (no RecursionError);
- `check_zip_members`: a zip's declared uncompressed sizes against limits before any entry is read;
- `read_npz`: ``.npz`` arrays, each ``.npy`` header's shape × dtype checked against its entry;
- `check_tensors`: a loaded checkpoint's tensors: storage really holds shape × dtype with no
  overlapping (stride-0) views, finite values, total size within the budget;
- `check_model_size`: parameters + activations at batch 1 implied by a layout, before building it;
- `read_image`: an image's header (PNG, JPEG, BMP) checked against a pixel limit before decoding;
- `memory_budget` / `set_memory_budget`: the limit, from the machine (RAM, ``ulimit -v``), the
  ``LATENT_STUDIO_MAX_MEMORY_GB`` environment variable or the ``--max-memory`` option;
- `quote_name`: echo a user-given name in a message: quoted, escaped, shortened.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

#: deepest nesting of arrays/objects accepted in any JSON file we read (ours use < 10)
MAX_JSON_DEPTH = 64
#: largest JSON document read into memory (presets embed their controls as base64)
MAX_JSON_BYTES = 256 << 20
#: most entries a zip (npz, dataset, checkpoint) may list
MAX_ZIP_MEMBERS = 100_000
#: largest uncompressed/compressed ratio accepted for a zip entry bigger than `_RATIO_FLOOR`
#: (deflate cannot exceed ~1032; real weights and CSV text stay far below 100)
MAX_ZIP_RATIO = 200
_RATIO_FLOOR = 16 << 20
#: largest image decoded (pixels); a 16 384² image is 268 M
MAX_IMAGE_PIXELS = 64 << 20
#: environment variable that raises (or lowers) the memory budget, in GB (2³⁰ bytes)
MEMORY_ENV = "LATENT_STUDIO_MAX_MEMORY_GB"
#: how a user raises the limit, appended to refusals
RAISE_HINT = f"pass --max-memory GB (or set {MEMORY_ENV}) to allow more"


class InputLimitError(ValueError):
    """A file or value declares more than it holds or more than the limits allow (one sentence)."""


# ---------------------------------------------------------------------------------- budget
_budget_override: int | None = None


def machine_memory() -> int:
    """Bytes this process may use: physical RAM, lowered by ``ulimit -v`` / ``-d`` when set."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    try:
        import resource

        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft, _hard = resource.getrlimit(which)
            if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
                total = min(total, soft)
    except (ImportError, ValueError, OSError):
        pass
    return int(total)


def memory_budget() -> int:
    """Bytes one loaded file/model may claim: the override, the environment, else half the machine."""
    if _budget_override is not None:
        return _budget_override
    env = os.environ.get(MEMORY_ENV)
    if env:
        try:
            gb = float(env)
            if math.isfinite(gb) and gb > 0:
                return int(gb * (1 << 30))
        except ValueError:
            pass
    return max(machine_memory() // 2, 256 << 20)


def set_memory_budget(gb: float | None) -> None:
    """Set the budget in GB (``None``: back to the default); the CLI's ``--max-memory``."""
    global _budget_override
    if gb is None:
        _budget_override = None
        return
    if isinstance(gb, bool) or not isinstance(gb, (int, float)) or not math.isfinite(gb) or gb <= 0 or gb > 1 << 20:
        raise InputLimitError(f"a memory limit of {gb!r} GB is not a positive number of at most 1048576")
    _budget_override = int(gb * (1 << 30))


def format_bytes(n: float) -> str:
    """``48 GB``, ``3.1 MB``, ``512 bytes`` (powers of 1024, as memory is counted)."""
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{int(n)} bytes"


def _shorten(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    half = max(limit // 2, 1)
    return s[:half] + "…" + s[-(limit - half - 1):] if limit - half - 1 > 0 else s[:limit] + "…"


def quote_name(text: Any, limit: int = 60) -> str:
    """A user-given name (path, model spec) as a one-line quoted string of about ``limit`` characters:
    newlines and control characters are escaped by `repr`, the middle of a long name is cut."""
    return repr(_shorten(str(text), limit))


def short_repr(value: Any, limit: int = 40) -> str:
    """`repr` of a value from a file, cut to about ``limit`` characters (one line)."""
    try:
        r = repr(value) if not isinstance(value, (list, dict, tuple)) or len(value) < 64 else f"a {type(value).__name__} of {len(value)} items"
    except (RecursionError, ValueError):
        r = f"a {type(value).__name__}"
    return _shorten(r, limit)


# ---------------------------------------------------------------------------------- numbers
def is_number(value: Any, lo: float = -math.inf, hi: float = math.inf) -> bool:
    """Whether a value parsed from a file is a finite int/float (not a bool) within ``[lo, hi]``.

    Never raises: JSON integers of 400 digits (which overflow ``float``) and ``Infinity``/``NaN``
    are simply not numbers in range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        f = float(value)
    except OverflowError:
        return False
    return math.isfinite(f) and lo <= f <= hi


def is_integer(value: Any, lo: int = -(1 << 62), hi: int = 1 << 62) -> bool:
    """Whether a value parsed from a file is an ``int`` (not a bool) within ``[lo, hi]``."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


# ---------------------------------------------------------------------------------- JSON
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` outside strings in JSON text (linear, no recursion)."""
    # JSON's lexer starts a string at every '"' outside one, exactly as the leftmost regex
    # match does, so brackets left after removing strings are structure.
    stripped = _JSON_STRING.sub(b"", data)
    a = np.frombuffer(stripped, dtype=np.uint8)
    opens = (a == ord("[")) | (a == ord("{"))
    closes = (a == ord("]")) | (a == ord("}"))
    idx = np.flatnonzero(opens | closes)
    if idx.size == 0:
        return 0
    steps = np.where(opens[idx], 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def loads_json(data: str | bytes, *, what: str, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """`json.loads` that refuses documents nested deeper than ``max_depth`` or longer than ``max_bytes``.

    Raises `InputLimitError` for the limits and `ValueError` (``json.JSONDecodeError``) for bad
    JSON; ``NaN``/``Infinity`` parse as floats, as with `json` (validators check finiteness).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise InputLimitError(f"{what} is {format_bytes(len(raw))}, more than the {format_bytes(max_bytes)} a JSON file may be")
    depth = json_depth(raw)
    if depth > max_depth:
        raise InputLimitError(f"{what} nests {depth} levels deep; at most {max_depth} are accepted")
    text = data if isinstance(data, str) else raw.decode("utf-8-sig")
    try:
        return json.loads(text)
    except RecursionError:  # not reachable after the depth check; kept as a last guard
        raise InputLimitError(f"{what} nests too deeply to read") from None


def read_json_file(path: str | os.PathLike, *, what: str | None = None, max_depth: int = MAX_JSON_DEPTH,
                   max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON file parsed by `loads_json`; the size is checked before the file is read.

    Raises `InputLimitError`, `OSError`, `UnicodeDecodeError` or ``json.JSONDecodeError``.
    """
    path = Path(path)
    what = what or path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise InputLimitError(f"{what} is {format_bytes(size)}, more than the {format_bytes(max_bytes)} a JSON file may be")
    return loads_json(path.read_bytes(), what=what, max_depth=max_depth, max_bytes=max_bytes)


# ---------------------------------------------------------------------------------- zip
def check_zip_members(zf: zipfile.ZipFile, *, what: str, max_total: int | None = None,
                      max_members: int = MAX_ZIP_MEMBERS, max_ratio: int = MAX_ZIP_RATIO) -> int:
    """Check a zip's central directory before any entry is read; returns the uncompressed total.

    Refuses more than ``max_members`` entries, a total uncompressed size above ``max_total``
    (default `memory_budget`) and, for entries above 16 MB, an uncompressed/compressed ratio
    above ``max_ratio`` (a zip bomb).  `zipfile` itself never inflates an entry past its declared
    size, so these declared sizes bound what reading can allocate.
    """
    infos = zf.infolist()
    if len(infos) > max_members:
        raise InputLimitError(f"{what} lists {len(infos)} entries; at most {max_members} are accepted")
    limit = memory_budget() if max_total is None else max_total
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise InputLimitError(
                f"{what}'s entry {quote_name(info.filename)} would inflate {format_bytes(info.compress_size)} "
                f"to {format_bytes(info.file_size)}, which no real data does (a zip bomb)")
    if total > limit:
        raise InputLimitError(f"{what} would unpack to {format_bytes(total)}, more than the "
                              f"{format_bytes(limit)} limit; {RAISE_HINT}")
    return total


def check_zip_file(path: str | os.PathLike, *, what: str | None = None, max_total: int | None = None) -> int | None:
    """`check_zip_members` on a file when it is a zip (``None`` when it is not one)."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            return check_zip_members(zf, what=what or path.name, max_total=max_total)
    except zipfile.BadZipFile:
        return None


def _npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    from numpy.lib import format as npformat

    version = npformat.read_magic(f)
    if version == (1, 0):
        return npformat.read_array_header_1_0(f)
    if version == (2, 0):
        return npformat.read_array_header_2_0(f)
    return npformat._read_array_header(f, version)  # 3.0: utf-8 field names, same layout


def _read_npy_stream(f, held: int, what: str, key: str | None) -> np.ndarray:
    """One ``.npy`` from an open stream holding ``held`` bytes in all; the header is checked first."""
    shape, fortran, dtype = _npy_header(f)
    label = f"{what}'s array {quote_name(key)}" if key is not None else what
    if dtype.hasobject:
        raise ValueError(f"{label} holds Python objects, which are not loaded")
    nbytes = math.prod(int(s) for s in shape) * dtype.itemsize
    rest = held - f.tell()
    if nbytes != rest:
        raise InputLimitError(f"{label} declares shape {tuple(shape)} ({format_bytes(nbytes)}) but holds {format_bytes(max(rest, 0))}")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{label} is truncated")
    arr = np.frombuffer(data, dtype=dtype).copy()
    return arr.reshape(shape, order="F" if fortran else "C")


def read_npy(path: str | os.PathLike, *, what: str | None = None, max_total: int | None = None) -> np.ndarray:
    """A ``.npy`` file (``allow_pickle=False``) whose header's shape × dtype must equal the bytes it holds.

    Raises `InputLimitError` (too big, or declaring more than it holds) or `ValueError`/`OSError`.
    """
    path = Path(path)
    what = what or path.name
    size = path.stat().st_size
    limit = memory_budget() if max_total is None else max_total
    if size > limit:
        raise InputLimitError(f"{what} is {format_bytes(size)}, more than the {format_bytes(limit)} limit; {RAISE_HINT}")
    with open(path, "rb") as f:
        return _read_npy_stream(f, size, what, None)


def read_npz(path: str | os.PathLike, *, what: str | None = None, max_total: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (``allow_pickle=False``), every declared size checked first.

    Each ``.npy`` entry's header shape × dtype must equal the bytes the entry holds, and the
    entries' total must fit ``max_total`` (default `memory_budget`), so a small file cannot make
    NumPy allocate gigabytes.  Raises `InputLimitError`, or `ValueError`/`zipfile.BadZipFile`/
    `OSError` for a damaged file.
    """
    path = Path(path)
    what = what or path.name
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        check_zip_members(zf, what=what, max_total=max_total)
        for info in zf.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise ValueError(f"entry {quote_name(info.filename)} is not a .npy array")
            key = info.filename[: -len(".npy")]
            with zf.open(info) as f:
                arrays[key] = _read_npy_stream(f, info.file_size, what, key)
    return arrays


# ---------------------------------------------------------------------------------- tensors
def _iter_tensors(obj: Any, prefix: str = "", depth: int = 0) -> Iterable[tuple[str, Any]]:
    import torch

    if depth > 32:
        raise InputLimitError("the checkpoint nests containers more than 32 deep")
    if isinstance(obj, torch.Tensor):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _iter_tensors(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _iter_tensors(v, f"{prefix}[{i}]", depth + 1)


def check_tensor_layout(t, name: str, what: str) -> None:
    """A tensor's storage must hold its shape × dtype, and no two elements may share bytes.

    Strides are checked as a layout: sorted by stride, each dimension's stride must step over
    everything the smaller ones span (so stride 0 on a dimension of size > 1 is refused).
    """
    if t.numel() == 0:
        return
    import torch

    if t.layout != torch.strided:
        raise InputLimitError(f"{what}'s {quote_name(name)} is not a dense tensor")
    es = t.element_size()
    span = 1
    for stride, size in sorted((st, sz) for sz, st in zip(t.shape, t.stride()) if sz > 1):
        if stride < span:
            raise InputLimitError(f"{what}'s {quote_name(name)} repeats its stored values (stride {stride} for a "
                                  f"dimension of {size}), so its {tuple(t.shape)} shape is not really in the file")
        span += stride * (size - 1)
    need = (t.storage_offset() + span) * es
    have = t.untyped_storage().nbytes()
    if need > have:
        raise InputLimitError(f"{what}'s {quote_name(name)} needs {format_bytes(need)} but its storage holds {format_bytes(have)}")


def check_tensors(obj: Any, *, what: str, finite: bool = True, max_total: int | None = None) -> int:
    """Check every tensor inside a loaded checkpoint (nested dicts/lists); returns their total bytes.

    Layouts by `check_tensor_layout`; with ``finite``, floating tensors must hold no NaN/Inf
    (a damaged or hostile file draws black frames otherwise); the total of all tensors must fit
    ``max_total`` (default `memory_budget`) and at most 4× (+ 1 MB) the distinct storage bytes,
    so many views of one small storage cannot stand for a large model.
    """
    import torch

    limit = memory_budget() if max_total is None else max_total
    total = 0
    storages: dict[tuple[int, int], int] = {}
    for name, t in _iter_tensors(obj):
        check_tensor_layout(t, name, what)
        total += t.numel() * t.element_size()
        st = t.untyped_storage()
        storages[(st.data_ptr(), st.nbytes())] = st.nbytes()
        if finite and (t.is_floating_point() or t.is_complex()) and t.numel() and not bool(torch.isfinite(t).all()):
            raise InputLimitError(f"{what}'s {quote_name(name)} holds NaN or infinite values, so the file is damaged")
    stored = sum(storages.values())
    if total > 4 * stored + (1 << 20):
        raise InputLimitError(f"{what}'s tensors claim {format_bytes(total)} from {format_bytes(stored)} of stored data")
    if total > limit:
        raise InputLimitError(f"{what} holds {format_bytes(total)} of tensors, more than the {format_bytes(limit)} limit; {RAISE_HINT}")
    return total


#: largest output side accepted without a raised memory limit (published GANs stop at 1024)
MAX_RESOLUTION = 4096


def module_bytes(build) -> int:
    """Bytes of parameters and buffers of the module ``build()`` makes, built on the meta device
    (no memory is allocated, so a hostile layout can be measured safely)."""
    import torch

    with torch.device("meta"):
        net = build()
    return sum(t.numel() * t.element_size() for t in list(net.parameters()) + list(net.buffers()))


def check_model_size(parameters: int, activations: int, *, what: str = "this checkpoint", resolution: int | None = None,
                     max_total: int | None = None) -> None:
    """Refuse a layout whose weights (``parameters`` bytes) plus activations for one image exceed the budget.

    Called by the families with sizes computed from the inferred layout, *before* the network
    is built.  The sentence says how much it would need: "this checkpoint would need 48 GB …".
    Outputs above `MAX_RESOLUTION` px are refused too unless the limit was raised by the user.
    """
    limit = memory_budget() if max_total is None else max_total
    if resolution is not None and resolution > MAX_RESOLUTION and _budget_override is None and not os.environ.get(MEMORY_ENV):
        raise InputLimitError(f"{what} makes {resolution} px images, more than the {MAX_RESOLUTION} px accepted; {RAISE_HINT}")
    need = int(parameters) + int(activations)
    if need > limit:
        raise InputLimitError(
            f"{what} would need {format_bytes(need)} ({format_bytes(parameters)} of weights, "
            f"{format_bytes(activations)} of activations for one image), more than the {format_bytes(limit)} limit; {RAISE_HINT}")


# ---------------------------------------------------------------------------------- images
def image_header_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first bytes of a PNG, JPEG or BMP file; ``None`` for anything else."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24 and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return w, h
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker == 0xFF:
                i += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", head[i + 2:i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if i + 9 > len(head):
                    return None
                h, w = struct.unpack(">HH", head[i + 5:i + 9])
                return w, h
            i += 2 + length
    return None


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the block: C libraries (libpng's "libpng
    warning: …", FFmpeg's "[mpeg4 @ …]") write there directly, which would add lines to a
    one-sentence error.  Python-level errors are unaffected (they are raised, not printed)."""
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def read_image(path: str | os.PathLike, flags: int | None = None, *, what: str | None = None,
               max_pixels: int = MAX_IMAGE_PIXELS):
    """Decode an image file with OpenCV after checking its header's size (``None`` if undecodable).

    Only PNG, JPEG and BMP are decoded (their headers are parsed here); a header declaring more
    than ``max_pixels`` is refused before any pixel is allocated.  The file is read into memory
    and decoded with ``cv2.imdecode``, so a path with any characters works.
    """
    import cv2

    path = Path(path)
    what = what or path.name
    data = path.read_bytes()
    size = image_header_size(data[:1 << 16])
    if size is None:
        raise InputLimitError(f"{what} is not a readable image (PNG, JPEG and BMP files are read)")
    w, h = size
    if w == 0 or h == 0:
        raise InputLimitError(f"{what} declares an empty {w}x{h} image")
    if w * h > max_pixels:
        raise InputLimitError(f"{what} declares a {w}x{h} image, more than the {max_pixels >> 20} megapixels accepted")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        with native_stderr_silenced():
            return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED if flags is None else flags)
    except cv2.error:
        return None


# ---------------------------------------------------------------------------------- torch files
def safe_torch_load(source: str | os.PathLike | bytes, *, what: str, finite: bool = True,
                    allowed: Iterable[type] = (), max_total: int | None = None) -> Any:
    """`torch.load` of an untrusted file or bytes: sizes checked before reading, tensors after.

    ``weights_only=True`` (plus the classes in ``allowed``), on the CPU, with torch's warnings
    silenced (e.g. the "pickle protocol 4" note on NVIDIA snapshots, which would add lines to a
    one-sentence error).  A zip-format file's entries are checked by `check_zip_members`, and
    the loaded tensors by `check_tensors`.  Raises `InputLimitError` for the limits and passes
    torch's own exceptions (``pickle.UnpicklingError``, ``RuntimeError``, …) through.
    """
    import io
    import warnings

    import torch

    if isinstance(source, (bytes, bytearray)):
        buf = io.BytesIO(source)
        if zipfile.is_zipfile(buf):
            with zipfile.ZipFile(buf) as zf:
                check_zip_members(zf, what=what, max_total=max_total)
        buf.seek(0)
        target: Any = buf
    else:
        check_zip_file(source, what=what, max_total=max_total)
        target = source
    with torch.serialization.safe_globals(list(allowed)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = torch.load(target, map_location="cpu", weights_only=True)
    check_tensors(obj, what=what, finite=finite, max_total=max_total)
    return obj
