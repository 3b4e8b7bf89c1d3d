"""Visual concept vocabulary: LSDs, the annotation store, distillation, dataset import, CLI."""
from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from methods.annotations import AnnotationError, AnnotationStore, read_published_dataset
from methods.controls import ControlSet, LinearControl, ModelRef
from methods.text import lemmatize, preprocess
from methods.vocab import (
    DistillConfig,
    LSDConfig,
    VocabError,
    bag_of_words,
    discover_lsd,
    distill,
    distill_store,
    heldout_scores,
    resolve_layers,
    ridge,
    search_words,
)

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- synthetic data
CONCEPTS = {
    "tree": ["tree", "trees", "Trees"], "sky": ["sky", "skies"], "smile": ["smiling", "smiles", "smile"],
    "dark": ["darker", "dark", "darkest"], "window": ["windows", "window"], "hair": ["hair", "hairs"],
}
NOISE = ["nice", "weird", "strange", "blurry", "odd", "random", "subtle"]


def synthetic(n_dirs: int = 200, per_dir: int = 2, dim: int = 32, noise: float = 0.15, seed: int = 0):
    """Annotations mentioning 1–3 of 6 hidden word directions (+ noise words); D = sum of them + noise."""
    rng = np.random.default_rng(seed)
    hidden = {w: v / np.linalg.norm(v) for w, v in ((w, rng.standard_normal(dim)) for w in CONCEPTS)}
    texts, D, groups = [], [], []
    for i in range(n_dirs):
        words = rng.choice(list(CONCEPTS), rng.integers(1, 4), replace=False)
        d = sum(hidden[w] for w in words) + noise * rng.standard_normal(dim)
        for _ in range(per_dir):
            toks = [str(rng.choice(CONCEPTS[w])) for w in words] + list(rng.choice(NOISE, rng.integers(0, 3), replace=False))
            rng.shuffle(toks)
            texts.append("The " + ", ".join(toks) + " becomes more visible!")
            D.append(d)
            groups.append(i)
    return texts, np.array(D), np.array(groups), hidden


# ---------------------------------------------------------------------- text
def test_preprocessing_lowercases_drops_stop_words_and_lemmatises():
    assert preprocess("The man's HAIR becomes darker, and the trees look greener; more windows!") == [
        "man", "hair", "dark", "tree", "green", "window"]
    pairs = {"skies": "sky", "boxes": "box", "smiling": "smile", "running": "run", "colored": "color",
             "leaves": "leaf", "shoes": "shoe", "grass": "grass", "water": "water", "flower": "flower",
             "happier": "happy", "buildings": "building", "curved": "curve"}
    assert {w: lemmatize(w) for w in pairs} == pairs


# ---------------------------------------------------------------------- distillation
@pytest.fixture(scope="module")
def synth():
    return synthetic()


def test_distillation_recovers_the_hidden_word_directions(synth):
    texts, D, groups, hidden = synth
    cs = distill(texts, D, ModelRef("toy", "toy", "", D.shape[1], 1), DistillConfig(), groups, alpha=3.0)
    assert cs.method == "vocab" and cs.model.fingerprint == ""
    for word, u in hidden.items():
        c = cs[cs.names.index(word)]
        assert float(c.direction @ u) >= 0.95, word
        assert np.isclose(np.linalg.norm(c.direction), 1, atol=1e-5) and c.scale == 3.0
    support = dict(zip(cs.names, cs.extras["support"].tolist()))
    assert support["tree"] == sum("tree" in preprocess(t) for t in texts) == cs.stats["support"]["tree"]
    # the distilled words explain the data far better than the noise words do
    assert cs.stats["heldout_cosine"] > 0.8


