"""Tiny generators for the trained-method tests: milliseconds per batch on a CPU."""
from __future__ import annotations

import torch
from torch import nn

from models.base import Generator


class TinyConvGenerator(Generator):
    """A random conv generator: z ``[B, 8]`` -> ``fc`` (32×4×4) -> ``block1`` (16×8×8) -> ``output`` 16×16 RGB.

    ``num_layers`` per-layer latent rows (copies of z) are accepted; only their mean is used,
    so a row subset edit still moves the image.
    """

    family = "toy"
    default_pca_layer = "block1"

    def __init__(self, z_dim: int = 8, seed: int = 0, num_layers: int = 1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = nn.Sequential(
                nn.Linear(z_dim, 32 * 16), nn.ReLU(), nn.Unflatten(1, (32, 4, 4)),
                nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                nn.ConvTranspose2d(16, 3, 4, 2, 1), nn.Tanh(),
            )
        super().__init__(net, "cpu", "tiny", f"tiny{seed:012d}")
        self.z_dim = self.latent_dim = z_dim
        self.num_layers, self.resolution = num_layers, 16

    def map(self, z):
        return z[:, None, :].repeat(1, self.num_layers, 1)

    def synthesize(self, latents, classes=None, truncation=None):
        return self.net(latents.mean(1))

    def _layers(self):
        return {"fc": self.net[1], "block1": self.net[4], "output": self.net[6]}


class QuadrantToy(Generator):
    """Images whose answer is known: z ``[B, 8]``; only z[4:8] matter, each brightening one quadrant.

    ``image = tanh(0.6 · Σ_j z[4 + j] · Q_j − 0.2)`` with Q_j the indicator of quadrant j
    (times a fixed colour).  z[0:4] change nothing, so the coordinate axes e0…e3 that
    Voynov starts from are useless and must be rotated onto e4…e7; random directions
    spend half their length on dead coordinates and mix the quadrants.
    """

    family = "toy"
    default_pca_layer = "output"

    def __init__(self):
        Q = torch.zeros(4, 3, 16, 16)
        colours = torch.tensor([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0], [0.8, 0.8, 0.2]])
        for j, (r, c) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
            Q[j, :, r:r + 8, c:c + 8] = colours[j][:, None, None]
        net = nn.Tanh()
        super().__init__(net, "cpu", "quadrants", "quadrants0000000")
        self.quadrants = Q
        self.z_dim = self.latent_dim = 8
        self.num_layers, self.resolution = 1, 16

    def map(self, z):
        return z[:, None, :]

    def synthesize(self, latents, classes=None, truncation=None):
        live = latents[:, 0, 4:]
        return self.net(0.6 * torch.einsum("bj,jchw->bchw", live, self.quadrants) - 0.2)

    def _layers(self):
        return {"output": self.net}
