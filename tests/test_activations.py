"""The layer view's pictures: normalisations, the channel grid and where the pointer is."""
from __future__ import annotations

import numpy as np
import pytest

from editing.activations import channel_grid, locate, normalise


def test_normalisations_scale_channels_the_layer_or_around_zero():
    a = np.stack([np.full((2, 2), 1.0), np.array([[0.0, 2.0], [4.0, 8.0]])]).astype(np.float32)
    per = normalise(a, "channel")
    assert per[1].min() == 0 and per[1].max() == 1 and np.all(per[0] == 0)
    whole = normalise(a, "layer")
    assert whole[1, 1, 1] == 1 and whole[0, 0, 0] == pytest.approx(1 / 8)
    signed = normalise(-a, "signed")
    assert signed[1, 1, 1] == 0 and signed[1, 0, 0] == 0.5
    with pytest.raises(ValueError, match="normalisation"):
        normalise(a, "loud")


def test_the_grid_tiles_channels_and_locate_finds_the_channel_under_the_pointer():
    a = np.random.default_rng(0).random((5, 4, 3)).astype(np.float32)
    img = channel_grid(a)
    assert img.shape == (2 * 5 - 1, 3 * 4 - 1)  # 3 columns, 2 rows, 1 px gaps
    assert locate(a.shape, True, 0, x=4 + 1, y=5 + 2) == (4, 2, 1)
    assert locate(a.shape, True, 0, x=3, y=0) is None, "the gap between tiles"
    assert locate(a.shape, False, 2, x=2.5, y=3.2) == (2, 3, 2)