def test_lambda_selection_picks_a_local_best(synth):
    texts, D, groups, _ = synth
    cs = distill(texts, D, ModelRef("toy", "toy", "", D.shape[1], 1), DistillConfig(folds=4), groups)
    grid, scores = cs.extras["lambda_grid"], cs.extras["lambda_score"]
    i = int(np.flatnonzero(np.isclose(grid, cs.stats["lambda"]))[0])
    for j in (i - 1, i + 1):
        if 0 <= j < len(grid):
            assert scores[i] >= scores[j]
    assert scores[i] > scores[-1] + 0.05  # a huge λ shrinks everything towards co-occurrence sums
    # the eigen-path used for selection agrees with explicit ridge fits
    bow = bag_of_words(texts, 2)
    W, Dk, g = bow.W, D[bow.rows], groups[bow.rows]
    from methods.vocab import fold_labels

    lab = fold_labels(g, 4, 0)
    for lam in (0.1, 10.0):
        cos = []
        for f in range(4):
            E = ridge(W[lab != f], Dk[lab != f], lam)
            P, T = W[lab == f] @ E, Dk[lab == f]
            cos.extend((P * T).sum(1) / (np.linalg.norm(P, axis=1) * np.linalg.norm(T, axis=1)))
        assert np.isclose(np.mean(cos), heldout_scores(W, Dk, [lam], 4, g)[0], atol=1e-9)


def test_ridge_solves_the_normal_equations_and_tends_to_least_squares():
    rng = np.random.default_rng(1)
    W = (rng.random((80, 12)) < 0.3).astype(float)
    W[np.arange(12), np.arange(12)] = 1  # full column rank
    assert np.linalg.matrix_rank(W) == 12
    D = rng.standard_normal((80, 7))
    for lam in (0.5, 30.0):
        E = ridge(W, D, lam)
        assert np.allclose((W.T @ W + lam * np.eye(12)) @ E, W.T @ D, atol=1e-9)
    ls = np.linalg.lstsq(W, D, rcond=None)[0]
    assert np.allclose(ridge(W, D, 1e-9), ls, atol=1e-6)
    assert np.allclose(ridge(W, D, 0.0), ls, atol=1e-10)
    with pytest.raises(VocabError):
        ridge(W, D, -1.0)


def test_distillation_rejects_unusable_input():
    m = ModelRef("toy", "toy", "", 4, 1)
    with pytest.raises(VocabError, match="no word occurs"):
        distill(["a unique word", "another thing"], np.ones((2, 4)), m, DistillConfig(min_count=2))
    with pytest.raises(VocabError, match="one direction per annotation"):
        distill(["red", "red"], np.ones((3, 4)), m)
    with pytest.raises(VocabError, match="at least two directions"):
        distill(["red hair", "red hair"], np.ones((2, 4)), m, groups=np.array([0, 0]))


# ---------------------------------------------------------------------- LSDs
@pytest.fixture(scope="module")
def lsd(faces):
    return discover_lsd(faces, LSDConfig(layers="0:1", per_layer=2, steps=40, batch=2, seed=3))


def test_lsd_really_optimises_and_is_orthonormal(lsd, faces, tmp_path):
    assert lsd.names == ["block2 #0", "block2 #1", "block1 #0", "block1 #1"]
    l0, l1 = lsd.extras["loss_initial"], lsd.extras["loss_final"]
    assert np.all(l1 < 0.8 * l0), (l0, l1)  # every direction improved on its random start
    assert l1.mean() < 0.6 * l0.mean()
    d = lsd.directions()
    assert np.allclose(d @ d.T, np.eye(4), atol=1e-5)
    alpha = lsd.stats["alpha"]
    assert 8 < alpha < 20 and all(c.scale == alpha for c in lsd.controls)  # ≈ 1.3 × ‖z‖ ≈ 13
    lsd.save(tmp_path / "lsd.npz")
    back = ControlSet.load(tmp_path / "lsd.npz")
    assert back.method == "lsd" and np.allclose(back.extras["loss_final"], l1)
    back.check_model(faces)


