"""The annotation store of the visual concept vocabulary (METHODS.md §5b): one SQLite file.

What it holds (schema version `SCHEMA_VERSION`):

* ``sources``     — one row per annotated ControlSet (or imported dataset): its model
  identity (name, family, fingerprint, latent size, rows), method, a display name, config;
  keyed by a content hash of the model identity, method and direction matrix, so the
  same set registered twice is one source.
* ``directions``  — the direction vectors themselves (float32 little-endian blobs), their
  index in the set, name, slider scale and default layer range: distillation needs no
  other file.
* ``annotators``  — names of the people (or imports) who wrote annotations.
* ``annotations`` — free text about one direction, by one annotator, with a UTC timestamp.

Safety: WAL journal, ``synchronous=FULL``, a busy timeout, and every write inside one
``BEGIN IMMEDIATE`` transaction, so concurrent writers queue instead of failing and a
writer killed mid-transaction leaves the file as it was before that transaction.
One `AnnotationStore` (one connection) per thread.

Also here: CSV export/import of everything (round-trips), and the reader of the
published visual-vocab datasets (`read_published_dataset`).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import hashlib
import io
import json
import os
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from models.bounded import InputLimitError, check_zip_members, format_bytes, safe_torch_load

from .controls import ControlSet, ModelRef
from .jobs import MethodError

SCHEMA_VERSION = 1
#: PRAGMA application_id marking a Latent Studio annotation store ("LSva")
APPLICATION_ID = 0x4C537661
DB_NAME = "annotations.sqlite"
#: the step of the published LSDs (α = 10 in BigGAN-Places z), recorded as their slider scale
PUBLISHED_ALPHA = 10.0
MAX_TEXT = 4000

CSV_COLUMNS = [
    "source_key", "source_name", "method", "model_name", "model_family", "fingerprint", "latent_dim",
    "num_layers", "direction_index", "direction_name", "scale", "layers", "vector", "annotator", "text", "created",
]


class AnnotationError(MethodError):
    """The store, a CSV or a dataset cannot be used; the message is one sentence for the user."""


def data_dir() -> Path:
    """``$LATENT_STUDIO_DATA``, else ``$XDG_DATA_HOME/latent-studio``, else ``~/.local/share/latent-studio``."""
    env = os.environ.get("LATENT_STUDIO_DATA")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "latent-studio"


def default_db_path() -> Path:
    """The user's annotation store: ``data_dir()/annotations.sqlite``."""
    return data_dir() / DB_NAME


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SourceInfo:
    """An annotated ControlSet or imported dataset."""

    key: str
    name: str
    method: str
    model: ModelRef
    config: dict
    added: str
    directions: int = 0
    annotations: int = 0


@dataclass(frozen=True)
class DirectionInfo:
    """One stored direction: ``vector`` ``[latent_dim]`` float32, exactly as it was registered."""

    id: int
    source_key: str
    index: int
    name: str
    vector: np.ndarray
    scale: float
    layers: tuple[int, int] | None
    annotations: int = 0


@dataclass(frozen=True)
class Annotation:
    id: int
    direction_id: int
    annotator: str
    text: str
    created: str


@dataclass(frozen=True)
class TrainingData:
    """What distillation needs, one row per annotation.

    ``texts`` [n]; ``vectors`` D ``[n, latent_dim]`` float32 (the described direction,
    repeated over its annotations); ``direction_ids`` [n] (group labels for k-fold);
    ``scales`` [n] slider scale of each direction; ``sources`` the sources involved.
    """

    texts: list[str]
    vectors: np.ndarray
    direction_ids: np.ndarray
    scales: np.ndarray
    sources: list[SourceInfo]


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    directions: int
    source_key: str | None = None


def _blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(np.asarray(v, dtype="<f4")).tobytes()


def _unblob(b: bytes, dim: int) -> np.ndarray:
    v = np.frombuffer(b, dtype="<f4")
    if v.shape != (dim,):
        raise AnnotationError(f"a stored direction has {v.size} values instead of {dim}; the store is damaged")
    return v.astype(np.float32)


