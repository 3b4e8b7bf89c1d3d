"""``main.py vocab …``: the visual concept vocabulary's annotation store and word distillation.

    vocab annotate --controls LSD.npz --id I --text "…" [--annotator NAME] [--db V.sqlite]
    vocab distill  [--lambda L] [--min-count C] [--folds K] [--alpha A] [--source KEY …] --out WORDS.npz
    vocab import   (--dataset ZIP_OR_FOLDER | --csv A.csv) [--db V.sqlite]
    vocab export   --out A.csv [--db V.sqlite]
    vocab words    --controls WORDS.npz [--search TEXT] [--json]
    vocab info     [--db V.sqlite] [--json]

``--db`` defaults to the user's store (`methods.annotations.default_db_path`).
No Qt; errors are `AnnotationError`/`VocabError`/`CliError` (one line, exit status 2).
"""
from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from methods.annotations import AnnotationStore, default_db_path, read_published_dataset
from methods.controls import ControlSet
from methods.vocab import DistillConfig, distill_store, search_words

from .parser import CliError, finite_float, nonneg_int, out_file, positive_int
from .progress import TerminalProgress


def _nonneg_float(text: str) -> float:
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return v


def _default_annotator() -> str:
    try:
        return getpass.getuser() or "anonymous"
    except (OSError, KeyError):
        return "anonymous"


def _store(args, create: bool) -> AnnotationStore:
    """The store; commands that only read (``create=False``) open it read-only."""
    return AnnotationStore(args.db, create=create, readonly=not create)


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"annotation database (default {default_db_path()})")


# ---------------------------------------------------------------------- commands
def cmd_annotate(args) -> int:
    cs = ControlSet.load(args.controls)
    if not 0 <= args.id < len(cs):
        raise CliError(f"--id {args.id}: {Path(args.controls).name} has controls 0 to {len(cs) - 1}")
    if not args.text.strip():
        raise CliError("--text cannot be empty")
    with _store(args, create=True) as store:
        aid = store.annotate(cs, args.id, args.text, args.annotator, set_name=Path(args.controls).name)
        n = len(store.annotations_of(cs, args.id))
    print(json.dumps({"annotation": aid, "direction": cs[args.id].name, "annotations_of_direction": n}))
    return 0


def cmd_distill(args) -> int:
    out = out_file(args.out, (".npz",))
    config = DistillConfig(lam=args.lam, min_count=args.min_count, folds=args.folds, alpha=args.alpha or 0.0)
    progress = TerminalProgress(enabled=not args.quiet)
    with _store(args, create=False) as store:
        cs = distill_store(store, config, args.source or None, args.dim, progress)
    progress.finish()
    cs.save(out)
    top = [name for _, name, _ in search_words(cs)[:10]]
    summary = {"out": str(out), "words": len(cs), "top": top,
               **{k: cs.stats[k] for k in ("lambda", "lambda_chosen_by", "heldout_cosine", "annotations",
                                           "annotations_used", "directions", "alpha") if k in cs.stats}}
    print(json.dumps(summary))
    return 0


def cmd_import(args) -> int:
    if args.dataset:
        data = read_published_dataset(args.dataset)  # validated before the store is touched
        with _store(args, create=True) as store:
            res = store.import_published(data, args.annotator)
        print(json.dumps({"dataset": data.name, "directions": data.vectors.shape[0], "latent_dim": data.vectors.shape[1],
                          "annotations_added": res.added, "skipped": res.skipped, "source": res.source_key}))
    else:
        if not Path(args.csv).is_file():
            raise CliError(f"--csv {args.csv} does not exist")
        with _store(args, create=True) as store:
            res = store.import_csv(args.csv)
        print(json.dumps({"csv": args.csv, "annotations_added": res.added, "skipped": res.skipped,
                          "directions_added": res.directions}))
    return 0


def cmd_export(args) -> int:
    out = out_file(args.out, (".csv",))
    with _store(args, create=False) as store:
        n = store.export_csv(out)
    print(json.dumps({"out": str(out), "annotations": n}))
    return 0


