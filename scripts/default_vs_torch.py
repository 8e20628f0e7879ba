"""Agon's default main job against PyTorch training the same layers for the same wall time.

Issue 15's bar. It runs, one after the other on an otherwise idle machine:

1. `agon train` with the default configuration (`--steps`, default the main job's 3,500)
   and `log.eval_every`, so `eval.csv` has the FID (agon-fashion-mnist classifier),
   precision and recall of 2,000 samples every `--every` steps, with the seconds of
   training up to each (scoring left out);
2. `scripts/torch_default_train.py` for as many seconds of training as Agon took, with a
   snapshot every `--snapshot-every` seconds, each scored by `agon eval --n 2000`;
3. `agon eval --n 2000` on Agon's final checkpoint, so that both end points are scored by
   the same command.

It prints both curves (score against seconds of training) and the end points as
Markdown, writes them to `OUT/curves.json`, and (for `--seed 0`, the run docs/results.md
shows) draws 64 samples of each final model with the same noise (`agon sample --seed 0`)
to `docs/default-vs-torch-agon.png` and `docs/default-vs-torch-torch.png`. `--seed N`
trains both with seed N (`--set seed=N`, `torch.manual_seed(N)`).

    python3 scripts/default_vs_torch.py --torch-python /work/torchenv/bin/python
"""

import argparse
import csv
import json
import os
import subprocess

from _results_io import agon_binary, eval_scores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--torch-python", required=True, help="a Python with torch and safetensors")
    ap.add_argument("--steps", type=int, default=3500)
    ap.add_argument("--every", type=int, default=500, help="Agon's scoring cadence (steps)")
    ap.add_argument("--snapshot-every", type=float, default=30.0, help="PyTorch's (seconds)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default: runs/default-vs-torch[-seedN]")
    args = ap.parse_args()
    if args.out is None:
        suffix = f"-seed{args.seed}" if args.seed else ""
        args.out = os.path.join(ROOT, "runs", "default-vs-torch" + suffix)
    agon = agon_binary()
    agon_out = os.path.join(args.out, "agon")
    subprocess.run([agon, "train", "--steps", str(args.steps), "--out", agon_out, "--quiet",
                    "--set", f"log.eval_every={args.every}", "--set", f"seed={args.seed}"],
                   check=True)
    with open(os.path.join(agon_out, "eval.csv")) as f:
        agon_rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    seconds = agon_rows[-1]["seconds"]
    checkpoint = os.path.join(agon_out, "checkpoint.safetensors")
    torch_out = os.path.join(args.out, "torch")
    subprocess.run([args.torch_python, os.path.join(ROOT, "scripts", "torch_default_train.py"),
                    "--template", checkpoint, "--seconds", str(seconds),
                    "--snapshot-every", str(args.snapshot_every), "--n", str(args.n),
                    "--seed", str(args.seed), "--out", torch_out, "--agon", agon], check=True)
    with open(os.path.join(torch_out, "curve.json")) as f:
        torch_rows = json.load(f)["rows"]
    agon_end = eval_scores(agon, checkpoint, args.n)
    last_torch = os.path.join(torch_out, f"step{torch_rows[-1]['step']}.safetensors")
    grids = (("agon", checkpoint), ("torch", last_torch)) if args.seed == 0 else ()
    for who, ckpt in grids:
        subprocess.run([agon, "sample", "--checkpoint", ckpt, "--seed", "0", "--out",
                        os.path.join(ROOT, "docs", f"default-vs-torch-{who}.png")],
                       check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(args.out, "curves.json"), "w") as f:
        json.dump({"agon": agon_rows, "torch": torch_rows, "agon_end": agon_end}, f, indent=1)

    print(f"Agon (`agon train`, in-loop scores every {args.every} steps):\n")
    print("| seconds | step | FID | precision | recall |")
    print("|---:|---:|---:|---:|---:|")
    for r in agon_rows:
        print(f"| {r['seconds']:.0f} | {r['step']:.0f} | {r['fid']:.1f} | "
              f"{r['precision']:.2f} | {r['recall']:.2f} |")
    print(f"\nPyTorch (`scripts/torch_default_train.py`, {seconds:.0f} s, "
          f"scored by `agon eval --n {args.n}`):\n")
    print("| seconds | step | FID | precision | recall |")
    print("|---:|---:|---:|---:|---:|")
    for r in torch_rows:
        print(f"| {r['seconds']:.0f} | {r['step']} | {r['fid']:.1f} | "
              f"{r['precision']:.2f} | {r['recall']:.2f} |")
    last = torch_rows[-1]
    print(f"\nEnd points, both by `agon eval --n {args.n}`:\n")
    print("| run | seconds | steps | FID | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| Agon | {seconds:.0f} | {args.steps} | {agon_end['fid']:.1f} | "
          f"{agon_end['precision']:.2f} | {agon_end['recall']:.2f} |")
    print(f"| PyTorch | {last['seconds']:.0f} | {last['step']} | {last['fid']:.1f} | "
          f"{last['precision']:.2f} | {last['recall']:.2f} |")


if __name__ == "__main__":
    main()
