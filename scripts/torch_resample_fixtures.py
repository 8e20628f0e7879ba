"""PyTorch reference values for agon_data's super-resolution resampling:
`downsample_area` (F.avg_pool2d) and `upsample_bicubic` (F.interpolate(mode="bicubic",
align_corners=False)).

Regenerate (from the repository root; needs torch, numpy and safetensors):

    /work/torchenv/bin/python scripts/torch_resample_fixtures.py

CI never runs this: the output is committed and read by `tests/image_pairs.rs`. Written with
`scripts/_fixture_io.py`, so regenerating gives identical bytes.

Output: tests/fixtures/resample.safetensors:

    area_x<f>.x, area_x<f>.out        x [2,3,28,28] randn, out = F.avg_pool2d(x, f), f = 2, 4
    bicubic_x<f>.x, bicubic_x<f>.out  x [2,1,7,7] / [2,1,14,14] / [1,2,5,3] randn (cases
                                      x4_small, x2, x3_odd), out = F.interpolate(x,
                                      scale_factor=f, mode="bicubic", align_corners=False)
Metadata `<case>` = "factor=<f>".
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
from _fixture_io import save_reproducible  # noqa: E402

OUT = os.path.join("tests", "fixtures", "resample.safetensors")


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    tensors, meta = {}, {}
    x = torch.randn(2, 3, 28, 28, generator=g)
    for f in (2, 4):
        tensors[f"area_x{f}.x"] = x
        tensors[f"area_x{f}.out"] = F.avg_pool2d(x, f)
        meta[f"area_x{f}"] = f"factor={f}"
    for name, shape, f in (("bicubic_x4_small", (2, 1, 7, 7), 4),
                           ("bicubic_x2", (2, 1, 14, 14), 2),
                           ("bicubic_x3_odd", (1, 2, 5, 3), 3)):
        x = torch.randn(*shape, generator=g)
        tensors[f"{name}.x"] = x
        tensors[f"{name}.out"] = F.interpolate(x, scale_factor=f, mode="bicubic",
                                               align_corners=False)
        meta[name] = f"factor={f}"
    cases = sorted(meta)
    meta.update({"format": "agon-fixtures-1", "torch_version": torch.__version__,
                 "num_cases": str(len(cases)), "cases": ",".join(cases)})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_reproducible(OUT, tensors, meta)
    print(f"wrote {OUT}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
