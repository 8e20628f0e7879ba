"""Shared helper for the fixture scripts in scripts/: a byte-for-byte reproducible
safetensors writer (imported by torch_fixtures.py and torch_autodiff_fixtures.py)."""

import json
import struct


def save_reproducible(path, named, metadata):
    """Write a safetensors file byte-for-byte reproducibly.

    `safetensors.torch.save_file` orders the header's metadata map arbitrarily, so two runs
    give different bytes for the same tensors; here the JSON header has sorted keys and the
    data follows in sorted-name order, so regenerating leaves `git diff` empty. The layout is
    the standard one (u64 little-endian header size, JSON header padded with spaces to a
    multiple of 8, then the raw little-endian data) and is checked by reading it back with
    the safetensors library.
    """
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(named):
        arr = named[name].numpy().astype("<f4", copy=False)
        raw = arr.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
