"""`main.py semantics …`: train and evaluate semantic extractors from mask folders, and
sample (SCS) or edit (SIE) images by a target mask.  No Qt.

    semantics train  --model M --masks DIR [--kind lse|nse1|nse2] [--epochs E] --out S.pt
    semantics eval   --model M --extractor S.pt --masks DIR          (prints JSON with mIoU)
    semantics sample --model M --extractor S.pt --target MASK.png [--count N] [--iterations N] --out DIR
    semantics edit   --model M --extractor S.pt --seed S --target MASK.png --out F.png

Errors are one line on stderr with exit status 2 (raised as `SemanticsError`/`CliError`
and printed by `cli.commands.run`); outputs are written atomically (the sample folder is
built under a temporary name and renamed into place), so a failure leaves nothing behind.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from models.atomic import write_files_atomic
from models.bounded import InputLimitError, format_bytes, memory_budget, quote_name, read_npy

from .limits import check_images_fit

from .parser import CliError, OneLineParser, finite_float, nonneg_int, out_file, positive_float, positive_int


def register(sub) -> dict:
    """Add the ``semantics`` command group to the main parser's sub-parsers."""
    p = sub.add_parser("semantics", help="linear semantics: extractors from a few masks; sample or edit by mask")
    actions = p.add_subparsers(dest="semantics_action", parser_class=OneLineParser, metavar="ACTION")
    actions.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--model", required=True, help="registry name or checkpoint path")
        q.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
        q.add_argument("--quiet", action="store_true", help="no progress output")

    q = actions.add_parser("train", help="train an extractor from a mask folder (few-shot)")
    common(q)
    q.add_argument("--masks", required=True, help="mask folder (labels.json + PNG masks)")
    q.add_argument("--kind", choices=["lse", "nse1", "nse2"], default="lse", help="extractor (default lse, the linear one)")
    q.add_argument("--epochs", type=positive_int, default=None, help="epochs (default 20; an LSE on a DCGAN 100)")
    q.add_argument("--steps", type=positive_int, default=None, help="optimiser steps per epoch (default 8)")
    q.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default 0.01; an LSE on a DCGAN 0.05)")
    q.add_argument("--layers", help="comma-separated feature layers (default: all feature maps before the image; "
                   "an LSE on a DCGAN the two finest)")
    q.add_argument("--layer-weights", choices=["none", "softplus", "sigmoid"], default="none",
                   help="how layers are combined (default none: a plain sum, the few-shot setting)")
    q.add_argument("--no-class-weights", action="store_true", help="do not up-weight rare classes")
    q.add_argument("--seed", type=nonneg_int, default=0, help="initialisation seed (default 0)")
    q.add_argument("--out", required=True, help="extractor file to write (.pt)")

    q = actions.add_parser("eval", help="mIoU of an extractor on a mask folder (LinearGAN's definition), as JSON")
    common(q)
    q.add_argument("--extractor", required=True, help="extractor file (.pt) from `semantics train`")
    q.add_argument("--masks", required=True, help="mask folder to score against")

    q = actions.add_parser("sample", help="semantic-conditional sampling: images whose layout follows a mask")
    common(q)
    q.add_argument("--extractor", required=True, help="extractor file (.pt)")
    q.add_argument("--target", required=True, help="target mask PNG (class indices, the model's resolution)")
    q.add_argument("--count", type=positive_int, default=4, help="samples to make (default 4)")
    q.add_argument("--iterations", type=nonneg_int, default=50, help="Adam iterations (default 50)")
    q.add_argument("--init", type=positive_int, default=10, help="random candidates per sample, best kept (default 10)")
    q.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default 0.01)")
    q.add_argument("--strategy", choices=["z", "mixwp"], default="z", help="one z, or one z per latent row (default z)")
    q.add_argument("--truncation", type=finite_float, help="truncation psi (default: the model's)")
    q.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random candidates (default 0)")
    q.add_argument("--out", required=True, help="folder to create: images, latents, predicted masks, labels.json")

    q = actions.add_parser("edit", help="semantic image editing: move an image toward an edited mask")
    common(q)
    q.add_argument("--extractor", required=True, help="extractor file (.pt)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--seed", type=nonneg_int, help="the image to edit, by seed")
    src.add_argument("--latents", help="the image to edit, by a .npy of per-layer latents [num_layers, latent_dim]")
    q.add_argument("--truncation", type=finite_float, help="truncation psi for --seed (default: the model's)")
    q.add_argument("--target", required=True, help="edited mask PNG (class indices, the model's resolution)")
    q.add_argument("--iterations", type=nonneg_int, default=100, help="Adam iterations (default 100)")
    q.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default 0.01)")
    q.add_argument("--strategy", choices=["mixwp", "single"], default="mixwp", help="latent rows optimised (default mixwp)")
    q.add_argument("--region-weight", type=positive_float, default=1.0,
                   help="weight of the pixels the edit changed relative to the rest (default 1: as in the paper)")
    q.add_argument("--save-latents", help="also write the edited latents (.npy)")
    q.add_argument("--out", required=True, help="edited image (.png)")
    return {"semantics": run}


