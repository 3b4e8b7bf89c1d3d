"""`EditState`: everything that determines one frame, as a small frozen value.

The GUI builds a new `EditState` on every change and hands it to the render worker;
the CLI builds one from its options; a preset is an `EditState` written as JSON.
Rendering is a pure function of it (`editing.render.render_state`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from methods.controls import ControlSet, LayerRange


class BaseLatents:
    """Explicit per-layer latents of one image, ``float32 [num_layers, latent_dim]``, as a value.

    They are in the editing space (already truncated: what `G.truncate` returns, e.g.
    the result of semantic-conditional sampling or semantic image editing), so that an
    image no seed reproduces can be an `EditState`'s base.  The array is a read-only
    float32 copy on the host; two instances are equal when their shapes and bytes are
    (compared through a SHA-256 digest computed once), so states holding them stay
    hashable and comparable (undo history, autosave's "changed?").
    """

    __slots__ = ("_array", "_digest")

    def __init__(self, latents: Any):
        """``latents``: ``[L, D]`` (or ``[1, L, D]``) numbers, a NumPy array or a tensor on any device."""
        if hasattr(latents, "detach"):  # a torch tensor
            latents = latents.detach().float().cpu().numpy()
        arr = np.array(latents, dtype=np.float32, copy=True)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0].copy()
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValueError(f"explicit latents must have shape [layers, latent size], not {list(arr.shape)}")
        if not np.isfinite(arr).all():
            raise ValueError("explicit latents must be finite numbers")
        arr = np.ascontiguousarray(arr)
        arr.setflags(write=False)
        object.__setattr__(self, "_array", arr)
        object.__setattr__(self, "_digest", hashlib.sha256(arr.astype("<f4").tobytes()).hexdigest())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("BaseLatents is immutable")

    @property
    def array(self) -> np.ndarray:
        """The latents, ``float32 [num_layers, latent_dim]``, read-only."""
        return self._array

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self._array.shape)  # type: ignore[return-value]

    @property
    def digest(self) -> str:
        """SHA-256 hex digest of the little-endian float32 bytes."""
        return self._digest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseLatents):
            return NotImplemented
        return self.shape == other.shape and self._digest == other._digest

    def __hash__(self) -> int:
        return hash((self.shape, self._digest))

    def __repr__(self) -> str:
        return f"BaseLatents(shape={list(self.shape)}, sha256={self._digest[:12]}…)"

    def __reduce__(self):  # copy/deepcopy: the array is immutable, so the same value
        return (BaseLatents, (self._array,))


@dataclass(frozen=True)
class EditState:
    """One frame's recipe.

    ``values[k]`` is control k's slider value in its own unit (σ for GANSpace);
    ``ranges[k]`` its layer range [s, e) over the per-layer latents, None = the
    control's default (all rows).  ``size`` is the output edge in pixels (None = the
    model's resolution).  ``mix_seed``/``mix_range``: style mixing — rows of the
    second seed's latents replace the first's inside the range.  ``class_mix``:
    conditional models get ``(1 − w)·onehot(class_index) + w·onehot(second)``.

    ``latents``: an explicit base image (`BaseLatents`, ``[num_layers, latent_dim]`` in
    the editing space, already truncated).  When set, it *replaces* "sample the seed,
    style-mix, truncate": ``seed``, ``mix_seed``/``mix_range`` are kept but ignored for
    the base, and ``truncation`` only still reaches ``synthesize`` (BigGAN picks its
    batch-norm statistics by it, so it stays the value the latents were made at).  The
    controls are applied to the latents as usual.  A grid of seeds ignores them (the
    grid is about seeds).  The GUI clears them when a seed is chosen and does not
    offer a truncation change while they are set.
    """

    model: str
    seed: int = 0
    truncation: float = 1.0
    class_index: int | None = None
    controls: ControlSet | None = None  # compared by identity: a renamed/flipped set is a new object
    values: tuple[float, ...] = ()
    ranges: tuple[LayerRange | None, ...] = ()
    size: int | None = None
    noise_mode: str = "fixed"
    mix_seed: int | None = None
    mix_range: LayerRange | None = None
    class_mix: tuple[int, float] | None = None  # (second class, its weight in [0, 1])
    latents: BaseLatents | None = None  # explicit base image instead of the seed's sample
    #: StyleGAN3's view transform (NVIDIA's viewer): translation of the input in its own
    #: coordinates (1 = the image width at the input's sampling rate) and rotation in degrees
    #: (the viewer counts turns: degrees / 360).  Other families accept only the identity.
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0

    @property
    def transformed(self) -> bool:
        """Whether the view is translated or rotated (StyleGAN3 only)."""
        return self.rotate != 0.0 or tuple(self.translate) != (0.0, 0.0)

    def describe_base(self) -> str:
        """``"seed 7"``, or ``"sampled image"`` when the base is explicit latents."""
        return "sampled image" if self.latents is not None else f"seed {self.seed}"

    def with_controls(self, controls: ControlSet | None) -> "EditState":
        """Attach a ControlSet, resetting every slider to 0 and every range to the default."""
        n = len(controls) if controls is not None else 0
        return replace(self, controls=controls, values=(0.0,) * n, ranges=(None,) * n)

    def with_value(self, index: int, value: float) -> "EditState":
        values = list(self.values)
        values[index] = float(value)
        return replace(self, values=tuple(values))

    def with_range(self, index: int, rng: LayerRange | None) -> "EditState":
        ranges = list(self.ranges)
        ranges[index] = None if rng is None else (int(rng[0]), int(rng[1]))
        return replace(self, ranges=tuple(ranges))

    def with_values(self, values: Sequence[float]) -> "EditState":
        return replace(self, values=tuple(float(v) for v in values))

    def reset(self) -> "EditState":
        """All sliders back to 0 and all ranges to their defaults; seed and model unchanged."""
        n = len(self.values)
        return replace(self, values=(0.0,) * n, ranges=(None,) * n)

    def active(self) -> list[int]:
        """Indices of the controls whose value is not zero."""
        return [i for i, v in enumerate(self.values) if v != 0.0]
