"""Paper settings of the trained methods: every value is a real option, chosen per family."""
from __future__ import annotations

from dataclasses import fields, replace
from types import SimpleNamespace

import pytest

from methods.paper_settings import PAPER_METHODS, paper_settings
from methods.registry import METHODS

DCGAN = SimpleNamespace(family="dcgan", resolution=64, latent_dim=100)
STYLEGAN2 = SimpleNamespace(family="stylegan2", resolution=1024, latent_dim=512)
BIGGAN = SimpleNamespace(family="biggan", resolution=256, latent_dim=128)


@pytest.mark.parametrize("method", PAPER_METHODS)
@pytest.mark.parametrize("G", [DCGAN, STYLEGAN2, BIGGAN], ids=["dcgan", "stylegan2", "biggan"])
def test_paper_settings_name_only_real_options_and_make_a_config(method, G):
    values = paper_settings(method, G)
    names = {f.name for f in fields(METHODS[method].config)}
    assert set(values) <= names
    cfg = METHODS[method].make_config(**values)
    assert all(getattr(cfg, k) == v for k, v in values.items())


def test_paper_settings_follow_the_published_scripts_per_family():
    assert paper_settings("latentclr", STYLEGAN2)["components"] == 100
    assert paper_settings("latentclr", STYLEGAN2)["layer"] == "conv1"
    assert paper_settings("latentclr", BIGGAN)["layer"] == "generator.layers.0"
    assert paper_settings("latentclr", DCGAN)["iterations"] == 10_000
    assert paper_settings("voynov", DCGAN)["components"] == 100  # K = dim z
    assert paper_settings("voynov", DCGAN)["reconstructor"] == "lenet"
    assert paper_settings("voynov", BIGGAN)["reconstructor"] == "resnet"
    assert (paper_settings("warped", DCGAN)["components"], paper_settings("warped", DCGAN)["dipoles"]) == (64, 128)
    assert paper_settings("warped", STYLEGAN2)["batch"] == 12
    assert paper_settings("warped", BIGGAN)["eps_max"] == 0.2


def test_methods_without_published_settings_are_refused_with_a_sentence():
    with pytest.raises(KeyError, match="no paper settings"):
        paper_settings("ganspace", DCGAN)


@pytest.mark.parametrize("method", PAPER_METHODS)
def test_paper_settings_train_on_the_default_model(faces, method):
    """Two iterations at the paper's batch size and model sizes run and give K controls."""
    spec = METHODS[method]
    values = {**paper_settings(method, faces), "iterations": 2, "checkpoint_every": 1000}
    values["batch"] = min(values["batch"], 32)  # keep the CPU test quick; the rest is the paper's
    cfg = spec.make_config(**values)
    controls = spec.run(faces, cfg, lambda *_: None, lambda: False)
    assert len(controls) == values["components"]
