"""PyTorch reference fixtures for agon-nn's optimisers and gradient-norm clipping.

Regenerate (from the repository root; needs torch, numpy and safetensors, nothing else):

    /work/torchenv/bin/python scripts/torch_optim_fixtures.py

(any Python with those packages works: `python scripts/torch_optim_fixtures.py`).
Generated with torch 2.15.0 (CPU, `torch.__version__` = "2.15.0+cu132"), safetensors 0.8.0;
the version is also recorded in the file's metadata under `torch_version`. CI never runs this
script: the output is committed and read by `tests/optim.rs`. The file is written with
`scripts/_fixture_io.py`, so regenerating gives identical bytes.

Output: tests/fixtures/optim.safetensors (float32 only, 77 tensors, about 13 KB).

What is recorded
----------------
Two parameters, `w` [3,4] and `b` [4] (randn), and a fixed sequence of STEPS = 5 gradients
for each (randn; `b`'s scaled by 10 so the two differ in magnitude, and one step's `w`
gradient has exact zeros). Each optimiser case starts from the same parameters, is fed the
same gradients (`p.grad = g; opt.step()`, single-tensor implementation: `foreach=False`),
and records the parameters after every step and its state at the end.

Tensors (`<case>.<role>`; case = everything before the last `.`)
-------------------------------------------------------------------
    init.params.w, .b           initial parameters [3,4], [4]
    grads.seq.w, .b             gradients [STEPS,3,4], [STEPS,4]; step k uses [k]
    <opt>.<case>.after_w, after_b
                                parameters after each step [STEPS,3,4], [STEPS,4]
    <opt>.<case>.state_<key>_<param>
                                final `optimizer.state[p][key]` for key in exp_avg,
                                exp_avg_sq, square_avg, momentum_buffer, grad_avg
    <opt>.<case>.state_step     final step count (0-d; PyTorch's per-parameter `step`,
                                equal for both parameters; absent for SGD, which has none)
    clip.<case>.g0, g1, g2      gradients [3,4], [4], [2,2,2] before clipping
    clip.<case>.out0, out1, out2
                                after torch.nn.utils.clip_grad_norm_(max_norm, foreach=False)
    clip.<case>.norm            the returned total norm (0-d)

Optimiser cases (metadata entry per case: `opt=...;lr=...;...`, the constructor's
arguments; unlisted ones are PyTorch's defaults):

    sgd.plain           SGD(lr=0.1)
    sgd.dampening       SGD(lr=0.1, momentum=0.8, dampening=0.3)
    sgd.nesterov_wd     SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
    adam.default        Adam(lr=0.1)
    adam.gan_wd         Adam(lr=0.05, betas=(0.5, 0.999), weight_decay=0.1)
    adamw.default       AdamW(lr=0.1)                (weight_decay 0.01)
    adamw.wd            AdamW(lr=0.05, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.3)
    rmsprop.default     RMSprop(lr=0.01)
    rmsprop.momentum    RMSprop(lr=0.01, alpha=0.9, momentum=0.9)
    rmsprop.centered    RMSprop(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)

The learning rates are large on purpose: each step moves the parameters by O(lr), so a
wrong update is visible against the parameters' own size.

Clip cases: `clip.clipped` (max_norm 1.0, below the total norm, so gradients are scaled),
`clip.unclipped` (max_norm 100.0, nothing changes).

The metadata also holds `defaults.<opt>` entries: PyTorch's default arguments for each
optimiser, read from the constructors' signatures, so tests check Agon's defaults.

float32 error floor
-------------------
Every case is also run in float64 from the same (float32-representable) inputs. Worst
relative error of PyTorch's own float32 results against float64, per tensor as
max|f32 - f64| / max|f64| (the measure tests/optim.rs uses): printed when the script runs and
stored as metadata `f32_error_floor`; it is 2.0e-7 with torch 2.15.0 on CPU, so the test's
1e-6 is five times the float32 floor.
"""

import inspect
import os
import sys

import numpy as np  # noqa: F401 (safetensors' numpy path, via _fixture_io)
import safetensors
import torch

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
from _fixture_io import save_reproducible  # noqa: E402 (scripts/ is on sys.path)

OUT = os.path.join("tests", "fixtures", "optim.safetensors")
STEPS = 5

