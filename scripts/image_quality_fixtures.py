"""scikit-image reference values for agon_metrics::{psnr, ssim}.

Regenerate (from the repository root; needs numpy, scikit-image, torch and safetensors):

    /work/torchenv/bin/python scripts/image_quality_fixtures.py

CI never runs this: the output is committed and read by `tests/image_quality.rs`. Written
with `scripts/_fixture_io.py`, so regenerating gives identical bytes; the scikit-image
version is in the metadata (`skimage_version`).

Output: tests/fixtures/image_quality.safetensors. For each case `<name>`:

    <name>.output, <name>.target   [N, C, H, W] float32 images
    <name>.psnr, <name>.ssim       [N] float32: skimage.metrics.peak_signal_noise_ratio and
                                   structural_similarity(gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, channel_axis=0,
                                   data_range=<range>) per image, computed in float64
Metadata `<name>` = "data_range=<range>".

Cases: gray 28x28 in [-1, 1] (range 2) at three noise levels; RGB 16x20 in [0, 1]; the
smallest image the window fits, 11x11; a blurred target (structure lost, PSNR still high).
"""

import os
import sys

import numpy as np
import skimage
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.dont_write_bytecode = True
from _fixture_io import save_reproducible  # noqa: E402

OUT = os.path.join("tests", "fixtures", "image_quality.safetensors")


def case(name, target, output, data_range, tensors, meta):
    target = target.astype(np.float32)
    output = output.astype(np.float32)
    p, s = [], []
    for o, t in zip(output, target):
        o64, t64 = o.astype(np.float64), t.astype(np.float64)
        p.append(peak_signal_noise_ratio(t64, o64, data_range=data_range))
        s.append(structural_similarity(t64, o64, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, channel_axis=0,
                                       data_range=data_range))
    tensors[f"{name}.output"] = torch.from_numpy(output)
    tensors[f"{name}.target"] = torch.from_numpy(target)
    tensors[f"{name}.psnr"] = torch.tensor(p, dtype=torch.float32)
    tensors[f"{name}.ssim"] = torch.tensor(s, dtype=torch.float32)
    meta[name] = f"data_range={data_range}"


def main():
    rng = np.random.default_rng(0)
    tensors, meta = {}, {}
    # Smooth-ish gray targets in [-1, 1]: random fields blurred by a box filter.
    base = rng.uniform(-1, 1, (3, 1, 28, 28))
    for _ in range(2):
        base = (base + np.roll(base, 1, 2) + np.roll(base, 1, 3)) / 3
    base = np.clip(base * 2.5, -1, 1)
    for level in (0.02, 0.1, 0.4):
        out = np.clip(base + rng.normal(0, level, base.shape), -1, 1)
        case(f"gray_noise_{level}", base, out, 2.0, tensors, meta)
    rgb = rng.uniform(0, 1, (2, 3, 16, 20))
    case("rgb", rgb, np.clip(rgb + rng.normal(0, 0.05, rgb.shape), 0, 1), 1.0, tensors, meta)
    small = rng.uniform(0, 1, (2, 1, 11, 11))
    case("window_sized", small, np.clip(small * 0.8 + 0.1, 0, 1), 1.0, tensors, meta)
    blurred = (base + np.roll(base, 1, 3) + np.roll(base, -1, 3)) / 3
    case("blurred", base, blurred, 2.0, tensors, meta)
    cases = sorted(meta)
    meta.update({"format": "agon-fixtures-1", "skimage_version": skimage.__version__,
                 "num_cases": str(len(cases)), "cases": ",".join(cases)})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"scikit-image {skimage.__version__}")
    for c in cases:
        print(f"  {c:18s} psnr {tensors[c + '.psnr'].numpy().round(3)} "
              f"ssim {tensors[c + '.ssim'].numpy().round(4)}")


if __name__ == "__main__":
    main()