def run(args) -> int:
    """Dispatch ``semantics ACTION``."""
    return {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "edit": cmd_edit}[args.semantics_action](args)


# ---------------------------------------------------------------------- helpers
def _load(args):
    import models

    from .commands import resolve_device

    return models.load_generator(args.model, resolve_device(args.device))


def _progress(args):
    from .progress import TerminalProgress

    return TerminalProgress(enabled=not args.quiet)


def _out_folder(path: str) -> Path:
    out = Path(path)
    if str(out.parent) and not out.parent.is_dir():
        raise CliError(f"--out {path}: folder {out.parent} does not exist")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"--out {path} already exists and is not an empty folder")
    return out


def _extractor(args):
    """The extractor file, read before the (slower) model so that a bad file fails fast."""
    from methods.semantics import SemanticExtractor

    return SemanticExtractor.load(args.extractor)


def _attach(ext, G):
    ext.check_model(G)
    return ext.to(G.device)


def _target(args, G, ext) -> torch.Tensor:
    from methods.semantics import read_mask

    return torch.from_numpy(read_mask(args.target, ext.n_class, G.resolution, ext.colors)).long()


# ---------------------------------------------------------------------- train / eval
def cmd_train(args) -> int:
    from methods.semantics import TrainConfig, read_mask_folder, train_extractor

    out = out_file(args.out, (".pt",))
    folder = read_mask_folder(args.masks)
    if not folder.items:
        raise CliError(f"{args.masks} lists no masks")
    G = _load(args)
    folder.check(G)
    defaults = TrainConfig.defaults(args.kind, G)
    lr = args.lr if args.lr is not None else defaults.lr
    layers = tuple(n.strip() for n in args.layers.split(",") if n.strip()) if args.layers else None
    config = TrainConfig(
        kind=args.kind, layers=layers, epochs=args.epochs or defaults.epochs,
        steps_per_epoch=args.steps or defaults.steps_per_epoch, lr=lr, lw_type=args.layer_weights,
        class_weights=not args.no_class_weights, seed=args.seed,
    )
    progress = _progress(args)
    ext = train_extractor(G, folder.latents(G), folder.masks(), folder.classes, folder.resolved_colors(), config, progress)
    progress.finish()
    ext.save(out)
    print(json.dumps({"out": str(out), "kind": ext.kind, "classes": ext.classes, "layers": ext.layers, **{
        k: ext.info[k] for k in ("shots", "train_miou", "seconds")}}))
    return 0


def cmd_eval(args) -> int:
    from methods.semantics import evaluate_extractor, read_mask_folder

    ext = _extractor(args)
    folder = read_mask_folder(args.masks)
    if folder.classes != ext.classes:
        raise CliError(f"the mask folder's classes {folder.classes} differ from the extractor's {ext.classes}")
    if not folder.items:
        raise CliError(f"{args.masks} lists no masks")
    G = _load(args)
    _attach(ext, G)
    folder.check(G)
    result = evaluate_extractor(G, ext, folder.latents(G), folder.masks())
    print(json.dumps({"extractor": str(args.extractor), "kind": ext.kind, **result.as_dict(ext.classes)}))
    return 0


