"""`vocab import --csv` at scale: N annotation rows for one direction into a new store.

All rows name the same direction (the case that was quadratic: every row's duplicate check
scanned the direction's annotations).  Reports rows, seconds for the import, rows/s, and a
second import of the same file (every row a duplicate, skipped).  Prints one JSON line.

    python benchmarks/vocab_import.py [--rows 100000] [--dim 64]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from methods.annotations import CSV_COLUMNS, AnnotationStore  # noqa: E402


def write_csv(path: Path, rows: int, dim: int) -> None:
    vector = " ".join(["0.125"] * dim)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for i in range(rows):
            w.writerow(["src-bench", "bench", "ganspace", "m", "dcgan", "fp", dim, 1, 0, "d0", "1.0", "", vector,
                        f"annotator{i % 7}", f"word {i}", "2026-01-01T00:00:00Z"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, db = Path(tmp) / "a.csv", Path(tmp) / "a.sqlite"
        write_csv(src, args.rows, args.dim)
        with AnnotationStore(db) as store:
            t0 = time.perf_counter()
            first = store.import_csv(src)
            t1 = time.perf_counter()
            again = store.import_csv(src)
            t2 = time.perf_counter()
    print(json.dumps({"rows": args.rows, "added": first.added, "import_s": round(t1 - t0, 2),
                      "rows_per_s": round(args.rows / (t1 - t0)), "reimport_s": round(t2 - t1, 2),
                      "reimport_skipped": again.skipped}))


if __name__ == "__main__":
    main()
