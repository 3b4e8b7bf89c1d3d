"""Weights-file digests are remembered by (size, mtime_ns, inode): a start does not re-hash an unchanged file."""
from __future__ import annotations

import json
import os

import pytest

import models
from models import digests
from models.digests import CACHE_NAME, file_digest
from models.loading import fingerprint_file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_STUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / CACHE_NAME


def counting(calls: list):
    def compute(path):
        calls.append(path)
        return fingerprint_file(path)
    return compute


def test_an_unchanged_file_is_hashed_once_and_a_changed_one_again(tmp_path, cache):
    f = tmp_path / "w.pt"
    f.write_bytes(b"weights" * 1000)
    calls: list = []
    first = file_digest(f, counting(calls))
    assert file_digest(f, counting(calls)) == first == fingerprint_file(f) and len(calls) == 1
    f.write_bytes(b"other weights" * 1000)
    assert file_digest(f, counting(calls)) == fingerprint_file(f) != first and len(calls) == 2
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same bytes, touched: hashed again
    file_digest(f, counting(calls))
    assert len(calls) == 3


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"x": {"stamp": 1, "digest": "../../etc"}}',
                                     b" " * (digests.MAX_BYTES + 1)])
def test_a_broken_or_oversized_cache_is_ignored_and_rewritten(tmp_path, cache, content):
    f = tmp_path / "w.pt"
    f.write_bytes(b"weights")
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content)
    assert file_digest(f, fingerprint_file) == fingerprint_file(f)
    assert str(f.resolve()) in json.loads(cache.read_text())


def test_a_forged_digest_for_another_file_state_is_not_used(tmp_path, cache):
    f = tmp_path / "w.pt"
    f.write_bytes(b"weights")
    cache.parent.mkdir(parents=True)
    st = f.stat()
    cache.write_text(json.dumps({str(f.resolve()): {"stamp": [st.st_size + 1, st.st_mtime_ns, st.st_ino],
                                                    "digest": "0" * 16}}))
    assert file_digest(f, fingerprint_file) == fingerprint_file(f) != "0" * 16


def test_the_cache_keeps_a_bounded_number_of_files(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(digests, "MAX_ENTRIES", 3)
    for i in range(5):
        (tmp_path / f"{i}.pt").write_bytes(bytes([i]) * 10)
        file_digest(tmp_path / f"{i}.pt", fingerprint_file)
    assert list(json.loads(cache.read_text())) == [str((tmp_path / f"{i}.pt").resolve()) for i in (2, 3, 4)]


def test_loading_a_model_twice_hashes_its_weights_once(cache, monkeypatch):
    calls: list = []
    monkeypatch.setattr("models.loading.fingerprint_file", counting(calls))
    a = models.load_generator("dcgan-faces")
    b = models.load_generator("dcgan-faces")
    assert len(calls) == 1 and calls[0].name == "weights.tar"
    assert a.fingerprint == b.fingerprint == fingerprint_file(calls[0])
