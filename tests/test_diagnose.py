"""Opening a file that is not a checkpoint says what it is, in one sentence without class names."""
from __future__ import annotations

import io
import json
import os
import pickle
import re

import cv2
import numpy as np
import pytest
import torch

import models
from editing import preset as presets
from models.diagnose import error_sentence
from models.registry import REGISTRY

CLASS_NAME = re.compile(r"\b[A-Z][a-zA-Z]*(Error|Exception)\b|Errno")


def load_error(path) -> str:
    with pytest.raises(models.LoadError) as err:
        models.load_generator(path)
    text = str(err.value)
    assert "\n" not in text and not CLASS_NAME.search(text), text
    return text


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "noise.pt is not a checkpoint" in load_error(path)


@pytest.mark.parametrize("ext, kind", [(".png", "PNG"), (".jpg", "JPEG")])
def test_an_image_opened_as_a_model_is_called_an_image(tmp_path, ext, kind):
    path = tmp_path / f"face{ext}"
    cv2.imwrite(str(path), np.full((16, 16, 3), 128, np.uint8))
    renamed = path.rename(tmp_path / "face.pt")  # sniffed by content, not by name
    assert f"is an image ({kind}), not a checkpoint" in load_error(renamed)


def test_a_truncated_checkpoint_says_at_which_byte_it_ends(tmp_path):
    data = REGISTRY["dcgan-faces"].locate().read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:100_000])
    assert "truncated at byte 100000" in load_error(path)


def test_a_truncated_legacy_pickle_checkpoint_says_at_which_byte_it_ends(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(50)}, buf, _use_new_zipfile_serialization=False)
    path = tmp_path / "old.pt"
    path.write_bytes(buf.getvalue()[:40])
    assert "truncated at byte 40" in load_error(path)


def test_a_pickle_of_other_objects_names_what_it_would_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"g_ema": Evil()}))
    text = load_error(path)
    assert "pickled objects other than tensors" in text and "system" in text


def test_an_invalid_config_json_says_at_which_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"layers": 3,\n "size": }\n')
    assert re.search(r"JSON invalid at line 2\b", load_error(path))


def test_an_invalid_preset_says_at_which_line_not_the_exception(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{\n\n "seed": 1,,\n}')
    with pytest.raises(presets.PresetError) as err:
        presets.load(path)
    assert "JSON invalid at line 3" in str(err.value) and "Decode" not in str(err.value)


def test_error_sentences_never_name_the_exception_class():
    assert error_sentence(RuntimeError("boom")) == "boom"
    assert "Error" not in error_sentence(RuntimeError())
    assert error_sentence(FileNotFoundError(2, "No such file or directory", "x.pt")) == "x.pt: No such file or directory"
