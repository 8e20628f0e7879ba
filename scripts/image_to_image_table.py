#!/usr/bin/env python3
"""Regenerates the image-to-image table of docs/results.md: each task's default run, the same
generator trained on its reconstruction loss alone, and the classical baseline, scored on
the same held-out images; and the sample grids of the default runs in docs/.

Command (from the repository root; needs only Python 3 and Rust):

    python3 scripts/image_to_image_table.py [--tasks superres,inpaint,sketch2image,cyclegan] [--reuse]

For each task it runs `agon train --task T` (the task's presets: 2,000 steps of 32 on the
first 9,000 shipped Fashion-MNIST images; cyclegan 1,500 steps of 16) and, for the paired
tasks, the same with `--set translate.adv_weight=0` (no discriminator: L1 only), then
`agon eval --n 1000` on each, which scores the images after the first 9,000, unseen in
training (for cyclegan: those of its two domains), with the model and with the task's
baseline (bicubic upsampling; a diffusion fill of the holes; the edge map itself; the
identity). `--reuse` skips training where a checkpoint is already in --work (its time is
read from train_seconds.txt there). The table is written between the markers in
docs/results.md; the grids (input | output | target, for cyclegan input | output |
translated back, from held-out images) go to docs/<task>-grid.png.
"""

import argparse
import json
import os
import shutil
import subprocess
import time

from _results_io import ROOT, agon_binary, write_results_table

TASKS = ["superres", "inpaint", "sketch2image", "cyclegan"]
METHODS = {"adversarial + L1": [], "L1 only": ["--set", "translate.adv_weight=0"]}
# Unpaired translation has no reconstruction-only version (nothing would pull the outputs
# towards the other domain): its default run beside the identity.
CYCLE_METHODS = {"adversarial + cycle + identity": []}
BASELINE = {"superres": "bicubic", "inpaint": "diffusion fill",
            "sketch2image": "the edge map itself", "cyclegan": "identity"}
MAIN_SCORE = {"superres": "PSNR, SSIM", "inpaint": "PSNR, SSIM", "sketch2image": "FID",
              "cyclegan": "target-domain accuracy"}


def cell(scores, key, fmt):
    return fmt(scores[key]) if key in scores else "-"


def row(task, setting, method, scores, wall):
    return "| " + " | ".join([
        task, setting, method,
        # JSON has no infinity: an exact output (the identity against its input) is null.
        "inf" if scores.get("psnr") is None else f"{scores['psnr']:.2f}",
        f"{scores['ssim']:.3f}",
        cell(scores, "hole_l1", lambda v: f"{v:.3f}"),
        cell(scores, "class_accuracy", lambda v: f"{100 * v:.1f}%"),
        cell(scores, "fid", lambda v: f"{v:.1f}"),
        wall,
    ]) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--work", default=os.path.join(ROOT, "runs", "image-to-image"))
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    agon = agon_binary()
    lines = ["Fashion-MNIST 28x28, each task's defaults (`agon train --task T`: 2,000 steps of "
             "batch 32 on the first 9,000 images); scores of 1,000 held-out images "
             "(`agon eval --n 1000`). PSNR over the set (range 2), Gaussian SSIM, L1 over the "
             "holes, accuracy of the shipped classifier on the outputs, and FID (agon "
             "classifier) of the outputs against the real images:", "",
             "| task | setting | method | PSNR (dB) | SSIM | hole L1 | class accuracy | FID "
             "| training time |",
             "|---|---|---|---|---|---|---|---|---|"]
    cycle_count = "none"
    for task in args.tasks.split(","):
        results = {}
        for method, extra in (CYCLE_METHODS if task == "cyclegan" else METHODS).items():
            name = task if not extra else f"{task}-l1"
            out = os.path.join(args.work, name)
            ckpt = os.path.join(out, "checkpoint.safetensors")
            wall_path = os.path.join(out, "train_seconds.txt")
            if not (args.reuse and os.path.exists(ckpt)):
                if os.path.exists(out):
                    shutil.rmtree(out)
                start = time.monotonic()
                subprocess.run([agon, "train", "--task", task, "--out", out, "--quiet"] + extra,
                               check=True, stdout=subprocess.DEVNULL)
                with open(wall_path, "w") as f:
                    f.write(f"{time.monotonic() - start:.0f}\n")
            wall = "-"
            if os.path.exists(wall_path):
                with open(wall_path) as f:
                    wall = f"{float(f.read()):.0f} s"
            scores_path = os.path.join(out, "scores.json")
            subprocess.run([agon, "eval", "--checkpoint", ckpt, "--n", "1000",
                            "--out", scores_path], check=True, stdout=subprocess.DEVNULL)
            with open(scores_path) as f:
                results[method] = (json.load(f), wall)
            if not extra:
                subprocess.run([agon, "sample", "--checkpoint", ckpt, "--n", "24", "--out",
                                os.path.join(ROOT, "docs", f"{task}-grid.png")],
                               check=True, stdout=subprocess.DEVNULL)
        first = next(iter(results.values()))[0]
        if task == "cyclegan":
            cycle_count = f"{first['samples']} images"
        for setting in first["scores"]:
            for method, (scores, wall) in results.items():
                lines.append(row(task, setting, method, scores["scores"][setting]["model"], wall))
            base = first["scores"][setting].get("baseline")
            if base:
                lines.append(row(task, setting, BASELINE[task], base, "-"))
    lines += ["", "cyclegan (domain A = Sneaker, B = Ankle boot; 1,500 steps of 16 at width 16, "
              "LSGAN), scored on the held-out images of its two domains (" +
              cycle_count + "): PSNR and SSIM against the input image (how much of it is kept), class "
              "accuracy = the share the classifier puts in the target domain, FID against "
              "the target domain's held-out images.",
              "", "Main score per task (issue 13): " +
              "; ".join(f"{t}: {MAIN_SCORE[t]}" for t in args.tasks.split(",")) + "."]
    write_results_table("image-to-image", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
