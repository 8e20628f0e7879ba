#!/usr/bin/env python3
"""Content-based retrieval with `agon neighbours --query` (issue 14): four query images that
are not in the shipped Fashion-MNIST split, each beside its nearest shipped images by pixels,
by the agon-fashion-mnist classifier's features and by the default model's discriminator's
features (the main job's checkpoint, runs/fashion-mnist/checkpoint.safetensors, trained
first when missing: `cargo run --release -- train`).

    python3 scripts/retrieval_grids.py

Queries (written to target/retrieval/ as PNGs, from the IDX files in data/):
- `digit`: the first MNIST test digit (a 7): out of the domain;
- `mirrored-boot`: Fashion-MNIST's first test image (an ankle boot) mirrored left to right:
  the shipped boots all point the other way;
- `trouser-1px`, `trouser-4px`: Fashion-MNIST's third test image (trousers) moved 1 and 4
  pixels right (the unshifted image is in the split: it is its own nearest image).

Writes docs/retrieval-<query>.png (one row: the query, its 4 nearest shipped images by
pixels, then by classifier features, then by discriminator features) and prints agon's
lines. Standard library
only; runs the release binary (built first, or $AGON).
"""

import gzip
import os
import struct
import subprocess
import sys
import zlib

from _results_io import ROOT, agon_binary, trained_checkpoint


def idx_images(path, count):
    """The first `count` 28x28 images of a gzipped IDX3 file, as lists of 784 bytes."""
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 0x803 or (h, w) != (28, 28):
            raise SystemExit(f"{path}: not a 28x28 IDX3 image file")
        return [list(f.read(h * w)) for _ in range(min(count, n))]


def write_png(path, pixels, w=28, h=28):
    """An 8-bit greyscale PNG (filter 0 on every row)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\x00" + bytes(pixels[y * w:(y + 1) * w]) for y in range(h))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def mirrored(img):
    return [img[y * 28 + (27 - x)] for y in range(28) for x in range(28)]


def shifted(img, dx):
    return [img[y * 28 + x - dx] if x >= dx else 0 for y in range(28) for x in range(28)]


def main():
    digits = idx_images(os.path.join(ROOT, "data/mnist/t10k-images-idx3-ubyte.gz"), 1)
    fashion = idx_images(os.path.join(ROOT, "data/fashion-mnist/t10k-images-idx3-ubyte.gz"), 3)
    queries = {
        "digit": digits[0],
        "mirrored-boot": mirrored(fashion[0]),
        "trouser-1px": shifted(fashion[2], 1),
        "trouser-4px": shifted(fashion[2], 4),
    }
    agon = agon_binary()
    ckpt = trained_checkpoint(agon, os.path.join(ROOT, "runs", "fashion-mnist"))
    work = os.path.join(ROOT, "target", "retrieval")
    os.makedirs(work, exist_ok=True)
    for name, pixels in queries.items():
        query = os.path.join(work, f"{name}.png")
        write_png(query, pixels)
        out = os.path.join(ROOT, "docs", f"retrieval-{name}.png")
        cmd = [agon, "neighbours", "--checkpoint", ckpt, "--query", query, "--k", "4",
               "--out", out]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write(done.stdout + done.stderr)
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
