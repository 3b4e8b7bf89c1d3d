"""BigGAN-deep: our implementation against the `pytorch-pretrained-biggan` package as an oracle.

The oracle builds tiny random networks (channel_width 4, the real 1000 classes) in the
published 128-pixel layout; they are saved as ``config.json`` + ``pytorch_model.bin`` and
loaded back through `models.load_generator`.
"""
from __future__ import annotations

import json
from dataclasses import replace
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import models
from models import LoadError
from models.biggan import BigGANConfig, BigGANGenerator

biggan_oracle = pytest.importorskip("pytorch_pretrained_biggan")

CH = 4  # channel width of the test networks (the released ones use 128)


def make_oracle(channel_width: int = CH, seed: int = 0):
    """A random oracle BigGAN in eval mode with settled spectral-norm vectors and varied statistics."""
    torch.manual_seed(seed)
    config = biggan_oracle.BigGANConfig.from_dict(BigGANConfig.published(128, channel_width).to_dict())
    model = biggan_oracle.BigGAN(config)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "weight_u"):
                # power iteration to convergence, so σ = uᵀWv is the top singular value
                mat = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                u = module.weight_u
                for _ in range(30):
                    v = F.normalize(mat.t() @ u, dim=0)
                    u = F.normalize(mat @ v, dim=0)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
            if hasattr(module, "running_means"):
                # different statistics per truncation step, so the interpolation is exercised
                module.running_means.normal_(0.0, 0.3)
                module.running_vars.uniform_(0.5, 1.5)
        # the final batch norm's affine parameters start as uninitialised memory
        model.generator.bn.weight.copy_(1 + 0.1 * torch.randn(channel_width))
        model.generator.bn.bias.copy_(0.1 * torch.randn(channel_width))
        # attention starts switched off (γ = 0); switch it on
        model.generator.layers[config.attention_layer_position].gamma.fill_(0.7)
    return model.eval()  # train mode would run power iterations and change u, v


def save(model, folder: Path, prefix: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / f"{prefix}pytorch_model.bin")
    (folder / f"{prefix}config.json").write_text(model.config.to_json_string())
    return folder


@pytest.fixture(scope="module")
def oracle():
    return make_oracle()


@pytest.fixture(scope="module")
def folder(oracle, tmp_path_factory) -> Path:
    return save(oracle, tmp_path_factory.mktemp("biggan") / "biggan-tiny")


@pytest.fixture(scope="module")
def gen(folder) -> BigGANGenerator:
    return models.load_generator(folder)


def z_batch(n: int, seed: int = 1, scale: float = 0.5) -> torch.Tensor:
    return scale * torch.randn(n, 128, generator=torch.Generator().manual_seed(seed))


def test_outputs_match_reference_for_several_classes_and_truncations(oracle, gen):
    z = z_batch(3)
    labels = torch.tensor([0, 207, 999])
    one_hot = F.one_hot(labels, 1000).float()
    # 0.37 falls between the statistics grid points (steps of 0.02): the blended case
    for truncation in (0.2, 0.37, 0.4, 1.0):
        with torch.no_grad():
            want = oracle(z, one_hot, truncation)
            got = gen.synthesize(gen.map(z), classes=labels, truncation=truncation)
        assert got.shape == (3, 3, 128, 128)
        assert want.abs().max() < 0.999, "a saturated image would compare equal too easily"
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_class_mix_matches_reference(oracle, gen):
    z = z_batch(2, seed=2)
    mix = torch.zeros(2, 1000)
    mix[0, 1], mix[0, 207] = 0.3, 0.7
    mix[1, 980], mix[1, 3] = 0.5, 0.5
    with torch.no_grad():
        want = oracle(z, mix, 0.4)
        got = gen.synthesize(gen.map(z), classes=mix, truncation=0.4)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_per_block_latents_feed_each_block_its_own_z(oracle, gen):
    z = z_batch(2, seed=3)
    latents = gen.map(z)
    latents[:, 5] = z_batch(2, seed=4)  # block 4 gets its own z
    labels = torch.tensor([5, 6])
    with torch.no_grad():
        got = gen.synthesize(latents, classes=labels, truncation=0.4)
        shared = gen.synthesize(gen.map(z), classes=labels, truncation=0.4)
        # the oracle's own modules, with condition i+1 fed to GenBlock i
        embed = oracle.embeddings(F.one_hot(labels, 1000).float())
        conds = [torch.cat((latents[:, i], embed), dim=1) for i in range(gen.num_layers)]
        g = oracle.generator
        x = g.gen_z(conds[0]).view(-1, 4, 4, 16 * CH).permute(0, 3, 1, 2).contiguous()
        block = 0
        for layer in g.layers:
            if isinstance(layer, biggan_oracle.model.GenBlock):
                block += 1
                x = layer(x, conds[block], 0.4)
            else:
                x = layer(x)
        want = g.tanh(g.conv_to_rgb(g.relu(g.bn(x, 0.4)))[:, :3])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert (got - shared).abs().max() > 1e-3


