"""PyTorch side of Agon's benchmarks: the same operations as `cargo bench` times, so the two
can be compared on the same machine in the same session (docs/architecture.md, reference workloads).

Optional; CI never runs it. From the repository root, with any Python that has torch:

    /work/torchenv/bin/python scripts/torch_bench.py [--threads 2] [--min-time 0.5] [--json FILE]
        [--only sgemm,conv,gen,autodiff,train_step] [--filter SUBSTRING] [--match REGEX]

scripts/run_benchmarks.py runs it one group at a time (`--only <group>`) between Agon's
criterion benchmarks and writes BENCHMARKS.md's tables from both.

What it measures (CPU, float32, `torch.set_num_threads(--threads)`, default 2 threads to match
the 2-core target; everything under `torch.no_grad()`, inputs from `torch.randn`):

* `sgemm/square_N`, N in 64, 128, 256, 512, 1024: `torch.mm(a, b)` on N x N matrices; 2*N^3 FLOP.
* `conv/<layer>_<op>` for each convolution of the `dcgan28` workload at batch 64:
      D1 = Conv2d(1, 64, k5, s2, p2)            28x28 -> 14x14
      D2 = Conv2d(64, 128, k5, s2, p2)          14x14 -> 7x7
      G1 = ConvTranspose2d(256, 128, k5, s1, p2)  7x7 -> 7x7
      G2 = ConvTranspose2d(128, 64, k5, s2, p2, output_padding 1)   7x7 -> 14x14
      G3 = ConvTranspose2d(64, 1, k5, s2, p2, output_padding 1)   14x14 -> 28x28
  and the default model's discriminator (width 32):
      defD1 = Conv2d(1, 32, k4, s2, p1)         28x28 -> 14x14
      defD2 = Conv2d(32, 64, k4, s2, p1)        14x14 -> 7x7
  and two 3x3 stride-1 layers (Agon runs them as Winograd F(2x2, 3x3)):
      U3 = Conv2d(64, 64, k3, s1, p1)           28x28 -> 28x28 (a U-Net-sized layer)
      R3 = Conv2d(128, 128, k3, s1, p0)         9x9 -> 7x7 (a CycleGAN residual block)
  with <op> one of
      forward     : F.conv2d (D) / F.conv_transpose2d (G)
      input_grad  : dL/dx given dL/dy; torch.nn.grad.conv2d_input (D) / F.conv2d (G)
      weight_grad : dL/dw given x and dL/dy; torch.nn.grad.conv2d_weight (both, see below)
  Each of the three ops of a layer does the same multiply-adds, counted nominally (padding
  taps included): 2 * N * Cin * Cout * kh * kw * (positions of the conv2d-side output),
  i.e. for a Conv2d the positions of y, for a ConvTranspose2d the positions of its input x.

* `autodiff/mlp2d_step`: one step of the `mlp2d` GAN workload, batch 256, as in
  benches/autodiff.rs: D step on real and fake (BCE with logits, fake detached), G step
  (non-saturating), gradients by `torch.autograd.grad` for exactly the updated model's
  parameters, plain SGD update under no_grad (Adam is not part of this comparison).
* `autodiff/critic_grad_first`, `autodiff/critic_grad_create_graph`: the dcgan28 critic
  (no dropout), batch 64: forward and dD/dx with create_graph off / on.
* `autodiff/critic_gp_step`: that critic's gradient penalty and its gradient w.r.t. every
  critic weight. The autodiff rows run with autograd enabled and report no GFLOP/s.
* `train_step/dcgan28`, `train_step/mlp2d`: one whole training step of the reference
  workload, as benches/train_step.rs: z ~ N(0, 1) drawn inside the step, fake = G(z);
  D step on the fixed real batch and fake.detach() (BCE with logits, targets 1 and 0),
  `zero_grad` + `backward()` + `torch.optim.Adam` step; then G step through the updated D
  (BCE with logits against 1, non-saturating) with D's parameters set to
  `requires_grad=False` for the duration, so only G's gradients are computed; Adam step.
  dcgan28 uses torch_dcgan28.py's G and D at batch 64, Adam(2e-4, (0.5, 0.999)), real data
  uniform on [-1, 1); mlp2d the MLPs above at batch 256, Adam(1e-3, (0.5, 0.999)), real
  data N(0, 1). Models in training mode (BatchNorm batch statistics, Dropout active);
  autograd enabled; no GFLOP/s.

* `train_step/default`: the same step for the model `agon train` builds by default
  (torch_default_model.py's G and D: DCGAN width 32, latent 64, nearest x2 + 3x3 convs in
  G, no BatchNorm in D; G 225,761 and D 36,513 parameters), batch 64, Adam(2e-4, (0.5,
  0.999)), real data uniform on [-1, 1).
* `gen/gen28_forward_256`, `gen/default_forward_256`: the dcgan28 / default generator's
  forward on z ~ N(0, 1) of batch 256 (drawn once, outside the timed call), in evaluation
  mode (BatchNorm on running statistics, as when sampling) under `torch.no_grad()`; no
  GFLOP/s.

Row names are Agon's criterion benchmark ids (benches/sgemm.rs, benches/conv.rs,
benches/autodiff.rs, benches/train_step.rs); `train_step/default` and the `gen/` rows are
the ids the Rust benchmarks for them are to use.

How a row is timed
------------------
Threads are set once, first (`torch.set_num_threads`), and never touched again. Each row is
called for `--warmup` seconds (at least 3 calls: the first call pays for the OpenMP pool's
start, MKL/oneDNN's kernel selection and allocations), then timed with `time.perf_counter`
in blocks of k calls, k chosen so that a block lasts about 2 ms (k = 1 for anything slower),
until `--min-time` seconds and at least 5 blocks have run. The row's time is the median of
the block means; `min_s`, `p25_s` and `p75_s` of the block means are kept in the JSON.

While a row runs the script also reads /proc/stat and its own CPU time (getrusage), so it
knows how much CPU *other* processes (and the hypervisor's steal) took meanwhile, in cores:
`other_cpu`. Before a row it waits (up to `--wait` seconds) for the machine to be quiet
(other_cpu below `--max-other`, 0.15 of a core by default), and a row measured while it was
not is measured again (up to `--retries` times). A row still measured on a busy machine is
marked `busy` and printed with a `!`: its time is not a figure for a table.

Sanity check: within a family of rows that differ only in size (`sgemm/square_N`), a row
whose time per call is longer than a larger size's, or whose GFLOP/s is below 1/16 of the
best GFLOP/s at a larger size, is impossible on a quiet machine; the script prints a
WARNING for each such row and marks it `implausible` in the JSON.

Why the old figures were impossible (issue 10: sgemm 64^3 in 6.8 ms, slower than 512^3)
--------------------------------------------------------------------------------------
Not the Timer's lambda/globals (about 0.1 us), not denormals (randn inputs have none), not
AMX (float32 GEMM does not use it), and not a first-call cost (a warm-up absorbs it). The
cause was CPU contention meeting the OpenMP fork/join: the 2 cores were also running another
engineer's cargo builds (one rustc per core). With `--threads 2`, even a 64x64 `torch.mm`
opens an OpenMP parallel region (idle machine: 10 us with 2 threads, 5.4 us with 1), and the
call returns only when the second thread has run its share. That thread busy-waits in
libgomp between regions (the default spin policy), which uses up its fair share of a core
that a compiler process also wants; the kernel's scheduler (EEVDF, tick-driven) then lets the
compiler run out its slice before the pool thread runs again, so a parallel region costs
a scheduler slice, seen in per-call times as steps of about 4 and 8 ms. (That the spinning
is what makes it this bad is inferred, not traced: with OMP_WAIT_POLICY=PASSIVE, where the
pool threads sleep at once instead of spinning, the same calls cost 16 us, below.) That cost is per call,
not per FLOP, which is why 64^3 came out as slow as or slower than 512^3, and why whole
training steps (hundreds of parallel regions) came out 15-50x slow (mlp2d step with one
rustc running: 15 ms with 1 thread, 720 ms with 2). Measured on this machine with both
cores busy: `torch.mm` 64^3, 2 threads, per-call median 8.0 ms (1 thread: 5.3 us; 2 threads
with OMP_WAIT_POLICY=PASSIVE: 16 us). `Timer.blocked_autorange` could not filter any of
this: it times blocks of thousands of calls (10,000 for 64^3) and takes the median of the
*block means*, and every block contained its share of stalls. Nothing in the old script
noticed that the machine was busy, so the rows were printed as if valid.

The fix is the timing above: short blocks (so a stall spoils a block, not the row), the
busy-machine check, waits and retries, and the size-family sanity check. Figures for a
table must come from a run with no row marked `busy` or `implausible`.

Why every case of a group is built before the first is timed (2026-12-07)
------------------------------------------------------------------------
glibc's malloc serves a block above its mmap threshold with a fresh mapping and hands the
top of its heap back to the kernel past its trim threshold; both thresholds start low (128
KiB, 256 KiB) and rise only as larger blocks are freed. A row timed in a fresh process
right after its own tensors were built ran in that cold state: dcgan28's D1 forward (its
3.2 MB output, oneDNN's reorder buffers) was faulted in page by page on every call, 2.2-2.4
ms with 500,000 page faults in the process, against 0.28-0.29 ms with 120,000 (import and
set-up included) once the whole group had been built (its larger tensors freed, its
transposed layers checked by autograd). `run_benchmarks.py` runs each group (with `--pair-rows`,
each row) in a fresh process, so every table until then had PyTorch's D1 forward at 2.2-3.0
ms (ratio 0.13-0.18 against Agon). The other one-channel rows where PyTorch is slow (D1's
input gradient 3.5-4.0 ms, G3's forward 3.3-4.0, defD1's input gradient 1.5-1.8) read the
same either way. Building the group first brings the thresholds to where a warm process
has them, as criterion's thousands of iterations do on Agon's side.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

BATCH = 64

# name, kind, in_channels, out_channels, kernel, stride, padding, output_padding, input HxW
LAYERS = [
    ("D1", "conv", 1, 64, 5, 2, 2, 0, 28),
    ("D2", "conv", 64, 128, 5, 2, 2, 0, 14),
    ("G1", "convT", 256, 128, 5, 1, 2, 0, 7),
    ("G2", "convT", 128, 64, 5, 2, 2, 1, 7),
    ("G3", "convT", 64, 1, 5, 2, 2, 1, 14),
    ("defD1", "conv", 1, 32, 4, 2, 1, 0, 28),
    ("defD2", "conv", 32, 64, 4, 2, 1, 0, 14),
    ("U3", "conv", 64, 64, 3, 1, 1, 0, 28),
    ("R3", "conv", 128, 128, 3, 1, 0, 0, 9),
]


def sgemm_cases():
    for n in (64, 128, 256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        yield f"sgemm/square_{n}", (lambda a=a, b=b: torch.mm(a, b)), 2.0 * n**3


def conv_cases():
    # Every lambda binds its parameters as defaults: closures over loop variables would all
    # see the last layer's values once the generator has been drained.
    for name, kind, cin, cout, k, s, p, op, hw in LAYERS:
        x = torch.randn(BATCH, cin, hw, hw)
        if kind == "conv":
            # Conv2d weight layout [out, in, kh, kw].
            w = torch.randn(cout, cin, k, k)
            y = F.conv2d(x, w, stride=s, padding=p)
            dy = torch.randn_like(y)
            flops = 2.0 * BATCH * cin * cout * k * k * y.shape[2] * y.shape[3]
            fwd = lambda x=x, w=w, s=s, p=p, op=op: F.conv2d(x, w, stride=s, padding=p)
            # dL/dx of a convolution is the transposed convolution of dL/dy.
            dx = lambda x=x, w=w, dy=dy, s=s, p=p: torch.nn.grad.conv2d_input(
                x.shape, w, dy, stride=s, padding=p)
            dw = lambda x=x, w=w, dy=dy, s=s, p=p: torch.nn.grad.conv2d_weight(
                x, w.shape, dy, stride=s, padding=p)
        else:
            # ConvTranspose2d weight layout [in, out, kh, kw]. A transposed convolution
            # y = convT(x, w) is the adjoint (input gradient) of the convolution
            # x' = conv2d(y', w) that maps the *output* space (cout channels) back to the
            # *input* space (cin channels), with the same tensor w read as a conv2d weight
            # [out=cin, in=cout, kh, kw]. In those conv2d-side roles:
            #   input_grad : dL/dx = conv2d(dL/dy, w)             (the conv2d forward)
            #   weight_grad: dL/dw = conv2d_weight(dL/dy, w.shape, x)
            #                i.e. conv2d's weight gradient with "input" = dL/dy and
            #                "grad_output" = x, which is how Agon computes it too.
            w = torch.randn(cin, cout, k, k)
            y = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op)
            dy = torch.randn_like(y)
            flops = 2.0 * BATCH * cin * cout * k * k * hw * hw
            fwd = lambda x=x, w=w, s=s, p=p, op=op: F.conv_transpose2d(
                x, w, stride=s, padding=p, output_padding=op)
            dx = lambda w=w, dy=dy, s=s, p=p: F.conv2d(dy, w, stride=s, padding=p)
            dw = lambda x=x, w=w, dy=dy, s=s, p=p: torch.nn.grad.conv2d_weight(
                dy, w.shape, x, stride=s, padding=p)
            # Check the roles once against autograd, so the comment above stays true.
            xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
            with torch.enable_grad():
                (F.conv_transpose2d(xr, wr, stride=s, padding=p, output_padding=op)
                 * dy).sum().backward()
            assert torch.allclose(dx(), xr.grad, rtol=1e-3, atol=1e-2), name
            assert torch.allclose(dw(), wr.grad, rtol=1e-3, atol=1e-2), name
        yield f"conv/{name}_forward", fwd, flops
        yield f"conv/{name}_input_grad", dx, flops
        yield f"conv/{name}_weight_grad", dw, flops


def mlp(sizes, act):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i + 2 < len(sizes):
            layers.append(act())
    return torch.nn.Sequential(*layers)


def autodiff_cases():
    """Whole forward + backward computations, named as in benches/autodiff.rs."""
    g = mlp([2, 128, 128, 128, 2], torch.nn.ReLU)
    d = mlp([2, 128, 128, 128, 1], lambda: torch.nn.LeakyReLU(0.2))
    real, z = torch.randn(256, 2), torch.randn(256, 2)
    ones, zeros = torch.ones(256, 1), torch.zeros(256, 1)
    bce = F.binary_cross_entropy_with_logits

    def sgd(model, grads, lr=1e-3):
        with torch.no_grad():
            for p, gr in zip(model.parameters(), grads):
                p.sub_(lr * gr)

    def mlp2d_step():
        fake = g(z)
        d_loss = bce(d(real), ones) + bce(d(fake.detach()), zeros)
        sgd(d, torch.autograd.grad(d_loss, list(d.parameters())))
        g_loss = bce(d(fake), ones)
        sgd(g, torch.autograd.grad(g_loss, list(g.parameters())))

    yield "autodiff/mlp2d_step", mlp2d_step, None

    critic = torch.nn.Sequential(
        torch.nn.Conv2d(1, 64, 5, 2, 2), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(64, 128, 5, 2, 2), torch.nn.LeakyReLU(0.2),
        torch.nn.Flatten(), torch.nn.Linear(6272, 1))
    x = torch.randn(64, 1, 28, 28, requires_grad=True)

    def critic_grad(create_graph):
        return lambda: torch.autograd.grad(critic(x).sum(), x, create_graph=create_graph)

    def gp_step():
        (dx,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        penalty = ((dx.flatten(1).square().sum(1).sqrt() - 1) ** 2).mean()
        # The last bias does not change dD/dx, so it gets no gradient (None in Agon too).
        return torch.autograd.grad(penalty, list(critic.parameters()), allow_unused=True)

    yield "autodiff/critic_grad_first", critic_grad(False), None
    yield "autodiff/critic_grad_create_graph", critic_grad(True), None
    yield "autodiff/critic_gp_step", gp_step, None


def train_step_cases():
    """Whole GAN training steps, named as in benches/train_step.rs."""
    # The dcgan28 models are torch_dcgan28.py's (scripts/ is on sys.path). Imported here,
    # not at the top, because that module also needs numpy and safetensors, which the
    # other rows do not.
    sys.dont_write_bytecode = True  # no scripts/__pycache__ from this import
    from torch_dcgan28 import D as Dcgan28D, G as Dcgan28G
    bce = F.binary_cross_entropy_with_logits

    def make_step(g, d, real, latent_dim, lr):
        g.train()
        d.train()
        g_opt = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
        d_opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
        batch = real.shape[0]
        ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        gen = torch.Generator().manual_seed(2)
        d_params = list(d.parameters())

        def step():
            z = torch.randn(batch, latent_dim, generator=gen)
            fake = g(z)
            # D step: real labelled 1, the detached fake labelled 0.
            d_opt.zero_grad()
            d_loss = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            d_loss.backward()
            d_opt.step()
            # G step (non-saturating) through the updated D. D's parameters are frozen
            # (requires_grad False) so backward computes only G's gradients, as Agon's
            # grad(&[&g_loss], &g_params, ..) does.
            for p in d_params:
                p.requires_grad_(False)
            g_opt.zero_grad()
            g_loss = bce(d(fake), ones)
            g_loss.backward()
            g_opt.step()
            for p in d_params:
                p.requires_grad_(True)
            return d_loss.item(), g_loss.item()

        return step

    g, d = Dcgan28G(), Dcgan28D()
    real = torch.rand(64, 1, 28, 28) * 2 - 1
    yield "train_step/dcgan28", make_step(g, d, real, 100, 2e-4), None

    from torch_default_model import D as DefaultD, G as DefaultG, LATENT_DIM
    g, d = DefaultG(), DefaultD()
    real = torch.rand(64, 1, 28, 28) * 2 - 1
    yield "train_step/default", make_step(g, d, real, LATENT_DIM, 2e-4), None

    g = mlp([2, 128, 128, 128, 2], torch.nn.ReLU)
    d = mlp([2, 128, 128, 128, 1], lambda: torch.nn.LeakyReLU(0.2))
    real = torch.randn(256, 2)
    yield "train_step/mlp2d", make_step(g, d, real, 2, 1e-3), None


def gen_cases():
    """Generator forwards at batch 256 in evaluation mode; the caller runs them under
    no_grad."""
    sys.dont_write_bytecode = True
    from torch_dcgan28 import G as Dcgan28G
    from torch_default_model import G as DefaultG, LATENT_DIM
    for name, g, latent in (("gen/gen28_forward_256", Dcgan28G(), 100),
                            ("gen/default_forward_256", DefaultG(), LATENT_DIM)):
        g.eval()
        z = torch.randn(256, latent)
        yield name, (lambda g=g, z=z: g(z)), None


# Row groups in the order they run: (name prefix, case generator, timed under no_grad).
CASE_GROUPS = [
    ("sgemm", sgemm_cases, True),
    ("conv", conv_cases, True),
    ("gen", gen_cases, True),
    ("autodiff", autodiff_cases, False),
    ("train_step", train_step_cases, False),
]


def cpu_name():
    """The CPU model (from /proc/cpuinfo on Linux), else the platform's machine type."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def lscpu_model_name():
    """`lscpu`'s "Model name" line, or None where lscpu is missing."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return None


def cpu_flags(wanted=("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")):
    """Which of the ISA extensions that matter here /proc/cpuinfo lists."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


