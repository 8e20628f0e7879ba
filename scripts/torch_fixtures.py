"""PyTorch reference fixtures for agon-tensor's convolution and pooling kernels.

Regenerate (from the repository root; needs torch, numpy and safetensors, nothing else):

    /work/torchenv/bin/python scripts/torch_fixtures.py

(any Python with those packages works: `python scripts/torch_fixtures.py`). Generated with
torch 2.15.0 (CPU), safetensors 0.8.0; the version used is also recorded in the file's
metadata under `torch_version`. CI never runs this script: the output file is committed and
read by `tests/torch_fixtures.rs` through `agon_reference::fixtures`.

Output: tests/fixtures/conv_pool.safetensors (float32 tensors only, about 160 KB: 88 cases).

Naming scheme
-------------
Every tensor is named `<op>.<case>.<role>`; `<op>.<case>` is the *case name*, for example
`conv2d.s2_p1_d1_bias.x`. Ops and their roles:

    conv2d.s{S}_p{P}_d{D}_{bias|nobias}         x [N,Cin,H,W], w [Cout,Cin,kh,kw], b [Cout]
                                                (bias cases only), out
    conv_transpose2d.s{S}_p{P}_d{D}_op{OP}_{bias|nobias}
                                                x [N,Cin,H,W], w [Cin,Cout,kh,kw], b, out
    conv2d_weight.s{S}_p{P}_d{D}                x [N,Cin,H,W], grad_out [N,Cout,Ho,Wo],
                                                out = dL/dw for L = sum(conv2d(x, w) * grad_out)
                                                (torch.nn.grad.conv2d_weight semantics)
    max_pool2d.k{K}_s{S}_p{P}                   x, out, indices (flat h*W+w position inside
                                                each input plane, stored as float32)
    avg_pool2d.k{K}_s{S}_p{P}                   x, out (count_include_pad=True, ceil_mode=False)
    upsample_nearest2d.s{SH}x{SW}               x, out (F.interpolate(mode='nearest'))

Stride, padding and dilation are the same on both spatial axes; kernels are deliberately
non-square (3x2) so a swapped axis shows up.

Metadata (string -> string)
---------------------------
    format          "agon-fixtures-1"
    torch_version   torch.__version__ at generation time
    num_cases       number of cases, as a decimal string
    cases           all case names, comma-separated, in generation order
    <case name>     the case's parameters as `key=value` pairs separated by `;`, e.g.
                    "stride=2;padding=1;dilation=1;bias=1" or "kernel=3x2;stride=1;..."
                    (a pair of axis values is written `HxW`, a scalar applies to both axes)
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
from _fixture_io import save_reproducible  # noqa: E402 (scripts/ is on sys.path)

OUT = os.path.join("tests", "fixtures", "conv_pool.safetensors")

tensors = {}
meta = {}
cases = []


def add(case, params, **named):
    """Record one case: its tensors (made contiguous float32) and its parameter string."""
    assert case not in meta, case
    cases.append(case)
    meta[case] = ";".join(f"{k}={v}" for k, v in params.items())
    for role, t in named.items():
        tensors[f"{case}.{role}"] = t.detach().to(torch.float32).contiguous().clone()


def conv2d_cases():
    torch.manual_seed(1)
    for s in (1, 2, 3):
        for p in (0, 1, 2):
            for d in (1, 2):
                for bias in (True, False):
                    x = torch.randn(2, 2, 7, 6)
                    w = torch.randn(3, 2, 3, 2)
                    b = torch.randn(3) if bias else None
                    out = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
                    if out.numel() == 0:
                        continue
                    name = f"conv2d.s{s}_p{p}_d{d}_{'bias' if bias else 'nobias'}"
                    extra = {"b": b} if bias else {}
                    add(name, {"stride": s, "padding": p, "dilation": d, "bias": int(bias)},
                        x=x, w=w, out=out, **extra)


def conv_transpose2d_cases():
    torch.manual_seed(2)
    for s in (1, 2, 3):
        for p in (0, 1):
            for d in (1, 2):
                for op in (0, 1):
                    # PyTorch: output padding must be smaller than either stride or dilation.
                    if not (op < s or op < d):
                        continue
                    # Alternate bias over the grid so both paths are covered at half the size.
                    bias = (s + p + d + op) % 2 == 0
                    x = torch.randn(2, 3, 3, 4)
                    w = torch.randn(3, 2, 3, 2)
                    b = torch.randn(2) if bias else None
                    out = F.conv_transpose2d(x, w, b, stride=s, padding=p,
                                             output_padding=op, dilation=d)
                    name = (f"conv_transpose2d.s{s}_p{p}_d{d}_op{op}_"
                            f"{'bias' if bias else 'nobias'}")
                    extra = {"b": b} if bias else {}
                    add(name, {"stride": s, "padding": p, "dilation": d,
                               "output_padding": op, "bias": int(bias)},
                        x=x, w=w, out=out, **extra)


def conv2d_weight_cases():
    torch.manual_seed(3)
    for s in (1, 2, 3):
        for p in (0, 1):
            for d in (1, 2):
                x = torch.randn(2, 2, 7, 6)
                w = torch.randn(3, 2, 3, 2, requires_grad=True)
                y = F.conv2d(x, w, None, stride=s, padding=p, dilation=d)
                g = torch.randn_like(y)
                (y * g).sum().backward()
                ref = torch.nn.grad.conv2d_weight(x, w.shape, g, stride=s, padding=p,
                                                  dilation=d)
                assert torch.allclose(ref, w.grad, rtol=1e-5, atol=1e-5)
                add(f"conv2d_weight.s{s}_p{p}_d{d}",
                    {"kernel": "3x2", "stride": s, "padding": p, "dilation": d},
                    x=x, grad_out=g, out=w.grad)


def pool_cases():
    torch.manual_seed(4)
    for k in (2, 3):
        for s in (1, 2):
            for p in (0, 1):
                params = {"kernel": k, "stride": s, "padding": p}
                x = torch.randn(2, 2, 7, 8)
                out, idx = F.max_pool2d(x, k, stride=s, padding=p, return_indices=True)
                add(f"max_pool2d.k{k}_s{s}_p{p}", params, x=x, out=out, indices=idx.float())
                x = torch.randn(2, 2, 7, 8)
                out = F.avg_pool2d(x, k, stride=s, padding=p, count_include_pad=True)
                add(f"avg_pool2d.k{k}_s{s}_p{p}", params, x=x, out=out)


def upsample_cases():
    torch.manual_seed(5)
    for sh, sw in ((2, 2), (2, 3)):
        x = torch.randn(2, 3, 4, 5)
        scale = sh if sh == sw else (sh, sw)
        out = F.interpolate(x, scale_factor=scale, mode="nearest")
        add(f"upsample_nearest2d.s{sh}x{sw}", {"scale": f"{sh}x{sw}"}, x=x, out=out)


def main():
    torch.set_num_threads(1)
    with torch.no_grad():
        conv2d_cases()
        conv_transpose2d_cases()
        pool_cases()
        upsample_cases()
    conv2d_weight_cases()  # needs autograd
    meta.update({
        "format": "agon-fixtures-1",
        "torch_version": torch.__version__,
        "num_cases": str(len(cases)),
        "cases": ",".join(cases),
    })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)
    from safetensors.numpy import load_file  # read back with the reference parser
    back = load_file(OUT)
    assert sorted(back) == sorted(tensors)
    for k, v in back.items():
        assert np.array_equal(v, tensors[k].numpy()), k
    print(f"wrote {OUT}: {len(cases)} cases, {len(tensors)} tensors, "
          f"{os.path.getsize(OUT)} bytes, torch {torch.__version__}")


if __name__ == "__main__":
    main()
