"""PyTorch reference for agon-gan's dcgan28 models (docs/architecture.md, reference workloads), both directions.

Regenerate the fixtures (from the repository root; needs torch, numpy and safetensors):

    /work/torchenv/bin/python scripts/torch_dcgan28.py

Check Agon's own files against PyTorch (written by `cargo test -p agon --test
dcgan28_interop`, which prints this command with the right folder):

    /work/torchenv/bin/python scripts/torch_dcgan28.py --check-agon target/agon-interop

Generated with torch 2.15.0 (CPU), safetensors 0.8.0; the version is also in each file's
metadata under `torch_version`. CI never runs this script: the fixtures are committed and
read by `tests/dcgan28_interop.rs`.

Models
------
`G` and `D` below are the dcgan28 generator and discriminator with their layers in an
`nn.Sequential` named `main`, so their state_dict names (`main.0.weight`,
`main.1.running_mean`, ...) are those of `agon_gan::Dcgan28Generator` /
`Dcgan28Discriminator`. Weights are PyTorch's default initialisation under
`torch.manual_seed(SEED)`. Because default BatchNorm state (scale 1, shift 0, running mean 0,
running var 1, count 0) would make the BatchNorm layers nearly the identity in evaluation
mode, the script then overwrites every BatchNorm's weight, bias, running statistics and
`num_batches_tracked` with seeded non-trivial values (see `perturb_batchnorm`), so the test
exercises them.

Outputs (all written with a byte-for-byte reproducible writer, F32 and, for
`num_batches_tracked` as in PyTorch, I64)
----------------------------------------------------------------------------------------
tests/fixtures/dcgan28_g.safetensors   G's state_dict, floats as F16 (about 4.7 MB: 2.31M values)
tests/fixtures/dcgan28_d.safetensors   D's state_dict, floats as F16 (about 0.43 MB)
tests/fixtures/dcgan28_io.safetensors  inputs and outputs:
    z                      [8, 100]       standard normal noise
    x                      [8, 1, 28, 28] uniform on [-1, 1) "images"
    g_eval                 G(z) in eval mode (running statistics)
    g_train                G(z) in train mode (batch statistics), one forward from the state
                           in dcgan28_g.safetensors
    g_train.<bn>.running_mean / running_var / num_batches_tracked (I64)
                           G's BatchNorm buffers after that one train forward, for
                           <bn> in main.1, main.5, main.8
    d_eval                 D(x) in eval mode (dropout off)

D in train mode is not recorded: dropout masks come from each framework's own generator,
so its outputs agree with Agon's only in distribution, never elementwise.

Each file is read back with `safetensors.torch.load_file` and loaded with
`load_state_dict(strict=True)` into a fresh model, whose outputs must equal the recorded
ones, so the files are known to be valid PyTorch checkpoints.

--check-agon DIR
----------------
Reads DIR/g.safetensors (an Agon-initialised dcgan28 generator saved by Agon) and
DIR/outputs.safetensors (z, g_eval, g_train and the g_train.* buffers as above, the
counters as F32 or I64, computed by Agon: eval forward first, then one train forward), loads the generator into PyTorch with
`load_state_dict(strict=True)`, recomputes the outputs and compares them with tolerance 1e-4
relative to each tensor's largest magnitude. Exits with status 1 on any mismatch.
"""

import argparse
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import load_file

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
from _fixture_io import save_reproducible  # noqa: E402 (scripts/ is on sys.path)

SEED = 2028
BATCH = 8
FIXTURES = os.path.join("tests", "fixtures")
BN_LAYERS = ["main.1", "main.5", "main.8"]
TOL = 1e-4


class G(nn.Module):
    """dcgan28 generator: [N, 100] -> [N, 1, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(100, 7 * 7 * 256, bias=False),  # 0
            nn.BatchNorm1d(7 * 7 * 256),  # 1
            nn.LeakyReLU(0.2),  # 2
            nn.Unflatten(1, (256, 7, 7)),  # 3
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),  # 4
            nn.BatchNorm2d(128),  # 5
            nn.LeakyReLU(0.2),  # 6
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1,
                               bias=False),  # 7
            nn.BatchNorm2d(64),  # 8
            nn.LeakyReLU(0.2),  # 9
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1,
                               bias=False),  # 10
            nn.Tanh(),  # 11
        )

    def forward(self, z):
        return self.main(z)


class D(nn.Module):
    """dcgan28 discriminator: [N, 1, 28, 28] -> [N, 1] logits."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),  # 0
            nn.LeakyReLU(0.2),  # 1
            nn.Dropout(0.3),  # 2
            nn.Conv2d(64, 128, 5, stride=2, padding=2),  # 3
            nn.LeakyReLU(0.2),  # 4
            nn.Dropout(0.3),  # 5
            nn.Flatten(),  # 6
            nn.Linear(128 * 7 * 7, 1),  # 7
        )

    def forward(self, x):
        return self.main(x)


