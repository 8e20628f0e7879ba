"""Shared helper for the fixture scripts in scripts/: a byte-for-byte reproducible
safetensors writer (imported by every fixture script)."""

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

    Float32 tensors are written as F32, float16 as F16 and int64 as I64 (PyTorch's
    `num_batches_tracked`); anything else is converted to F32.
    """
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(named):
        t = named[name].detach().cpu().contiguous()
        kind = {"torch.int64": ("<i8", "I64"), "torch.float16": ("<f2", "F16")}
        np_type, dtype = kind.get(str(t.dtype), ("<f4", "F32"))
        arr = t.numpy().astype(np_type, copy=False)
        raw = arr.tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
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
