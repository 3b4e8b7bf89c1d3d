"""Discovery results cached on disk, keyed by the model's weights and the exact settings."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from models.digests import user_cache_dir

from .controls import ControlSet, ControlSetError
from .fallback import run_with_fallback
from .jobs import CancelFn, ProgressFn, never_cancel, no_progress
from .registry import MethodSpec


def cache_dir() -> Path:
    """``$LATENT_STUDIO_CACHE``, else ``$XDG_CACHE_HOME/latent-studio``, else ``~/.cache/latent-studio``."""
    return user_cache_dir()


def cache_path(G, method: MethodSpec, config) -> Path:
    """``<cache>/<method>-<fingerprint>-<hash of settings>.npz``: the file name says what made it."""
    # methods that read files (a labels CSV) add their content, so an edited file is not a cache hit
    inputs = {"inputs": config.input_digest()} if hasattr(config, "input_digest") else {}
    key = json.dumps({"model": G.fingerprint, "method": method.name, "config": asdict(config), **inputs}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{method.name}-{G.fingerprint}-{digest}.npz"


def cached(G, method: MethodSpec, config) -> ControlSet | None:
    """The cached result for these settings, or None (a damaged cache file counts as absent)."""
    path = cache_path(G, method, config)
    if not path.is_file():
        return None
    try:
        cs = ControlSet.load(path)
        cs.check_model(G)
        return cs
    except Exception:  # noqa: BLE001 - whatever is wrong with a cache entry, recomputing is the answer
        return None


def discover_cached(
    G, method: MethodSpec, config, progress: ProgressFn = no_progress, cancel: CancelFn = never_cancel, use_cache: bool = True
) -> ControlSet:
    """Run ``method`` unless the same model and settings already have a cached result."""
    if getattr(config, "job_dir", ""):
        # A trained run with a job folder resumes from its checkpoints; the folder is its cache.
        use_cache = False
    if use_cache:
        hit = cached(G, method, config)
        if hit is not None:
            progress(1.0, "loaded from cache")
            return hit
    cs = run_with_fallback(G, method.run, config, progress, cancel, notify=lambda m: progress(0.0, m))
    if use_cache:
        path = cache_path(G, method, config)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            cs.save(path)
        except OSError:
            pass  # a read-only cache only costs speed
    return cs