class CpuMeter:
    """CPU time taken by everything but this process while it runs, in cores.

    Busy time of the whole machine comes from /proc/stat's first line (user, nice, system,
    irq, softirq, steal; guest time is already in user), this process's from getrusage
    (all its threads). other = machine busy - own. Where /proc/stat is missing (not Linux)
    it reports None, and the busy-machine check is off.
    """

    TICK = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01

    @staticmethod
    def _machine_busy_s():
        try:
            with open("/proc/stat") as f:
                fields = f.readline().split()
        except OSError:
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
        return (user + nice + system + irq + softirq + steal) * CpuMeter.TICK

    @staticmethod
    def _own_s():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._machine_busy_s(), self._own_s()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        busy1 = self._machine_busy_s()
        if busy1 is None or self.busy0 is None:
            self.other = None
        else:
            other_s = (busy1 - self.busy0) - (self._own_s() - self.own0)
            self.other = max(0.0, other_s) / max(self.wall, 1e-9)
        return False


def machine_other_cpu(seconds=0.25):
    """Cores' worth of CPU other processes use, sampled over `seconds` while we sleep."""
    with CpuMeter() as m:
        time.sleep(seconds)
    return m.other


BLOCK_TARGET_S = 2e-3  # aim of one timed block: short, so one scheduler stall spoils one block


