"""PyTorch reference for Agon's super-resolution generator
(agon_gan::models::SrResnetGenerator) and the feature ("perceptual") loss of the
image-to-image tasks (agon_gan::loss::perceptual_loss through agon_metrics::Classifier):
parameter names, forward outputs and gradients.

Regenerate (from the repository root; needs torch, numpy and safetensors):

    /work/torchenv/bin/python scripts/torch_superres_perceptual.py

Generated with torch 2.15.0+cu132 (run on the CPU, one thread), safetensors 0.8.0, numpy
2.4.6; the version is also in the file's metadata (`torch_version`). CI never runs this: the
output is committed and read by `tests/superres_perceptual_interop.rs`. Written with
`scripts/_fixture_io.py`, so regenerating gives identical bytes.

Output: tests/fixtures/superres_perceptual.safetensors.

The modules are written here with exactly the layout and state_dict names of Agon's:

    sr2    SrResnetGenerator(channels 1, features 4, blocks 1, scale 2), input [2,1,8,8].
    sr4    SrResnetGenerator(channels 3, features 4, blocks 2, scale 4), input [2,3,7,7].
           head = Sequential(Conv 3x3 p1, ReLU); body = Sequential(blocks x ResBlock,
           Conv 3x3 p1), each ResBlock x + conv_block(x) with conv_block = [ReflPad(1),
           Conv 3x3 (no bias), BatchNorm, ReLU, ReflPad(1), Conv 3x3 (no bias), BatchNorm];
           upsample = Sequential(log2(scale) x [Conv 3x3 p1 to 4x features, PixelShuffle(2),
           ReLU]); tail = Conv 3x3 p1 to the image's channels.
           out = tail(upsample(f + body(f))) + bicubic(x), f = head(x), bicubic =
           F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False) of the
           input *detached*: Agon adds it as a constant (the input is data), so dx flows
           through the network only. Training mode (batch statistics); weights from
           PyTorch's default init under torch.manual_seed(0), then the BatchNorm affine
           parameters drawn (weight U(0.5, 1.5), bias N(0, 0.1)) so they are not the
           identity.

    lenet      agon_metrics::Classifier for the shipped 28x28 grayscale input, 10 classes:
               features = Sequential(Conv(1,32,k5,p2), ReLU, MaxPool(2), Conv(32,64,k5,p2),
               ReLU, MaxPool(2), Flatten, Linear(3136,128), ReLU), head = Linear(128, 10).
    lenet_rgb  Classifier::for_shape([3, 36, 36], 4): as lenet with 3 input channels and one
               extra Conv(64,64,k3,p1), ReLU, MaxPool(2) block (9 > 8 after two pools), so
               features.6 is that convolution and features.10 is Linear(1024, 128).
           Weights: PyTorch's default init under torch.manual_seed(0) (after sr2, sr4).
           The perceptual loss, as Agon's translation tasks define it, is
               mse(features(fake), features(target).detach())
           = mean over [N, 128] of the squared difference of the penultimate (post-ReLU)
           activations; its gradient is taken w.r.t. fake only.

Tensors
-------
    sr2.<name>, sr4.<name>      every state_dict entry (num_batches_tracked as I64, 0)
    io.srK.x, io.srK.grad_out G, io.srK.out, io.srK.dx = d((out*G).sum())/dx,
    io.srK.grad.<param>         that gradient for every parameter
    after.srK.<running stat>    BatchNorm running means and variances after the forward
    lenet.<name>, lenet_rgb.<name>
                                the classifiers' state_dicts
    perceptual.<net>.fake, perceptual.<net>.target
                                [3,1,28,28] / [2,3,36,36], tanh of a standard normal
    perceptual.<net>.features   features(fake) [N, 128]
    perceptual.<net>.loss       the loss, shape [1]
    perceptual.<net>.dfake      d loss / d fake
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
from _fixture_io import save_reproducible  # noqa: E402

OUT = os.path.join("tests", "fixtures", "superres_perceptual.safetensors")


def conv3(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=True)


class ResBlock(nn.Module):
    """Agon's ResidualBlock with batch norm (convolutions without bias)."""

    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.BatchNorm2d(dim),
            nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False),
            nn.BatchNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class SrResnet(nn.Module):
    def __init__(self, channels, features, blocks, scale):
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(conv3(channels, features), nn.ReLU())
        # Built in Agon's order (head, blocks, body conv, upsample, tail): not needed for
        # the names, but it keeps the init draws in the same sequence.
        self.body = nn.Sequential(*[ResBlock(features) for _ in range(blocks)],
                                  conv3(features, features))
        up = []
        for _ in range(scale.bit_length() - 1):
            up += [conv3(features, 4 * features), nn.PixelShuffle(2), nn.ReLU()]
        self.upsample = nn.Sequential(*up)
        self.tail = conv3(features, channels)

    def forward(self, x):
        f = self.head(x)
        f = f + self.body(f)
        residual = self.tail(self.upsample(f))
        bicubic = F.interpolate(x.detach(), scale_factor=self.scale, mode="bicubic",
                                align_corners=False)
        return residual + bicubic


