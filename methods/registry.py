"""The discovery methods the GUI and `main.py discover` offer, with their options."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

from . import ganspace, sefa, vocab


@dataclass(frozen=True)
class MethodSpec:
    name: str
    summary: str
    config: type  # a frozen dataclass of options with defaults
    help: dict[str, str]  # option -> one line
    run: Callable  # run(G, config, progress, cancel) -> ControlSet
    title: str = ""  # the method's proper name for people ("SeFa"); the registry key when empty
    paper: str = ""  # authors, title, venue of the paper it follows

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def options(self) -> list[tuple[str, type, Any, str]]:
        """(name, type, default, help) of every option."""
        return [(f.name, type(f.default), f.default, self.help.get(f.name, "")) for f in fields(self.config)]

    def make_config(self, **values: Any):
        """A config from option values (missing ones keep their defaults)."""
        return self.config(**values)


METHODS: dict[str, MethodSpec] = {
    "ganspace": MethodSpec(
        "ganspace",
        "PCA of a layer's activations (or of the latents), carried to latent directions by regression",
        ganspace.GANSpaceConfig,
        ganspace.HELP,
        ganspace.discover,
        title="GANSpace",
        paper="Härkönen, Hertzmann, Lehtinen, Paris: GANSpace: Discovering Interpretable GAN Controls (NeurIPS 2020)",
    ),
    "sefa": MethodSpec(
        "sefa",
        "closed-form factorisation of the weights that first read the latent (no sampling, milliseconds)",
        sefa.SeFaConfig,
        sefa.HELP,
        sefa.discover,
        title="SeFa",
        paper="Shen, Zhou: Closed-Form Factorization of Latent Semantics in GANs (CVPR 2021)",
    ),
    "lsd": MethodSpec(
        "lsd",
        "layer-selective directions (visual concept vocabulary): big latent steps that barely change one layer",
        vocab.LSDConfig,
        vocab.LSD_HELP,
        vocab.discover_lsd,
        title="Layer-selective directions",
        paper="Schwettmann, Hernandez, Bau, Klein, Andreas, Torralba: Toward a Visual Concept Vocabulary for GAN Latent Space (ICCV 2021)",
    ),
}

# Trained methods (issue 6): background jobs with checkpoints in a job folder (`methods.training`).
from . import latentclr, voynov, warped  # noqa: E402

METHODS.update({
    "latentclr": MethodSpec(
        "latentclr",
        "LatentCLR: contrastive training of K global, linear or non-linear direction models at a feature layer",
        latentclr.LatentCLRConfig,
        latentclr.HELP,
        latentclr.discover,
        title="LatentCLR",
        paper="Yüksel, Simsar, Er, Yanardag: LatentCLR: A Contrastive Learning Approach for Unsupervised Discovery of Interpretable Directions (ICCV 2021)",
    ),
    "warped": MethodSpec(
        "warped",
        "WarpedGANSpace: K RBF warpings whose gradients are non-linear paths, trained with a reconstructor",
        warped.WarpedConfig,
        warped.HELP,
        warped.discover,
        title="WarpedGANSpace",
        paper="Tzelepis, Tzimiropoulos, Patras: WarpedGANSpace: Finding Non-linear RBF Paths in GAN Latent Space (ICCV 2021)",
    ),
    "voynov": MethodSpec(
        "voynov",
        "Voynov–Babenko: an orthonormal deformator trained with a reconstructor that tells its directions apart",
        voynov.VoynovConfig,
        voynov.HELP,
        voynov.discover,
        title="Voynov–Babenko",
        paper="Voynov, Babenko: Unsupervised Discovery of Interpretable Directions in the GAN Latent Space (ICML 2020)",
    ),
})

# Directions from the user's own labels (issue 17)
from . import boundary  # noqa: E402

METHODS["boundary"] = MethodSpec("boundary", "InterFaceGAN: a linear SVM's normal from seeds labelled has it / doesn't",
                                 boundary.BoundaryConfig, boundary.HELP, boundary.discover)