def test_loads_from_folder_weights_file_or_config_json(folder, gen, tmp_path):
    by_weights = models.load_generator(folder / "pytorch_model.bin")
    by_config = models.load_generator(folder / "config.json")
    # the download-cache names: <prefix>config.json beside <prefix>pytorch_model.bin
    cached = tmp_path / "cache"
    cached.mkdir()
    shutil.copy(folder / "pytorch_model.bin", cached / "biggan-deep-128-pytorch_model.bin")
    shutil.copy(folder / "config.json", cached / "biggan-deep-128-config.json")
    by_prefix = models.load_generator(cached / "biggan-deep-128-pytorch_model.bin")
    by_prefixed_config = models.load_generator(cached / "biggan-deep-128-config.json")
    reference = gen.net.state_dict()
    for other in (by_weights, by_config, by_prefix, by_prefixed_config):
        assert isinstance(other, BigGANGenerator)
        assert other.fingerprint == gen.fingerprint
        for key, value in other.net.state_dict().items():
            assert torch.equal(value, reference[key]), key


def test_generator_describes_itself(gen):
    assert gen.family == "biggan"
    assert gen.z_dim == gen.latent_dim == 128
    assert gen.num_layers == 11  # gen_z + 10 blocks
    assert gen.resolution == 128
    assert len(gen.classes) == 1000 and gen.classes[207] == "golden retriever" and gen.classes[0] == "tench"
    assert len(set(gen.classes)) == 1000
    assert gen.default_truncation == gen.truncation == 0.4
    assert gen.default_pca_layer == "generator.gen_z"
    labels = gen.describe_layers()
    assert len(labels) == gen.num_layers
    assert labels[0] == "0: input (4²)" and labels[1] == "1: block 0 (4²)" and labels[-1] == "10: block 9 (128²)"
    names = gen.layer_names()
    assert names[:3] == ["latent", "generator.gen_z", "generator.layers.0"]
    assert "generator.layers.10" in names  # 10 blocks + the attention layer


def test_gen_z_features_are_the_flattened_linear_output(gen):
    lat = gen.sample(2, seed=0)
    feats = gen.features(lat, ["generator.gen_z", "generator.layers.4"], classes=torch.tensor([1, 2]))
    assert feats["generator.gen_z"].shape == (2, 4 * 4 * 16 * CH)
    assert feats["generator.layers.4"].shape == (2, 8 * CH, 16, 16)
    assert gen.layer_shape("generator.gen_z") == (4 * 4 * 16 * CH,)


def test_sample_is_reproducible_per_seed_whatever_the_batch(gen):
    big = gen.sample(4, seed=10)
    assert big.shape == (4, gen.num_layers, 128)
    torch.testing.assert_close(big[2], gen.sample(1, seed=12)[0], atol=0, rtol=0)
    torch.testing.assert_close(big, gen.sample(4, seed=10), atol=0, rtol=0)
    assert torch.equal(big[:, 0], big[:, -1])  # one z repeated over the blocks
    # a standard normal truncated to [-2, 2] has std ≈ 0.88; truncation scales it afterwards
    z = gen.sample_z(64, seed=0)
    assert z.abs().max() <= 2.0 and 0.8 < float(z.std()) < 0.95
    assert gen.truncate(big, 0.4).abs().max() <= 0.8


def test_truncate_scales_z_and_synthesize_checks_its_truncation(gen):
    lat = gen.sample(1, seed=3)
    torch.testing.assert_close(gen.truncate(lat, 0.5), 0.5 * lat)
    with pytest.raises(ValueError, match="truncation"):
        gen.synthesize(lat, truncation=1.5)
    with pytest.raises(ValueError, match="classes"):
        gen.synthesize(gen.sample(3, seed=0), classes=torch.tensor([1, 2]))


def test_config_json_of_another_model_is_a_load_error(tmp_path, folder):
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    shutil.copy(folder / "pytorch_model.bin", other / "pytorch_model.bin")
    with pytest.raises(LoadError, match="config.json describes no model"):
        models.load_generator(other)
    (other / "config.json").write_text("{ not json")
    with pytest.raises(LoadError, match="not valid JSON"):
        models.load_generator(other)


def test_missing_weights_is_a_load_error(tmp_path, folder):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(folder / "config.json", lonely / "config.json")
    with pytest.raises(LoadError, match="no pytorch_model.bin beside it"):
        models.load_generator(lonely)
    with pytest.raises(LoadError, match="no pytorch_model.bin beside it"):
        models.load_generator(lonely / "config.json")
    with pytest.raises(LoadError, match="folder without a config.json"):
        models.load_generator(tmp_path)


