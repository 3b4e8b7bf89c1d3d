"""`EditState`: everything that determines one frame, as a small frozen value.

The GUI builds a new `EditState` on every change and hands it to the render worker;
the CLI builds one from its options; a preset is an `EditState` written as JSON.
Rendering is a pure function of it (`editing.render.render_state`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from methods.controls import ControlSet, LayerRange


@dataclass(frozen=True)
class EditState:
    """One frame's recipe.

    ``values[k]`` is control k's slider value in its own unit (σ for GANSpace);
    ``ranges[k]`` its layer range [s, e) over the per-layer latents, None = the
    control's default (all rows).  ``size`` is the output edge in pixels (None = the
    model's resolution).  ``mix_seed``/``mix_range``: style mixing — rows of the
    second seed's latents replace the first's inside the range.  ``class_mix``:
    conditional models get ``(1 − w)·onehot(class_index) + w·onehot(second)``.
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
