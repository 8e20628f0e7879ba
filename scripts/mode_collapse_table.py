#!/usr/bin/env python3
"""Regenerates the mode-collapse tables of docs/results.md.

Commands (from the repository root; need only Python 3 and Rust):

    python3 scripts/mode_collapse_table.py [--seeds 10] [--steps 2000]    # collapsing setting
    python3 scripts/mode_collapse_table.py --table converged [--seeds 10] # at convergence

For each dataset (ring8, grid25), each method and each seed, it trains an MLP GAN with
`agon train --model mlp` and scores 2,500 samples with `agon eval` (PacGAN protocol: a
sample is high quality within 3 standard deviations of its nearest mode; a mode is captured
by at least one high-quality sample). It prints a markdown table of mean and standard error
over seeds and writes it between the table's markers in docs/results.md.

Two tables:
- `collapse` (the default): COMMON's setting, 2,000 steps, vanilla GAN / PacGAN2 / WGAN-GP,
  where the vanilla GAN collapses on ring-8. About 20 minutes on 2 cores (Zen 4, seed-0
  runs of 2026-12-04: 9 s each for vanilla and PacGAN2, 46 s for WGAN-GP).
- `converged`: CONVERGED's setting (latent size 2, Adam 3e-4 for both networks, an EMA of
  G with decay 0.999 scored in its place, 32,000 steps), vanilla GAN and PacGAN2: how
  precise the samples get when trained to convergence. 39 minutes for the whole table on
  2 vCPUs of an Intel Xeon (2026-12-06: 40 runs, two at a time, about 140 s each). `--data` and
  `--methods` run part of it, and `--reuse` keeps finished runs whose recorded settings
  match, so a table can be completed piece by piece.

`--jobs` (default: the number of CPUs) trains that many seeds side by side, each with
`RAYON_NUM_THREADS` = CPUs / jobs. These MLPs are too small for two threads to beat one
(2,000 grid-25 steps: 8.5 s on one thread, 7.9 s on two), so one run per core nearly
doubles the throughput; the results do not depend on the thread count.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

from _results_io import ROOT, agon_binary, write_results_table

# Latent size 256 and Adam 3e-4 (beta 0.5, 0.999) for both networks: a setting where the
# vanilla GAN collapses on ring-8, as in the papers' baselines. (With latent size 2 and Adam
# 1e-3 it does not: 7.8 of 8 modes over 10 seeds, and ring-8 then separates nothing.)
COMMON = ["--model", "mlp", "--set", "batch_size=256", "--set", "model.latent_dim=256",
          "--set", "optim.lr_g=3e-4", "--set", "optim.lr_d=3e-4", "--quiet"]
METHODS = {
    "vanilla GAN": [],
    "PacGAN2": ["--set", "model.pack=2"],
    "WGAN-GP": ["--set", "loss.kind=wasserstein", "--set", "loss.gp_weight=0.1",
                "--set", "optim.n_critic=5"],
}
# Converged: the same networks with latent size 2 (not 256), trained 16x longer, scored
# through an EMA of G's weights (decay 0.999, about the last 1,000 steps). Found on seed 0
# (2026-12-06, PacGAN2, high-quality share): on grid-25 at 16,000 steps, latent size 256
# with Adam 1e-4 gave 2.5%, latent size 2 13.7% (hidden width 256: 21.1%), with Adam 3e-4
# 47.0% and with Adam 1e-3 76.5% but 22 modes; Adam 3e-4 for 32,000 steps gave 94.8% with
# all 25 modes, and 98.3% on ring-8. (The earlier recipe, latent size 256 and Adam 1e-4,
# reached 88% on ring-8 and 12% on grid-25 at 32,000 steps.)
CONVERGED = ["--model", "mlp", "--set", "batch_size=256", "--set", "model.latent_dim=2",
             "--set", "optim.lr_g=3e-4", "--set", "optim.lr_d=3e-4",
             "--set", "optim.ema_decay=0.999", "--quiet"]
CONVERGED_METHODS = {name: METHODS[name] for name in ("vanilla GAN", "PacGAN2")}
TABLES = {
    # name: (common arguments, methods, default steps, docs/results.md marker)
    "collapse": (COMMON, METHODS, 2000, "mode-collapse"),
    "converged": (CONVERGED, CONVERGED_METHODS, 32000, "mode-collapse-converged"),
}

# The published baselines to compare with are PacGAN (Lin et al. 2018) Table 1 and VEEGAN
# (Srivastava et al. 2017) Table 1. Their figures are not transcribed here: they could not
# be checked against the papers from this machine, and a misquoted baseline is worse than
# none. Add them with the page they come from.
PUBLISHED = {}


def run(args, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env=env)


def matches(config_path, train_args):
    """Whether the finished run's config.toml has every setting `train_args` asks for
    (`--data`, `--steps`, `--seed` and each `--set key=value`): then `--reuse` keeps it."""
    if not os.path.exists(config_path):
        return False
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    wanted = {"data.name": train_args[train_args.index("--data") + 1],
              "steps": train_args[train_args.index("--steps") + 1],
              "seed": train_args[train_args.index("--seed") + 1]}
    wanted.update(a.split("=", 1) for i, a in enumerate(train_args)
                  if i > 0 and train_args[i - 1] == "--set")
    for key, value in wanted.items():
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            if float(node) != float(value):
                return False
        elif str(node) != value:
            return False
    return True


def mean_se(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, 0.0
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var / len(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", choices=sorted(TABLES), default="collapse")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--steps", type=int, help="training steps (default: the table's)")
    ap.add_argument("--data", default="ring8,grid25", help="comma list of datasets")
    ap.add_argument("--methods", help="comma list of the table's methods (default: all)")
    ap.add_argument("--work", default=os.path.join(ROOT, "runs", "mode-collapse"))
    ap.add_argument("--reuse", action="store_true",
                    help="keep finished runs in --work whose config.toml and scores.json "
                         "match this table's settings, instead of training them again")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="seeds trained side by side (default: the number of CPUs)")
    args = ap.parse_args()
    if args.jobs < 1:
        sys.exit("--jobs must be at least 1")
    common, methods, steps, marker = TABLES[args.table]
    steps = args.steps or steps
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",")]
        unknown = [m for m in wanted if m not in methods]
        if unknown:
            sys.exit(f"unknown method(s) {unknown}; the {args.table} table has {list(methods)}")
        methods = {m: methods[m] for m in wanted}
    agon = agon_binary()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)

    def scored_run(data, name, extra, seed):
        """Train (unless --reuse finds it) and score one seed; its scores.json."""
        out = os.path.join(args.work, args.table, data, re.sub(r"\W+", "-", name), str(seed))
        train = ["train", "--data", data, "--steps", str(steps),
                 "--seed", str(seed), "--out", out] + common + extra
        scores = os.path.join(out, "scores.json")
        reused = (args.reuse and os.path.exists(scores)
                  and matches(os.path.join(out, "config.toml"), train))
        if not reused:
            run([agon] + train, threads)
            run([agon, "eval", "--checkpoint", os.path.join(out, "checkpoint.safetensors"),
                 "--out", scores, "--seed", str(seed)], threads)
        with open(scores) as f:
            s = json.load(f)
        print(f"{data} {name} seed {seed}: {s['modes']} modes, "
              f"{100 * s['high_quality']:.1f}% HQ" + (" (reused)" if reused else ""),
              file=sys.stderr)
        return s

    cells = [(data, name, extra) for data in args.data.split(",")
             for name, extra in methods.items()]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(data, name, seed): pool.submit(scored_run, data, name, extra, seed)
                   for data, name, extra in cells for seed in range(args.seeds)}
        rows = []
        for data, name, _ in cells:
            runs = [futures[(data, name, seed)].result() for seed in range(args.seeds)]
            rows.append((data, name, mean_se([s["modes"] for s in runs]),
                         mean_se([100 * s["high_quality"] for s in runs]),
                         mean_se([s["reverse_kl"] for s in runs])))
    lines = [f"Agon, {args.seeds} seeds, {steps} steps, mean ± standard error:", "",
             "| data | method | modes | high quality (%) | reverse KL |", "|---|---|---|---|---|"]
    for data, name, (m, ms), (h, hs), (k, ks) in rows:
        lines.append(f"| {data} | {name} | {m:.1f} ± {ms:.1f} | {h:.1f} ± {hs:.1f} | {k:.3f} ± {ks:.3f} |")
    if PUBLISHED:
        lines += ["", "Published (their architectures and schedules):", "",
                  "| data | method | reported |", "|---|---|---|"]
        lines += [f"| {d} | {m} | {v} |" for (d, m), v in PUBLISHED.items()]
    else:
        lines += ["", "Compare with PacGAN (Lin et al. 2018) Table 1 and VEEGAN (Srivastava "
                  "et al. 2017) Table 1 (not transcribed; see the script)."]
    table = "\n".join(lines)
    print(table)
    write_results_table(marker, table)


if __name__ == "__main__":
    main()
