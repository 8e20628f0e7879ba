#!/usr/bin/env python3
"""Regenerates the inversion, editing and memorisation tables of docs/results.md.

Command (from the repository root; needs only Python 3 and Rust):

    python3 scripts/latent_tools_table.py [--work DIR] [--reuse]

Models (trained into --work unless --reuse finds them there):

    default-s0   the default model, 1,500 steps, seed 0, all 10,000 shipped Fashion-MNIST
                 images (the detection table's generator of the same name)
    short        the same for 300 steps, seed 3
    limit100     the default model trained on the first 100 images only, 1,500 steps: a
                 setting that invites memorisation, to show what the figure reports then

Inversion (`agon invert --real 200`: the first 200 shipped images, which the model trained
on; the default run uses them all): Adam on z from 1 or 4 random starts, the encoder's code
alone (`--train-encoder`, 2,000 batches of 64 samples), and the encoder's code plus 3 random
starts. Editing (`agon edit`, strength 3, measured over 200 fresh codes): InterFaceGAN
boundaries for brightness, ink and three classes' probabilities, and the first three GANSpace
components. Memorisation (`agon neighbours --score-n 1000 --reference 1000`). The tables go
between the `latent-tools` markers in docs/results.md; the strips and grids to docs/.
"""

import argparse
import json
import os
import shutil
import subprocess
import time

from _results_io import ROOT, agon_binary, write_results_table

MODELS = {
    "default-s0": ["--steps", "1500", "--seed", "0"],
    "short": ["--steps", "300", "--seed", "3"],
    "limit100": ["--steps", "1500", "--seed", "0", "--set", "data.limit=100"],
}
DIRECTIONS = ["brightness", "ink", "class:trouser", "class:sneaker", "class:bag", "pc0", "pc1",
              "pc2"]


def run(args, **kw):
    return subprocess.run(args, check=True, cwd=ROOT, **kw)


def timed(args):
    t = time.time()
    run(args, stdout=subprocess.DEVNULL)
    return time.time() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", default=os.path.join(ROOT, "runs", "latent-tools"))
    p.add_argument("--reuse", action="store_true")
    a = p.parse_args()
    agon = agon_binary()
    os.makedirs(a.work, exist_ok=True)
    ckpt = {}
    for name, flags in MODELS.items():
        out = os.path.join(a.work, name)
        ckpt[name] = os.path.join(out, "checkpoint.safetensors")
        if not (a.reuse and os.path.exists(ckpt[name])):
            run([agon, "train", "--out", out, "--quiet", *flags])
    c = ckpt["default-s0"]

    # Inversion.
    enc = os.path.join(a.work, "encoder.safetensors")
    enc_seconds = None
    if not (a.reuse and os.path.exists(enc)):
        enc_seconds = timed([agon, "invert", "--checkpoint", c, "--train-encoder", enc,
                             "--encoder-steps", "2000"])
    methods = [
        ("Adam on z, 1 random start, 300 steps", ["--restarts", "1"]),
        ("Adam on z, 4 random starts, 300 steps", ["--restarts", "4"]),
        ("encoder alone", ["--encoder", enc, "--steps", "0"]),
        ("encoder + 3 random starts, 300 steps", ["--encoder", enc, "--restarts", "4"]),
    ]
    inv = ["| method | PSNR (dB) | feature distance | seconds |", "|---|---:|---:|---:|"]
    for i, (label, flags) in enumerate(methods):
        out = os.path.join(a.work, f"invert-{i}")
        secs = timed([agon, "invert", "--checkpoint", c, "--real", "200", "--out", out, *flags])
        doc = json.load(open(os.path.join(out, "inversion.json")))
        inv.append(f"| {label} | {doc['mean_psnr']:.2f} | {doc['mean_feature_distance']:.2f} | "
                   f"{secs:.0f} |")
        last = out
    shutil.copy(os.path.join(last, "pairs.png"), os.path.join(ROOT, "docs", "inversion-pairs.png"))

    # Editing.
    ed = ["| direction | target at -3 / 0 / +3 | other classes moved (TV, -3 / +3) | "
          "pixel RMS change (-3 / +3) |", "|---|---|---:|---:|"]
    for d in DIRECTIONS:
        js = os.path.join(a.work, f"edit-{d.replace(':', '-')}.json")
        strip = os.path.join(ROOT, "docs", f"edit-{d.replace(':', '-')}.png")
        run([agon, "edit", "--checkpoint", c, "--direction", d, "--out", strip, "--json", js],
            stdout=subprocess.DEVNULL)
        doc = json.load(open(js))
        key = "target_class" if d.startswith("class:") else (d if d in ("brightness", "ink") else None)
        target = ("ink " if key is None else "") + " / ".join(
            f"{v:.3f}" for v in doc[key or "ink"])
        tv = doc["other_classes_tv"]
        rms = doc["pixel_rms_change"]
        ed.append(f"| {d} | {target} | {tv[0]:.3f} / {tv[1]:.3f} | {rms[0]:.3f} / {rms[1]:.3f} |")

    # Memorisation.
    mem = ["| model | space | samples nearer a training image than the median real pair | "
           "near-copies | median distance, sample / real pair |", "|---|---|---:|---:|---:|"]
    for name in MODELS:
        js = os.path.join(a.work, f"neighbours-{name}.json")
        grid = os.path.join(ROOT, "docs", f"neighbours-{name}.png")
        run([agon, "neighbours", "--checkpoint", ckpt[name], "--n", "8", "--k", "4", "--out", grid,
             "--json", js], stdout=subprocess.DEVNULL)
        doc = json.load(open(js))
        for space in ["pixels", "features"]:
            s = doc[space]
            mem.append(f"| {name} ({doc['training_images']} training images) | {space} | "
                       f"{100 * s['share_closer_than_median_real_pair']:.1f}% | "
                       f"{100 * s['share_near_copies']:.1f}% | "
                       f"{s['median_sample_to_train_distance']:.2f} / "
                       f"{s['median_real_to_real_distance']:.2f} |")

    enc_note = f" (encoder trained in {enc_seconds:.0f} s)" if enc_seconds else ""
    table = "\n".join(
        [f"Inversion of 200 shipped images through default-s0{enc_note}:", ""] + inv +
        ["", "Editing default-s0 (strength 3; the target is the attribute the direction was "
         "fitted for, ink for the GANSpace components):", ""] + ed +
        ["", "Memorisation (1,000 samples against the training images; by construction half of "
         "the real images are nearer another real image than the median):", ""] + mem)
    write_results_table("latent-tools", table)
    print(table)


if __name__ == "__main__":
    main()
