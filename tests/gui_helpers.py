"""Shared pieces of the GUI tests: small discovery settings, a ready window, waiting for frames.

Imported by ``tests/test_gui_*.py`` (pytest puts ``tests/`` on ``sys.path``).
"""
from __future__ import annotations

import os

# Without a display and without QT_QPA_PLATFORM, Qt would abort; the Makefile sets
# offscreen for the main run, and xvfb-run provides DISPLAY for the OpenGL test.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The window autosaves to the data folder and offers to restore what it finds there:
# keep the tests away from the user's (make_window gives each test its own).
os.environ.setdefault("LATENT_STUDIO_DATA", os.path.join(os.environ.get("TMPDIR", "/tmp"), f"latent-studio-test-data-{os.getpid()}"))

import threading

import numpy as np
import pytest
import torch

import models
from editing.render import render_state
from editing.state import EditState
from methods.cache import discover_cached
from methods.controls import ControlSet
from methods.registry import METHODS

#: GANSpace settings small enough for a 2-core CPU (about a second on dcgan-faces)
SMALL = dict(samples=300, components=6, regression_samples=300, batch=150)
MODEL = models.DEFAULT_MODEL
READY_TIMEOUT_MS = 30_000


def small_config(**changes):
    return METHODS["ganspace"].make_config(**{**SMALL, **changes})


# Session fixtures imported into several test modules are set up once per module, so
# the expensive parts are kept at module level here and computed once per process.
_SHARED: dict = {}


@pytest.fixture(scope="session")
def generator():
    """The default model, loaded once for the tests' own reference renders."""
    if "G" not in _SHARED:
        _SHARED["G"] = models.load_generator(MODEL, "cpu")
    return _SHARED["G"]


@pytest.fixture(scope="session")
def small_controls(generator, tmp_path_factory) -> ControlSet:
    """GANSpace controls of the default model with `SMALL` settings (computed once per process)."""
    if "controls" in _SHARED:
        return _SHARED["controls"]
    old = os.environ.get("LATENT_STUDIO_CACHE")
    os.environ["LATENT_STUDIO_CACHE"] = str(tmp_path_factory.mktemp("session-cache"))
    try:
        _SHARED["controls"] = discover_cached(generator, METHODS["ganspace"], small_config())
        return _SHARED["controls"]
    finally:
        if old is None:
            os.environ.pop("LATENT_STUDIO_CACHE", None)
        else:
            os.environ["LATENT_STUDIO_CACHE"] = old


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private discovery cache for one test."""
    path = tmp_path / "cache"
    path.mkdir()
    monkeypatch.setenv("LATENT_STUDIO_CACHE", str(path))
    return path


@pytest.fixture
def make_window(qtbot, tmp_path, cache_dir, monkeypatch):
    """``make_window(**kwargs)`` -> a shown `MainWindow` with private settings, waited until ready.

    By default it gets the session's small controls (no discovery); pass
    ``controls=None`` with ``discovery=…`` to exercise discovery.
    """
    from app.settings import Settings, ini_settings
    from app.window import MainWindow

    if not os.environ.get("LATENT_STUDIO_DATA", "").startswith(str(tmp_path)):
        monkeypatch.setenv("LATENT_STUDIO_DATA", str(tmp_path / "data"))

    def make(wait: bool = True, **kwargs) -> MainWindow:
        kwargs.setdefault("settings", Settings(ini_settings(tmp_path / "settings.ini")))
        kwargs.setdefault("device", "cpu")
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        w.show()
        if wait:
            wait_ready(qtbot, w, controls=kwargs.get("controls") is not None or kwargs.get("discovery") is not None)
        return w

    return make


def wait_ready(qtbot, window, controls: bool = True, timeout: int = READY_TIMEOUT_MS) -> None:
    """Until a model is open, its first frame is shown and (optionally) controls are attached."""
    qtbot.waitUntil(
        lambda: window.generator is not None and window.frame is not None
        and (not controls or window.state.controls is not None),
        timeout=timeout,
    )
    wait_frame(qtbot, window, timeout)


def wait_frame(qtbot, window, timeout: int = 10_000) -> np.ndarray:
    """Until the frame of the newest request is on screen; returns it."""
    qtbot.waitUntil(lambda: window.shown_stamp >= window.last_stamp and window.worker.idle(), timeout=timeout)
    return window.frame


def wait_jobs(qtbot, window, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not window.runner.running, timeout=timeout)


def direct_render(window, state: EditState) -> np.ndarray:
    """``editing.render.render_state`` of ``state`` on the window's generator (the CLI's path)."""
    G = window.generator
    with G.lock:
        return render_state(G.unwrapped, state)


# ---------------------------------------------------------------------- semantics panel
_EXT: dict = {}


@pytest.fixture
def tiny_extractor(generator):  # noqa: F811  (the fixture above)
    """An LSE trained in a second from the proxy masks of 3 samples."""
    from methods.semantics import TrainConfig, train_extractor
    from methods.semantics.proxy import PROXY_CLASSES, PROXY_COLORS, proxy_masks

    if "ext" not in _EXT:
        lat = torch.cat([generator.sample(1, s) for s in (1, 2, 3)])
        masks = torch.from_numpy(proxy_masks(generator, lat)).long()
        _EXT["ext"] = train_extractor(generator, lat, masks, PROXY_CLASSES, PROXY_COLORS,
                                      TrainConfig(epochs=3, steps_per_epoch=2))
    return _EXT["ext"]


def spy_threads(w) -> list:
    """Record the thread of every generator forward (synthesize/features) of the window's model."""
    threads: list = []
    net = w.generator.unwrapped
    for name in ("synthesize", "features"):
        original = getattr(net, name)

        def spy(*a, _orig=original, **k):
            threads.append(threading.current_thread())
            return _orig(*a, **k)

        setattr(net, name, spy)
    return threads


def sample_painted_blob(qtbot, window, count: int = 2):
    """Open the window's Semantics dialog, paint class 1 as a blob on a blank mask and run a
    tiny semantic-conditional sampling job for ``count`` images; returns the dialog."""
    from methods.semantics import SCSConfig

    dlg = window.semantics.open_semantics_dialog()
    S = window.generator.resolution
    dlg.use_blank()
    dlg.view.set_mask(np.zeros((S, S), np.uint8))
    dlg.view.current, dlg.view.brush = 1, 12
    dlg.view.stroke([(S // 2, S // 2)])
    dlg.sample(SCSConfig(count=count, n_init=2, n_iter=3))
    wait_jobs(qtbot, window)
    assert dlg.sample_result is not None, dlg.sample_status.text()
    return dlg
