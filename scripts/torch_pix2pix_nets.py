"""PyTorch reference for Agon's pix2pix networks (agon_gan::models::{UnetGenerator,
PatchDiscriminator}): parameter names, forward outputs and gradients.

Regenerate (from the repository root; needs torch, numpy and safetensors):

    /work/torchenv/bin/python scripts/torch_pix2pix_nets.py

Generated with torch 2.15.0 (CPU), safetensors 0.8.0; the version is also in the file's
metadata (`torch_version`). CI never runs this: the output is committed and read by
`tests/pix2pix_interop.rs`. Written with `scripts/_fixture_io.py`, so regenerating gives
identical bytes.

Output: tests/fixtures/pix2pix_nets.safetensors.

The networks are written here from the pix2pix paper (Isola et al. 2017) and the module
layout of its reference code, so the state_dict names are the reference's:

    unet   U-Net, 1 -> 1 channels, ngf 4, 5 levels, BatchNorm, no dropout, for 32x32 images.
           Each level but the outermost is Sequential(LeakyReLU(0.2, inplace), Conv 4x4 s2,
           [BatchNorm], inner level, ReLU(inplace), ConvTranspose 4x4 s2, BatchNorm) and
           returns cat([x, level(x)], 1). The in-place LeakyReLU rewrites x before the
           concatenation, so the skip carries LeakyReLU(x): Agon does the same on purpose.
    patch  PatchGAN (NLayerDiscriminator), 2 input channels (condition + image), ndf 4,
           3 layers, BatchNorm: 32x32 -> 2x2 logits.

    resnet CycleGAN's ResnetGenerator, 1 -> 1 channels, ngf 4, 2 residual blocks, instance
           norm (affine off, so the convolutions carry biases), for 28x28 images: ReflPad(3),
           Conv 7x7, 2 x (Conv 3x3 s2), blocks x + [ReflPad(1), Conv 3x3, IN, ReLU,
           ReflPad(1), Conv 3x3, IN], 2 x (ConvT 3x3 s2 output_padding 1), ReflPad(3),
           Conv 7x7, Tanh.

Both in training mode (batch statistics), weights from PyTorch's default init under
torch.manual_seed(0).

Tensors
-------
    unet.<name>, patch.<name>, resnet.<name>
                                every state_dict entry (num_batches_tracked as I64, 0)
    io.unet.x [2,1,32,32], io.unet.grad_out G, io.unet.out, io.unet.dx = d((out*G).sum())/dx,
    io.unet.grad.<param>        that gradient for every parameter
    io.patch.x [2,2,32,32], io.patch.grad_out, io.patch.out [2,1,2,2], io.patch.dx,
    io.patch.grad.<param>
    io.resnet.x [2,1,28,28], io.resnet.grad_out, io.resnet.out, io.resnet.dx,
    io.resnet.grad.<param>
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.dont_write_bytecode = True
from _fixture_io import save_reproducible  # noqa: E402

OUT = os.path.join("tests", "fixtures", "pix2pix_nets.safetensors")


def down(c_in, c_out, bias):
    return nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=bias)


def up(c_in, c_out, bias):
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=bias)


class Level(nn.Module):
    def __init__(self, outer, inner, sub=None, in_channels=None, outermost=False):
        super().__init__()
        self.outermost = outermost
        if outermost:
            layers = [down(in_channels, inner, False), sub, nn.ReLU(True),
                      up(2 * inner, outer, True), nn.Tanh()]
        elif sub is None:
            layers = [nn.LeakyReLU(0.2, True), down(outer, inner, False), nn.ReLU(True),
                      up(inner, outer, False), nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down(outer, inner, False),
                      nn.BatchNorm2d(inner), sub, nn.ReLU(True), up(2 * inner, outer, False),
                      nn.BatchNorm2d(outer)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class Unet(nn.Module):
    def __init__(self, c_in, c_out, ngf, depth):
        super().__init__()
        inner = lambda level: ngf * 2 ** min(level, 3)  # noqa: E731
        sub = Level(inner(depth - 2), inner(depth - 1))
        for level in range(depth - 2, 0, -1):
            sub = Level(inner(level - 1), inner(level), sub)
        self.model = Level(c_out, ngf, sub, in_channels=c_in, outermost=True)

    def forward(self, x):
        return self.model(x)


class Patch(nn.Module):
    def __init__(self, c_in, ndf, n_layers):
        super().__init__()
        width = lambda n: ndf * min(2 ** n, 8)  # noqa: E731
        layers = [down(c_in, ndf, True), nn.LeakyReLU(0.2, True)]
        for n in range(1, n_layers):
            layers += [down(width(n - 1), width(n), False), nn.BatchNorm2d(width(n)),
                       nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(width(n_layers - 1), width(n_layers), 4, padding=1, bias=False),
                   nn.BatchNorm2d(width(n_layers)), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(width(n_layers), 1, 4, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class ResBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim),
            nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class Resnet(nn.Module):
    """CycleGAN's generator with instance norm (affine off: biases on the convolutions)."""

    def __init__(self, c_in, c_out, ngf, n_blocks):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, ngf, 7, bias=True),
                  nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=True),
                       nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        layers += [ResBlock(4 * ngf) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=True),
                       nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, c_out, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def run(net, name, x, g, tensors):
    state = {f"{name}.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    x = x.clone().requires_grad_(True)
    out = net(x)
    params = list(net.named_parameters())
    grads = torch.autograd.grad((out * g).sum(), [x] + [p for _, p in params])
    tensors.update(state)
    tensors.update({f"io.{name}.x": x.detach(), f"io.{name}.grad_out": g,
                    f"io.{name}.out": out.detach(), f"io.{name}.dx": grads[0]})
    tensors.update({f"io.{name}.grad.{n}": d for (n, _), d in zip(params, grads[1:])})


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    unet = Unet(1, 1, 4, 5)
    patch = Patch(2, 4, 3)
    resnet = Resnet(1, 1, 4, 2)
    gen = torch.Generator().manual_seed(1)
    tensors = {}
    run(unet, "unet", torch.randn(2, 1, 32, 32, generator=gen),
        torch.randn(2, 1, 32, 32, generator=gen), tensors)
    run(patch, "patch", torch.randn(2, 2, 32, 32, generator=gen),
        torch.randn(2, 1, 2, 2, generator=gen), tensors)
    run(resnet, "resnet", torch.randn(2, 1, 28, 28, generator=gen),
        torch.randn(2, 1, 28, 28, generator=gen), tensors)
    # Running statistics after the one training-mode forward are checked too.
    tensors.update({f"after.unet.{k}": v.detach().clone()
                    for k, v in unet.state_dict().items() if "running" in k})
    meta = {"format": "agon-fixtures-1", "torch_version": torch.__version__,
            "unet": "in=1;out=1;ngf=4;depth=5;norm=batch;dropout=0",
            "patch": "in=2;ndf=4;n_layers=3;norm=batch",
            "resnet": "in=1;out=1;ngf=4;n_blocks=2;norm=instance"}
    # The state_dict entries are the pre-forward weights: running stats as initialised.
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)
    from safetensors.numpy import load_file
    back = load_file(OUT)
    assert sorted(back) == sorted(tensors)
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"torch {torch.__version__}; unet out std {tensors['io.unet.out'].std():.4f}")


if __name__ == "__main__":
    main()
