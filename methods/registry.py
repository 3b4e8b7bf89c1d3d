"""The discovery methods the GUI and `main.py discover` offer, with their options.

A method's module is imported the first time its config, help or run function is asked
for, so a command that discovers nothing (``render``, ``export``) does not import them.
"""
from __future__ import annotations

import importlib
from dataclasses import fields
from typing import Any, Callable


class MethodSpec:
    """One method: its registry name, what it does, and where its code lives.

    ``config`` (a frozen dataclass of options with defaults), ``help`` (option -> one line)
    and ``run`` (``run(G, config, progress, cancel) -> ControlSet``) are either the objects
    or ``"module:attribute"`` strings, imported on first use.
    """

    def __init__(self, name: str, summary: str, config: type | str, help: dict[str, str] | str,
                 run: Callable | str, title: str = "", paper: str = "") -> None:
        self.name, self.summary = name, summary
        self.title = title  # the method's proper name for people ("SeFa"); the registry key when empty
        self.paper = paper  # authors, title, venue of the paper it follows
        self._parts: dict[str, Any] = {"config": config, "help": help, "run": run}

    def _part(self, key: str) -> Any:
        value = self._parts[key]
        if isinstance(value, str):
            module, _, attr = value.partition(":")
            value = self._parts[key] = getattr(importlib.import_module(module), attr)
        return value

    @property
    def config(self) -> type:
        return self._part("config")

    @property
    def help(self) -> dict[str, str]:
        return self._part("help")

    @property
    def run(self) -> Callable:
        return self._part("run")

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def options(self) -> list[tuple[str, type, Any, str]]:
        """(name, type, default, help) of every option."""
        return [(f.name, type(f.default), f.default, self.help.get(f.name, "")) for f in fields(self.config)]

    def make_config(self, **values: Any):
        """A config from option values (missing ones keep their defaults)."""
        return self.config(**values)

    def replaced(self, **changes: Any) -> "MethodSpec":
        """A copy with some parts changed (``run=...``), as `dataclasses.replace` would."""
        parts = {"name": self.name, "summary": self.summary, **self._parts, "title": self.title, "paper": self.paper}
        return MethodSpec(**{**parts, **changes})

    def __repr__(self) -> str:
        return f"MethodSpec({self.name!r})"


def _lazy(module: str, config: str, help: str, run: str) -> tuple[str, str, str]:
    return f"methods.{module}:{config}", f"methods.{module}:{help}", f"methods.{module}:{run}"


METHODS: dict[str, MethodSpec] = {
    "ganspace": MethodSpec(
        "ganspace",
        "PCA of a layer's activations (or of the latents), carried to latent directions by regression",
        *_lazy("ganspace", "GANSpaceConfig", "HELP", "discover"),
        title="GANSpace",
        paper="Härkönen, Hertzmann, Lehtinen, Paris: GANSpace: Discovering Interpretable GAN Controls (NeurIPS 2020)",
    ),
    "sefa": MethodSpec(
        "sefa",
        "closed-form factorisation of the weights that first read the latent (no sampling, milliseconds)",
        *_lazy("sefa", "SeFaConfig", "HELP", "discover"),
        title="SeFa",
        paper="Shen, Zhou: Closed-Form Factorization of Latent Semantics in GANs (CVPR 2021)",
    ),
    "lsd": MethodSpec(
        "lsd",
        "layer-selective directions (visual concept vocabulary): big latent steps that barely change one layer",
        *_lazy("vocab", "LSDConfig", "LSD_HELP", "discover_lsd"),
        title="Layer-selective directions",
        paper="Schwettmann, Hernandez, Bau, Klein, Andreas, Torralba: Toward a Visual Concept Vocabulary for GAN Latent Space (ICCV 2021)",
    ),
}

# Trained methods (issue 6): background jobs with checkpoints in a job folder (`methods.training`).

METHODS.update({
    "latentclr": MethodSpec(
        "latentclr",
        "LatentCLR: contrastive training of K global, linear or non-linear direction models at a feature layer",
        *_lazy("latentclr", "LatentCLRConfig", "HELP", "discover"),
        title="LatentCLR",
        paper="Yüksel, Simsar, Er, Yanardag: LatentCLR: A Contrastive Learning Approach for Unsupervised Discovery of Interpretable Directions (ICCV 2021)",
    ),
    "warped": MethodSpec(
        "warped",
        "WarpedGANSpace: K RBF warpings whose gradients are non-linear paths, trained with a reconstructor",
        *_lazy("warped", "WarpedConfig", "HELP", "discover"),
        title="WarpedGANSpace",
        paper="Tzelepis, Tzimiropoulos, Patras: WarpedGANSpace: Finding Non-linear RBF Paths in GAN Latent Space (ICCV 2021)",
    ),
    "voynov": MethodSpec(
        "voynov",
        "Voynov–Babenko: an orthonormal deformator trained with a reconstructor that tells its directions apart",
        *_lazy("voynov", "VoynovConfig", "HELP", "discover"),
        title="Voynov–Babenko",
        paper="Voynov, Babenko: Unsupervised Discovery of Interpretable Directions in the GAN Latent Space (ICML 2020)",
    ),
})

# Directions from the user's own labels (issue 17)

METHODS["boundary"] = MethodSpec("boundary", "InterFaceGAN: a linear SVM's normal from seeds labelled has it / doesn't",
                                 *_lazy("boundary", "BoundaryConfig", "HELP", "discover"))
