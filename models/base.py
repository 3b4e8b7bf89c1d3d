"""The `Generator` interface that every model family implements.

Latents crossing this interface are *per-layer latents*: a float tensor
``[B, num_layers, latent_dim]`` in the family's editing space (DCGAN: z,
StyleGAN2: W+, BigGAN: one z chunk per block).  Images are ``[B, 3, H, W]``
floats in [-1, 1] (a family may overshoot slightly; callers clamp).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import torch
from torch import nn


class LoadError(Exception):
    """A checkpoint could not be turned into a generator; the message says why in one sentence."""


class _StopForward(Exception):
    """Raised inside a forward hook once every requested feature has been captured."""


class Generator(ABC):
    """One loaded network on one device, behind the family-independent interface.

    Subclasses set ``latent_dim``, ``z_dim``, ``num_layers``, ``resolution``,
    ``family`` and ``classes`` and implement `map`, `synthesize` and `_layers`.
    """

    family: str = "generic"
    latent_dim: int
    z_dim: int
    num_layers: int
    resolution: int
    classes: list[str] | None = None
    #: default truncation for the GUI and the CLI (1.0 = none)
    default_truncation: float = 1.0
    #: default layer for activation-space GANSpace (METHODS.md §1)
    default_pca_layer: str = "latent"
    #: conditional families whose class enters the mapping (NVIDIA's StyleGAN2-ADA/3): `map` and
    #: `sample` take ``classes`` and the latents already hold the class; others take it in `synthesize`
    class_in_mapping: bool = False
    #: how images become uint8, as the family's original code does it (`models.frames.to_uint8`):
    #: ``"round"`` (``round((x+1)·127.5)``), ``"nvidia"`` (``(x·127.5+128)`` truncated), ``"floor"``
    #: (GANSpace) or ``"half_up"`` (sefa); images are never clamped before
    uint8_convention: str = "round"
    #: CPU frames (`editing.render`) on oneDNN's convolutions: only where they give this
    #: family the same bits at every thread count and are the faster; else PyTorch's own
    cpu_frames_onednn: bool = False

    def __init__(self, net: nn.Module, device: torch.device | str, name: str, fingerprint: str):
        self.net = net.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        #: registry name or path the model was loaded from
        self.name = name
        #: content hash of the weights; ControlSets and presets record it
        self.fingerprint = fingerprint
        #: things the loader had to guess or estimate, shown to the user once
        self.notes: list[str] = []

    # ------------------------------------------------------------------ sampling
    def sample_z(self, n: int, seed: int) -> torch.Tensor:
        """Standard-normal z ``[n, z_dim]`` on the device; row i depends only on ``seed + i``.

        Seeding per row makes ``sample_z(4, s)[2] == sample_z(1, s + 2)[0]``, so a
        seed names one image whatever the batch it is drawn in.
        """
        z = torch.empty(max(int(n), 0), self.z_dim)
        gen, base, d = torch.Generator(), int(seed), self.z_dim
        for i, row in enumerate(z):  # each row drawn in place: no per-row tensor, no stack copy
            gen.manual_seed((base + i) % (2**63))
            torch.randn(d, generator=gen, out=row)
        return z.to(self.device)

    def sample(self, n: int, seed: int, classes=None) -> torch.Tensor:
        """Per-layer latents ``[n, num_layers, latent_dim]`` for seeds ``seed .. seed+n-1``.

        ``classes`` reaches the mapping only where `class_in_mapping`; elsewhere it is ignored.
        """
        if self.class_in_mapping:
            return self.map(self.sample_z(n, seed), classes)
        return self.map(self.sample_z(n, seed))

    @abstractmethod
    def map(self, z: torch.Tensor) -> torch.Tensor:
        """Sampling space ``[n, z_dim]`` -> per-layer editing latents ``[n, num_layers, latent_dim]``."""

    @property
    def latent_avg(self) -> torch.Tensor:
        """The centre truncation pulls toward, ``[latent_dim]`` (zero for Gaussian z spaces)."""
        return torch.zeros(self.latent_dim, device=self.device)

    def truncate(self, latents: torch.Tensor, psi: float) -> torch.Tensor:
        """Truncation trick: ``avg + psi * (latents - avg)``.

        This is the one place truncation happens; edits are applied *after* it
        (METHODS.md §0), so a slider's step is not shrunk by psi.
        """
        if psi == 1.0:
            return latents
        avg = self.latent_avg.to(latents.dtype)
        return avg + psi * (latents - avg)

    @abstractmethod
    def synthesize(
        self,
        latents: torch.Tensor,
        classes: torch.Tensor | None = None,
        truncation: float | None = None,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        """Per-layer latents ``[B, num_layers, latent_dim]`` -> images ``[B, 3, H, W]`` in [-1, 1].

        ``noise_mode`` (``"fixed"``, ``"random"``, ``"zero"``) is for families with noise
        inputs, for this call only; None means the generator's own setting.  Others ignore it.
        """

    # ------------------------------------------------------------------ features
    @abstractmethod
    def _layers(self) -> dict[str, nn.Module]:
        """Named modules whose outputs `features` can return, in forward order."""

    def layer_names(self) -> list[str]:
        """Names accepted by `features`, in forward order, plus ``"latent"`` first."""
        return ["latent", *self._layers().keys()]

    def layer_shape(self, name: str) -> tuple[int, ...]:
        """Shape of one sample's activation at ``name`` (without the batch axis)."""
        lat = self.sample(1, 0)
        return tuple(self.features(lat, [name])[name].shape[1:])

    def features(
        self,
        latents: torch.Tensor,
        names: Sequence[str],
        classes: torch.Tensor | None = None,
        truncation: float | None = None,
        noise_mode: str | None = None,
    ) -> dict[str, torch.Tensor]:
        """Activations ``{name: [B, ...]}`` at the named layers for per-layer latents.

        Hooks are registered for this call only and the forward pass stops as soon
        as the last requested layer has run, so early-layer losses stay cheap.
        ``"latent"`` returns the latents themselves.
        """
        layers = self._layers()
        unknown = [n for n in names if n != "latent" and n not in layers]
        if unknown:
            raise KeyError(f"unknown layer {unknown[0]!r}; this model has {', '.join(self.layer_names())}")
        out: dict[str, torch.Tensor] = {}
        if "latent" in names:
            out["latent"] = latents
        wanted = [n for n in names if n != "latent"]
        if not wanted:
            return out
        handles = []

        def make_hook(layer: str):
            def hook(_module, _inputs, output):
                out[layer] = output
                if all(w in out for w in wanted):
                    raise _StopForward

            return hook

        for layer in wanted:
            handles.append(layers[layer].register_forward_hook(make_hook(layer)))
        try:
            # only families with noise inputs take ``noise_mode`` (older subclasses may not accept it)
            extra = {} if noise_mode is None else {"noise_mode": noise_mode}
            self.synthesize(latents, classes=classes, truncation=truncation, **extra)
        except _StopForward:
            pass
        finally:
            for h in handles:
                h.remove()
        return out

    def latent_affines(self) -> list[tuple[int, str, torch.Tensor]]:
        """The first affine maps that read the latents: ``(row, kind, A)`` with ``A`` ``[out, latent_dim]``.

        ``y = A x + b`` is what the network first does with latent row ``row``; ``kind`` is
        ``"conv"`` or ``"rgb"`` (StyleGAN's ToRGB modulations).  Closed-form methods
        (SeFa) factorise these weights.  Families without such a map return [].
        """
        return []

    # ------------------------------------------------------------------ misc
    def describe_layers(self) -> list[str]:
        """Human-readable label of each per-layer latent row (e.g. the resolution it feeds)."""
        return [f"layer {i}" for i in range(self.num_layers)]

    def info(self) -> dict:
        """Summary for `main.py models` and the status bar."""
        return {
            "name": self.name,
            "family": self.family,
            "resolution": self.resolution,
            "latent_dim": self.latent_dim,
            "z_dim": self.z_dim,
            "num_layers": self.num_layers,
            "conditional": self.classes is not None,
            "fingerprint": self.fingerprint,
            "device": str(self.device),
            "notes": list(self.notes),
        }
