"""PyTorch side of Agon's benchmarks: the same operations as `cargo bench` times, so the two
can be compared on the same machine in the same session (DESIGN.md section 6).

Optional; CI never runs it. From the repository root, with any Python that has torch:

    /work/torchenv/bin/python scripts/torch_bench.py [--threads 2] [--min-time 0.5] [--json FILE]

What it measures (CPU, float32, `torch.set_num_threads(--threads)`, default 2 threads to match
the 2-core target; everything under `torch.no_grad()`, inputs from `torch.randn`):

* `sgemm/square_N`, N in 64..1024: `torch.mm(a, b)` on N x N matrices; 2*N^3 FLOP.
* `conv/<layer>_<op>` for each convolution of the `dcgan28` workload at batch 64:
      D1 = Conv2d(1, 64, k5, s2, p2)            28x28 -> 14x14
      D2 = Conv2d(64, 128, k5, s2, p2)          14x14 -> 7x7
      G1 = ConvTranspose2d(256, 128, k5, s1, p2)  7x7 -> 7x7
      G2 = ConvTranspose2d(128, 64, k5, s2, p2, output_padding 1)   7x7 -> 14x14
      G3 = ConvTranspose2d(64, 1, k5, s2, p2, output_padding 1)   14x14 -> 28x28
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

Reported per row: median seconds per call (torch.utils.benchmark.Timer.blocked_autorange,
which runs a warm-up and then timed blocks for at least --min-time seconds) and GFLOP/s.
Row names match Agon's criterion benchmark ids (benches/sgemm.rs, benches/conv.rs,
benches/autodiff.rs, benches/train_step.rs).
"""

import argparse
import json
import platform
import sys

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer

BATCH = 64

# name, kind, in_channels, out_channels, kernel, stride, padding, output_padding, input HxW
LAYERS = [
    ("D1", "conv", 1, 64, 5, 2, 2, 0, 28),
    ("D2", "conv", 64, 128, 5, 2, 2, 0, 14),
    ("G1", "convT", 256, 128, 5, 1, 2, 0, 7),
    ("G2", "convT", 128, 64, 5, 2, 2, 1, 7),
    ("G3", "convT", 64, 1, 5, 2, 2, 1, 14),
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

    g = mlp([2, 128, 128, 128, 2], torch.nn.ReLU)
    d = mlp([2, 128, 128, 128, 1], lambda: torch.nn.LeakyReLU(0.2))
    real = torch.randn(256, 2)
    yield "train_step/mlp2d", make_step(g, d, real, 2, 1e-3), None


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2)")
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="seconds of timed runs per row (0.5)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--filter", default="", help="only rows whose name contains this")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rows = []

    def measure(cases):
        for name, fn, flops in cases:
            if args.filter not in name:
                continue
            t = Timer(stmt="fn()", globals={"fn": fn}, num_threads=args.threads)
            m = t.blocked_autorange(min_run_time=args.min_time)
            rows.append({"name": name, "median_s": m.median, "flop": flops,
                         "gflops": flops / m.median / 1e9 if flops else None})

    with torch.no_grad():
        measure(list(sgemm_cases()) + list(conv_cases()))
    measure(autodiff_cases())
    measure(train_step_cases())

    env = {"torch": torch.__version__, "threads": args.threads,
           "python": platform.python_version(), "machine": platform.machine(),
           "processor": cpu_name()}
    print(f"PyTorch {env['torch']}, {args.threads} thread(s), {env['processor']}\n")
    print("| benchmark | median time | GFLOP/s |")
    print("|---|---:|---:|")
    for r in rows:
        t = r["median_s"]
        shown = f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.3f} ms"
        gflops = f"{r['gflops']:.1f}" if r["gflops"] is not None else "-"
        print(f"| {r['name']} | {shown} | {gflops} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": rows}, f, indent=2)
        print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
