#!/usr/bin/env python3
"""Latent walks with `agon interpolate` (issue 14): slerp against linear on the default model,
and class-to-class walks on a conditional one.

    python3 scripts/interpolation_grids.py

Uses runs/fashion-mnist/checkpoint.safetensors (the main job: `cargo run --release -- train`)
and runs/conditional/checkpoint.safetensors; each is trained first when missing (the
conditional model: `agon train --task conditional --steps 3000`, about 3 minutes on two
cores). Writes docs/interpolation-slerp.png and docs/interpolation-linear.png (the same four
walks, seed 0, 10 steps each: row r moves between the same two noise vectors in both) and
docs/interpolation-class-A-B.png for T-shirt to trouser (0-1), sneaker to ankle boot (7-9),
bag to dress (8-3) and pullover to coat (2-4): two rows each, each row's noise held fixed
while the label moves. Standard library only.
"""

import os
import subprocess
import sys

from _results_io import ROOT, agon_binary, trained_checkpoint

DEFAULT = os.path.join(ROOT, "runs", "fashion-mnist")
CONDITIONAL = os.path.join(ROOT, "runs", "conditional")
# Fashion-MNIST classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
# 6 shirt, 7 sneaker, 8 bag, 9 ankle boot.
CLASS_WALKS = [(0, 1), (7, 9), (8, 3), (2, 4)]


def main():
    agon_path = agon_binary()

    def agon(*args):
        print("+ agon", " ".join(args), flush=True)
        subprocess.run([agon_path, *args], cwd=ROOT, check=True)

    plain = trained_checkpoint(agon_path, DEFAULT)
    for mode in ("slerp", "linear"):
        agon("interpolate", "--checkpoint", plain, "--mode", mode, "--rows", "4", "--steps", "10",
             "--seed", "0", "--out", os.path.join(ROOT, "docs", f"interpolation-{mode}.png"))
    conditional = trained_checkpoint(agon_path, CONDITIONAL, "--task", "conditional",
                                     "--steps", "3000")
    for a, b in CLASS_WALKS:
        out = os.path.join(ROOT, "docs", f"interpolation-class-{a}-{b}.png")
        agon("interpolate", "--checkpoint", conditional, "--from-class", str(a), "--to-class",
             str(b), "--rows", "2", "--steps", "10", "--seed", "0", "--out", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