def test_lsd_layers_and_options_are_checked(faces):
    assert resolve_layers(faces, "") == ["block1", "block2", "block3"]
    assert resolve_layers(faces, "block2:block3") == ["block2", "block3"] == resolve_layers(faces, "2:1")
    assert resolve_layers(faces, "4") == ["output"]
    for bad, msg in (("7", "outside"), ("conv9", "does not exist"), ("0:1:2", "A:B")):
        with pytest.raises(VocabError, match=msg):
            resolve_layers(faces, bad)
    with pytest.raises(VocabError, match="do not fit"):
        discover_lsd(faces, LSDConfig(layers="0:4", per_layer=30, steps=1))
    cancel_after = iter([False] * 3 + [True] * 100)
    from methods.jobs import Cancelled

    with pytest.raises(Cancelled):
        discover_lsd(faces, LSDConfig(layers="0", per_layer=1, steps=50, alpha=10.0), cancel=lambda: next(cancel_after))


# ---------------------------------------------------------------------- store
def toy_controls(n: int = 3, dim: int = 8, seed: int = 0, fingerprint: str = "abc") -> ControlSet:
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((n, dim)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return ControlSet([LinearControl(f"d{i}", dirs[i], 2.0) for i in range(n)],
                      ModelRef("toy-model", "toy", fingerprint, dim, 1), "lsd", {"steps": 1})


def test_store_keeps_directions_and_model_identity(tmp_path):
    cs = toy_controls()
    with AnnotationStore(tmp_path / "v.sqlite") as store:
        a = store.annotate(cs, 1, "  more   trees ", "ann")
        store.annotate(cs.renamed(1, "trees"), 1, "greener", "bob")  # a renamed set is the same source
        store.annotate(cs, 0, "bright sky", "ann")
        assert [x.text for x in store.annotations_of(cs, 1)] == ["more trees", "greener"]
        (src,) = store.sources()
        assert src.model == cs.model and src.method == "lsd" and src.directions == 3 and src.annotations == 3
        dirs = store.directions(src.key)
        assert np.array_equal(dirs[1].vector, cs[1].direction) and dirs[1].scale == 2.0
        data = store.training_data()
        assert data.texts == ["more trees", "greener", "bright sky"]
        assert np.array_equal(data.vectors[2], cs[0].direction)
        assert store.delete_annotation(a) and not store.delete_annotation(a)
        with pytest.raises(AnnotationError, match="empty"):
            store.annotate(cs, 0, "   ")
        with pytest.raises(AnnotationError, match="does not exist"):
            store.annotate(cs, 5, "x")
        store.annotate(toy_controls(dim=9), 0, "other size")
        with pytest.raises(AnnotationError, match="sizes 8, 9"):
            store.training_data()
        assert len(store.training_data(latent_dim=9).texts) == 1
        assert store.integrity_ok()


def test_store_refuses_files_that_are_not_stores(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(AnnotationError, match="not an annotation database"):
        AnnotationStore(junk)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(AnnotationError, match="not a Latent Studio annotation store"):
        AnnotationStore(other)
    with pytest.raises(AnnotationError, match="does not exist"):
        AnnotationStore(tmp_path / "missing.sqlite", create=False)


def _writer(path: str, who: str, n: int, go) -> None:
    """A separate process: wait for the start signal, then commit ``n`` annotations one by one."""
    go.wait(30)
    cs = toy_controls()
    with AnnotationStore(path, timeout=30) as store:
        for i in range(n):
            store.annotate(cs, i % 3, f"{who} note {i}", who)


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "v.sqlite")
    AnnotationStore(path).close()
    ctx = mp.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, who, 150, go)) for who in ("alice", "bob")]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]  # no "database is locked" in either writer
    with AnnotationStore(path) as store:
        texts = {a.text for a in store.annotations()}
        assert texts == {f"{w} note {i}" for w in ("alice", "bob") for i in range(150)}
        assert store.counts()["sources"] == 1 and store.integrity_ok()


def _crasher(path: str, ready) -> None:
    cs = toy_controls()
    with AnnotationStore(path) as store:
        for i in range(20):
            store.annotate(cs, 0, f"kept {i}", "crash")
        with store.transaction():
            for i in range(50):
                store.annotate(cs, 1, f"lost {i}", "crash")
            ready.set()
            import time

            time.sleep(60)  # killed here, mid-transaction


