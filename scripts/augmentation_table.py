#!/usr/bin/env python3
"""Regenerates the small-data table of docs/results.md: does a conditional GAN's data help a
classifier that has only a few labelled images per class?

Command (from the repository root; needs only Python 3 and Rust):

    python3 scripts/augmentation_table.py [--work DIR] [--reuse] [--per-class 10,50,100]
        [--seeds 0,1,2,3,4] [--gan-steps 1000] [--steps 200]

The data is the shipped Fashion-MNIST split: its first 8,000 images are the training part
and its last 2,000 are held out for testing (`agon eval --train-classifier`'s split). For
each N and seed S, seed S picks N images of each class from the training part, and
everything below trains on exactly those images:

    gan       agon train --task conditional --set data.per_class=N --seed S
              --set batch_size=32 --steps GAN_STEPS     (the default model, conditional)
    real      agon eval --train-classifier fashion-mnist --per-class N --seed S --steps STEPS
    classic   the same with --augment classic           (random flips, shifts of up to 2 px)
    gan data  the same with --extra-samples gan/checkpoint.safetensors --extra-n 10N
              (as many generated images as real ones, class-balanced, labelled by the
              class they were generated for)

Each classifier trains for the same number of steps (batches of 64) and is scored on the
2,000 held-out images. The table gives the mean and standard error over the seeds of the
held-out accuracy, the gains over real-only as paired differences (the same seed, the same
images), and how good the GANs are: `agon eval --checkpoint --n 1000`'s class accuracy of
their samples (by the shipped classifier, trained on Fashion-MNIST's own 60,000 training
images) and FID (agon classifier).

`--reuse` keeps the GAN checkpoints and classifier results already in --work; `--no-write`
prints the table without touching docs/results.md (for trial runs). $AGON names a
prebuilt binary (nothing is built). The table is written between the `augmentation`
markers of docs/results.md (the section is appended at the end of the file when the
markers are not there yet). Timing: 5 seeds x 3 N with the defaults took 26.7 minutes on
2 vCPUs of an AMD EPYC shared with another engineer's builds (2026-12-03): a GAN 43-63 s, a
classifier 12-21 s of training plus a few seconds of loading and testing.
"""

import argparse
import json
import math
import os
import subprocess
import time

from _results_io import ROOT, agon_binary, write_results_table

MARKER = "augmentation"
SECTION = "## Does GAN data help a small-data classifier?"
METHODS = ["real", "classic", "gan"]
LABELS = {"real": "real only", "classic": "real + classic augmentation",
          "gan": "real + GAN samples"}


def run(args):
    """Runs `args` quietly; on failure shows what it said and stops."""
    r = subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr}")


def mean_se(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var / len(xs))


def pct(xs):
    m, se = mean_se(xs)
    return f"{100 * m:.1f} ± {100 * se:.1f}"


def signed(xs):
    m, se = mean_se(xs)
    return f"{100 * m:+.1f} ± {100 * se:.1f}"


