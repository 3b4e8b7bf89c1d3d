"""The window's session without widgets: history, dirty flag, presets and autosave of `app.document`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app import autosave
from app.document import Document, is_current_model
from editing.preset import PresetError
from editing.state import EditState


class FakeG:
    """What the document reads of a generator: its name, fingerprint and shape."""

    name = "dcgan-faces"
    fingerprint = "fp-1"
    num_layers = 1
    latent_dim = 100
    classes = None


def test_the_document_imports_no_qt():
    code = "import sys, app.document; print(any(m.startswith('PyQt6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_edits_make_the_document_dirty_and_undo_makes_it_clean_again():
    doc = Document(EditState(model="dcgan-faces"))
    assert not doc.dirty
    assert doc.push(EditState(model="dcgan-faces", seed=3))
    assert doc.dirty and doc.state.seed == 3
    assert not doc.push(doc.state), "an unchanged state is no step"
    assert doc.undo() and not doc.dirty and doc.state.seed == 0
    assert not doc.undo()
    assert doc.redo() and doc.state.seed == 3


def test_saving_a_preset_names_the_session_and_clears_the_dirty_flag(tmp_path):
    doc = Document(EditState(model="dcgan-faces"))
    doc.push(EditState(model="dcgan-faces", seed=7))
    assert doc.title("dcgan-faces") == "untitled* — dcgan-faces"
    path = doc.save_preset(tmp_path / "smile.json", FakeG.fingerprint)
    assert json.loads(path.read_text())["seed"] == 7
    assert not doc.dirty and doc.title("dcgan-faces") == "smile — dcgan-faces"


def test_a_failed_preset_write_keeps_the_session_dirty(tmp_path):
    doc = Document(EditState(model="dcgan-faces"))
    doc.push(EditState(model="dcgan-faces", seed=7))
    with pytest.raises(OSError):
        doc.save_preset(tmp_path / "missing" / "p.json", FakeG.fingerprint)
    assert doc.dirty and doc.preset_path is None


def test_autosave_writes_only_unsaved_changes_and_removes_the_file_when_clean(tmp_path):
    where = tmp_path / "autosave-1.json"
    doc = Document(EditState(model="dcgan-faces"), where)
    assert not doc.autosave(FakeG.fingerprint) and not where.exists()
    doc.push(EditState(model="dcgan-faces", seed=5))
    assert doc.autosave(FakeG.fingerprint) and where.exists()
    assert not doc.autosave(FakeG.fingerprint), "nothing changed since the last write"
    state, info = autosave.read(where)
    assert state.seed == 5 and info["fingerprint"] == FakeG.fingerprint
    doc.undo()
    assert not doc.autosave(FakeG.fingerprint) and not where.exists()


def test_a_pending_restore_offer_holds_autosave_and_keeps_the_file_at_exit(tmp_path):
    where = tmp_path / "autosave-1.json"
    doc = Document(EditState(model="dcgan-faces"), where)
    doc.push(EditState(model="dcgan-faces", seed=5))
    doc.restore_pending = True
    assert not doc.autosave(FakeG.fingerprint) and not where.exists()
    doc.restore_pending = False
    doc.autosave(FakeG.fingerprint)
    doc.end_session()
    assert not where.exists()


def test_a_restored_session_is_unsaved_under_its_old_name():
    doc = Document(EditState(model="dcgan-faces"))
    changed = doc.restore(EditState(model="dcgan-faces", seed=9),
                          {"fingerprint": FakeG.fingerprint, "name": "smile", "preset_path": "/x/smile.json"}, FakeG())
    assert changed and doc.dirty and doc.preset_name == "smile" and doc.title("dcgan-faces") == "smile* — dcgan-faces"


def test_a_preset_for_another_model_is_refused_and_changes_nothing(tmp_path):
    doc = Document(EditState(model="dcgan-faces"))
    other = EditState(model="dcgan-faces", seed=4)
    with pytest.raises(PresetError):
        doc.apply_preset(tmp_path / "p.json", other, {"fingerprint": "another"}, FakeG())
    assert doc.state.seed == 0 and doc.preset_path is None


def test_a_model_is_recognised_by_fingerprint_name_or_path(tmp_path):
    G = FakeG()
    assert is_current_model("elsewhere", "fp-1", G)
    assert is_current_model("dcgan-faces", "", G)
    assert not is_current_model("other-model", "fp-2", G)
