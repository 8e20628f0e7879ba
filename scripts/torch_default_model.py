"""PyTorch copy of the model `agon train` builds by default, for timing comparisons.

The default configuration (crates/gan/src/trainer/config.rs: `model.kind = "dcgan"`,
`width = 32`, `latent_dim = 64`, `upsample = "nearest"`, data fashion-mnist 1x28x28,
batch 64) makes `agon_gan::Dcgan { image_size: 28, channels: 1, width: 32, latent_dim: 64,
upsampling: NearestConv, .. }` (crates/gan/src/models/dcgan.rs). For 28x28 images that is
2 doublings from a 7x7 start, top width 2 * 32 = 64:

Generator `main.<i>`, [N, 64] -> [N, 1, 28, 28]                         parameters
    0  Linear(64, 64*7*7 = 3136, bias=False)                                200,704
    1  BatchNorm1d(3136)                      (weight, bias; + running stats) 6,272
    2  ReLU
    3  Unflatten to [64, 7, 7]
    4  Upsample x2, nearest                   7x7 -> 14x14
    5  Conv2d(64, 32, 3, padding=1, bias=False)                              18,432
    6  BatchNorm2d(32)                                                            64
    7  ReLU
    8  Upsample x2, nearest                   14x14 -> 28x28
    9  Conv2d(32, 1, 3, padding=1)            (with bias)                        289
   10  Tanh
                                                                  total    225,761

Discriminator `main.<i>`, [N, 1, 28, 28] -> [N, 1] logits, no BatchNorm, no dropout
    0  Conv2d(1, 32, 4, stride=2, padding=1)  28x28 -> 14x14                     544
    1  LeakyReLU(0.2)
    2  Conv2d(32, 64, 4, stride=2, padding=1) 14x14 -> 7x7                    32,832
    3  LeakyReLU(0.2)
    4  Flatten
    5  Linear(64*7*7 = 3136, 1)                                                3,137
                                                                  total     36,513

BatchNorm with PyTorch's defaults (momentum 0.1, eps 1e-5), as agon-nn's. The
`main.<i>` indices are Agon's, so the state_dict names equal those in an Agon checkpoint
(`g.main.0.weight`, `g.main.6.running_var`, `d.main.5.bias`, ...) without the `g.` / `d.`
prefix. Weights are PyTorch's default initialisation (as Agon's, in distribution).

Run it as a script to print the layers and parameter counts; with `--check-checkpoint FILE`
(a `checkpoint.safetensors` written by `agon train` with the default model) it also loads
the checkpoint's `g.*` and `d.*` tensors with `load_state_dict(strict=True)`, which fails
on any missing, extra or differently shaped tensor:

    /work/torchenv/bin/python scripts/torch_default_model.py [--check-checkpoint FILE]

With `--check-export G.safetensors` (written by `agon export --net g`) it loads the
exported generator by its plain names (strict), and with `--agon-samples ZX.safetensors`
(tensors `z` [N, 64] and Agon's eval-mode output `x` for them) it runs the same `z`
through PyTorch and prints the largest difference from Agon's `x`.

`scripts/torch_bench.py` uses G and D for its `train_step/default` and
`gen/default_forward_256` rows.
"""

import argparse

import torch
import torch.nn as nn

LATENT_DIM = 64
WIDTH = 32
BATCH = 64
# Parameter counts worked out from crates/gan/src/models/dcgan.rs (see the table above).
G_PARAMETERS = 225_761
D_PARAMETERS = 36_513


class G(nn.Module):
    """The default generator: [N, 64] -> [N, 1, 28, 28]."""

    def __init__(self):
        super().__init__()
        c0 = 2 * WIDTH
        self.main = nn.Sequential(
            nn.Linear(LATENT_DIM, c0 * 7 * 7, bias=False),  # 0
            nn.BatchNorm1d(c0 * 7 * 7),  # 1
            nn.ReLU(),  # 2
            nn.Unflatten(1, (c0, 7, 7)),  # 3
            nn.Upsample(scale_factor=2, mode="nearest"),  # 4
            nn.Conv2d(c0, WIDTH, 3, padding=1, bias=False),  # 5
            nn.BatchNorm2d(WIDTH),  # 6
            nn.ReLU(),  # 7
            nn.Upsample(scale_factor=2, mode="nearest"),  # 8
            nn.Conv2d(WIDTH, 1, 3, padding=1, bias=True),  # 9
            nn.Tanh(),  # 10
        )

    def forward(self, z):
        return self.main(z)


class D(nn.Module):
    """The default discriminator: [N, 1, 28, 28] -> [N, 1] logits."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, WIDTH, 4, stride=2, padding=1),  # 0
            nn.LeakyReLU(0.2),  # 1
            nn.Conv2d(WIDTH, 2 * WIDTH, 4, stride=2, padding=1),  # 2
            nn.LeakyReLU(0.2),  # 3
            nn.Flatten(),  # 4
            nn.Linear(2 * WIDTH * 7 * 7, 1),  # 5
        )

    def forward(self, x):
        return self.main(x)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-checkpoint", metavar="FILE",
                    help="load an `agon train` checkpoint's g.* and d.* tensors (strict)")
    ap.add_argument("--check-export", metavar="FILE",
                    help="load a generator written by `agon export --net g` (strict)")
    ap.add_argument("--agon-samples", metavar="FILE",
                    help="with --check-export: z and Agon's samples x to reproduce")
    args = ap.parse_args()
    g, d = G(), D()
    for label, model, want in (("G", g, G_PARAMETERS), ("D", d, D_PARAMETERS)):
        print(f"{label}: {parameter_count(model):,} parameters")
        for name, p in model.named_parameters():
            print(f"  {name:24} {list(p.shape)}  {p.numel():,}")
        assert parameter_count(model) == want, (label, parameter_count(model), want)
    with torch.no_grad():
        g.train()
        d.train()
        z = torch.randn(BATCH, LATENT_DIM)
        x = g(z)
        assert x.shape == (BATCH, 1, 28, 28), x.shape
        assert d(x).shape == (BATCH, 1)
    if args.check_checkpoint:
        from safetensors.torch import load_file  # only this option needs safetensors
        state = load_file(args.check_checkpoint)
        for prefix, model in (("g.", g), ("d.", d)):
            sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            model.load_state_dict(sub, strict=True)  # raises on any name or shape mismatch
            print(f"{args.check_checkpoint}: {prefix}* ({len(sub)} tensors) loads strictly")
    if args.check_export:
        from safetensors.torch import load_file
        state = load_file(args.check_export)
        g.load_state_dict(state, strict=True)
        print(f"{args.check_export}: {len(state)} tensors load strictly into G")
        if args.agon_samples:
            zx = load_file(args.agon_samples)
            g.eval()
            with torch.no_grad():
                x = g(zx["z"])
            diff = (x - zx["x"]).abs().max().item()
            print(f"max |torch - agon| over {tuple(x.shape)}: {diff:.3g}")
            assert diff < 1e-4, diff
    print("ok")


if __name__ == "__main__":
    main()