def perturb_batchnorm(model, gen):
    """Seeded non-trivial BatchNorm state: weight U[0.5, 1.5), bias U[-0.5, 0.5),
    running_mean N(0, 0.2), running_var U[0.5, 1.5), num_batches_tracked 5."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(5)


def buffers_after_train(model, prefix="g_train."):
    out = {}
    for name, b in model.named_buffers():
        out[prefix + name] = b.detach().clone()
    return out


def rel_err(got, want):
    """max |got - want| / max |want| (max |want| floored at 1e-12)."""
    got, want = got.double(), want.double()
    scale = max(want.abs().max().item(), 1e-12)
    return (got - want).abs().max().item() / scale


def compare(label, got, want, failures):
    if tuple(got.shape) != tuple(want.shape):
        print(f"  {label}: shape {tuple(got.shape)} vs {tuple(want.shape)}  FAIL")
        failures.append(label)
        return
    if want.dtype == torch.int64 or got.dtype == torch.int64:
        ok = torch.equal(got.to(torch.int64), want.to(torch.int64))
        print(f"  {label}: {got.tolist()} vs {want.tolist()}  {'ok' if ok else 'FAIL'}")
    else:
        e = rel_err(got, want)
        ok = e <= TOL
        print(f"  {label}: max rel err {e:.2e}  {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(label)


def generate():
    torch.manual_seed(SEED)
    g, d = G(), D()
    gen = torch.Generator().manual_seed(SEED + 1)
    perturb_batchnorm(g, gen)
    # Weights are stored as F16 to keep the fixture small (G has 2.3M parameters: 9.3 MB
    # as F32, 4.7 MB as F16). Rounding the models' own values to f16 first means PyTorch
    # computes the recorded outputs with exactly the weights Agon will load (converted back
    # to f32), so the comparison stays exact; it also exercises Agon's F16 loading path.
    with torch.no_grad():
        for t in list(g.parameters()) + list(g.buffers()) + list(d.parameters()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    z = torch.randn(BATCH, 100, generator=gen)
    x = torch.rand(BATCH, 1, 28, 28, generator=gen) * 2 - 1

    def half_floats(state):
        return {k: (v.half() if v.is_floating_point() else v).detach().clone()
                for k, v in state.items()}

    g_state = half_floats(g.state_dict())
    d_state = half_floats(d.state_dict())
    assert g_state["main.1.num_batches_tracked"].dtype == torch.int64

    with torch.no_grad():
        g.eval()
        g_eval = g(z)
        g.train()
        g_train = g(z)
        d.eval()
        d_eval = d(x)
    io = {"z": z, "x": x, "g_eval": g_eval, "g_train": g_train, "d_eval": d_eval}
    io.update(buffers_after_train(g))

    meta = {"format": "pt", "source": "scripts/torch_dcgan28.py",
            "torch_version": torch.__version__, "seed": str(SEED)}
    os.makedirs(FIXTURES, exist_ok=True)
    paths = {k: os.path.join(FIXTURES, f"dcgan28_{k}.safetensors") for k in ("g", "d", "io")}
    save_reproducible(paths["g"], g_state, dict(meta, model="dcgan28 generator"))
    save_reproducible(paths["d"], d_state, dict(meta, model="dcgan28 discriminator"))
    save_reproducible(paths["io"], io, dict(meta, batch=str(BATCH), bn_layers=",".join(BN_LAYERS)))

    # Read everything back the way a PyTorch user would, and recompute.
    failures = []
    g2, d2 = G(), D()
    g2.load_state_dict(load_file(paths["g"]), strict=True)
    d2.load_state_dict(load_file(paths["d"]), strict=True)
    io2 = load_file(paths["io"])
    assert set(io2) == set(io), "io fixture names changed on the way back"
    with torch.no_grad():
        g2.eval()
        compare("g_eval (reloaded)", g2(io2["z"]), io2["g_eval"], failures)
        g2.train()
        compare("g_train (reloaded)", g2(io2["z"]), io2["g_train"], failures)
        for name, b in buffers_after_train(g2).items():
            compare(f"{name} (reloaded)", b, io2[name], failures)
        d2.eval()
        compare("d_eval (reloaded)", d2(io2["x"]), io2["d_eval"], failures)
    for k, p in paths.items():
        print(f"wrote {p} ({os.path.getsize(p)} bytes)")
    return failures


def check_agon(folder):
    g_path = os.path.join(folder, "g.safetensors")
    out_path = os.path.join(folder, "outputs.safetensors")
    state = load_file(g_path)
    outs = load_file(out_path)
    print(f"checking {g_path} and {out_path} with torch {torch.__version__}")
    g = G()
    g.load_state_dict(state, strict=True)  # raises on missing or unexpected names
    failures = []
    with torch.no_grad():
        g.eval()
        compare("g_eval", g(outs["z"]), outs["g_eval"], failures)
        g.train()
        compare("g_train", g(outs["z"]), outs["g_train"], failures)
        for name, b in buffers_after_train(g).items():
            if name in outs:
                compare(name, b, outs[name], failures)
            else:
                print(f"  {name}: missing from Agon's outputs  FAIL")
                failures.append(name)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-agon", metavar="DIR",
                    help="check Agon's g.safetensors and outputs.safetensors in DIR")
    args = ap.parse_args()
    torch.set_num_threads(1)  # same bits on every machine we tried; speed is irrelevant
    failures = check_agon(args.check_agon) if args.check_agon else generate()
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        sys.exit(1)
    print("all match")


if __name__ == "__main__":
    main()
