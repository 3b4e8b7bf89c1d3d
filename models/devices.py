"""Device faults: recognising out-of-memory errors and moving a generator to the CPU."""
from __future__ import annotations

import torch


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a GPU (or CPU allocator) out-of-memory error."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, (RuntimeError, MemoryError)) and "out of memory" in str(exc).lower()


def free_cuda_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def move_to_cpu(G) -> bool:
    """Move a generator's network and tensor attributes to the CPU; False if it was already there.

    The caller must make sure nothing else runs the generator meanwhile.
    """
    if torch.device(G.device).type == "cpu":
        return False
    release = getattr(G, "release_fast_path", None)
    if release is not None:  # its weight copies and CUDA graphs live on the old device
        release()
    G.net.to("cpu")
    for name, value in list(vars(G).items()):
        if isinstance(value, torch.Tensor):
            setattr(G, name, value.to("cpu"))
    G.device = torch.device("cpu")
    free_cuda_cache()
    return True