def cmd_words(args) -> int:
    cs = ControlSet.load(args.controls)
    if cs.method != "vocab":
        raise CliError(f"{Path(args.controls).name} holds {cs.method} controls, not distilled words (see `vocab distill`)")
    rows = search_words(cs, args.search or "")
    if args.limit:
        rows = rows[: args.limit]
    if args.json:
        print(json.dumps([{"index": i, "word": w, "support": s} for i, w, s in rows]))
        return 0
    for i, w, s in rows:
        print(f"{w:<24} {s:>6}   (control {i})")
    if not rows and args.search:
        print(f"no word matches {args.search!r}")
    return 0


def cmd_info(args) -> int:
    with _store(args, create=False) as store:
        counts = store.counts()
        srcs = [{"key": s.key, "name": s.name, "method": s.method, "model": s.model.name, "latent_dim": s.model.latent_dim,
                 "directions": s.directions, "annotations": s.annotations} for s in store.sources()]
    if args.json:
        print(json.dumps({"db": str(store.path), **counts, "sources": srcs}))
        return 0
    print(f"{store.path}: {counts['annotations']} annotations of {counts['directions']} directions "
          f"in {counts['sources']} sets, by {counts['annotators']} annotators")
    for s in srcs:
        print(f"  {s['key']}  {s['name']:<28} {s['method']:<12} {s['model']:<24} "
              f"{s['directions']:>5} directions {s['annotations']:>6} annotations")
    return 0


_COMMANDS = {"annotate": cmd_annotate, "distill": cmd_distill, "import": cmd_import, "export": cmd_export,
             "words": cmd_words, "info": cmd_info}


def cmd_vocab(args) -> int:
    return _COMMANDS[args.vocab_command](args)


def register(sub) -> dict:
    """Add the ``vocab`` command group to the main parser's sub-parsers."""
    p = sub.add_parser("vocab", help="visual concept vocabulary: annotate directions, distil words, import/export")
    vs = p.add_subparsers(dest="vocab_command", metavar="ACTION", parser_class=type(p))
    vs.required = True

    a = vs.add_parser("annotate", help="describe one direction of a controls file in free text")
    _add_db(a)
    a.add_argument("--controls", required=True, help="controls file (.npz), e.g. from `discover --method lsd`")
    a.add_argument("--id", required=True, type=nonneg_int, help="index of the control described")
    a.add_argument("--text", required=True, help="what changes along the direction, in your words")
    a.add_argument("--annotator", default=_default_annotator(), help="who wrote it (default: the login name)")

    d = vs.add_parser("distill", help="distil single-word directions from the annotations (ridge regression)")
    _add_db(d)
    d.add_argument("--lambda", dest="lam", type=_nonneg_float, help="ridge λ (default: chosen by held-out reconstruction)")
    d.add_argument("--min-count", type=positive_int, default=2, help="drop words in fewer annotations (default 2)")
    d.add_argument("--folds", type=positive_int, default=5, help="folds for choosing λ (default 5)")
    d.add_argument("--alpha", type=_nonneg_float, help="slider unit of the words in latent units (default: the annotated directions' step)")
    d.add_argument("--source", action="append", metavar="KEY", help="only the annotations of this set (see `vocab info`); repeatable")
    d.add_argument("--dim", type=positive_int, help="only directions of this latent size")
    d.add_argument("--quiet", action="store_true", help="no progress output")
    d.add_argument("--out", required=True, help="word controls to write (.npz)")

    i = vs.add_parser("import", help="add a published visual-vocab dataset (zip/folder) or an exported CSV")
    _add_db(i)
    g = i.add_mutually_exclusive_group(required=True)
    g.add_argument("--dataset", help="zip or folder with ds.pth, metadata.csv and annotations.csv")
    g.add_argument("--csv", help="a CSV written by `vocab export`")
    i.add_argument("--annotator", default="visual-vocab", help="annotator name for dataset rows without one")

    e = vs.add_parser("export", help="write every annotation (with its direction) to CSV")
    _add_db(e)
    e.add_argument("--out", required=True, help="CSV file to write")

    w = vs.add_parser("words", help="list the words of a distilled vocabulary, with their support")
    w.add_argument("--controls", required=True, help="word controls (.npz) from `vocab distill`")
    w.add_argument("--search", help="only words matching this text (lemmatised, prefix or substring)")
    w.add_argument("--limit", type=positive_int, help="at most this many rows")
    w.add_argument("--json", action="store_true", help="print JSON")

    n = vs.add_parser("info", help="what the annotation database holds")
    _add_db(n)
    n.add_argument("--json", action="store_true", help="print JSON")
    return {"vocab": cmd_vocab}