class Lenet(nn.Module):
    """agon_metrics::Classifier::for_shape(shape, k)."""

    def __init__(self, shape, k):
        super().__init__()
        c, h, w = shape
        layers = [nn.Conv2d(c, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
        fh, fw = h // 4, w // 4
        while max(fh, fw) > 8 and min(fh, fw) >= 2:
            layers += [nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            fh, fw = fh // 2, fw // 2
        layers += [nn.Flatten(), nn.Linear(64 * fh * fw, 128), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128, k)


def run_sr(net, name, x, g, tensors):
    state = {f"{name}.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    x = x.clone().requires_grad_(True)
    out = net(x)
    params = list(net.named_parameters())
    grads = torch.autograd.grad((out * g).sum(), [x] + [p for _, p in params])
    tensors.update(state)
    tensors.update({f"io.{name}.x": x.detach(), f"io.{name}.grad_out": g,
                    f"io.{name}.out": out.detach(), f"io.{name}.dx": grads[0]})
    tensors.update({f"io.{name}.grad.{n}": d for (n, _), d in zip(params, grads[1:])})
    tensors.update({f"after.{name}.{k}": v.detach().clone()
                    for k, v in net.state_dict().items() if "running" in k})


def run_perceptual(net, name, fake, target, tensors):
    tensors.update({f"{name}.{k}": v.detach().clone() for k, v in net.state_dict().items()})
    fake = fake.clone().requires_grad_(True)
    ours = net.features(fake)
    with torch.no_grad():
        theirs = net.features(target)
    loss = F.mse_loss(ours, theirs)
    (dfake,) = torch.autograd.grad(loss, [fake])
    p = f"perceptual.{name}"
    tensors.update({f"{p}.fake": fake.detach(), f"{p}.target": target,
                    f"{p}.features": ours.detach(), f"{p}.loss": loss.detach().reshape(1),
                    f"{p}.dfake": dfake})


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sr2 = SrResnet(1, 4, 1, 2)
    sr4 = SrResnet(3, 4, 2, 4)
    with torch.no_grad():
        for m in list(sr2.modules()) + list(sr4.modules()):
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
    lenet = Lenet((1, 28, 28), 10)
    lenet_rgb = Lenet((3, 36, 36), 4)
    gen = torch.Generator().manual_seed(1)
    tensors = {}
    run_sr(sr2, "sr2", torch.randn(2, 1, 8, 8, generator=gen),
           torch.randn(2, 1, 16, 16, generator=gen), tensors)
    run_sr(sr4, "sr4", torch.randn(2, 3, 7, 7, generator=gen),
           torch.randn(2, 3, 28, 28, generator=gen), tensors)
    image = lambda *s: torch.tanh(torch.randn(*s, generator=gen))  # noqa: E731
    run_perceptual(lenet, "lenet", image(3, 1, 28, 28), image(3, 1, 28, 28), tensors)
    run_perceptual(lenet_rgb, "lenet_rgb", image(2, 3, 36, 36), image(2, 3, 36, 36), tensors)
    meta = {"format": "agon-fixtures-1", "torch_version": torch.__version__,
            "sr2": "channels=1;features=4;blocks=1;scale=2",
            "sr4": "channels=3;features=4;blocks=2;scale=4",
            "lenet": "input_shape=1,28,28;num_classes=10",
            "lenet_rgb": "input_shape=3,36,36;num_classes=4"}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)
    from safetensors.numpy import load_file
    back = load_file(OUT)
    assert sorted(back) == sorted(tensors)
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"torch {torch.__version__}; sr4 out std {tensors['io.sr4.out'].std():.4f}, "
          f"lenet loss {tensors['perceptual.lenet.loss'].item():.6f}, "
          f"lenet_rgb loss {tensors['perceptual.lenet_rgb.loss'].item():.6f}")


if __name__ == "__main__":
    main()
