"""Shared fixtures: the default face model, a small GANSpace result, an isolated cache."""
from __future__ import annotations

import os

import pytest
import torch

# Tests never touch the user's cache or settings.
os.environ.setdefault("LATENT_STUDIO_CACHE", os.path.join(os.environ.get("TMPDIR", "/tmp"), f"latent-studio-test-cache-{os.getpid()}"))
# One thread: the tests' models are small (more threads gain little and, on a loaded
# 2-core machine, made small convolutions several times slower). Rendering is bit-identical
# across thread counts, so frames compared with CLI subprocesses still match.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def faces():
    """The real pretrained default model, on the CPU."""
    import models

    return models.load_generator("dcgan-faces", "cpu")


@pytest.fixture(scope="session")
def face_controls(faces):
    """GANSpace on dcgan-faces at small settings (a few seconds)."""
    from methods.ganspace import GANSpaceConfig, discover

    return discover(faces, GANSpaceConfig(samples=3000, components=12, regression_samples=3000))
