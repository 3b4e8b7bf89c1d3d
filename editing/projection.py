"""A projected image (`methods.projection.ProjectionResult`) as an `EditState`'s explicit base."""
from __future__ import annotations

from dataclasses import replace

from .state import BaseLatents, EditState


def projected_state(state: EditState, result) -> EditState:
    """``state`` with the projection's latents as its base image (sliders back to 0).

    Conditional models also take the projection's class (and second class, `class_mix`)
    and its truncation (BigGAN's batch-norm statistics); other families keep the state's.
    """
    changes: dict = {"latents": BaseLatents(result.latents), "values": (0.0,) * len(state.values)}
    if result.class_index is not None:
        changes.update(class_index=int(result.class_index), class_mix=result.class_mix, truncation=float(result.truncation))
    return replace(state, **changes)
