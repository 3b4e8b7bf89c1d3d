"""vocab import --csv is linear and exact about duplicates; read-only commands open the store read-only."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from methods.annotations import CSV_COLUMNS, AnnotationStore

ROOT = Path(__file__).resolve().parents[1]


def write_rows(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for d, who, text in rows:
            w.writerow(["src", "s", "ganspace", "m", "dcgan", "fp", 4, 1, d, f"d{d}", "1.0", "", "0.5 0.5 0.5 0.5",
                        f"who{who}", f"text {text}", "2026-01-01T00:00:00Z"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 5)), min_size=1, max_size=60))
def test_csv_import_adds_each_distinct_row_once_and_skips_every_repeat(tmp_path, rows):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    write_rows(folder / "a.csv", rows)
    with AnnotationStore(folder / "s.sqlite") as store:
        first = store.import_csv(folder / "a.csv")
        again = store.import_csv(folder / "a.csv")
        n = store.counts()
    distinct = len(set(rows))
    assert (first.added, first.skipped) == (distinct, len(rows) - distinct)
    assert (again.added, again.skipped) == (0, len(rows))
    assert n["annotations"] == distinct


def test_read_only_commands_work_on_a_read_only_folder(tmp_path):
    write_rows(tmp_path / "a.csv", [(0, 0, i) for i in range(20)])
    with AnnotationStore(tmp_path / "s.sqlite") as store:
        store.import_csv(tmp_path / "a.csv")
    ro = tmp_path / "ro"
    ro.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "--bind", "-o", "ro", str(tmp_path), str(ro)],
                                                       capture_output=True).returncode != 0:
        pytest.skip("a read-only bind mount needs root")
    try:
        r = subprocess.run([sys.executable, str(ROOT / "main.py"), "vocab", "info", "--db", str(ro / "s.sqlite")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "20 annotations" in r.stdout
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
