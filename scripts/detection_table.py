#!/usr/bin/env python3
"""Regenerates the fake-detection table of docs/results.md: a train-on-generator-A,
test-on-generator-B matrix, for standalone detectors and for each GAN's own discriminator.

Command (from the repository root; needs only Python 3 and Rust):

    python3 scripts/detection_table.py [--work DIR] [--reuse] [--steps 1500]

Generators (all on the shipped 10,000-image Fashion-MNIST split; the default model is the
main job's DCGAN-style network):

    default-s0     the default model, non-saturating loss, --steps steps, seed 0
    default-s1     the same, seed 1
    hinge          the default model with the hinge loss, seed 2
    short          the default model, a fifth of the steps, seed 3
    dcgan28        the reference dcgan28 architecture (~4x slower per step), a quarter of
                   the steps, seed 4

For each generator A: `agon detector train --real fashion-mnist --fake A --n 4000` (4,000
real training images, every fifth image held out, against 4,000 samples of A, 3 epochs),
then `agon detector eval --n 2000` of that detector, and of A's discriminator, against
every generator B: ROC-AUC on the 2,000 held-out real images and 2,000 fresh samples of B
(a sample stream the detector never saw). `--reuse` skips runs and detectors already in
--work. The tables are written between the `detection` markers in docs/results.md.
"""

import argparse
import json
import os
import subprocess
import time

from _results_io import ROOT, agon_binary, write_results_table


def generators(steps):
    return {
        "default-s0": (["--seed", "0"], steps),
        "default-s1": (["--seed", "1"], steps),
        "hinge": (["--seed", "2", "--set", "loss.kind=hinge"], steps),
        "short": (["--seed", "3"], max(steps // 5, 1)),
        "dcgan28": (["--seed", "4", "--model", "dcgan28"], max(steps // 4, 1)),
    }


def run(args, **kw):
    return subprocess.run(args, check=True, cwd=ROOT, **kw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", default=os.path.join(ROOT, "runs", "detection"))
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--reuse", action="store_true")
    a = p.parse_args()
    agon = agon_binary()
    os.makedirs(a.work, exist_ok=True)
    gens = generators(a.steps)
    ckpt = {name: os.path.join(a.work, name, "checkpoint.safetensors") for name in gens}
    seconds = {}
    for name, (flags, steps) in gens.items():
        timing = os.path.join(a.work, name, "train_seconds.txt")
        if not (a.reuse and os.path.exists(ckpt[name])):
            t = time.time()
            run([agon, "train", "--steps", str(steps), "--out", os.path.join(a.work, name),
                 "--quiet", *flags])
            with open(timing, "w") as f:
                f.write(f"{time.time() - t:.0f}\n")
        seconds[name] = open(timing).read().strip() if os.path.exists(timing) else "?"
        print(f"{name}: {steps} steps, {seconds[name]} s", flush=True)
    names = list(gens)
    auc = {}
    for kind in ["standalone", "discriminator"]:
        for a_name in names:
            det = ckpt[a_name]
            if kind == "standalone":
                det = os.path.join(a.work, f"detector-{a_name}.safetensors")
                if not (a.reuse and os.path.exists(det)):
                    run([agon, "detector", "train", "--real", "fashion-mnist", "--fake",
                         ckpt[a_name], "--n", "4000", "--epochs", "3", "--out", det])
            out = os.path.join(a.work, f"eval-{kind}-{a_name}.json")
            run([agon, "detector", "eval", "--detector", det, "--real", "fashion-mnist",
                 "--fake", *[ckpt[b] for b in names], "--n", "2000", "--json", out],
                stdout=subprocess.DEVNULL)
            rows = json.load(open(out))["scores"]
            for b_name, r in zip(names, rows):
                auc[(kind, a_name, b_name)] = r
    lines = [f"Generators: {', '.join(f'{n} ({gens[n][1]} steps, {seconds[n]} s)' for n in names)}.", ""]
    for kind, title in [("standalone", "standalone CNN trained on A's samples"),
                        ("discriminator", "A's own discriminator")]:
        lines += [f"ROC-AUC / average precision / accuracy at 0.5, {title} (rows: A), "
                  "tested on B (columns):", "",
                  "| A \\ B | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for a_name in names:
            cells = [f"{auc[(kind, a_name, b)]['roc_auc']:.3f} / "
                     f"{auc[(kind, a_name, b)]['average_precision']:.3f} / "
                     f"{auc[(kind, a_name, b)]['accuracy']:.3f}" for b in names]
            lines.append(f"| {a_name} | " + " | ".join(cells) + " |")
        lines.append("")
    table = "\n".join(lines)
    write_results_table("detection", table)
    print(table)


if __name__ == "__main__":
    main()
