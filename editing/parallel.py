"""Many frames rendered by the ranks of a ``torchrun`` job and put back in order.

`render_in_order` splits a list of items (slider values, seeds) into rounds of
``size × batch`` items: in each round rank r renders the r-th block of ``batch`` items,
the blocks are all-gathered (`methods.distributed.gather_rows`) and rank 0 yields the
round's frames in the items' order, so a video is written as it is rendered and memory
stays at one round's frames.  Other ranks yield nothing: they only render (the caller
writes files on rank 0 alone).  With one process it is a plain batched loop.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import torch

from methods import distributed
from methods.jobs import CancelFn, check_cancel, never_cancel

T = TypeVar("T")


def render_in_order(
    render: Callable[[Sequence[T]], np.ndarray], items: Sequence[T], batch: int = 8, cancel: CancelFn = never_cancel
) -> Iterator[np.ndarray]:
    """Frames ``uint8 [H, W, 3]`` of ``render(block)`` (``[len(block), H, W, 3]``) for every item, in order (rank 0)."""
    world = distributed.world()
    if not world.active:
        for start in range(0, len(items), batch):
            check_cancel(cancel)
            yield from render(items[start : start + batch])
        return
    cancel = distributed.Cancel(cancel)  # collective, once per round on every rank
    step = batch * world.size
    for base in range(0, len(items), step):
        check_cancel(cancel)
        blocks = [items[base + r * batch : base + (r + 1) * batch] for r in range(world.size)]
        counts = [len(b) for b in blocks]
        mine = blocks[world.rank]
        frames = np.asarray(render(mine)) if mine else None
        # rank 0's block is never empty: its frame shape is the round's
        shape = torch.zeros(3, dtype=torch.int64)
        if world.main:
            shape[:] = torch.tensor(frames.shape[1:])
        h, w, c = (int(v) for v in distributed.all_sum(shape))
        local = torch.from_numpy(np.ascontiguousarray(frames)) if frames is not None else torch.zeros((0, h, w, c), dtype=torch.uint8)
        gathered = distributed.gather_rows(local, counts)
        if world.main:
            yield from gathered.numpy()