# (case name, optimiser class name, constructor arguments)
CASES = [
    ("sgd.plain", "SGD", dict(lr=0.1)),
    ("sgd.dampening", "SGD", dict(lr=0.1, momentum=0.8, dampening=0.3)),
    ("sgd.nesterov_wd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam.default", "Adam", dict(lr=0.1)),
    ("adam.gan_wd", "Adam", dict(lr=0.05, betas=(0.5, 0.999), weight_decay=0.1)),
    ("adamw.default", "AdamW", dict(lr=0.1)),
    ("adamw.wd", "AdamW", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.3)),
    ("rmsprop.default", "RMSprop", dict(lr=0.01)),
    ("rmsprop.momentum", "RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9)),
    ("rmsprop.centered", "RMSprop",
     dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
]
CLIP_CASES = [("clip.clipped", 1.0), ("clip.unclipped", 100.0)]
STATE_KEYS = ["exp_avg", "exp_avg_sq", "square_avg", "momentum_buffer", "grad_avg"]
PARAMS = ["w", "b"]


def fmt(v):
    """A hyperparameter as `key=value` text: bools as 1/0, pairs as `a,b`, floats by repr."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, tuple):
        return ",".join(fmt(x) for x in v)
    return repr(v)


def make_inputs():
    g = torch.Generator().manual_seed(0)
    init = {"w": torch.randn(3, 4, generator=g), "b": torch.randn(4, generator=g)}
    grads = {"w": torch.randn(STEPS, 3, 4, generator=g),
             "b": torch.randn(STEPS, 4, generator=g) * 10.0}
    grads["w"][2, 1, :2] = 0.0  # exact zeros: sqrt(0) and 0/denom paths
    clip = [torch.randn(3, 4, generator=g), torch.randn(4, generator=g),
            torch.randn(2, 2, 2, generator=g)]
    return init, grads, clip


def run_case(cls_name, kwargs, init, grads, dtype):
    params = [init[n].to(dtype).clone().requires_grad_(True) for n in PARAMS]
    opt = getattr(torch.optim, cls_name)(params, foreach=False, **kwargs)
    after = {n: [] for n in PARAMS}
    for k in range(STEPS):
        for n, p in zip(PARAMS, params):
            p.grad = grads[n][k].to(dtype).clone()
        opt.step()
        for n, p in zip(PARAMS, params):
            after[n].append(p.detach().clone())
    res = {f"after_{n}": torch.stack(after[n]) for n in PARAMS}
    steps = set()
    for n, p in zip(PARAMS, params):
        state = opt.state[p]
        for key in STATE_KEYS:
            if state.get(key) is not None:
                res[f"state_{key}_{n}"] = state[key].detach().clone()
        if "step" in state:
            steps.add(float(state["step"]))
    if steps:
        assert steps == {float(STEPS)}, steps
        res["state_step"] = torch.tensor(float(STEPS), dtype=dtype)
    return res


def run_clip(max_norm, clip, dtype):
    ps = [torch.zeros_like(g, dtype=dtype, requires_grad=True) for g in clip]
    for p, g in zip(ps, clip):
        p.grad = g.to(dtype).clone()
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm, foreach=False)
    res = {f"out{i}": p.grad.clone() for i, p in enumerate(ps)}
    res["norm"] = norm.detach().clone()
    return res


def defaults(cls_name):
    sig = inspect.signature(getattr(torch.optim, cls_name).__init__)
    keep = ["lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps",
            "alpha", "centered"]
    out = []
    for k in keep:
        if k in sig.parameters:
            out.append(f"{k}={fmt(sig.parameters[k].default)}")
    return ";".join(out)


def main():
    torch.set_num_threads(1)
    init, grads, clip = make_inputs()
    tensors = {f"init.params.{n}": init[n] for n in PARAMS}
    tensors.update({f"grads.seq.{n}": grads[n] for n in PARAMS})
    meta = {"init.params": f"params={','.join(PARAMS)}",
            "grads.seq": f"steps={STEPS};params={','.join(PARAMS)}"}
    floor = 0.0
    print("float32 vs float64, max|f32 - f64| / max|f64| per tensor:")

    def record(case, r32, r64):
        nonlocal floor
        for role in sorted(r32):
            a, b = r32[role].double(), r64[role]
            rel = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
            floor = max(floor, rel)
            print(f"  {case + '.' + role:40s} {rel:.2e}")
            tensors[f"{case}.{role}"] = r32[role]

    for case, cls_name, kwargs in CASES:
        r32 = run_case(cls_name, kwargs, init, grads, torch.float32)
        r64 = run_case(cls_name, kwargs, init, grads, torch.float64)
        record(case, r32, r64)
        spec = ";".join(f"{k}={fmt(v)}" for k, v in kwargs.items())
        meta[case] = f"opt={cls_name.lower()};{spec}"
    for case, max_norm in CLIP_CASES:
        r32 = run_clip(max_norm, clip, torch.float32)
        r64 = run_clip(max_norm, clip, torch.float64)
        record(case, r32, r64)
        for i, g in enumerate(clip):
            tensors[f"{case}.g{i}"] = g
        meta[case] = f"max_norm={fmt(max_norm)}"
    print(f"overall f32 error floor {floor:.2e}")

    for cls_name in ["SGD", "Adam", "AdamW", "RMSprop"]:
        meta[f"defaults.{cls_name.lower()}"] = defaults(cls_name)
    tensors = {k: v.to(torch.float32).contiguous().clone() for k, v in tensors.items()}
    cases = sorted({k.rsplit(".", 1)[0] for k in tensors})
    assert set(cases) <= set(meta), set(cases) - set(meta)
    meta.update({
        "format": "agon-fixtures-1",
        "torch_version": torch.__version__,
        "num_cases": str(len(cases)),
        "cases": ",".join(cases),
        "steps": str(STEPS),
        "f32_error_floor": f"{floor:.2e}",
    })
    save_reproducible(OUT, tensors, meta)

    # Read back with the safetensors library: the hand-written layout must be standard.
    from safetensors.torch import load_file
    back = load_file(OUT)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"torch {torch.__version__}, safetensors {safetensors.__version__}")


if __name__ == "__main__":
    main()
