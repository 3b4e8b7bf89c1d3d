"""Shared by the research-family tests (ProGAN, StyleGAN1, genforce): fixture access, full-size
key lists, and one quick tour of the explorer (GANSpace, SeFa, layer ranges, presets)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).parent / "data"


def reference(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def key_list(path: Path, title_part: str = "") -> list[tuple[str, tuple[int, ...]]]:
    """``[(key, shape)]`` of the one entry of a ``*_state_dict_keys.json`` whose title contains ``title_part``."""
    data = json.loads(path.read_text())
    (entry,) = [v for k, v in data.items() if title_part in k]
    return [(k, tuple(s)) for k, s in entry]


def meta_state_dict(keys: list[tuple[str, tuple[int, ...]]]) -> dict[str, torch.Tensor]:
    """Shape-only tensors (no memory) standing in for a full-size checkpoint."""
    return {k: torch.empty(s, device="meta") for k, s in keys}


def net_keys(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


def explore(G, tmp_path: Path, sefa_layers: str = "") -> None:
    """GANSpace on the family's default layer, SeFa, an edit restricted to a layer range, and a
    preset that reproduces its frame bit for bit: each changes or keeps what it should."""
    from editing import preset as presets
    from editing.render import render_state
    from editing.state import EditState
    from methods.ganspace import GANSpaceConfig
    from methods.ganspace import discover as ganspace
    from methods.sefa import SeFaConfig
    from methods.sefa import discover as sefa

    pca = ganspace(G, GANSpaceConfig(samples=300, components=4, batch=100, regression_samples=300, stdev_samples=200))
    assert len(pca) == 4 and np.all(np.isfinite(pca.directions()))
    sf = sefa(G, SeFaConfig(components=4, layers=sefa_layers))
    assert len(sf) == 4 and np.all(np.diff(sf.extras["eigenvalues"]) <= 0)

    lat = G.sample(2, 0)
    L = G.num_layers
    rng = (0, max(1, L // 2))
    edited = pca.apply(lat, [3.0, 0, 0, 0], [rng, None, None, None])
    moved = (edited - lat).abs().sum(-1)[0] > 0
    assert moved.tolist() == [i < rng[1] for i in range(L)]  # only the rows of the range
    with torch.no_grad():
        assert (G.synthesize(edited) - G.synthesize(lat)).abs().max() > 1e-3

    state = replace(EditState(model=G.name, seed=3, truncation=G.default_truncation).with_controls(sf).with_value(0, 2.0),
                    ranges=(rng, None, None, None))
    path = tmp_path / "look.json"
    presets.save(path, state, G.fingerprint)
    loaded, info = presets.load(path)
    presets.check_against(loaded, G, info["fingerprint"])
    frame = render_state(G, loaded)
    assert frame.shape == (G.resolution, G.resolution, 3)
    assert np.array_equal(frame, render_state(G, state))
    assert not np.array_equal(frame, render_state(G, state.with_value(0, 0.0)))
