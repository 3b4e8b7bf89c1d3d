"""One generator used by several threads (the render worker and background jobs).

`Generator.features` registers forward hooks for the length of one call; if the render
thread ran the network meanwhile, the hooks would fire on its forward pass (and stop
it).  `SharedGenerator` forwards every attribute to the real generator and runs each
call that touches the network under one re-entrant lock, so calls from different
threads never overlap.  Jobs hold the lock only per batch, so rendering stays live.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

#: `Generator` methods that run (part of) the network or read its device tensors
LOCKED_METHODS = frozenset({"sample", "sample_z", "map", "truncate", "synthesize", "features", "layer_shape"})


class SharedGenerator:
    """A thread-safe view of a `models.Generator` (same attributes, same methods)."""

    __slots__ = ("_generator", "_lock")

    def __init__(self, generator: Any, lock: threading.RLock | None = None):
        object.__setattr__(self, "_generator", generator)
        object.__setattr__(self, "_lock", lock or threading.RLock())

    @property
    def unwrapped(self) -> Any:
        """The generator itself (for the thread that already holds `lock`)."""
        return self._generator

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._generator, name)
        if name in LOCKED_METHODS and callable(attr):
            lock = self._lock

            @functools.wraps(attr)
            def locked(*args, **kwargs):
                with lock:
                    return attr(*args, **kwargs)

            return locked
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        # settings such as ``noise_mode`` go to the wrapped generator (renders pass their own per call)
        setattr(self._generator, name, value)

    def __repr__(self) -> str:
        return f"SharedGenerator({self._generator.name!r})"