def test_a_writer_killed_mid_transaction_leaves_the_store_consistent(tmp_path):
    path = str(tmp_path / "v.sqlite")
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_crasher, args=(path, ready))
    p.start()
    assert ready.wait(30)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    with AnnotationStore(path) as store:
        assert store.integrity_ok()
        texts = [a.text for a in store.annotations()]
        assert texts == [f"kept {i}" for i in range(20)]
        store.annotate(toy_controls(), 2, "still writable", "after")
        assert store.counts()["annotations"] == 21


def test_csv_export_import_round_trips(tmp_path):
    cs = toy_controls()
    with AnnotationStore(tmp_path / "a.sqlite") as store:
        store.annotate(cs, 0, 'hair gets "curly", darker', "ann")
        store.annotate(cs, 2, "ciel plus bleu — ünïcödé", "bob")
        store.annotate(toy_controls(seed=5, fingerprint=""), 1, "other set", "ann")
        assert store.export_csv(tmp_path / "a.csv") == 3
    with AnnotationStore(tmp_path / "b.sqlite") as store:
        res = store.import_csv(tmp_path / "a.csv")
        assert (res.added, res.skipped) == (3, 0)
        assert store.import_csv(tmp_path / "a.csv").skipped == 3  # idempotent
        store.export_csv(tmp_path / "b.csv")
        vec = store.directions()[1].vector
    assert (tmp_path / "a.csv").read_text("utf-8") == (tmp_path / "b.csv").read_text("utf-8")
    assert np.array_equal(vec, cs[2].direction)  # float32 exact through text (only annotated directions travel)
    rows = list(csv.reader(io.StringIO((tmp_path / "a.csv").read_text("utf-8"))))
    rows[2][12] = "1 2 3"  # a vector of the wrong size
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with AnnotationStore(tmp_path / "c.sqlite") as store:
        with pytest.raises(AnnotationError, match="line 3"):
            store.import_csv(bad)
        assert store.counts()["annotations"] == 0  # nothing from the good rows either


# ---------------------------------------------------------------------- published datasets
def published_files(dim: int = 100, n: int = 12, seed: int = 0, metadata_order=None) -> dict[str, bytes]:
    """A synthetic dataset in the visual-vocab layout, built from `synthetic` (words ↔ directions).

    As in the published datasets, d_id j is row j of ds.pth; ``metadata_order`` lists the
    metadata.csv rows in another order."""
    texts, D, groups, _ = synthetic(n_dirs=n, per_dir=3, dim=dim, seed=seed)
    buf = io.BytesIO()
    torch.save(torch.tensor(D[:: 3], dtype=torch.float32), buf)
    order = range(n) if metadata_order is None else metadata_order
    meta = "d_id,category\n" + "".join(f"{i},lake\n" for i in order)
    ann = io.StringIO()
    w = csv.writer(ann)
    w.writerow(["d_id", "annotation"])
    for t, g in zip(texts, groups):
        w.writerow([g, t])
    return {"ds.pth": buf.getvalue(), "metadata.csv": meta.encode(), "annotations.csv": ann.getvalue().encode()}


