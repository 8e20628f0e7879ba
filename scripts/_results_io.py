"""Shared helpers for the result-table scripts in scripts/: which `agon` binary to run,
scoring a checkpoint with `agon eval`, and writing a table between its markers in
docs/results.md."""

import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def agon_binary():
    """The `agon` to run: $AGON when set (a binary built elsewhere; nothing is built), else
    this checkout's release build, built first."""
    if "AGON" in os.environ:
        return os.environ["AGON"]
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "agon")


def trained_checkpoint(agon, run, *train_args):
    """`run`/checkpoint.safetensors, trained first with `agon train --out run *train_args`
    when it is missing (no arguments: the main job's defaults)."""
    path = os.path.join(run, "checkpoint.safetensors")
    if not os.path.exists(path):
        subprocess.run([agon, "train", "--out", run, "--quiet", *train_args], cwd=ROOT,
                       check=True)
    return path


def eval_scores(agon, checkpoint, n):
    """`agon eval --checkpoint --n n`'s FID, precision, recall and interior roughness
    (samples' over the real images'), read from the JSON it writes beside the checkpoint
    (`<name>.scores.json`)."""
    out = checkpoint.replace(".safetensors", ".scores.json")
    subprocess.run([agon, "eval", "--checkpoint", checkpoint, "--n", str(n), "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        s = json.load(f)
    return {"fid": s["fid"], "precision": s["precision"], "recall": s["recall"],
            "roughness": s["roughness_ratio"]}


def write_results_table(marker, table):
    """Replace what lies between `<!-- {marker}:start -->` and `<!-- {marker}:end -->` in
    docs/results.md with `table`."""
    path = os.path.join(ROOT, "docs", "results.md")
    with open(path) as f:
        text = f.read()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    # A function as the replacement: the table is inserted literally (no backslash escapes).
    text = re.sub(re.escape(start) + ".*?" + re.escape(end),
                  lambda _: start + "\n" + table + "\n" + end, text, flags=re.S)
    with open(path, "w") as f:
        f.write(text)
