"""Building blocks for reproducing a checkpoint layout: modules that only hold named tensors
(so a network carries the file's exact state-dict names), and strict, checked loading.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, TypeVar

import torch
from torch import nn

from .base import LoadError
from .bounded import InputLimitError, check_model_size, module_bytes


class Params(nn.Module):
    """A module that only holds named parameters (to reproduce a layout's state-dict names)."""

    def __init__(self, **shapes: Sequence[int]):
        super().__init__()
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(*shape)))


class Container(nn.Module):
    """A container to reproduce a layout's module names: children and buffers by keyword."""

    def __init__(self, buffers: Mapping[str, torch.Tensor] | None = None, **children: nn.Module):
        super().__init__()
        for name, value in (buffers or {}).items():
            self.register_buffer(name, value)
        for name, child in children.items():
            self.add_module(name, child)


def check_state_dict(net: nn.Module, sd: Mapping[str, Any], what: str) -> None:
    """One-sentence `LoadError` for the first missing, mis-shaped or unexpected entry (before ``strict`` loading)."""
    ours = net.state_dict()
    for key, t in ours.items():
        if key not in sd:
            raise LoadError(f"the {what} state dict lacks {key!r}")
        theirs = sd[key]
        if not isinstance(theirs, torch.Tensor) or tuple(theirs.shape) != tuple(t.shape):
            shape = tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs).__name__
            raise LoadError(f"{key!r} is {shape} but the {what} inferred from the other shapes needs {tuple(t.shape)}")
        if not theirs.is_floating_point():
            raise LoadError(f"{key!r} holds {theirs.dtype} values, not floating-point weights")
    extra = [k for k in sd if k not in ours]
    if extra:
        raise LoadError(f"the state dict has {extra[0]!r}, which a {what} does not")


def load_state_dict_checked(net: nn.Module, sd: Mapping[str, Any], what: str) -> None:
    """`check_state_dict`, non-finite weights refused, then ``load_state_dict(strict=True)``."""
    check_state_dict(net, sd, what)
    for key, t in sd.items():
        if not bool(torch.isfinite(t).all()):
            raise LoadError(f"{key!r} holds NaN or infinite values, so the {what} cannot produce images")
    net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)


M = TypeVar("M", bound=nn.Module)


def build_within_budget(build: Callable[[], M], widest: int, resolution: int, what: str) -> M:
    """``build()`` once the layout is known to fit the memory budget (`models.bounded.check_model_size`).

    Weights are measured on the meta device (nothing allocated); activations for one image are
    taken as 4 maps of the widest ``channels·r²`` feature map, float32.  `LoadError` otherwise.
    """
    try:
        check_model_size(module_bytes(build), 4 * 4 * widest, what=f"this {what} checkpoint", resolution=resolution)
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None
    return build()