def as_folder(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for k, v in files.items():
        (folder / k).write_bytes(v)
    return folder


def as_zip(files: dict[str, bytes], path: Path, prefix: str = "lsd_toy/") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr(prefix + k, v)
    return path


def test_published_dataset_imports_from_zip_and_folder(tmp_path, faces):
    files = published_files()
    z = read_published_dataset(as_zip(files, tmp_path / "lsd_toy.zip"))
    f = read_published_dataset(as_folder(files, tmp_path / "lsd_toy"))
    assert z.name == f.name == "lsd_toy" and z.vectors.shape == (12, 100) and len(z.annotations) == 36
    assert np.array_equal(z.vectors, f.vectors) and z.annotations == f.annotations
    with AnnotationStore(tmp_path / "v.sqlite") as store:
        res = store.import_published(z)
        assert (res.added, res.directions) == (36, 12)
        assert store.import_published(f).added == 0  # the same dataset again
        (src,) = store.sources()
        assert src.model.fingerprint == "" and src.model.latent_dim == 100
        words = distill_store(store, DistillConfig(min_count=2))
    assert words.model.fingerprint == "" and words.model.latent_dim == 100
    words.check_model(faces)  # applies to any generator of this latent size
    assert words[0].scale == 10.0  # the published LSDs' step


def test_published_d_id_is_the_row_of_ds_pth_whatever_the_metadata_order(tmp_path):
    plain = read_published_dataset(as_folder(published_files(), tmp_path / "plain"))
    shuffled = read_published_dataset(as_folder(published_files(metadata_order=[5, 2, 11, 0, 1, 3, 4, 6, 7, 8, 9, 10]), tmp_path / "shuffled"))
    assert shuffled.d_ids == plain.d_ids == [str(j) for j in range(12)]
    assert shuffled.annotations == plain.annotations
    with AnnotationStore(tmp_path / "v.sqlite") as store:
        store.import_published(shuffled)
        data = store.training_data()
    # each annotation's direction is row d_id of ds.pth
    rows = {text: int(d) for d, text, _ in plain.annotations}
    for text, vec in zip(data.texts, data.vectors):
        np.testing.assert_array_equal(vec / np.linalg.norm(vec), plain.vectors[rows[text]] / np.linalg.norm(plain.vectors[rows[text]]))


def _broken(files: dict[str, bytes], **changes) -> dict[str, bytes]:
    out = dict(files)
    for k, v in changes.items():
        k = k.replace("_", ".")
        if v is None:
            out.pop(k)
        else:
            out[k] = v
    return out


def _pth(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class Evil:
    pass


@pytest.mark.parametrize("change, message", [
    ({"annotations_csv": None}, "has no annotations.csv"),
    ({"ds_pth": _pth({"dirs": torch.zeros(2, 3)})}, "holds a dict, expected a tensor"),
    ({"ds_pth": _pth(torch.zeros(12))}, "expected floats"),
    ({"ds_pth": b"garbage"}, "ds.pth is not a tensor file"),
    ({"metadata_csv": b"d_id\n0\n1\n"}, "lists 2 directions but ds.pth holds 12"),
    ({"metadata_csv": b"id\n" + b"x\n" * 12}, "no column 'd_id'"),
    ({"metadata_csv": b"d_id\n" + b"3\n" * 12}, "lists d_id 3 twice"),
    ({"metadata_csv": b"d_id\n" + b"".join(b"%d\n" % i for i in range(1, 13))}, "has d_id '12', which is not a row of ds.pth"),
    ({"annotations_csv": b"d_id,annotation\nnope,red sky\n"}, "names d_id 'nope', which is not a row of ds.pth"),
    ({"annotations_csv": b"d_id,annotation\n12,red sky\n"}, "names d_id '12', which is not a row of ds.pth .0 to 11."),
    ({"annotations_csv": b"d_id,text\n0,red sky\n"}, "no column 'annotation'"),
])
def test_malformed_datasets_give_one_clear_sentence(tmp_path, change, message):
    files = _broken(published_files(n=12), **change)
    with pytest.raises(AnnotationError, match=message) as err:
        read_published_dataset(as_folder(files, tmp_path / "ds"))
    assert "\n" not in str(err.value)
    with pytest.raises(AnnotationError, match=message):
        read_published_dataset(as_zip(files, tmp_path / "ds.zip"))


def test_unsafe_pickles_and_non_zips_are_refused(tmp_path):
    import pickle

    files = _broken(published_files(), ds_pth=pickle.dumps(Evil()))
    with pytest.raises(AnnotationError, match="ds.pth is not a tensor file torch can read safely"):
        read_published_dataset(as_zip(files, tmp_path / "evil.zip"))
    (tmp_path / "x.zip").write_bytes(b"PK not really")
    with pytest.raises(AnnotationError, match="neither a folder nor a readable zip"):
        read_published_dataset(tmp_path / "x.zip")


# ---------------------------------------------------------------------- search
def test_word_search_matches_lemmas_prefixes_and_substrings():
    words = ["tree", "treetop", "street", "sky"]
    cs = ControlSet([LinearControl(w, np.eye(4, dtype=np.float32)[i]) for i, w in enumerate(words)],
                    ModelRef("v", "any", "", 4, 1), "vocab", extras={"support": np.array([5, 1, 9, 3])})
    assert [w for _, w, _ in search_words(cs, "Trees")] == ["tree", "treetop", "street"]
    assert [w for _, w, _ in search_words(cs)] == ["street", "tree", "sky", "treetop"]
    assert search_words(cs, "ocean") == []


# ---------------------------------------------------------------------- CLI
def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LATENT_STUDIO_DATA=str(cwd / "data"))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_cli_round_trip_discover_annotate_distill_search(tmp_path, capsys, monkeypatch):
    r = cli("discover", "--model", "dcgan-faces", "--method", "lsd", "--layers", "block1", "--per-layer", "2",
            "--steps", "5", "--batch", "1", "--no-cache", "--quiet", "--out", "lsd.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["controls"] == 2
    # annotations through main.py's entry point in this process (each subprocess costs seconds of imports)
    from cli.commands import run

    monkeypatch.chdir(tmp_path)
    for i, text in ((0, "the hair gets darker"), (1, "a bright smiling face"), (0, "darker hair, more shadow")):
        assert run(["vocab", "annotate", "--db", "v.sqlite", "--controls", "lsd.npz", "--id", str(i), "--text", text,
                    "--annotator", "tester"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "annotation": 3, "direction": "block1 #0", "annotations_of_direction": 2}
    r = cli("vocab", "distill", "--db", "v.sqlite", "--min-count", "1", "--quiet", "--out", "words.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["lambda_chosen_by"].endswith("held-out cosine") and summary["words"] >= 5
    words = ControlSet.load(tmp_path / "words.npz")
    assert words.model.fingerprint and words.model.name == "dcgan-faces"  # all from one generator
    r = cli("vocab", "words", "--controls", "words.npz", "--search", "darkest", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0] == {"index": words.names.index("dark"), "word": "dark", "support": 2}


def test_cli_errors_are_one_line_with_status_2_and_no_file(tmp_path, capsys, monkeypatch):
    from cli.commands import run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATENT_STUDIO_DATA", str(tmp_path / "data"))
    cases = [
        (["vocab", "distill", "--db", "missing.sqlite", "--out", "w.npz"], "does not exist", "w.npz"),
        (["vocab", "import", "--dataset", "nowhere.zip", "--db", "v.sqlite"], "does not exist", "v.sqlite"),
        (["vocab", "export", "--db", "missing.sqlite", "--out", "a.csv"], "does not exist", "a.csv"),
        (["vocab", "words", "--controls", "none.npz"], "does not exist", None),
    ]
    as_folder(_broken(published_files(), metadata_csv=b"d_id\nx\n"), tmp_path / "bad")
    cases.append((["vocab", "import", "--dataset", "bad", "--db", "v.sqlite"], "lists 1 directions", "v.sqlite"))
    for argv, message, out in cases:
        assert run(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
        if out:
            assert not (tmp_path / out).exists()
    # a good import, then its CSV export, through the same entry point
    as_folder(published_files(), tmp_path / "good")
    assert run(["vocab", "import", "--dataset", "good", "--db", "v.sqlite"]) == 0
    assert json.loads(capsys.readouterr().out)["annotations_added"] == 36
    assert run(["vocab", "export", "--db", "v.sqlite", "--out", "a.csv"]) == 0
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 37
    assert run(["vocab", "import", "--csv", "a.csv", "--db", "copy.sqlite"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["annotations_added"] == 36