def ensure_section():
    """Appends the section with empty markers at the end of docs/results.md unless the
    markers are already there (read right before writing: others edit the file too)."""
    path = os.path.join(ROOT, "docs", "results.md")
    with open(path) as f:
        text = f.read()
    if f"<!-- {MARKER}:start -->" in text:
        return
    section = (f"\n{SECTION}\n\n"
               "A classifier trained on N labelled Fashion-MNIST images per class, alone, "
               "with classic augmentation, and with the samples of a conditional GAN trained "
               "on the same N images per class (issue 14):\n\n"
               "```sh\npython3 scripts/augmentation_table.py\n```\n\n"
               f"<!-- {MARKER}:start -->\n<!-- {MARKER}:end -->\n")
    with open(path, "a") as f:
        f.write(("" if text.endswith("\n") else "\n") + section)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=os.path.join(ROOT, "runs", "augmentation"))
    p.add_argument("--per-class", default="10,50,100")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--gan-steps", type=int, default=1000)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--no-write", action="store_true",
                   help="print the table without writing docs/results.md (trial runs)")
    a = p.parse_args()
    agon = agon_binary()
    started = time.monotonic()
    ns = [int(n) for n in a.per_class.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    acc = {(n, m): [] for n in ns for m in METHODS}
    gan_quality = {n: [] for n in ns}
    seconds = {"gan": [], "classifier": []}
    reused = False
    for n in ns:
        for seed in seeds:
            cell = os.path.join(a.work, f"n{n}-s{seed}")
            ckpt = os.path.join(cell, "gan", "checkpoint.safetensors")
            timing = os.path.join(cell, "gan", "train_seconds.txt")
            reused |= a.reuse and os.path.exists(ckpt)
            if not (a.reuse and os.path.exists(ckpt)):
                t = time.monotonic()
                run([agon, "train", "--task", "conditional", "--set", f"data.per_class={n}",
                     "--set", "batch_size=32", "--steps", str(a.gan_steps), "--seed", str(seed),
                     "--out", os.path.join(cell, "gan"), "--quiet"])
                with open(timing, "w") as f:
                    f.write(f"{time.monotonic() - t:.1f}\n")
            if os.path.exists(timing):
                seconds["gan"].append(float(open(timing).read()))
            scores = os.path.join(cell, "gan", "scores.json")
            if not (a.reuse and os.path.exists(scores)):
                run([agon, "eval", "--checkpoint", ckpt, "--n", "1000", "--seed", str(seed),
                     "--out", scores])
            with open(scores) as f:
                s = json.load(f)
            gan_quality[n].append((s["class_accuracy"], s["fid"]))
            extra = {"real": [], "classic": ["--augment", "classic"],
                     "gan": ["--extra-samples", ckpt, "--extra-n", str(10 * n)]}
            for m in METHODS:
                out = os.path.join(cell, f"{m}.json")
                reused |= a.reuse and os.path.exists(out)
                if not (a.reuse and os.path.exists(out)):
                    run([agon, "eval", "--train-classifier", "fashion-mnist", "--per-class",
                         str(n), "--seed", str(seed), "--steps", str(a.steps), "--out", out,
                         *extra[m]])
                with open(out) as f:
                    r = json.load(f)
                assert r["real_per_class"] == [n] * 10, r["real_per_class"]
                acc[(n, m)].append(r["test_accuracy"])
                seconds["classifier"].append(r["train_seconds"])
                print(f"N={n} seed {seed} {m}: {100 * r['test_accuracy']:.2f}% "
                      f"({r['train_images']} training images)", flush=True)
    total = time.monotonic() - started
    test_images = r["test_images"]
    lines = [
        f"Held-out accuracy (%, mean ± standard error over {len(seeds)} seeds: "
        f"{', '.join(map(str, seeds))}) on the {test_images:,} held-out images; each "
        f"classifier {a.steps} steps of 64; GAN: the conditional default model, "
        f"{a.gan_steps} steps of 32 on the same N images per class, 10N of its samples "
        "added (as many as the real images):", "",
        "| labelled images per class | " + " | ".join(LABELS[m] for m in METHODS) +
        " | classic − real | GAN − real | GAN samples: class accuracy, FID |",
        "|---|---|---|---|---|---|---|"]
    for n in ns:
        diffs = [[x - y for x, y in zip(acc[(n, m)], acc[(n, "real")])]
                 for m in ["classic", "gan"]]
        cls = [q[0] for q in gan_quality[n]]
        fid = [q[1] for q in gan_quality[n]]
        fm, fse = mean_se(fid)
        lines.append(f"| {n} | " + " | ".join(pct(acc[(n, m)]) for m in METHODS) + " | " +
                     " | ".join(signed(d) for d in diffs) +
                     f" | {pct(cls)}%, {fm:.0f} ± {fse:.0f} |")
    per_seed = ["", "Per seed (real / classic / GAN, %):", ""]
    for n in ns:
        cells = [" / ".join(f"{100 * acc[(n, m)][i]:.1f}" for m in METHODS)
                 for i in range(len(seeds))]
        per_seed.append(f"- N = {n}: " + "; ".join(f"seed {s}: {c}"
                                                   for s, c in zip(seeds, cells)))
    lines += per_seed
    g, c = seconds["gan"], seconds["classifier"]
    whole = ("not measured: this run reused earlier results" if reused else
             f"{total / 60:.1f} minutes for the whole table in this run")
    lines += ["", f"Time: {whole}"
              + (f"; a GAN took {min(g):.0f}-{max(g):.0f} s" if g else "")
              + (f", a classifier's training {min(c):.0f}-{max(c):.0f} s" if c else "")
              + "."]
    if not a.no_write:
        ensure_section()
        write_results_table(MARKER, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
