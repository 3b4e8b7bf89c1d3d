"""DCGAN generators in the layout of the PyTorch DCGAN tutorial.

The state dict holds an ``nn.Sequential`` called ``main``: transposed convolutions
(``main.{i}.weight``, no bias), each but the last followed by BatchNorm2d
(``main.{i+1}.*``) and ReLU; the last is followed by tanh.  The first convolution
maps z ``[B, nz, 1, 1]`` to 4x4 (kernel 4, stride 1, pad 0) and every later one
doubles the resolution (kernel 4, stride 2, pad 1).  Everything — nz, channel
widths, depth and output size — is read from the tensor shapes.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from .base import Generator, LoadError
from .bounded import InputLimitError, check_model_size

_KEY = re.compile(r"^main\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


class DCGANNet(nn.Module):
    """The tutorial generator: z ``[B, nz, 1, 1]`` -> image ``[B, nc, 4·2^(n-1), …]`` in [-1, 1]."""

    def __init__(self, widths: list[int], batchnorm_at: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        n_convs = len(widths) - 1
        for i in range(n_convs):
            first = i == 0
            layers.append(
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 1 if first else 2, 0 if first else 1, bias=False)
            )
            if i < n_convs - 1:
                layers.append(nn.BatchNorm2d(widths[i + 1]))
                layers.append(nn.ReLU(inplace=False))
            else:
                layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)
        # Indices where the state dict expects BatchNorm entries must agree with ours.
        expected = [3 * i + 1 for i in range(n_convs - 1)]
        if batchnorm_at != expected:
            raise LoadError("the checkpoint's batch-norm layers are not where a DCGAN tutorial generator has them")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


def parse_state_dict(sd: dict[str, torch.Tensor]) -> tuple[list[int], list[int]]:
    """Infer channel widths ``[nz, c1, ..., nc]`` and the batch-norm indices from a state dict."""
    convs: dict[int, torch.Tensor] = {}
    bns: set[int] = set()
    for key, value in sd.items():
        m = _KEY.match(key)
        if not m:
            raise LoadError(f"unexpected entry {key!r}: a DCGAN state dict holds only main.<i>.* tensors")
        idx, field = int(m.group(1)), m.group(2)
        if not isinstance(value, torch.Tensor):
            raise LoadError(f"entry {key!r} is not a tensor")
        if field == "weight" and value.dim() == 4:
            convs[idx] = value
        else:
            bns.add(idx)
    if len(convs) < 2:
        raise LoadError("a DCGAN state dict needs at least two transposed convolutions (main.<i>.weight of 4 dimensions)")
    order = sorted(convs)
    if order != [3 * i for i in range(len(order))]:
        raise LoadError("the transposed convolutions are not at main.0, main.3, main.6, … as in a DCGAN tutorial generator")
    widths = [int(convs[order[0]].shape[0])]
    for i in order:
        w = convs[i]
        if tuple(w.shape[2:]) != (4, 4):
            raise LoadError(f"main.{i}.weight has kernel {tuple(w.shape[2:])}, a DCGAN generator uses 4x4")
        if int(w.shape[0]) != widths[-1]:
            raise LoadError(f"main.{i}.weight takes {w.shape[0]} channels but the layer before gives {widths[-1]}")
        widths.append(int(w.shape[1]))
    return widths, sorted(bns)


def check_dcgan_size(widths: list[int]) -> None:
    """`LoadError` when the layout's weights plus one image's activations exceed the memory budget.

    Conv i (0-based) makes ``widths[i+1]`` channels at ``4·2^i`` px; a layer's input, output
    and batch-norm copy are alive at once, so the peak is taken as 3× the largest output.
    """
    params = sum(a * b * 16 for a, b in zip(widths[:-1], widths[1:])) + 4 * sum(widths[1:-1])
    acts = max(c * (4 * 2**i) ** 2 for i, c in enumerate(widths[1:]))
    try:
        check_model_size(4 * params, 3 * 4 * acts, what="this DCGAN checkpoint", resolution=4 * 2 ** (len(widths) - 2))
    except InputLimitError as exc:
        raise LoadError(str(exc)) from None


class DCGANGenerator(Generator):
    """A DCGAN behind the `Generator` interface: one per-layer row, z space = editing space."""

    family = "dcgan"
    default_truncation = 1.0
    default_pca_layer = "block1"

    def __init__(self, state_dict: dict[str, torch.Tensor], device: torch.device | str, name: str, fingerprint: str):
        widths, bns = parse_state_dict(state_dict)
        check_dcgan_size(widths)
        with torch.device("meta"):  # no random initialisation of weights the load replaces
            net = DCGANNet(widths, bns)
        try:
            net.load_state_dict(state_dict, strict=True, assign=True)
            net.float()  # float32, as copying into freshly made parameters gave
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise LoadError(f"the DCGAN weights do not fit the inferred layout ({first[-1].strip() if first else exc})") from None
        super().__init__(net, device, name, fingerprint)
        self.z_dim = self.latent_dim = widths[0]
        self.num_layers = 1
        self.widths = widths
        self.resolution = 4 * 2 ** (len(widths) - 2)
        if widths[-1] != 3:
            raise LoadError(f"the generator makes {widths[-1]}-channel images; Latent Studio shows RGB (3 channels)")

    def map(self, z: torch.Tensor) -> torch.Tensor:
        return z.unsqueeze(1)

    def synthesize(self, latents, classes=None, truncation=None, noise_mode=None) -> torch.Tensor:
        z = latents[:, 0].to(self.device)
        return self.net(z[:, :, None, None])

    def _layers(self) -> dict[str, nn.Module]:
        """``block{k}``: the ReLU output of the k-th up-block (4·2^(k-1) px); ``output``: the tanh image."""
        mods = list(self.net.main)
        named: dict[str, nn.Module] = {}
        block = 0
        for m in mods:
            if isinstance(m, nn.ReLU):
                block += 1
                named[f"block{block}"] = m
        named["output"] = mods[-1]
        return named

    def describe_layers(self) -> list[str]:
        return [f"z ({self.resolution}² image)"]

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """The first transposed conv on a 1x1 input is linear in z: ``A`` ``[c1·4·4, nz]``."""
        w = self.net.main[0].weight.detach()  # [nz, c1, 4, 4]
        return [(0, "conv", w.reshape(w.shape[0], -1).T)]