def time_row(fn, min_time, warmup):
    """Warm-up, then the median (and spread) of block means; see the module docs."""
    t_end = time.perf_counter() + warmup
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() < t_end:
        fn()
        calls += 1
    per_call = (time.perf_counter() - t0) / calls  # includes the first call: an upper bound
    # Re-estimate from a last few calls, now warm.
    t0 = time.perf_counter()
    for _ in range(3):
        fn()
    per_call = min(per_call, (time.perf_counter() - t0) / 3)
    number = max(1, int(BLOCK_TARGET_S / max(per_call, 1e-9)))
    means = []
    t_stop = time.perf_counter() + min_time
    while len(means) < 5 or time.perf_counter() < t_stop:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        means.append((time.perf_counter() - t0) / number)
    means.sort()

    def q(p):
        return means[min(len(means) - 1, int(p * len(means)))]

    return {"median_s": q(0.5), "min_s": means[0], "p25_s": q(0.25), "p75_s": q(0.75),
            "blocks": len(means), "calls_per_block": number}


def size_family(name):
    """("sgemm/square", 64) for "sgemm/square_64"; None for names without a size."""
    head, _, tail = name.rpartition("_")
    return (head, int(tail)) if head and tail.isdigit() else None


def sanity_check(rows, ratio=16.0):
    """Flags rows that are impossible next to a larger size of the same family."""
    warnings = []
    for r in rows:
        fam = size_family(r["name"])
        if fam is None or r["gflops"] is None:
            continue
        larger = [o for o in rows if o is not r and o["gflops"] is not None
                  and size_family(o["name"]) is not None
                  and size_family(o["name"])[0] == fam[0] and size_family(o["name"])[1] > fam[1]]
        if not larger:
            continue
        slower = [o["name"] for o in larger if o["median_s"] <= r["median_s"]]
        best = max(larger, key=lambda o: o["gflops"])
        why = []
        if slower:
            why.append(f"slower per call than {', '.join(slower)}")
        if r["gflops"] * ratio < best["gflops"]:
            why.append(f"{r['gflops']:.1f} GFLOP/s is under 1/{ratio:g} of {best['name']}'s "
                       f"{best['gflops']:.1f}")
        if why:
            r["implausible"] = "; ".join(why)
            warnings.append(f"WARNING: {r['name']}: {r['implausible']} (on a quiet machine "
                            f"this cannot happen: see 'Why the old figures were impossible')")
    return warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2)")
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="seconds of timed runs per row (0.5)")
    ap.add_argument("--warmup", type=float, default=0.1,
                    help="seconds of untimed calls per row, at least 3 calls (0.1)")
    ap.add_argument("--max-other", type=float, default=0.15,
                    help="cores other processes may use during a row before it counts as "
                         "measured on a busy machine (0.15)")
    ap.add_argument("--wait", type=float, default=30.0,
                    help="seconds to wait for a quiet machine before each row (30)")
    ap.add_argument("--retries", type=int, default=2,
                    help="re-measurements of a row measured on a busy machine (2)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--filter", default="", help="only rows whose name contains this")
    ap.add_argument("--only", metavar="GROUPS", default="",
                    help="comma-separated row groups (the part of a name before its first "
                         "'/': " + ", ".join(g for g, _, _ in CASE_GROUPS) + "); only these "
                         "groups' cases are built and timed (default: all)")
    ap.add_argument("--match", metavar="REGEX", default="",
                    help="only rows whose name matches this regular expression (re.search)")
    args = ap.parse_args()
    only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in only if g not in {name for name, _, _ in CASE_GROUPS}]
    if unknown:
        ap.error(f"--only: unknown group(s) {', '.join(unknown)}")
    pattern = re.compile(args.match) if args.match else None

    # Threads first, before any tensor work starts the pools, and only once.
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []

    def wait_for_quiet():
        deadline = time.perf_counter() + args.wait
        other = machine_other_cpu()
        while other is not None and other > args.max_other and time.perf_counter() < deadline:
            time.sleep(1.0)
            other = machine_other_cpu()
        return other

    def measure(cases):
        for name, fn, flops in cases:
            if args.filter not in name or (pattern is not None and not pattern.search(name)):
                continue
            best = None
            for attempt in range(1 + args.retries):
                wait_for_quiet()
                with CpuMeter() as meter:
                    m = time_row(fn, args.min_time, args.warmup)
                m["other_cpu"] = meter.other
                m["attempts"] = attempt + 1
                busy = meter.other is not None and meter.other > args.max_other
                if best is None or (meter.other or 0.0) < (best["other_cpu"] or 0.0):
                    best = m
                if not busy:
                    break
            best["busy"] = best["other_cpu"] is not None and best["other_cpu"] > args.max_other
            row = {"name": name, "flop": flops,
                   "gflops": flops / best["median_s"] / 1e9 if flops else None}
            row.update(best)
            rows.append(row)
            mark = "  BUSY" if row["busy"] else ""
            print(f"  {name}: {fmt_time(row['median_s'])} (other processes "
                  f"{row['other_cpu'] if row['other_cpu'] is not None else float('nan'):.2f} "
                  f"cores){mark}", file=sys.stderr, flush=True)

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for group, cases, no_grad in CASE_GROUPS:
        if only and group not in only:
            continue  # not even built: train_step's models need numpy and safetensors
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            # Every case of the group is built before the first is timed (module docs:
            # glibc's malloc thresholds).
            measure(list(cases()))
    warnings = sanity_check(rows)

    env = {"torch": torch.__version__, "threads": args.threads,
           "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "python": platform.python_version(), "machine": platform.machine(),
           "processor": cpu_name(), "lscpu_model_name": lscpu_model_name(),
           "cpu_flags": cpu_flags(), "online_cpus": os.cpu_count(),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "loadavg_before": load_before,
           "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
           "min_time_s": args.min_time, "max_other_cores": args.max_other,
           "only": only, "filter": args.filter, "match": args.match,
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    print(f"PyTorch {env['torch']}, {args.threads} thread(s), {env['lscpu_model_name'] or env['processor']}, "
          f"ATen CPU capability {env['cpu_capability']}, ISA flags {' '.join(env['cpu_flags'])}\n")
    print("| benchmark | median time | GFLOP/s | min | other CPU |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        gflops = f"{r['gflops']:.1f}" if r["gflops"] is not None else "-"
        other = f"{r['other_cpu']:.2f}" if r["other_cpu"] is not None else "-"
        flag = " !" if r["busy"] or r.get("implausible") else ""
        print(f"| {r['name']}{flag} | {fmt_time(r['median_s'])} | {gflops} | "
              f"{fmt_time(r['min_s'])} | {other} |")
    busy = [r["name"] for r in rows if r["busy"]]
    if busy:
        warnings.append(f"WARNING: {len(busy)} row(s) measured while other processes used more "
                        f"than {args.max_other} of a core (marked !, column 'other CPU'): "
                        f"{', '.join(busy)}; rerun on a quiet machine before using them")
    for w in warnings:
        print(w)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": rows, "warnings": warnings}, f, indent=2)
        print(f"\nwrote {args.json}", file=sys.stderr)


def fmt_time(t):
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.3f} ms"


if __name__ == "__main__":
    main()
