"""The default model and the DCGAN family: loading, the Generator interface, load errors."""
from __future__ import annotations

import pickle

import pytest
import torch

import models
from models.dcgan import DCGANGenerator
from models.registry import REGISTRY


def test_default_model_is_a_64px_face_dcgan_with_z_of_100(faces):
    assert faces.family == "dcgan"
    assert (faces.resolution, faces.latent_dim, faces.z_dim, faces.num_layers) == (64, 100, 100, 1)
    assert len(faces.fingerprint) == 16


def test_weights_file_is_found_without_importing_the_package():
    import sys

    path = REGISTRY["dcgan-faces"].locate()
    assert path is not None and path.name == "weights.tar"
    assert "gan_face_generate" not in sys.modules


def test_images_are_rgb_in_minus_one_to_one_and_not_constant(faces):
    with torch.no_grad():
        img = faces.synthesize(faces.sample(4, 0))
    assert img.shape == (4, 3, 64, 64)
    assert img.min() >= -1 and img.max() <= 1
    assert img.std() > 0.2
    assert (img[0] - img[1]).abs().mean() > 0.05  # different seeds, different faces


def test_sample_is_reproducible_for_a_seed_whatever_the_batch_size(faces):
    big = faces.sample(5, 10)
    assert torch.equal(big[3], faces.sample(1, 13)[0])
    assert torch.equal(big, faces.sample(5, 10))
    assert not torch.equal(big[0], big[1])


def test_row_i_of_sample_z_is_randn_seeded_with_seed_plus_i(faces):
    """The definition every stored seed relies on; drawing rows in place must not change it."""
    for seed in (0, 41, 2**63 - 2):
        z = faces.sample_z(3, seed)
        for i in range(3):
            expected = torch.randn(100, generator=torch.Generator().manual_seed((seed + i) % 2**63))
            assert torch.equal(z[i], expected)
    assert faces.sample_z(0, 5).shape == (0, 100)


def test_map_and_truncate_follow_the_interface(faces):
    z = faces.sample_z(3, 0)
    lat = faces.map(z)
    assert lat.shape == (3, 1, 100) and torch.equal(lat[:, 0], z)
    torch.testing.assert_close(faces.truncate(lat, 0.5), 0.5 * lat)
    assert faces.truncate(lat, 1.0) is lat


def test_features_return_each_block_and_stop_early(faces):
    lat = faces.sample(2, 0)
    calls = []
    handle = faces.net.main[-1].register_forward_hook(lambda *a: calls.append(1))
    try:
        f = faces.features(lat, ["block1", "block2", "latent"])
    finally:
        handle.remove()
    assert f["block1"].shape == (2, 512, 4, 4) and f["block2"].shape == (2, 256, 8, 8)
    assert torch.equal(f["latent"], lat)
    assert calls == []  # the forward pass stopped before the output layer
    assert faces.layer_names() == ["latent", "block1", "block2", "block3", "block4", "output"]
    with pytest.raises(KeyError, match="unknown layer"):
        faces.features(lat, ["nope"])


def test_dcgan_configuration_is_inferred_from_any_tutorial_state_dict(tmp_path):
    # A smaller DCGAN (nz 16, ngf 8, 32 px) in the tutorial layout loads through the same path.
    sd = {}
    widths = [16, 32, 16, 8, 3]
    for i in range(4):
        sd[f"main.{3 * i}.weight"] = torch.randn(widths[i], widths[i + 1], 4, 4) * 0.1
        if i < 3:
            c = widths[i + 1]
            sd[f"main.{3 * i + 1}.weight"] = torch.ones(c)
            sd[f"main.{3 * i + 1}.bias"] = torch.zeros(c)
            sd[f"main.{3 * i + 1}.running_mean"] = torch.zeros(c)
            sd[f"main.{3 * i + 1}.running_var"] = torch.ones(c)
            sd[f"main.{3 * i + 1}.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "small.pt"
    torch.save({"netG_state_dict": sd}, path)
    G = models.load_generator(path)
    assert isinstance(G, DCGANGenerator)
    assert (G.z_dim, G.resolution, G.widths) == (16, 32, widths)
    assert G.synthesize(G.sample(2, 0)).shape == (2, 3, 32, 32)
    torch.save(sd, tmp_path / "bare.pt")  # a bare state dict works too
    assert models.load_generator(tmp_path / "bare.pt").resolution == 32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "nor an existing file"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"this is not a checkpoint at all"), "is not a checkpoint"),
        (lambda p: torch.save({"hello": torch.zeros(3)}, p), "no layout Latent Studio knows"),
        (lambda p: torch.save({"main.0.weight": torch.zeros(100, 8, 3, 3), "main.3.weight": torch.zeros(8, 3, 3, 3)}, p), "kernel"),
        (lambda p: torch.save({"main.0.weight": torch.zeros(100, 8, 4, 4), "main.3.weight": torch.zeros(9, 3, 4, 4)}, p), "takes 9 channels"),
    ],
    ids=["missing", "empty", "garbage", "unknown-layout", "wrong-kernel", "channels-do-not-chain"],
)
def test_bad_checkpoints_raise_load_error_with_one_sentence(tmp_path, make, message):
    path = tmp_path / "model.pt"
    make(path)
    with pytest.raises(models.LoadError, match=message) as err:
        models.load_generator(path)
    assert "\n" not in str(err.value)


def test_truncated_default_weights_are_a_load_error(tmp_path):
    data = REGISTRY["dcgan-faces"].locate().read_bytes()
    path = tmp_path / "cut.tar"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(models.LoadError, match="truncated"):
        models.load_generator(path)


def test_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"g_ema": Evil()}, f)
    with pytest.raises(models.LoadError, match="pickled objects"):
        models.load_generator(path)
    assert not marker.exists()


def test_unknown_model_name_says_what_exists():
    with pytest.raises(models.LoadError, match="dcgan-faces"):
        models.load_generator("no-such-model")
