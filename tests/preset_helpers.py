"""Shared by the preset tests: save a state, damage one field of its JSON, expect a clear error."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from editing import preset as presets
from editing.preset import PresetError


def expect_preset_error(G, state, tmp_path: Path, mutate: Callable[[dict], object], message: str) -> None:
    """Save ``state`` as a preset, apply ``mutate`` to its parsed JSON, and require that loading
    it raises `PresetError` matching ``message`` (a regex naming the bad field)."""
    path = tmp_path / "p.json"
    presets.save(path, state, G.fingerprint)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(PresetError, match=message):
        presets.load(path)
