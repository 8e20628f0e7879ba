#!/usr/bin/env python3
"""Power spectrum of a checkpoint's samples against the real images' (docs/results.md, "The
stripe texture"): is there an excess of high frequencies, as a checkerboard would make?

    /path/to/venv/bin/python scripts/sample_spectrum.py CHECKPOINT [CHECKPOINT ...]

Needs NumPy and Pillow (the torch venv of the fixture scripts has them after
`pip install pillow`). For each checkpoint it draws 1,024 samples with `agon sample` (16
grids of 64, seeds 0-15), takes each image's 2-D power spectrum with its mean removed,
averages them, and prints the fake-over-real power in four bands of max(|fx|, |fy|) (in
cycles per pixel) and each set's share of power above a quarter cycle per pixel. Real
images: the first 1,024 of the shipped Fashion-MNIST split. 28x28 grey models only.
"""

import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results_io import ROOT, agon_binary  # noqa: E402

SIDE, PAD, PER_ROW = 28, 2, 8


def fakes(agon, checkpoint, grids=16):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(grids):
            path = os.path.join(tmp, f"g{seed}.png")
            subprocess.run([agon, "sample", "--checkpoint", checkpoint, "--n", "64",
                            "--seed", str(seed), "--out", path], check=True, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            grid = np.asarray(Image.open(path), dtype=np.float64) / 255.0
            step = SIDE + PAD
            for i in range(PER_ROW):
                for j in range(PER_ROW):
                    out.append(grid[PAD + i * step: PAD + i * step + SIDE,
                                    PAD + j * step: PAD + j * step + SIDE])
    return np.stack(out)


def real(n=1024):
    path = os.path.join(ROOT, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz")
    with gzip.open(path) as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, SIDE, SIDE)
    return images[:n].astype(np.float64) / 255.0


def spectrum(x):
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    agon = agon_binary()
    r = spectrum(real())
    f_axis = np.abs(np.fft.fftfreq(SIDE))
    band = np.maximum.outer(f_axis, f_axis)
    high = band >= 0.25
    for checkpoint in sys.argv[1:]:
        s = spectrum(fakes(agon, checkpoint))
        ratios = []
        for lo, hi in [(0, 0.125), (0.125, 0.25), (0.25, 0.375), (0.375, 0.51)]:
            m = (band >= lo) & (band < hi)
            ratios.append(f"{lo:.3f}-{min(hi, 0.5):.3f}: {s[m].sum() / r[m].sum():.2f}")
        print(checkpoint)
        print("  fake / real power by band:", ", ".join(ratios))
        print(f"  share above 0.25 cycles/pixel: fake {s[high].sum() / s.sum():.3f}, "
              f"real {r[high].sum() / r.sum():.3f}")


if __name__ == "__main__":
    main()
