"""The reference for `stylegan2_render.py`: rosinality/stylegan2-pytorch's CPU forward, op for op.

rosinality's ``model.py`` is not installable (no package), so this re-implements the
operation order of its ``Generator.forward`` with ``input_is_latent=True`` (commit
bef283a, the fixtures' reference) on the CPU code paths it takes without its CUDA
extensions, reading the weights of one of our `StyleGAN2Net`:

- ``EqualLinear``: ``F.linear(x, W·scale, b·lr_mul)`` (the weight is scaled every call);
- ``ModulatedConv2d`` (fused): ``style = modulation(w).view(B, 1, in, 1, 1)``,
  ``weight = scale · W · style``, ``demod = rsqrt(Σ_{in,kh,kw} weight² + 1e-8)``,
  ``weight · demod``, one grouped (transposed) convolution, for upsampling the
  ``transpose(1, 2).reshape`` copy of the weights and a ``Blur``;
- ``upfirdn2d_native``: reshape to ``[N·C, H, W, 1]``, zero-insertion by ``F.pad`` of a
  6-d view, pad, permute, one single-channel ``conv2d`` with the flipped kernel, permute;
- ``NoiseInjection`` ``x + weight·noise``; ``fused_leaky_relu``'s CPU branch
  ``leaky_relu(x + bias, 0.2) · √2``; ``ToRGB``: conv + bias + upsampled skip.

`test_rosinality_reference_reproduces_the_stored_fixture` checks it against the images
rosinality itself produced.  Benchmarks only: the program never imports this.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SQRT2 = 2**0.5


def _upfirdn2d_native(x: torch.Tensor, kernel: torch.Tensor, up: int, down: int, pad: tuple[int, int]) -> torch.Tensor:
    p0, p1 = pad
    _, channel, in_h, in_w = x.shape
    x = x.reshape(-1, in_h, in_w, 1)
    _, in_h, in_w, minor = x.shape
    kh, kw = kernel.shape
    out = x.view(-1, in_h, 1, in_w, 1, minor)
    out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1])
    out = out.view(-1, in_h * up, in_w * up, minor)
    out = F.pad(out, [0, 0, max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    out = out[:, max(-p0, 0): out.shape[1] - max(-p1, 0), max(-p0, 0): out.shape[2] - max(-p1, 0), :]
    out = out.permute(0, 3, 1, 2)
    out = out.reshape([-1, 1, in_h * up + p0 + p1, in_w * up + p0 + p1])
    w = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw)
    out = F.conv2d(out, w)
    out = out.reshape(-1, minor, in_h * up + p0 + p1 - kh + 1, in_w * up + p0 + p1 - kw + 1)
    out = out.permute(0, 2, 3, 1)
    out = out[:, ::down, ::down, :]
    out_h = (in_h * up + p0 + p1 - kh) // down + 1
    out_w = (in_w * up + p0 + p1 - kw) // down + 1
    return out.view(-1, channel, out_h, out_w)


def _fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    rest = [1] * (x.ndim - bias.ndim - 1)
    return F.leaky_relu(x + bias.view(1, bias.shape[0], *rest), negative_slope=0.2) * SQRT2


def _equal_linear(lin, x: torch.Tensor) -> torch.Tensor:
    scale = lin.lr_mul / math.sqrt(lin.weight.shape[1])
    if lin.activate:
        return _fused_leaky_relu(F.linear(x, lin.weight * scale), lin.bias * lin.lr_mul)
    return F.linear(x, lin.weight * scale, bias=lin.bias * lin.lr_mul)


def _modulated_conv(mod, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    batch, in_channel, height, width = x.shape
    k, cout = mod.kernel_size, mod.out_channel
    style = _equal_linear(mod.modulation, style).view(batch, 1, in_channel, 1, 1)
    weight = (1 / math.sqrt(in_channel * k**2)) * mod.weight * style
    if mod.demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
        weight = weight * demod.view(batch, cout, 1, 1, 1)
    weight = weight.view(batch * cout, in_channel, k, k)
    if mod.upsample:
        x = x.view(1, batch * in_channel, height, width)
        weight = weight.view(batch, cout, in_channel, k, k)
        weight = weight.transpose(1, 2).reshape(batch * in_channel, cout, k, k)
        out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
        _, _, height, width = out.shape
        out = out.view(batch, cout, height, width)
        return _upfirdn2d_native(out, mod.blur.kernel, 1, 1, mod.blur.pad)
    x = x.view(1, batch * in_channel, height, width)
    out = F.conv2d(x, weight, padding=mod.padding, groups=batch)
    _, _, height, width = out.shape
    return out.view(batch, cout, height, width)


def _styled_conv(layer, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    out = _modulated_conv(layer.conv, x, style)
    out = out + layer.noise.weight * noise
    return _fused_leaky_relu(out, layer.activate.bias)


def _to_rgb(layer, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
    out = _modulated_conv(layer.conv, x, style) + layer.bias
    if skip is not None:
        up = layer.upsample
        out = out + _upfirdn2d_native(skip, up.kernel, up.factor, 1, up.pad)
    return out


@torch.no_grad()
def rosinality_forward(net, latent: torch.Tensor) -> torch.Tensor:
    """W+ ``[B, n_latent, style_dim]`` -> image ``[B, 3, R, R]`` with the stored (fixed) noise maps,
    as ``Generator(…)([latent], input_is_latent=True, randomize_noise=False)`` computes it."""
    noise = [getattr(net.noises, n) for n in net._noise_names]
    out = net.input.input.repeat(latent.shape[0], 1, 1, 1)
    out = _styled_conv(net.conv1, out, latent[:, 0], noise[0])
    skip = _to_rgb(net.to_rgb1, out, latent[:, 1], None)
    i = 1
    for conv1, conv2, noise1, noise2, to_rgb in zip(net.convs[::2], net.convs[1::2], noise[1::2], noise[2::2], net.to_rgbs):
        out = _styled_conv(conv1, out, latent[:, i], noise1)
        out = _styled_conv(conv2, out, latent[:, i + 1], noise2)
        skip = _to_rgb(to_rgb, out, latent[:, i + 2], skip)
        i += 2
    return skip


@torch.no_grad()
def rosinality_latent(net, z: torch.Tensor, truncation: float, truncation_latent: torch.Tensor) -> torch.Tensor:
    """z ``[B, style_dim]`` -> truncated W+ ``[B, n_latent, style_dim]``: ``PixelNorm``, the mapping's
    ``EqualLinear`` layers, ``truncation_latent + truncation · (style − truncation_latent)``, then
    ``unsqueeze(1).repeat(1, n_latent, 1)``, as its ``forward`` does before synthesis."""
    style = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + 1e-8)
    for layer in list(net.style)[1:]:
        style = _equal_linear(layer, style)
    if truncation < 1:
        style = truncation_latent + truncation * (style - truncation_latent)
    return style.unsqueeze(1).repeat(1, net.n_latent, 1)