def source_key(model: ModelRef, method: str, vectors: np.ndarray, labels: Sequence[str]) -> str:
    """Content hash naming a set of directions: model identity, method, names, vectors."""
    h = hashlib.sha256()
    h.update(json.dumps({"model": model.__dict__, "method": method, "labels": list(labels)}, sort_keys=True).encode())
    h.update(_blob(vectors.reshape(-1)))
    return h.hexdigest()[:20]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK(length(name) > 0),
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    method TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_family TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    latent_dim INTEGER NOT NULL CHECK(latent_dim > 0),
    num_layers INTEGER NOT NULL CHECK(num_layers > 0),
    config TEXT NOT NULL,
    added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directions(
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL CHECK(length(vector) = 4 * dim),
    scale REAL NOT NULL,
    layer_start INTEGER,
    layer_end INTEGER,
    UNIQUE(source_id, idx));
CREATE TABLE IF NOT EXISTS annotations(
    id INTEGER PRIMARY KEY,
    direction_id INTEGER NOT NULL REFERENCES directions(id) ON DELETE CASCADE,
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    text TEXT NOT NULL CHECK(length(text) > 0),
    created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS annotations_by_direction ON annotations(direction_id);
"""


#: the exact-duplicate lookup of `AnnotationStore.import_csv` (created on first import, so
#: stores written before it exist unchanged until then)
_EXACT_INDEX = "CREATE INDEX IF NOT EXISTS annotations_exact ON annotations(direction_id, text, annotator_id, created)"


class AnnotationStore:
    """A connection to one annotation database (created on first use).

    ``path``: the SQLite file (None: `default_db_path`, its folder created).
    ``create=False`` refuses to make a new file (for commands that only read).
    ``timeout``: seconds a writer waits for another one before giving up.
    """

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True, timeout: float = 60.0,
                 readonly: bool = False):
        if path is None:
            path = default_db_path()
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        if self.path.is_dir():
            raise AnnotationError(f"{self.path} is a folder, not an annotation database")
        if not self.path.exists():
            if not create:
                raise AnnotationError(f"annotation database {self.path} does not exist")
            if not self.path.parent.is_dir():
                raise AnnotationError(f"folder {self.path.parent} does not exist")
        self._depth = 0
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise AnnotationError(f"annotation database {self.path} does not exist")
            self.db = self._connect_readonly(timeout)
        else:
            try:
                self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            except sqlite3.Error as exc:
                raise AnnotationError(f"cannot open {self.path}: {exc}") from None
        try:
            self._check_readonly() if readonly else self._setup()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            msg = str(exc)
            if "not a database" in msg or "malformed" in msg:
                raise AnnotationError(f"{self.path} is not an annotation database (SQLite): {msg}") from None
            raise AnnotationError(f"{self.path}: {msg}") from None
        except AnnotationError:
            self.db.close()
            raise

    # ------------------------------------------------------------------ connection
    def _connect_readonly(self, timeout: float) -> sqlite3.Connection:
        """A read-only connection (commands that only read: works on a read-only folder or file).

        ``mode=ro`` first; where SQLite cannot create the WAL's shared-memory file beside a
        read-only store, ``immutable=1`` (nothing else may write it meanwhile: a read-only
        folder guarantees that).
        """
        from urllib.parse import quote

        base = "file:" + quote(str(self.path.resolve()))
        last: Exception | None = None
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                db = sqlite3.connect(base + query, uri=True, timeout=timeout, isolation_level=None)
                db.execute("PRAGMA application_id").fetchone()
                return db
            except sqlite3.Error as exc:
                last = exc
        raise AnnotationError(f"cannot open {self.path} for reading: {last}")

    def _check_readonly(self) -> None:
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise AnnotationError(f"{self.path} is not a Latent Studio annotation store")
        if version != SCHEMA_VERSION:
            raise AnnotationError(f"{self.path} is store version {version}; this program reads version {SCHEMA_VERSION}"
                                  + (" (open it once for writing to upgrade it)" if version < SCHEMA_VERSION else ""))

    def _setup(self) -> None:
        self.db.execute("PRAGMA foreign_keys = ON")
        # Switching to WAL takes a lock; retry while another process holds it.
        for attempt in range(50):
            try:
                mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
        if str(mode).lower() != "wal":
            raise AnnotationError(f"{self.path}: the file system does not allow SQLite's WAL journal")
        self.db.execute("PRAGMA synchronous = FULL")
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
            return
        if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
            raise AnnotationError(f"{self.path} was written by a newer Latent Studio (store version {version})")
        with self.transaction():
            app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if app_id != APPLICATION_ID and tables:
                raise AnnotationError(f"{self.path} is an SQLite database but not a Latent Studio annotation store")
            # statement by statement: executescript() would commit the open transaction
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "AnnotationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); nested uses join the outer one.

        Everything inside commits together or not at all (an exception rolls back).
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise AnnotationError(f"{self.path}: {exc} (another program kept it busy too long)") from None
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise AnnotationError(f"{self.path}: could not save ({exc})") from None

    # ------------------------------------------------------------------ writing
    def _annotator_id(self, name: str) -> int:
        name = " ".join(str(name).split())
        if not name:
            raise AnnotationError("the annotator's name cannot be empty")
        row = self.db.execute("SELECT id FROM annotators WHERE name = ?", (name,)).fetchone()
        if row:
            return row[0]
        return self.db.execute("INSERT INTO annotators(name, created) VALUES (?, ?)", (name, now_utc())).lastrowid

    def _source_row(self, key: str) -> int | None:
        row = self.db.execute("SELECT id FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _insert_source(self, key: str, name: str, method: str, model: ModelRef, config: dict) -> int:
        return self.db.execute(
            "INSERT INTO sources(key, name, method, model_name, model_family, fingerprint, latent_dim, num_layers,"
            " config, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, name, method, model.name, model.family, model.fingerprint, model.latent_dim, model.num_layers,
             json.dumps(config, sort_keys=True, default=str), now_utc()),
        ).lastrowid

    def _insert_direction(self, source_id: int, idx: int, name: str, vector: np.ndarray, scale: float,
                          layers: tuple[int, int] | None) -> int:
        return self.db.execute(
            "INSERT INTO directions(source_id, idx, name, dim, vector, scale, layer_start, layer_end)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (source_id, int(idx), name, int(vector.shape[0]), _blob(vector), float(scale),
             None if layers is None else int(layers[0]), None if layers is None else int(layers[1])),
        ).lastrowid

    def register_controls(self, cs: ControlSet, name: str) -> SourceInfo:
        """Store the linear controls of ``cs`` (vectors, names, scales, model identity) once.

        ``name``: how the set is shown (e.g. its file name).  Registering the same set
        again returns the existing source.  Field controls are not stored (they have no
        single direction to describe).
        """
        key = control_set_key(cs)
        with self.transaction():
            if self._source_row(key) is None:
                sid = self._insert_source(key, name or cs.method, cs.method, cs.model,
                                          {"config": cs.config, "seed": cs.seed, "created": cs.created})
                for i, c in enumerate(cs.controls):
                    if c.kind == "linear":
                        self._insert_direction(sid, i, c.name, c.direction, c.scale, c.layers)
        return self.source(key)

    def annotate(self, cs: ControlSet, index: int, text: str, annotator: str = "anonymous",
                 set_name: str = "", created: str | None = None) -> int:
        """Record that ``annotator`` described control ``index`` of ``cs`` as ``text``; returns the annotation id.

        Registers ``cs`` first if needed (`register_controls`), all in one transaction.
        """
        if not 0 <= index < len(cs):
            raise AnnotationError(f"control {index} does not exist (the set has {len(cs)}: 0 to {len(cs) - 1})")
        if cs.controls[index].kind != "linear":
            raise AnnotationError(f"control {index} ({cs.controls[index].name}) is not a linear direction, so it cannot be annotated")
        text = _clean_text(text)
        key = control_set_key(cs)
        with self.transaction():
            self.register_controls(cs, set_name)
            did = self._direction_id(key, index)
            return self._add(did, annotator, text, created or now_utc())

    def add_annotation(self, direction_id: int, text: str, annotator: str = "anonymous", created: str | None = None) -> int:
        """Annotate an already stored direction (by its id from `directions`)."""
        text = _clean_text(text)
        with self.transaction():
            if self.db.execute("SELECT 1 FROM directions WHERE id = ?", (direction_id,)).fetchone() is None:
                raise AnnotationError(f"direction {direction_id} is not in {self.path.name}")
            return self._add(direction_id, annotator, text, created or now_utc())

    def _add(self, direction_id: int, annotator: str, text: str, created: str) -> int:
        aid = self._annotator_id(annotator)
        return self.db.execute("INSERT INTO annotations(direction_id, annotator_id, text, created) VALUES (?, ?, ?, ?)",
                               (direction_id, aid, text, created)).lastrowid

    def delete_annotation(self, annotation_id: int) -> bool:
        """Remove one annotation; False when there was none with that id."""
        with self.transaction():
            return self.db.execute("DELETE FROM annotations WHERE id = ?", (annotation_id,)).rowcount > 0

    def _direction_id(self, key: str, index: int) -> int:
        row = self.db.execute("SELECT d.id FROM directions d JOIN sources s ON s.id = d.source_id "
                              "WHERE s.key = ? AND d.idx = ?", (key, index)).fetchone()
        if row is None:
            raise AnnotationError(f"direction {index} of source {key} is not in {self.path.name}")
        return row[0]

    # ------------------------------------------------------------------ reading
    def _source_info(self, row) -> SourceInfo:
        key, name, method, mname, fam, fp, dim, nl, config, added, nd, na = row
        return SourceInfo(key, name, method, ModelRef(mname, fam, fp, dim, nl), json.loads(config), added, nd, na)

    _SOURCE_SQL = (
        "SELECT s.key, s.name, s.method, s.model_name, s.model_family, s.fingerprint, s.latent_dim, s.num_layers, "
        "s.config, s.added, (SELECT count(*) FROM directions d WHERE d.source_id = s.id), "
        "(SELECT count(*) FROM annotations a JOIN directions d ON d.id = a.direction_id WHERE d.source_id = s.id) "
        "FROM sources s"
    )

    def sources(self) -> list[SourceInfo]:
        """Every source, oldest first, with its direction and annotation counts."""
        return [self._source_info(r) for r in self.db.execute(self._SOURCE_SQL + " ORDER BY s.id")]

    def source(self, key: str) -> SourceInfo:
        row = self.db.execute(self._SOURCE_SQL + " WHERE s.key = ?", (key,)).fetchone()
        if row is None:
            raise AnnotationError(f"no source {key!r} in {self.path.name}")
        return self._source_info(row)

    def directions(self, source: str | None = None) -> list[DirectionInfo]:
        """Stored directions (of one source key, or all), with their annotation counts."""
        sql = ("SELECT d.id, s.key, d.idx, d.name, d.dim, d.vector, d.scale, d.layer_start, d.layer_end, "
               "(SELECT count(*) FROM annotations a WHERE a.direction_id = d.id) "
               "FROM directions d JOIN sources s ON s.id = d.source_id")
        rows = self.db.execute(sql + (" WHERE s.key = ? ORDER BY d.idx" if source else " ORDER BY s.id, d.idx"),
                               (source,) if source else ())
        return [DirectionInfo(i, k, idx, n, _unblob(v, dim), sc, None if a is None else (a, b), na)
                for i, k, idx, n, dim, v, sc, a, b, na in rows]

    def annotations(self, direction_id: int | None = None) -> list[Annotation]:
        """Annotations of one direction (or all), oldest first."""
        sql = ("SELECT a.id, a.direction_id, n.name, a.text, a.created FROM annotations a "
               "JOIN annotators n ON n.id = a.annotator_id")
        rows = self.db.execute(sql + (" WHERE a.direction_id = ? ORDER BY a.id" if direction_id is not None else " ORDER BY a.id"),
                               (direction_id,) if direction_id is not None else ())
        return [Annotation(*r) for r in rows]

    def annotations_of(self, cs: ControlSet, index: int) -> list[Annotation]:
        """Annotations of control ``index`` of ``cs`` (empty when the set was never annotated)."""
        key = control_set_key(cs)
        row = self.db.execute("SELECT d.id FROM directions d JOIN sources s ON s.id = d.source_id "
                              "WHERE s.key = ? AND d.idx = ?", (key, index)).fetchone()
        return self.annotations(row[0]) if row else []

    def annotators(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM annotators ORDER BY name")]

    def counts(self) -> dict[str, int]:
        """Numbers of sources, directions, annotations, annotators."""
        return {t: self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("sources", "directions", "annotations", "annotators")}

    def training_data(self, sources: Sequence[str] | None = None, latent_dim: int | None = None) -> TrainingData:
        """Every annotation with the vector it describes (optionally of some sources / one latent size)."""
        infos = self.sources()
        if sources:
            known = {s.key for s in infos}
            missing = [k for k in sources if k not in known]
            if missing:
                raise AnnotationError(f"no source {missing[0]!r} in {self.path.name} (see `vocab info`)")
            infos = [s for s in infos if s.key in set(sources)]
        if latent_dim is not None:
            infos = [s for s in infos if s.model.latent_dim == latent_dim]
        infos = [s for s in infos if s.annotations]
        dims = sorted({s.model.latent_dim for s in infos})
        if len(dims) > 1:
            raise AnnotationError(
                f"the store holds annotated directions of sizes {', '.join(map(str, dims))}; choose one latent size or source")
        rows = self.db.execute(
            "SELECT a.text, d.id, d.dim, d.vector, d.scale, s.key FROM annotations a "
            "JOIN directions d ON d.id = a.direction_id JOIN sources s ON s.id = d.source_id ORDER BY a.id").fetchall()
        keep = {s.key for s in infos}
        rows = [r for r in rows if r[5] in keep]
        dim = dims[0] if dims else (latent_dim or 0)
        vectors = np.stack([_unblob(r[3], r[2]) for r in rows]) if rows else np.zeros((0, dim), np.float32)
        return TrainingData([r[0] for r in rows], vectors, np.array([r[1] for r in rows], dtype=np.int64),
                            np.array([r[4] for r in rows], dtype=np.float64), infos)

    def integrity_ok(self) -> bool:
        """SQLite's own consistency check of the file."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # ------------------------------------------------------------------ CSV
    def export_csv(self, path: str | os.PathLike) -> int:
        """Write every annotation, with its direction and source, to ``path`` (atomically); returns the row count.

        Vectors are written as space-separated float32 values (``%.9g``, exact on re-import).
        """
        from models.atomic import atomic_open

        rows = self.db.execute(
            "SELECT s.key, s.name, s.method, s.model_name, s.model_family, s.fingerprint, s.latent_dim, s.num_layers, "
            "d.idx, d.name, d.scale, d.layer_start, d.layer_end, d.dim, d.vector, n.name, a.text, a.created "
            "FROM annotations a JOIN directions d ON d.id = a.direction_id JOIN sources s ON s.id = d.source_id "
            "JOIN annotators n ON n.id = a.annotator_id ORDER BY a.id").fetchall()
        with atomic_open(path, "w", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(CSV_COLUMNS)
            for r in rows:
                (key, sname, method, mname, fam, fp, dim, nl, idx, dname, scale, ls, le, vdim, vec, who, text, created) = r
                vector = " ".join(f"{x:.9g}" for x in _unblob(vec, vdim).tolist())
                layers = "" if ls is None else f"{ls}:{le}"
                w.writerow([key, sname, method, mname, fam, fp, dim, nl, idx, dname, repr(float(scale)), layers,
                            vector, who, text, created])
        return len(rows)

    def import_csv(self, path: str | os.PathLike) -> ImportResult:
        """Add the rows of a CSV written by `export_csv`; identical annotations already present are skipped.

        All rows go in one transaction: a malformed row imports nothing.
        """
        path = Path(path)
        if not path.is_file():
            raise AnnotationError(f"{path} does not exist")
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.reader(f))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise AnnotationError(f"{path.name} is not a UTF-8 CSV file ({exc})") from None
        if not rows or [c.strip() for c in rows[0]] != CSV_COLUMNS:
            raise AnnotationError(f"{path.name} does not have the columns of an annotation export ({', '.join(CSV_COLUMNS[:3])}, …)")
        added = skipped = 0
        new_dirs = 0
        with self.transaction():
            # Linear in the rows: one transaction, an index for the exact-duplicate lookup (it
            # used to scan every annotation of the direction per row: 40 k rows took 98 s),
            # annotator ids and the rows to insert batched in memory, one executemany.
            self.db.execute(_EXACT_INDEX)
            dir_cache: dict[tuple[str, int], int] = {}
            annotator_ids: dict[str, int] = {}
            pending: list[tuple[int, int, str, str]] = []
            seen: set[tuple[int, int, str, str]] = set()
            for line, r in enumerate(rows[1:], start=2):
                if not any(c.strip() for c in r):
                    continue
                if len(r) != len(CSV_COLUMNS):
                    raise AnnotationError(f"{path.name} line {line} has {len(r)} fields instead of {len(CSV_COLUMNS)}")
                rec = dict(zip(CSV_COLUMNS, r))
                try:
                    dim, nl, idx = int(rec["latent_dim"]), int(rec["num_layers"]), int(rec["direction_index"])
                    scale = float(rec["scale"])
                    vector = np.array([float(x) for x in rec["vector"].split()], dtype=np.float32)
                    layers = None if not rec["layers"] else tuple(int(x) for x in rec["layers"].split(":"))
                except ValueError:
                    raise AnnotationError(f"{path.name} line {line} has a malformed number, vector or layer range") from None
                if vector.shape != (dim,) or not np.all(np.isfinite(vector)) or dim <= 0 or nl <= 0:
                    raise AnnotationError(f"{path.name} line {line}: the vector does not have latent_dim={dim} finite values")
                if layers is not None and len(layers) != 2:
                    raise AnnotationError(f"{path.name} line {line}: layers must be empty or A:B")
                key = rec["source_key"].strip()
                if not key:
                    raise AnnotationError(f"{path.name} line {line} has no source_key")
                dkey = (key, idx)
                if dkey not in dir_cache:
                    sid = self._source_row(key)
                    if sid is None:
                        model = ModelRef(rec["model_name"], rec["model_family"], rec["fingerprint"], dim, nl)
                        sid = self._insert_source(key, rec["source_name"], rec["method"], model, {"imported_from": path.name})
                    else:
                        sdim = self.db.execute("SELECT latent_dim FROM sources WHERE id = ?", (sid,)).fetchone()[0]
                        if sdim != dim:
                            raise AnnotationError(f"{path.name} line {line}: source {key} has size {sdim} in the store but {dim} here")
                    row = self.db.execute("SELECT id FROM directions WHERE source_id = ? AND idx = ?", (sid, idx)).fetchone()
                    if row is None:
                        dir_cache[dkey] = self._insert_direction(sid, idx, rec["direction_name"], vector, scale, layers)
                        new_dirs += 1
                    else:
                        dir_cache[dkey] = row[0]
                did = dir_cache[dkey]
                text = _clean_text(rec["text"], f"{path.name} line {line}: ")
                created = rec["created"].strip() or now_utc()
                who = rec["annotator"]
                if who not in annotator_ids:
                    annotator_ids[who] = self._annotator_id(who)
                row_key = (did, annotator_ids[who], text, created)
                if row_key in seen or self.db.execute(
                        "SELECT 1 FROM annotations WHERE direction_id = ? AND annotator_id = ? AND text = ? AND created = ?",
                        row_key).fetchone():
                    skipped += 1
                    continue
                seen.add(row_key)
                pending.append(row_key)
                added += 1
            self.db.executemany("INSERT INTO annotations(direction_id, annotator_id, text, created) VALUES (?, ?, ?, ?)",
                                pending)
        return ImportResult(added, skipped, new_dirs)

    # ------------------------------------------------------------------ published datasets
    def import_published(self, dataset: "PublishedDataset", annotator: str = "visual-vocab") -> ImportResult:
        """Add a dataset from `read_published_dataset`: its directions (any generator of its latent
        size: the source's fingerprint is empty) and every annotation.  Importing the same
        dataset twice adds nothing the second time.
        """
        n, dim = dataset.vectors.shape
        model = ModelRef(f"visual-vocab:{dataset.name}", "any", "", dim, 1)
        key = source_key(model, "visual-vocab", dataset.vectors, dataset.d_ids)
        with self.transaction():
            if self._source_row(key) is not None:
                return ImportResult(0, len(dataset.annotations), 0, key)
            sid = self._insert_source(key, dataset.name, "visual-vocab", model,
                                      {"dataset": dataset.name, "alpha": PUBLISHED_ALPHA})
            ids: dict[str, int] = {}
            for i, (d_id, v) in enumerate(zip(dataset.d_ids, dataset.vectors)):
                did = self._insert_direction(sid, i, d_id, v, PUBLISHED_ALPHA, None)
                ids.setdefault(d_id, did)
            stamp = now_utc()
            for d_id, text, who in dataset.annotations:
                self._add(ids[d_id], who or annotator, text, stamp)
        return ImportResult(len(dataset.annotations), 0, n, key)


def control_set_key(cs: ControlSet) -> str:
    """The source key of a ControlSet: its model identity, method, linear directions and their steps.

    Names are left out, so renaming a control in the GUI keeps annotating the same source
    (flipping one changes its vector, and so the source: the annotations would be reversed).
    """
    lin = [(i, c) for i, c in enumerate(cs.controls) if c.kind == "linear"]
    vectors = np.stack([c.direction for _, c in lin]) if lin else np.zeros((0, cs.model.latent_dim), np.float32)
    labels = [f"{i}:{float(c.scale)!r}" for i, c in lin]
    return source_key(cs.model, cs.method, vectors, labels)


def _clean_text(text: str, where: str = "") -> str:
    text = " ".join(str(text).split())
    if not text:
        raise AnnotationError(f"{where}an annotation cannot be empty")
    if len(text) > MAX_TEXT:
        raise AnnotationError(f"{where}an annotation is limited to {MAX_TEXT} characters")
    return text


# ---------------------------------------------------------------------- published layout
@dataclass(frozen=True)
class PublishedDataset:
    """The layout of the visual-vocab datasets (``lsd_all.zip`` …), read from a local file.

    ``vectors`` ``[n, dim]`` float32 (row i of ``ds.pth``); ``d_ids`` [n]: ``"0"`` … the d_id of row i;
    ``annotations``: (d_id, text, annotator or "") per row of ``annotations.csv``.
    """

    name: str
    vectors: np.ndarray
    d_ids: list[str]
    annotations: list[tuple[str, str, str]]


_LAYOUT = ("ds.pth", "metadata.csv", "annotations.csv")


def _find_members(names: Sequence[str], where: str) -> dict[str, str]:
    """Map each of `_LAYOUT` to one member path; they must sit in the same folder."""
    found: dict[str, list[str]] = {n: [] for n in _LAYOUT}
    for m in names:
        base = m.rsplit("/", 1)[-1]
        if base in found and "__MACOSX" not in m:
            found[base].append(m)
    missing = [n for n, v in found.items() if not v]
    if missing:
        raise AnnotationError(f"{where} has no {missing[0]} (a visual-vocab dataset holds ds.pth, metadata.csv and annotations.csv)")
    for n, v in found.items():
        if len(v) > 1:
            raise AnnotationError(f"{where} holds several {n} files ({v[0]}, {v[1]}); give the folder of one dataset")
    picked = {n: v[0] for n, v in found.items()}
    folders = {p.rsplit("/", 1)[0] if "/" in p else "" for p in picked.values()}
    if len(folders) > 1:
        raise AnnotationError(f"{where}: ds.pth, metadata.csv and annotations.csv are not in the same folder")
    return picked


def _read_csv(data: bytes, fname: str, needed: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AnnotationError(f"{fname} is not a UTF-8 CSV file ({exc})") from None
    if not rows:
        raise AnnotationError(f"{fname} is empty")
    header = [h.strip() for h in rows[0]]
    for col in needed:
        if col not in header:
            raise AnnotationError(f"{fname} has no column {col!r} (its columns: {', '.join(header) or 'none'})")
    return header, [r for r in rows[1:] if any(c.strip() for c in r)]


def _load_tensor(data: bytes, fname: str) -> np.ndarray:
    import pickle

    import torch

    try:
        # sizes checked before torch reads, storages (no stride-0 views) and finiteness after
        obj = safe_torch_load(data, what=fname, max_total=MAX_DATASET_BYTES)
    except InputLimitError as exc:
        raise AnnotationError(str(exc)) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise AnnotationError(f"{fname} is not a tensor file torch can read safely ({first[0] if first else type(exc).__name__})") from None
    if not isinstance(obj, torch.Tensor):
        raise AnnotationError(f"{fname} holds a {type(obj).__name__}, expected a tensor of directions [n, dim]")
    if obj.dim() != 2 or obj.shape[0] == 0 or obj.shape[1] == 0 or not obj.is_floating_point():
        raise AnnotationError(f"{fname} holds a tensor of shape {tuple(obj.shape)} ({obj.dtype}), expected floats [n, dim]")
    arr = obj.detach().float().numpy()
    if not np.all(np.isfinite(arr)):
        raise AnnotationError(f"{fname} holds NaN or infinite values")
    return arr.astype(np.float32)


def _row_of(text: str, n: int) -> int | None:
    """The ds.pth row a ``d_id`` names (an integer 0 … n−1, ``"7"`` or ``"7.0"``), or None."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return None
    if not value.is_integer() or not 0 <= value < n:
        return None
    return int(value)


#: largest published dataset read (ds.pth + both CSVs); the paper's is ~25 MB
MAX_DATASET_BYTES = 1 << 30


class _Members:
    """The chosen entries of a zip, shaped like a ``ZipFile`` for `check_zip_members`."""

    def __init__(self, zf: zipfile.ZipFile, names):
        self._infos = [zf.getinfo(n) for n in names]

    def infolist(self):
        return self._infos


def read_published_dataset(path: str | os.PathLike) -> PublishedDataset:
    """Read a visual-vocab dataset from a ``.zip`` or a folder (nothing is downloaded).

    ``ds.pth``: tensor ``[n, dim]`` (loaded with ``weights_only=True``);
    ``metadata.csv``: column ``d_id``, one row per direction, in any order;
    ``annotations.csv``: columns ``d_id``, ``annotation`` (several rows per direction; an
    optional ``annotator``/``worker_id`` column names who wrote each).

    As in the original, ``d_id`` j is row j of ``ds.pth``: it is not looked up by its
    position in ``metadata.csv`` (which may be in another order).  Every ``d_id`` must be
    such a row; the directions are named by it.
    Any deviation is an `AnnotationError` naming the file and what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"dataset {path} does not exist")
    name = path.stem if path.is_file() else path.name
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        picked = _find_members(names, str(path))
        total = sum((path / rel).stat().st_size for rel in picked.values())
        if total > MAX_DATASET_BYTES:
            raise AnnotationError(f"dataset {path.name} holds {format_bytes(total)}, more than the {format_bytes(MAX_DATASET_BYTES)} accepted")
        for n, rel in picked.items():
            blobs[n] = (path / rel).read_bytes()
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                picked = _find_members([i.filename for i in zf.infolist() if not i.is_dir()], path.name)
                # only the members read count: their declared sizes are checked before inflating
                check_zip_members(_Members(zf, picked.values()), what=path.name, max_total=MAX_DATASET_BYTES)
                for n, member in picked.items():
                    blobs[n] = zf.read(member)
        except InputLimitError as exc:
            raise AnnotationError(str(exc)) from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise AnnotationError(f"{path.name} is neither a folder nor a readable zip file ({exc})") from None
    vectors = _load_tensor(blobs["ds.pth"], "ds.pth")
    n = vectors.shape[0]
    header, rows = _read_csv(blobs["metadata.csv"], "metadata.csv", ["d_id"])
    col = header.index("d_id")
    if len(rows) != n:
        raise AnnotationError(f"metadata.csv lists {len(rows)} directions but ds.pth holds {n}")
    seen: set[int] = set()
    for i, r in enumerate(rows):
        j = _row_of(r[col] if col < len(r) else "", n)
        if j is None:
            raise AnnotationError(f"metadata.csv row {i + 2} has d_id {(r[col] if col < len(r) else '')!r}, "
                                  f"which is not a row of ds.pth (0 to {n - 1})")
        if j in seen:
            raise AnnotationError(f"metadata.csv lists d_id {j} twice")
        seen.add(j)
    d_ids = [str(j) for j in range(n)]  # direction j is row j of ds.pth, whatever the CSV's order
    header, rows = _read_csv(blobs["annotations.csv"], "annotations.csv", ["d_id", "annotation"])
    ci, ti = header.index("d_id"), header.index("annotation")
    wi = next((header.index(c) for c in ("annotator", "worker_id", "workerid") if c in header), None)
    anns: list[tuple[str, str, str]] = []
    for line, r in enumerate(rows, start=2):
        raw = r[ci].strip() if ci < len(r) else ""
        j = _row_of(raw, n)
        if j is None:
            raise AnnotationError(f"annotations.csv line {line} names d_id {raw!r}, which is not a row of ds.pth (0 to {n - 1})")
        d = d_ids[j]
        text = " ".join((r[ti] if ti < len(r) else "").split())
        if not text or text.lower() == "nan":
            continue
        who = (r[wi].strip() if wi is not None and wi < len(r) else "")
        anns.append((d, text[:MAX_TEXT], who))
    if not anns:
        raise AnnotationError("annotations.csv holds no annotation text")
    return PublishedDataset(name, vectors, d_ids, anns)


__all__ = [
    "Annotation", "AnnotationError", "AnnotationStore", "DirectionInfo", "ImportResult", "PublishedDataset",
    "SourceInfo", "TrainingData", "control_set_key", "data_dir", "default_db_path", "read_published_dataset",
]
