"""PyTorch reference fixtures for agon-autodiff's second-order gradients and batch norm.

Regenerate (from the repository root; needs torch, numpy and safetensors, nothing else):

    /work/torchenv/bin/python scripts/torch_autodiff_fixtures.py

(any Python with those packages works: `python scripts/torch_autodiff_fixtures.py`).
Generated with torch 2.15.0 (CPU, `torch.__version__` = "2.15.0+cu132"), safetensors 0.8.0;
the version is also recorded in the file's metadata under `torch_version`. CI never runs this
script: the output is committed and read by `tests/torch_autodiff.rs`. The file is written
with `scripts/_fixture_io.py`, so regenerating gives identical bytes.

Output: tests/fixtures/autodiff.safetensors (float32 only, 63 tensors, about 32 KB).

The critic (PyTorch `state_dict` names and layouts; 8x8 input):

    conv1 = Conv2d(1, 4, k3, s2, p1)   8x8 -> 4x4     weight [4,1,3,3], bias [4]
    LeakyReLU(0.2)
    conv2 = Conv2d(4, 8, k3, s2, p1)   4x4 -> 2x2     weight [8,4,3,3], bias [8]
    LeakyReLU(0.2), flatten(1)         -> [N, 32]
    fc1   = Linear(32, 16)                            weight [16,32],  bias [16]
    tanh          (smooth, so d(out)/d(x) depends on every bias but fc2's)
    fc2   = Linear(16, 1)                             weight [1,16],   bias [1]

Parameters use PyTorch's default init under `torch.manual_seed(0)`.

Tensors (`<case>.<role>`; case = everything before the last `.`)
-------------------------------------------------------------------
    critic.<param>            the 8 critic parameters, <param> = state_dict name,
                              e.g. critic.conv1.weight
    wgan_gp.real, .fake       [4,1,8,8] inputs (randn)
    wgan_gp.eps               [4,1,1,1] uniform in [0,1)
    wgan_gp.x_hat             eps*real + (1-eps)*fake
    wgan_gp.out               critic(x_hat) [4,1]
    wgan_gp.input_grad        g = d(out.sum())/d(x_hat) [4,1,8,8] (create_graph=True)
    wgan_gp.gnorm             ||g_i||_2 per sample [4]
    wgan_gp.penalty           ((gnorm - 1)^2).mean(), 0-d
    wgan_gp.grad.<param>      d(penalty)/d(param), second order through the critic.
                              The tanh after fc1 makes d(out)/d(x) depend on the conv and
                              fc1 biases, so their second-order paths are exercised (with
                              LeakyReLU alone those gradients would all be exactly zero).
                              fc2.bias cannot affect d(out)/d(x): stored as zeros (torch
                              materialize_grads), while Agon reports None for it
    r1.out                    critic(real) [4,1]
    r1.input_grad             g = d(out.sum())/d(real) [4,1,8,8] (create_graph=True)
    r1.penalty                (g^2 summed per sample).mean(), 0-d; the usual gamma/2
                              factor is taken as 1 here (scale by gamma/2 in real use)
    r1.grad.<param>           d(penalty)/d(param) (fc2.bias zero, as above)
    batch_norm.train.x        [4,3,5,5] input; .weight, .bias [3]; .grad_out G [4,3,5,5]
    batch_norm.train.out      F.batch_norm(training=True, eps=1e-5)
    batch_norm.train.dx, .dweight, .dbias     gradients of (out * G).sum()
    batch_norm.train.running_mean, .running_var
                              after one update (momentum 0.1) from zeros / ones:
                              running = (1 - m) * running + m * stat, stat = batch mean /
                              unbiased batch variance (PyTorch's convention)

    instance_norm.x           [2,3,5,4] input; .weight, .bias [3]; .grad_out G [2,3,5,4]
    instance_norm.out         F.instance_norm(x, weight, bias, eps=1e-5)
    instance_norm.dx, .dweight, .dbias   gradients of (out * G).sum() (create_graph=True)
    instance_norm.ggx, .ggweight         d((dx^2).sum()) / d(x), d(weight): second order
    reflection_pad.x          [1,2,4,5] input; .grad_out G [1,2,7,9]
    reflection_pad.out, .dx   F.pad(x, (3, 1, 2, 1), mode="reflect") and d((out*G).sum())/dx
    pixel_shuffle.x           [2,8,3,2] input; .grad_out G [2,2,6,4]
    pixel_shuffle.out, .dx    F.pixel_shuffle(x, 2) and d((out*G).sum())/dx

Metadata: `format`, `torch_version`, `num_cases`, `cases`, and one `key=value;...` entry per
case name (so `agon_reference::fixtures::Fixtures::cases` works on this file), plus
`f32_error_floor`: the largest |f32 - f64| / max|f64| over all stored results.

float32 error floor
-------------------
Everything is also computed in float64 from the same (float32-representable) inputs and
parameters. Worst relative error of PyTorch's own float32 results against float64, per
tensor as max|f32 - f64| / max|f64| (the measure tests/torch_autodiff.rs uses):
wgan_gp <= 2.5e-7 (penalty 5.5e-8, param grads <= 2.1e-7), r1 <= 4.0e-7 (penalty 1.6e-7,
param grads <= 2.0e-7), batch_norm <= 9.5e-8; overall max 4.0e-7 (torch 2.15.0, on an
AVX-512 CPU). Regenerated on an AVX2-only AMD EPYC (Zen 3) when the image-to-image cases
were added: the stored float32 tensors of the earlier cases came out bit-identical, the
float64 pass differs in its last bits (r1.out's floor reads 8.5e-7 there), and the new
cases' floors are instance_norm <= 2.9e-7 (second order <= 1.0e-7), reflection_pad and
pixel_shuffle 0 to 4.5e-8 (pure data movement). So the test's 1e-4 relative tolerance is
over 100x above the float32 floor: it tolerates a different summation order, not a wrong
rule.
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
from _fixture_io import save_reproducible  # noqa: E402 (scripts/ is on sys.path)

OUT = os.path.join("tests", "fixtures", "autodiff.safetensors")
MOMENTUM = 0.1
BN_EPS = 1e-5
SLOPE = 0.2


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        x = F.leaky_relu(self.conv1(x), SLOPE)
        x = F.leaky_relu(self.conv2(x), SLOPE)
        x = torch.tanh(self.fc1(x.flatten(1)))
        return self.fc2(x)


def make_inputs():
    """Parameters and inputs, all float32 (the float64 pass casts these exact values)."""
    torch.manual_seed(0)
    critic = Critic()
    params = {k: v.detach().clone() for k, v in critic.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    real = torch.randn(4, 1, 8, 8, generator=g)
    fake = torch.randn(4, 1, 8, 8, generator=g)
    eps = torch.rand(4, 1, 1, 1, generator=g)
    bn_x = torch.randn(4, 3, 5, 5, generator=g) * 2.0 + 0.5
    bn_w = torch.rand(3, generator=g) + 0.5
    bn_b = torch.randn(3, generator=g)
    bn_g = torch.randn(4, 3, 5, 5, generator=g)
    # Drawn after the cases above, so adding them left those values unchanged.
    in_x = torch.randn(2, 3, 5, 4, generator=g) * 1.5 + 0.3
    in_w = torch.rand(3, generator=g) + 0.5
    in_b = torch.randn(3, generator=g)
    in_g = torch.randn(2, 3, 5, 4, generator=g)
    rp_x = torch.randn(1, 2, 4, 5, generator=g)
    rp_g = torch.randn(1, 2, 4 + 2 + 1, 5 + 3 + 1, generator=g)
    ps_x = torch.randn(2, 8, 3, 2, generator=g)
    ps_g = torch.randn(2, 2, 6, 4, generator=g)
    return params, dict(real=real, fake=fake, eps=eps, bn_x=bn_x, bn_w=bn_w, bn_b=bn_b,
                        bn_g=bn_g, in_x=in_x, in_w=in_w, in_b=in_b, in_g=in_g, rp_x=rp_x,
                        rp_g=rp_g, ps_x=ps_x, ps_g=ps_g)


def compute(params, inp, dtype):
    """Every stored result, computed in `dtype`. Returns {name: tensor}."""
    critic = Critic().to(dtype)
    critic.load_state_dict({k: v.to(dtype) for k, v in params.items()})
    names = [k for k, _ in critic.named_parameters()]
    plist = list(critic.parameters())
    x = {k: v.to(dtype) for k, v in inp.items()}
    res = {}

    # (a) WGAN-GP.
    x_hat = (x["eps"] * x["real"] + (1 - x["eps"]) * x["fake"]).requires_grad_(True)
    out = critic(x_hat)
    (g,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    gnorm = g.flatten(1).norm(2, dim=1)
    penalty = ((gnorm - 1) ** 2).mean()
    dparams = torch.autograd.grad(penalty, plist, materialize_grads=True)
    res.update({"wgan_gp.x_hat": x_hat, "wgan_gp.out": out, "wgan_gp.input_grad": g,
                "wgan_gp.gnorm": gnorm, "wgan_gp.penalty": penalty})
    res.update({f"wgan_gp.grad.{n}": d for n, d in zip(names, dparams)})

    # (b) R1 (gamma / 2 = 1).
    real = x["real"].clone().requires_grad_(True)
    out = critic(real)
    (g,) = torch.autograd.grad(out.sum(), real, create_graph=True)
    penalty = g.pow(2).flatten(1).sum(1).mean()
    dparams = torch.autograd.grad(penalty, plist, materialize_grads=True)
    res.update({"r1.out": out, "r1.input_grad": g, "r1.penalty": penalty})
    res.update({f"r1.grad.{n}": d for n, d in zip(names, dparams)})

    # (c) Training-mode batch norm and one running-statistics update.
    bx = x["bn_x"].clone().requires_grad_(True)
    bw = x["bn_w"].clone().requires_grad_(True)
    bb = x["bn_b"].clone().requires_grad_(True)
    rm = torch.zeros(3, dtype=dtype)
    rv = torch.ones(3, dtype=dtype)
    y = F.batch_norm(bx, rm, rv, bw, bb, training=True, momentum=MOMENTUM, eps=BN_EPS)
    dx, dw, db = torch.autograd.grad((y * x["bn_g"]).sum(), [bx, bw, bb])
    res.update({"batch_norm.train.out": y, "batch_norm.train.dx": dx,
                "batch_norm.train.dweight": dw, "batch_norm.train.dbias": db,
                "batch_norm.train.running_mean": rm, "batch_norm.train.running_var": rv})

    # (d) Affine instance norm, its gradients, and second order through them.
    ix = x["in_x"].clone().requires_grad_(True)
    iw = x["in_w"].clone().requires_grad_(True)
    ib = x["in_b"].clone().requires_grad_(True)
    y = F.instance_norm(ix, weight=iw, bias=ib, eps=BN_EPS)
    dx, dw, db = torch.autograd.grad((y * x["in_g"]).sum(), [ix, iw, ib], create_graph=True)
    ggx, ggw = torch.autograd.grad((dx ** 2).sum(), [ix, iw])
    res.update({"instance_norm.out": y, "instance_norm.dx": dx, "instance_norm.dweight": dw,
                "instance_norm.dbias": db, "instance_norm.ggx": ggx,
                "instance_norm.ggweight": ggw})

    # (e) Reflection padding by (left 3, right 1, top 2, bottom 1), as nn.ReflectionPad2d.
    rx = x["rp_x"].clone().requires_grad_(True)
    y = F.pad(rx, (3, 1, 2, 1), mode="reflect")
    (dx,) = torch.autograd.grad((y * x["rp_g"]).sum(), [rx])
    res.update({"reflection_pad.out": y, "reflection_pad.dx": dx})

    # (f) Pixel shuffle, r = 2.
    px = x["ps_x"].clone().requires_grad_(True)
    y = F.pixel_shuffle(px, 2)
    (dx,) = torch.autograd.grad((y * x["ps_g"]).sum(), [px])
    res.update({"pixel_shuffle.out": y, "pixel_shuffle.dx": dx})
    return {k: v.detach() for k, v in res.items()}


def main():
    torch.set_num_threads(1)
    params, inp = make_inputs()
    r32 = compute(params, inp, torch.float32)
    r64 = compute(params, inp, torch.float64)

    floor = 0.0
    print("float32 vs float64, max|f32 - f64| / max|f64| per tensor:")
    for k in sorted(r32):
        a, b = r32[k].double(), r64[k]
        rel = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
        floor = max(floor, rel)
        print(f"  {k:40s} {rel:.2e}")
    print(f"overall f32 error floor {floor:.2e}")

    tensors = {f"critic.{k}": v for k, v in params.items()}
    tensors.update({"wgan_gp.real": inp["real"], "wgan_gp.fake": inp["fake"],
                    "wgan_gp.eps": inp["eps"], "batch_norm.train.x": inp["bn_x"],
                    "batch_norm.train.weight": inp["bn_w"],
                    "batch_norm.train.bias": inp["bn_b"],
                    "batch_norm.train.grad_out": inp["bn_g"],
                    "instance_norm.x": inp["in_x"], "instance_norm.weight": inp["in_w"],
                    "instance_norm.bias": inp["in_b"], "instance_norm.grad_out": inp["in_g"],
                    "reflection_pad.x": inp["rp_x"], "reflection_pad.grad_out": inp["rp_g"],
                    "pixel_shuffle.x": inp["ps_x"], "pixel_shuffle.grad_out": inp["ps_g"]})
    tensors.update(r32)
    tensors = {k: v.to(torch.float32).contiguous().clone() for k, v in tensors.items()}

    case_params = {
        "critic": "layers=conv1,conv2,fc1,fc2;slope=0.2;stride=2;padding=1;kernel=3",
        "wgan_gp": "penalty=mean((norm2(g)-1)^2);slope=0.2",
        "r1": "penalty=mean(sum(g^2));gamma_over_2=1;slope=0.2",
        "batch_norm.train": f"eps={BN_EPS};momentum={MOMENTUM};"
                            "running_mean0=0;running_var0=1",
        "instance_norm": f"eps={BN_EPS};affine=1",
        "reflection_pad": "pad=3,1,2,1",
        "pixel_shuffle": "r=2",
    }
    cases = sorted({k.rsplit(".", 1)[0] for k in tensors})
    meta = {}
    for case in cases:
        top = case.split(".")[0]
        key = case if case in case_params else top
        meta[case] = case_params[key] + (f";of={top}" if ".grad." in case + "." else "")
    meta.update({
        "format": "agon-fixtures-1",
        "torch_version": torch.__version__,
        "num_cases": str(len(cases)),
        "cases": ",".join(cases),
        "f32_error_floor": f"{floor:.2e}",
    })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)

    from safetensors.numpy import load_file  # read back with the reference parser
    back = load_file(OUT)
    assert sorted(back) == sorted(tensors)
    for k, v in back.items():
        assert np.array_equal(v, tensors[k].numpy()), k
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"torch {torch.__version__}")
    print(f"wgan_gp.penalty {r32['wgan_gp.penalty'].item():.6f}, "
          f"r1.penalty {r32['r1.penalty'].item():.6f}")


if __name__ == "__main__":
    main()