def test_weights_that_do_not_fit_the_config_are_a_load_error(tmp_path, folder):
    wider = tmp_path / "wider"
    wider.mkdir()
    shutil.copy(folder / "pytorch_model.bin", wider / "pytorch_model.bin")
    config = json.loads((folder / "config.json").read_text())
    (wider / "config.json").write_text(json.dumps({**config, "channel_width": 8}))
    with pytest.raises(LoadError, match=r"shape .*channel_width=4") as err:
        models.load_generator(wider)
    assert "\n" not in str(err.value)
    # no attention layer in the config: the module numbering no longer lines up
    (wider / "config.json").write_text(json.dumps({**config, "attention_layer_position": -1}))
    with pytest.raises(LoadError, match="do not belong together"):
        models.load_generator(wider)
    # layers that cannot chain
    (wider / "config.json").write_text(json.dumps({**config, "layers": [[False, 16, 3]]}))
    with pytest.raises(LoadError, match="keeps or halves"):
        models.load_generator(wider)


def test_gradients_flow_after_rendering_in_inference_mode(gen):
    # the render worker may run under inference_mode; discovery later needs autograd
    with torch.inference_mode():
        gen.synthesize(gen.sample(1, seed=0))
    lat = gen.sample(1, seed=0).requires_grad_(True)
    gen.features(lat, ["generator.layers.2"])["generator.layers.2"].square().sum().backward()
    assert lat.grad[:, :4].abs().sum() > 0  # gen_z and blocks 0..2 reach layers.2
    assert lat.grad[:, 4:].abs().sum() == 0


def test_ganspace_components_depend_on_the_class_only_after_the_first_block(gen):
    """gen_z is linear in [z, class embedding]: the class only shifts its mean, which PCA removes.

    So at gen_z (GANSpace's BigGAN layer) every class gives the same components, as in the
    original; after the first block (class-conditional batch norm) they differ.
    """
    from methods.ganspace import GANSpaceConfig, discover

    cfg = GANSpaceConfig(samples=300, components=4, regression_samples=300, batch=100)
    dog = discover(gen, replace_class(cfg, 207))
    cat = discover(gen, replace_class(cfg, 281))
    assert dog.config["class_index"] == 207 and dog.stats["class"] == gen.classes[207]
    assert dog.stats["layer"] == "generator.gen_z"
    same = 1 - np.abs(np.sum(dog.extras["act_comp"] * cat.extras["act_comp"], axis=1))
    assert same.max() < 1e-6, f"gen_z components differ by class: 1-|cos| {same}"
    np.testing.assert_allclose(dog.directions(), cat.directions(), atol=1e-4)
    assert not np.allclose(dog.extras["act_mean"], cat.extras["act_mean"], atol=1e-3)  # the class is there, as a mean
    block = replace(cfg, layer="generator.layers.0")
    dog1, cat1 = discover(gen, replace_class(block, 207)), discover(gen, replace_class(block, 281))
    differ = 1 - np.abs(np.sum(dog1.extras["act_comp"] * cat1.extras["act_comp"], axis=1))
    assert differ.max() > 1e-4 > 100 * same.max(), f"block-0 components should differ by class: 1-|cos| {differ}"


def test_sefa_factorises_the_z_columns_of_gen_z(gen):
    from methods.sefa import SeFaConfig, discover

    cs = discover(gen, SeFaConfig(components=3))
    assert cs.directions().shape == (3, gen.z_dim) and cs.stats["matrices"] == 1


def test_render_pipeline_scales_z_and_batch_norm_with_one_truncation(gen):
    from editing.render import render_state
    from editing.state import EditState

    frame = render_state(gen, EditState(model="x", seed=1, truncation=0.4, class_index=3))
    z = gen.truncate(gen.sample(1, 1), 0.4)
    with torch.no_grad():
        direct = gen.synthesize(z, classes=torch.tensor([3]), truncation=0.4)
    from editing.render import to_uint8

    assert np.array_equal(frame, to_uint8(direct)[0])


def replace_class(cfg, index):
    from dataclasses import replace

    return replace(cfg, class_index=index)


def test_class_mix_renders_the_weighted_class_vector(gen):
    from editing.render import render_state, to_uint8
    from editing.state import EditState

    state = EditState(model="x", seed=2, truncation=0.4, class_index=3, class_mix=(9, 0.25))
    vec = torch.zeros(1, 1000)
    vec[0, 3], vec[0, 9] = 0.75, 0.25
    with torch.no_grad():
        direct = gen.synthesize(gen.truncate(gen.sample(1, 2), 0.4), classes=vec, truncation=0.4)
    assert np.array_equal(render_state(gen, state), to_uint8(direct)[0])
    plain = render_state(gen, EditState(model="x", seed=2, truncation=0.4, class_index=3))
    assert not np.array_equal(plain, render_state(gen, state))