# ---------------------------------------------------------------------- sample / edit
def cmd_sample(args) -> int:
    from models.frames import to_uint8
    from methods.semantics import MaskFolder, MaskItem, SCSConfig, semantic_sample, write_mask_folder

    out = _out_folder(args.out)
    ext = _extractor(args)
    G = _load(args)
    _attach(ext, G)
    target = _target(args, G, ext)
    # SCS draws count × init z at once, then renders count images per candidate
    check_images_fit(args.count, G.resolution, f"--count {args.count}")
    need = args.count * args.init * G.z_dim * 4
    if need > memory_budget():
        raise CliError(f"--count {args.count} × --init {args.init} would need {format_bytes(need)} of latents, "
                       f"more than the {format_bytes(memory_budget())} limit")
    psi = args.truncation if args.truncation is not None else G.default_truncation
    config = SCSConfig(count=args.count, n_init=args.init, n_iter=args.iterations, lr=args.lr,
                       strategy=args.strategy, truncation=psi, seed=args.seed)
    progress = _progress(args)
    res = semantic_sample(G, ext, target, config, progress)
    progress.finish()
    with torch.no_grad():
        frames = to_uint8(G.synthesize(res.latents))
        preds = ext.predict(G, res.latents).cpu().numpy().astype(np.uint8)
    lats = res.latents.detach().cpu().numpy().astype(np.float32)

    from editing.export import write_png

    parent = out.parent if str(out.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        items = []
        for i in range(len(frames)):
            write_png(tmp / f"sample_{i:03d}.png", frames[i])
            items.append(MaskItem(preds[i], latents=lats[i], mask_file=f"sample_{i:03d}_mask.png",
                                  latents_file=f"sample_{i:03d}.npy",
                                  extra={"image": f"sample_{i:03d}.png",
                                         "agreement_before": round(res.agreement_before[i], 6),
                                         "agreement_after": round(res.agreement_after[i], 6)}))
        write_mask_folder(tmp, MaskFolder(list(ext.classes), items, list(ext.colors)))
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"out": str(out), "count": len(frames),
                      "agreement_before": [round(v, 4) for v in res.agreement_before],
                      "agreement_after": [round(v, 4) for v in res.agreement_after]}))
    return 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cmd_edit(args) -> int:
    from editing.export import encode_png, write_png
    from models.frames import to_uint8
    from methods.semantics import SIEConfig, semantic_edit

    out = out_file(args.out, (".png",))
    save = out_file(args.save_latents, (".npy",), "--save-latents") if args.save_latents else None
    if args.latents and args.truncation is not None:
        raise CliError("--truncation applies to --seed; latents are used as they are")
    ext = _extractor(args)
    G = _load(args)
    _attach(ext, G)
    target = _target(args, G, ext)
    if args.latents:
        try:
            arr = read_npy(args.latents, what=f"--latents {quote_name(args.latents)}", max_total=64 << 20)
        except FileNotFoundError:
            raise CliError(f"--latents {quote_name(args.latents)} does not exist") from None
        except InputLimitError as exc:
            raise CliError(str(exc)) from None
        except (OSError, ValueError):
            raise CliError(f"--latents {args.latents} is not a NumPy array file") from None
        if arr.dtype.kind != "f" or arr.size != G.num_layers * G.latent_dim or not np.isfinite(arr).all():
            raise CliError(f"--latents must hold finite floats of shape [{G.num_layers}, {G.latent_dim}], not {list(arr.shape)}")
        latents = torch.from_numpy(arr.astype(np.float32).reshape(1, G.num_layers, G.latent_dim)).to(G.device)
    else:
        psi = args.truncation if args.truncation is not None else G.default_truncation
        with torch.no_grad():
            latents = G.truncate(G.sample(1, args.seed), psi)
    config = SIEConfig(n_iter=args.iterations, lr=args.lr, strategy=args.strategy, region_weight=args.region_weight)
    progress = _progress(args)
    res = semantic_edit(G, ext, latents, target, config=config, progress=progress)
    progress.finish()
    with torch.no_grad():
        frame = to_uint8(G.synthesize(res.latents))[0]
    if save is not None:  # both files or neither, old ones kept on failure (models.atomic.write_files_atomic)
        buf = io.BytesIO()
        np.save(buf, res.latents[0].detach().cpu().numpy().astype(np.float32), allow_pickle=False)
        write_files_atomic({out: encode_png(frame), save: buf.getvalue()})
    else:
        write_png(out, frame)
    print(json.dumps({"out": str(out), "agreement_before": round(res.agreement_before[0], 4),
                      "agreement_after": round(res.agreement_after[0], 4),
                      "edited_pixels": int(res.region.sum()) if res.region is not None else None}))
    return 0
