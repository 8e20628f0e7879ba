#!/usr/bin/env python3
"""Runs Agon's criterion benchmarks and torch_bench.py interleaved; rewrites BENCHMARKS.md.

Issue 10: one command measures both sides in one sitting and writes the tables, with the
CPU model and the GEMM path that ran.

From the repository root:

    python3 scripts/run_benchmarks.py --torch-python /path/to/venv/bin/python

For each group (sgemm, conv, autodiff, train_step, gen; `--groups` picks some) it runs
`cargo bench --bench <group> -- <filter>` for Agon, then `torch_bench.py --only <group>` for
PyTorch, so the two sides of a table are measured minutes apart in the same sitting. The
bench binaries are all built first (`cargo bench --no-run`), so no compilation runs while
anything is timed. On a VM whose speed drifts, `--rounds N` runs each group's two sides N
times, alternating which goes first, and reports for each row the median of the rounds'
ratios (each from two runs back to back) with its range. `--pair-rows` runs the two sides
row by row instead (Agon's row, then PyTorch's same row, or the other way round), so that a
ratio compares runs seconds apart rather than minutes: a slow spell of the VM then falls on
both sides of a row, not on one side's whole group. Figures come only from these
benchmarks: criterion's median point estimate
(target/criterion/<group>/<id>/new/estimates.json, mapped back to the benchmark's name
through benchmark.json's `full_id`; only files this run wrote are read) and
torch_bench.py's JSON (the median of its block means).

BENCHMARKS.md: the text between `<!-- bench:<key> -->` and `<!-- /bench:<key> -->` is
replaced, for the keys machine, sgemm, sgemm_peak, sgemm_layers, conv, autodiff,
train_step and gen; a key whose markers are missing is appended at the end of the file as a
new section (and a note printed), nothing else in the file is touched. Only the blocks of
the groups that ran are rewritten, each with the rows this run measured (a row missing on
one side shows `-`). `--dry-run` prints the blocks and writes nothing; so do `--quick` and
`--filter` unless `--force-write` is given.

Sanity checks (the cell gets a `?` and a warning is printed and kept under the table): a
GFLOP/s above the FMA peak measured by `sgemm/fma_peak/<isa>/<T>t` at the same thread
count (the path's own peak for Agon's avx512/avx2 rows, the best path's for everything
else; read at the start and again at the end of the sitting, the higher reading counting); an sgemm square row slower per call than a larger size in the same column; a
PyTorch row torch_bench.py marked busy (other processes took CPU while it ran) or
implausible; an Agon group during whose run other processes used more than `--max-other`
cores on average (from /proc/stat and the children's rusage).

Standard library only; shells out to cargo and to the given torch Python.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_BENCH = os.path.join(ROOT, "scripts", "torch_bench.py")

GROUPS = ["sgemm", "conv", "autodiff", "train_step", "gen"]
# The bench target (benches/<file>.rs) that holds each group's rows.
BENCH_FILE = {g: g for g in GROUPS}
ISA_ORDER = ["avx512", "avx2", "portable"]
ISA_FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"]
PEAK_PROBE = "sgemm/fma_peak/avx512/1t"  # an id the peak rows' filter must match

# Block keys in BENCHMARKS.md, the group that produces each, and the title of the section
# appended when the file has no markers for it.
BLOCKS = [
    ("machine", None, "Machine (latest run of scripts/run_benchmarks.py)"),
    ("sgemm", "sgemm", "Matrix multiply (`benches/sgemm.rs`)"),
    ("sgemm_peak", "sgemm", "FMA peak (`sgemm/fma_peak`)"),
    ("sgemm_layers", "sgemm", "Per-image GEMM shapes of dcgan28, one thread"),
    ("conv", "conv", "Convolutions of dcgan28, batch 64 (`benches/conv.rs`)"),
    ("train_step", "train_step", "Training steps (`benches/train_step.rs`)"),
    ("autodiff", "autodiff", "Autodiff (`benches/autodiff.rs`)"),
    ("gen", "gen", "Generator forward (`benches/gen.rs`)"),
]

# Row labels for the generic tables; unknown ids are shown as they are.
LABELS = {
    "autodiff/mlp2d_step": "mlp2d step with plain SGD (batch 256)",
    "autodiff/critic_grad_first": "critic dD/dx, create_graph = false",
    "autodiff/critic_grad_create_graph": "critic dD/dx, create_graph = true",
    "autodiff/critic_gp_step": "critic gradient-penalty step (penalty and dP/dθ)",
    "train_step/dcgan28": "dcgan28 step (batch 64)",
    "train_step/default": "default model step (batch 64)",
    "train_step/mlp2d": "mlp2d step (batch 256)",
    "gen/gen28_forward_256": "dcgan28 generator forward (batch 256, eval)",
    "gen/default_forward_256": "default generator forward (batch 256, eval)",
}
CONV_LAYERS = ["D1", "D2", "G1", "G2", "G3", "defD1", "defD2", "U3", "R3"]
CONV_OPS = ["forward", "input_grad", "weight_grad"]


# ---------------------------------------------------------------------------------------
# Reading results


def read_criterion(crit_dir, since=None):
    """{full_id: {"ns": median ns, "mean_ns", "flop": FLOP per iteration or None, "dir"}}
    from every `<...>/new/benchmark.json` + `estimates.json` under `crit_dir`. With `since`
    (a time.time()), results whose estimates.json is older are skipped: they are from an
    earlier run, not this one."""
    out = {}
    if not os.path.isdir(crit_dir):
        return out
    for dirpath, dirnames, filenames in os.walk(crit_dir):
        dirnames[:] = [d for d in dirnames if d != "report"]
        if os.path.basename(dirpath) != "new":
            continue
        if "benchmark.json" not in filenames or "estimates.json" not in filenames:
            continue
        est_path = os.path.join(dirpath, "estimates.json")
        if since is not None and os.path.getmtime(est_path) < since:
            continue
        try:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                bench = json.load(f)
            with open(est_path) as f:
                est = json.load(f)
        except (OSError, ValueError) as e:
            print(f"note: skipping unreadable criterion result in {dirpath}: {e}",
                  file=sys.stderr)
            continue
        full_id = bench.get("full_id") or "/".join(
            str(p) for p in (bench.get("group_id"), bench.get("function_id"),
                             bench.get("value_str")) if p is not None)
        tp = bench.get("throughput") or {}
        flop = tp.get("Elements") if isinstance(tp, dict) else None
        out[full_id] = {"ns": est["median"]["point_estimate"],
                        "mean_ns": est.get("mean", {}).get("point_estimate"),
                        "flop": float(flop) if flop else None, "dir": dirpath}
    return out


def read_torch_json(path):
    """(rows {name: {"ns", "flop", "busy", "implausible", "other_cpu"}}, env, warnings)."""
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for r in data.get("results", []):
        rows[r["name"]] = {"ns": r["median_s"] * 1e9, "flop": r.get("flop"),
                           "busy": bool(r.get("busy")), "implausible": r.get("implausible"),
                           "other_cpu": r.get("other_cpu")}
    return rows, data.get("env", {}), data.get("warnings", [])


GEMM_PATHS_RE = re.compile(r"gemm paths:\s*\[([^\]]*)\]\s*\(active\s+(\w+)\)(?:,\s*caches\s*(.*))?")


def parse_gemm_paths(line):
    """{"paths": [...], "active": ..., "caches": ...} from the sgemm bench's stderr line
    `gemm paths: [Avx512, Avx2, Portable] (active avx512), caches CacheSizes { .. }`."""
    m = GEMM_PATHS_RE.search(line)
    if not m:
        return None
    paths = [p.strip().lower() for p in m.group(1).split(",") if p.strip()]
    return {"paths": paths, "active": m.group(2).lower(),
            "caches": (m.group(3) or "").strip() or None}


# ---------------------------------------------------------------------------------------
# Agon ids


SQUARE_RE = re.compile(r"^sgemm/square_(\d+)/(\w+)$")
LEGACY_SQUARE_RE = re.compile(r"^sgemm/matmul/(\d+)$")  # before the per-ISA benches
PEAK_RE = re.compile(r"^sgemm/fma_peak/(\w+)/(\d+)t$")
LAYER_RE = re.compile(r"^sgemm/(\w+)/(\d+)x(\d+)x(\d+)(?:/(\w+))?$")
LEGACY = "agon"  # the column of ids that name no ISA path


def classify_sgemm(full_id):
    """("square", N, isa) | ("peak", isa, threads) | ("layer", (name, m, k, n), isa) | None."""
    m = SQUARE_RE.match(full_id)
    if m:
        return "square", int(m.group(1)), m.group(2)
    m = LEGACY_SQUARE_RE.match(full_id)
    if m:
        return "square", int(m.group(1)), LEGACY
    m = PEAK_RE.match(full_id)
    if m:
        return "peak", m.group(1), int(m.group(2))
    m = LAYER_RE.match(full_id)
    if m:
        return ("layer", (m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))),
                m.group(5) or LEGACY)
    return None


def isa_sorted(isas):
    return sorted(isas, key=lambda i: (ISA_ORDER.index(i) if i in ISA_ORDER else len(ISA_ORDER), i))


def gflops(row):
    return row["flop"] / row["ns"] if row and row.get("flop") and row.get("ns") else None


class Peaks:
    """GFLOP/s of `sgemm/fma_peak/<isa>/<T>t`, and the limits the sanity check uses."""

    def __init__(self, agon):
        self.g = {}  # isa -> {threads: GFLOP/s}
        for full_id, row in agon.items():
            c = classify_sgemm(full_id)
            if c and c[0] == "peak" and gflops(row):
                self.g.setdefault(c[1], {})[c[2]] = gflops(row)

    def __bool__(self):
        return bool(self.g)

    def of(self, isa, threads):
        """The path's peak on `threads` threads: measured, else its 1-thread peak x threads;
        None where the path has no peak row."""
        t = self.g.get(isa)
        if not t:
            return None
        if threads in t:
            return t[threads]
        return t[1] * threads if 1 in t else None

    def machine(self, threads):
        vals = [v for v in (self.of(i, threads) for i in self.g) if v]
        return max(vals) if vals else None

    def limit(self, isa, threads):
        """What a row on `isa` (None: not an Agon path) and `threads` threads cannot beat."""
        return self.of(isa, threads) if isa and self.of(isa, threads) else self.machine(threads)


# ---------------------------------------------------------------------------------------
# Formatting


def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, scale in (("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)):
        v = ns / scale
        if v < 999.5 or unit == "s":
            break
    if v >= 99.95:
        return f"{v:.0f} {unit}"
    if v >= 9.995:
        return f"{v:.1f} {unit}"
    return f"{v:.2f} {unit}"


def fmt_gflops(g):
    return "-" if g is None else f"{g:.1f}"


def fmt_share(g, peak):
    return "-" if g is None or not peak else f"{100 * g / peak:.0f}%"


def fmt_ratio(a, b, flagged=False, paired=None):
    """`a / b`, or with `paired` (the per-round ratios of a `--rounds` sitting, two or more)
    their median and range: the ratio of two medians would mix rounds that ran at different
    VM speeds, while each round's two sides ran back to back."""
    if paired and len(paired) >= 2:
        r = median(paired)
        span = f" ({fmt_plain_ratio(min(paired))}-{fmt_plain_ratio(max(paired))})"
    elif not a or not b:
        return "-"
    else:
        r, span = a / b, ""
    s = fmt_plain_ratio(r)
    if r <= 1.0:
        s = f"**{s}**"
    return s + span + (" ?" if flagged else "")


def fmt_plain_ratio(r):
    return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def combine_rounds(agon_rounds, torch_rounds):
    """Per-round results ({name: [row per round, None where a round has none]}) ->
    (agon, torch) rows as one sitting's: each side's median time, and on each Agon row
    `paired`, the ratios of the rounds that measured both sides."""
    def med(rows):
        rows = [r for r in rows if r]
        if not rows:
            return None
        out = dict(min(rows, key=lambda r: abs(r["ns"] - median([x["ns"] for x in rows]))))
        out["ns"] = median([r["ns"] for r in rows])
        for key in ("busy", "implausible"):
            flagged = [r.get(key) for r in rows if r.get(key)]
            if flagged:
                out[key] = flagged[0]
        return out

    agon = {n: r for n, rows in agon_rounds.items() if (r := med(rows))}
    torch = {n: r for n, rows in torch_rounds.items() if (r := med(rows))}
    for n, row in agon.items():
        pairs = zip(agon_rounds[n], torch_rounds.get(n, []))
        row["paired"] = [a["ns"] / t["ns"] for a, t in pairs if a and t and t["ns"]]
    return agon, torch


class Flags:
    """Warnings, and which cells carry a `?`: keys (side, name)."""

    def __init__(self):
        self.cells = {}
        self.warnings = {}  # group -> [str]

    def add(self, group, side, name, why):
        if why in self.cells.get((side, name), []):
            return
        self.cells.setdefault((side, name), []).append(why)
        self.warnings.setdefault(group, []).append(f"{side} {name}: {why}")

    def note(self, group, text):
        self.warnings.setdefault(group, []).append(text)

    def mark(self, side, name):
        return " ?" if (side, name) in self.cells else ""

    def footnote(self, names):
        """The `?` line under a table: the warnings of the rows (names) it shows."""
        whys = [f"{side} {n}: {why}" for n in names for side in ("Agon", "PyTorch")
                for why in self.cells.get((side, n), [])]
        return "\n\n`?`: " + "; ".join(whys) + "." if whys else ""


def md_table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Tables


def check_peak(flags, group, side, name, g, limit, what, why="impossible, the timing is wrong"):
    if g is not None and limit and g > limit:
        flags.add(group, side, name, f"{g:.1f} GFLOP/s is above {what} ({limit:.1f} GFLOP/s): "
                  + why)


# Convolution FLOPs are nominal (padding taps included), so a library that skips padded taps
# or multiplies fewer times (Winograd, FFT) can exceed the peak without a wrong timing.
CONV_OVER_PEAK = ("the nominal count (padding taps included) is more than was multiplied: "
                  "either the timing is wrong or the library skips padded taps (a direct, "
                  "Winograd or FFT convolution)")


def sgemm_tables(agon, torch, peaks, threads, active, flags):
    """{"sgemm": square table, "sgemm_peak": ..., "sgemm_layers": ...} (missing ones omitted)."""
    square, layers = {}, {}
    for full_id, row in agon.items():
        c = classify_sgemm(full_id)
        if not c:
            continue
        if c[0] == "square":
            square.setdefault(c[1], {})[c[2]] = (full_id, row)
        elif c[0] == "layer":
            layers.setdefault(c[1], {})[c[2]] = (full_id, row)
    for name, row in torch.items():
        m = re.match(r"^sgemm/square_(\d+)$", name)
        if m:
            square.setdefault(int(m.group(1)), {})["torch"] = (name, row)
    out = {}
    machine_t = peaks.machine(threads)

    if square:
        isas = isa_sorted({i for cols in square.values() for i in cols if i != "torch"})
        ratio_isa = active if active in isas else (isas[0] if isas else None)
        # Checks: above peak; slower per call than a larger size in the same column.
        sizes = sorted(square)
        for n in sizes:
            for col, (name, row) in square[n].items():
                side = "PyTorch" if col == "torch" else "Agon"
                isa = None if col in ("torch", LEGACY) else col
                check_peak(flags, "sgemm", side, name, gflops(row), peaks.limit(isa, threads),
                           f"the {isa or 'best'} FMA peak on {threads} threads")
                larger = [square[m][col][0] for m in sizes if m > n and col in square[m]
                          and square[m][col][1]["ns"] <= row["ns"]]
                if larger and not row.get("implausible"):  # torch_bench's own check said so
                    flags.add("sgemm", side, name, f"slower per call than {', '.join(larger)}")
        header = ["benchmark"]
        for i in isas:
            label = "Agon" if i == LEGACY else f"Agon {i}"
            header += [label, "GFLOP/s", "of peak"]
        header += ["PyTorch", "GFLOP/s", "of peak", "ratio"]
        rows = []
        for n in sizes:
            cols = square[n]
            line = [f"square {n}"]
            for i in isas:
                name, row = cols.get(i, (None, None))
                g = gflops(row)
                peak = peaks.of(i, threads) or machine_t
                line += [fmt_time(row["ns"]) + flags.mark("Agon", name) if row else "-",
                         fmt_gflops(g), fmt_share(g, peak)]
            tname, trow = cols.get("torch", (None, None))
            tg = gflops(trow)
            line += [fmt_time(trow["ns"]) + flags.mark("PyTorch", tname) if trow else "-",
                     fmt_gflops(tg), fmt_share(tg, machine_t)]
            aname, arow = cols.get(ratio_isa, (None, None))
            flagged = bool(flags.mark("Agon", aname) or flags.mark("PyTorch", tname))
            line.append(fmt_ratio(arow and arow["ns"], trow and trow["ns"], flagged,
                                  arow and arow.get("paired")))
            rows.append(line)
        if ratio_isa in (None, LEGACY):
            notes = [f"{threads} threads. Ratio = Agon time ÷ PyTorch time."]
        else:
            notes = [f"{threads} threads. Ratio = Agon {ratio_isa} time ÷ PyTorch time"
                     + (" (the active path)." if ratio_isa == active else
                        " (the best path here; the active one was not reported).")]
        if peaks:
            notes.append(f"`of peak`: GFLOP/s ÷ the FMA peak on {threads} threads, the path's own "
                         "for avx512/avx2, the best path's for portable and PyTorch.")
        else:
            notes.append("No FMA peak was measured in this run: no share of peak, no peak check.")
        names = [name for n in sizes for name, _ in square[n].values()]
        out["sgemm"] = md_table(header, rows) + "\n\n" + " ".join(notes) + flags.footnote(names)

    if peaks:
        ts = sorted({t for d in peaks.g.values() for t in d})
        header = ["path"] + [f"{t} thread{'s' if t > 1 else ''}" for t in ts]
        rows = [[i] + [fmt_gflops(peaks.g[i].get(t)) for t in ts] for i in isa_sorted(peaks.g)]
        names = [n for n in agon if (classify_sgemm(n) or ("",))[0] == "peak"]
        out["sgemm_peak"] = (md_table(header, rows) + "\n\nGFLOP/s of a register-only FMA loop "
                             "(`sgemm/fma_peak/<isa>/<T>t`), the practical peak of each path."
                             + flags.footnote(names))

    if layers:
        isas = isa_sorted({i for cols in layers.values() for i in cols})
        header = ["layer (m x k x n)"]
        for i in isas:
            header += ["Agon" if i == LEGACY else f"Agon {i}", "GFLOP/s", "of peak"]
        rows = []
        for key in sorted(layers, key=lambda k: k[0]):
            lname, m, k, n = key
            line = [f"{lname} {m}x{k}x{n}"]
            for i in isas:
                name, row = layers[key].get(i, (None, None))
                g = gflops(row)
                isa = None if i == LEGACY else i
                if row:
                    check_peak(flags, "sgemm", "Agon", name, g, peaks.limit(isa, 1),
                               f"the {isa or 'best'} FMA peak on 1 thread")
                peak = peaks.of(i, 1) or peaks.machine(1)
                line += [fmt_time(row["ns"]) + flags.mark("Agon", name) if row else "-",
                         fmt_gflops(g), fmt_share(g, peak)]
            rows.append(line)
        names = [name for cols in layers.values() for name, _ in cols.values()]
        out["sgemm_layers"] = (md_table(header, rows) + "\n\nOne thread, one image: the GEMM "
                               "each rayon task of the convolutions runs. `of peak`: ÷ the "
                               "path's 1-thread FMA peak." + flags.footnote(names))
    return out


def conv_table(agon, torch, peaks, threads, flags):
    names = {n for n in list(agon) + list(torch) if n.startswith("conv/")}
    if not names:
        return None

    def key(n):
        layer, _, op = n[len("conv/"):].partition("_")
        return (CONV_LAYERS.index(layer) if layer in CONV_LAYERS else 99, layer,
                CONV_OPS.index(op) if op in CONV_OPS else 99, op)

    limit = peaks.machine(threads)
    rows = []
    for n in sorted(names, key=key):
        a, t = agon.get(n), torch.get(n)
        ag, tg = gflops(a), gflops(t)
        for side, g in (("Agon", ag), ("PyTorch", tg)):
            check_peak(flags, "conv", side, n, g, limit, f"the FMA peak on {threads} threads",
                       CONV_OVER_PEAK)
        layer, _, op = n[len("conv/"):].partition("_")
        flagged = bool(flags.mark("Agon", n) or flags.mark("PyTorch", n))
        rows.append([f"{layer} {op}",
                     fmt_time(a and a["ns"]) + (flags.mark("Agon", n) if a else ""), fmt_gflops(ag),
                     fmt_time(t and t["ns"]) + (flags.mark("PyTorch", n) if t else ""), fmt_gflops(tg),
                     fmt_ratio(a and a["ns"], t and t["ns"], flagged, a and a.get("paired"))])
    return (md_table(["layer / op", "Agon", "GFLOP/s", "PyTorch", "GFLOP/s", "ratio"], rows)
            + f"\n\n{threads} threads. Ratio = Agon time ÷ PyTorch time."
            + flags.footnote(sorted(names, key=key)))


def generic_table(group, agon, torch, flags, threads):
    prefix = group + "/"
    names = {n for n in list(agon) + list(torch) if n.startswith(prefix)}
    if not names:
        return None
    known = [n for n in LABELS if n in names]
    order = known + sorted(names - set(known))
    with_flop = any(gflops(agon.get(n)) or gflops(torch.get(n)) for n in order)
    rows = []
    for n in order:
        a, t = agon.get(n), torch.get(n)
        flagged = bool(flags.mark("Agon", n) or flags.mark("PyTorch", n))
        line = [LABELS.get(n, n), fmt_time(a and a["ns"]) + (flags.mark("Agon", n) if a else "")]
        if with_flop:
            line.append(fmt_gflops(gflops(a)))
        line.append(fmt_time(t and t["ns"]) + (flags.mark("PyTorch", n) if t else ""))
        if with_flop:
            line.append(fmt_gflops(gflops(t)))
        line.append(fmt_ratio(a and a["ns"], t and t["ns"], flagged, a and a.get("paired")))
        rows.append(line)
    header = ["benchmark", "Agon"] + (["GFLOP/s"] if with_flop else []) + ["PyTorch"] + \
        (["GFLOP/s"] if with_flop else []) + ["ratio"]
    return (md_table(header, rows) + f"\n\n{threads} threads. Ratio = Agon time ÷ PyTorch time."
            + flags.footnote(order))


def group_blocks(group, agon, torch, peaks, threads, active, flags):
    """{block key: markdown} for one group's results."""
    if group == "sgemm":
        return sgemm_tables(agon, torch, peaks, threads, active, flags)
    if group == "conv":
        t = conv_table(agon, torch, peaks, threads, flags)
        return {"conv": t} if t else {}
    t = generic_table(group, agon, torch, flags, threads)
    return {group: t} if t else {}


def flag_torch_rows(group, torch, flags):
    for name, row in torch.items():
        if row.get("busy"):
            other = row.get("other_cpu")
            flags.add(group, "PyTorch", name, "measured on a busy machine (other processes "
                      f"used {other:.2f} cores)" if other is not None else
                      "measured on a busy machine")
        if row.get("implausible"):
            flags.add(group, "PyTorch", name, f"implausible: {row['implausible']}")


# ---------------------------------------------------------------------------------------
# BENCHMARKS.md


def rewrite_markers(text, blocks, titles=None):
    """Replace each `<!-- bench:KEY -->...<!-- /bench:KEY -->` with blocks[KEY]; a key
    without markers is appended at the end as a `## title` section. Returns (text, appended
    keys). Raises ValueError for an opening marker without its closing one."""
    titles = titles or {}
    appended = []
    for key, content in blocks.items():
        start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
        body = start + "\n" + content.strip("\n") + "\n" + end
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            # A function as the replacement: the table is inserted literally.
            text = pattern.sub(lambda _: body, text, count=1)
        elif start in text or end in text:
            raise ValueError(f"BENCHMARKS.md has only one of {start} and {end}")
        else:
            text = text.rstrip("\n") + f"\n\n## {titles.get(key, key)}\n\n{body}\n"
            appended.append(key)
    return text, appended


# ---------------------------------------------------------------------------------------
# Machine


def run_text(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def lscpu_fields():
    out = run_text(["lscpu"], env=dict(os.environ, LC_ALL="C")) or ""
    fields = {}
    for line in out.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            fields[k.strip()] = v.strip()
    return fields


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# A group's line in the machine block: `- conv (2026-12-06 06:28 UTC): Agon 126 s ...`
# (older blocks have no date in the line: the block's `Date` is theirs).
GROUP_LINE = re.compile(r"^- (?P<group>[a-z_]+)(?: \((?P<date>[^)]*)\))?: "
                        r"(?P<rest>(?:Agon|PyTorch) .*)$")


def kept_group_lines(old_text, new_block, run_groups):
    """The machine block's lines, in `old_text`'s block, of the groups this run did not
    measure, each with the date of its own sitting: their tables stay in BENCHMARKS.md
    untouched, so the header keeps saying when and how they were measured. None are kept
    when the CPU line differs (another machine: those tables are stale, not merely older)."""
    m = re.search(r"<!-- bench:machine -->\n(.*?)\n<!-- /bench:machine -->", old_text, re.S)
    if not m:
        return []
    old = m.group(1).splitlines()

    def cpu(lines):
        return next((line for line in lines if line.startswith("- CPU:")), None)

    if cpu(old) is None or cpu(old) != cpu(new_block.splitlines()):
        return []
    date = next((line[len("- Date: "):].split(";")[0] for line in old
                 if line.startswith("- Date: ")), "date unknown")
    kept = []
    for line in old:
        g = GROUP_LINE.match(line)
        if g and g["group"] in GROUPS and g["group"] not in run_groups:
            kept.append(f"- {g['group']} ({g['date'] or date}): {g['rest']}")
    return kept


def machine_block(info):
    ls = info["lscpu"]
    flags = info["flags"]
    have = [f for f in ISA_FLAGS if f in flags]
    lacks = [f for f in ("avx2", "fma", "avx512f", "amx_tile") if f not in flags]
    caches = ", ".join(f"{k} {ls[k]}" for k in ("L1d cache", "L2 cache", "L3 cache") if k in ls)
    g = info.get("gemm_paths")
    lines = [
        f"- Date: {info['date']}; groups: {', '.join(info['groups'])}"
        + (" (**--quick smoke run: not figures for a table**)" if info["quick"] else "") + ".",
        f"- CPU: {ls.get('Model name', 'unknown')}; {ls.get('CPU(s)', '?')} CPUs online "
        f"({ls.get('Socket(s)', '?')} socket(s) x {ls.get('Core(s) per socket', '?')} cores, "
        f"{ls.get('Thread(s) per core', '?')} thread(s) per core)"
        + (f", {ls['Hypervisor vendor']} guest" if "Hypervisor vendor" in ls else "")
        + f"; benchmarks on {info['threads']} threads (RAYON_NUM_THREADS, torch.set_num_threads).",
        f"- Caches: {caches or 'unknown'}.",
        f"- ISA flags: {' '.join(have) or 'none of ' + ' '.join(ISA_FLAGS)}"
        + (f"; no {', '.join(lacks)}" if lacks else "") + ".",
    ]
    if g:
        lines.append(f"- Agon GEMM paths: {', '.join(g['paths'])}; active **{g['active']}**"
                     + (f"; caches seen by Agon: `{g['caches']}`" if g.get("caches") else "")
                     + (f" (AGON_GEMM_ISA={info['isa_env']})" if info.get("isa_env") else "")
                     + ".")
    elif info.get("isa_env"):
        lines.append(f"- Agon GEMM path: AGON_GEMM_ISA={info['isa_env']} (the sgemm bench's "
                     "`gemm paths` line was not seen).")
    else:
        lines.append("- Agon GEMM path: not reported (the sgemm bench did not run, or printed "
                     "no `gemm paths` line).")
    lines.append(f"- {info['rustc'] or 'rustc: unknown'}, `cargo bench` profile; criterion's "
                 "median point estimates.")
    if info.get("peak_readings"):
        lines.append("- FMA peak (`sgemm/fma_peak`) read at the start and at the end of the "
                     "sitting; the higher reading is the peak.")
    if info.get("pair_rows"):
        lines.append("- Sides paired row by row (`--pair-rows`): each row's Agon run and "
                     "PyTorch run back to back, which goes first alternating from row to row "
                     "and round to round.")
    if info.get("rounds", 1) > 1:
        unit = "row's" if info.get("pair_rows") else "round's"
        lines.append(f"- {info['rounds']} rounds, alternating which side runs first: each "
                     "time is the median over the rounds; each ratio is the median of the "
                     f"rounds' ratios (each {unit} two sides ran back to back), with their "
                     "range in brackets.")
    te = info.get("torch_env")
    if te:
        lines.append(f"- PyTorch {te.get('torch')} (ATen CPU capability "
                     f"{te.get('cpu_capability')}), {te.get('threads')} threads, Python "
                     f"{te.get('python')}, OMP_WAIT_POLICY={te.get('omp_wait_policy')}; medians "
                     "of `scripts/torch_bench.py`'s block means.")
    else:
        lines.append(f"- PyTorch: not run ({info.get('torch_note') or 'no torch'}); its columns "
                     "are `-`.")
    for g_, s in info["sittings"].items():
        parts = []
        if "agon_wall" in s:
            other = s.get("agon_other")
            parts.append(f"Agon {s['agon_wall']:.0f} s" + (
                f" (other processes {other:.2f} cores on average)" if other is not None else ""))
        if "torch_wall" in s:
            parts.append(f"PyTorch {s['torch_wall']:.0f} s")
        if parts:
            joint = " and " if info.get("pair_rows") else ", then "
            lines.append(f"- {g_} ({info['date']}): " + joint.join(parts) + ".")
    lines.append(f"- Command: `{info['command']}`")
    return "\n".join(lines)


class ChildCpuMeter:
    """Cores' worth of CPU that processes other than our (waited-for) children used while a
    child ran: /proc/stat's busy time minus RUSAGE_CHILDREN's growth. None without /proc."""

    TICK = 1.0 / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                v = list(map(int, f.readline().split()[1:9]))
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = v
        return (user + nice + system + irq + softirq + steal) * ChildCpuMeter.TICK

    @staticmethod
    def _children():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        s = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime + s.ru_utime + s.ru_stime

    def __enter__(self):
        self.t0, self.b0, self.c0 = time.time(), self._busy(), self._children()
        return self

    def __exit__(self, *exc):
        self.wall = time.time() - self.t0
        b1 = self._busy()
        if b1 is None or self.b0 is None:
            self.other = None
        else:
            self.other = max(0.0, (b1 - self.b0) - (self._children() - self.c0)) / max(self.wall, 1e-9)
        return False


# ---------------------------------------------------------------------------------------
# Running


def bench_targets():
    """Names of the [[bench]] targets this checkout has (benches/*.rs)."""
    d = os.path.join(ROOT, "benches")
    return {f[:-3] for f in os.listdir(d) if f.endswith(".rs")} if os.path.isdir(d) else set()


def criterion_dir():
    out = run_text(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT)
    target = json.loads(out)["target_directory"] if out else os.path.join(ROOT, "target")
    return os.path.join(target, "criterion")


def build_benches(benches, env):
    """Builds every bench binary first, so nothing compiles while anything is timed."""
    cmd = ["nice", "-n", "10", "cargo", "bench", "--no-run"] + \
        [a for b in benches for a in ("--bench", b)]
    print(f"$ {shlex.join(cmd)}", file=sys.stderr, flush=True)
    if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
        raise SystemExit("error: building the benchmarks failed")


def run_agon(bench, filt, args, env):
    """Runs one bench file; returns (wall s, other cores, gemm-paths info or None)."""
    cmd = ["cargo", "bench", "-q", "--bench", bench, "--", "--noplot"]
    if args.quick:
        cmd += ["--quick", "--warm-up-time", "0.2", "--measurement-time", "0.3"]
    cmd += [filt]
    print(f"$ RAYON_NUM_THREADS={env['RAYON_NUM_THREADS']} {shlex.join(cmd)}", file=sys.stderr,
          flush=True)
    gemm = None
    with ChildCpuMeter() as meter:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in p.stdout:
            sys.stderr.write("  | " + line)
            if gemm is None and "gemm paths:" in line:
                gemm = parse_gemm_paths(line)
        rc = p.wait()
    if rc != 0:
        raise SystemExit(f"error: {shlex.join(cmd)} failed with exit status {rc}")
    return meter.wall, meter.other, gemm


def torch_available(python):
    out = run_text([python, "-c", "import torch, sys; sys.stdout.write(torch.__version__)"])
    return out


def run_torch(group, args, tmpdir, match=None):
    path = os.path.join(tmpdir, f"torch_{group}.json")
    cmd = [args.torch_python, TORCH_BENCH, "--threads", str(args.threads), "--json", path,
           "--only", group]
    match = match or args.filter
    if match:
        cmd += ["--match", match]
    if args.quick:
        cmd += ["--min-time", "0.1", "--warmup", "0.05", "--wait", "2", "--retries", "0"]
    cmd += shlex.split(args.torch_args)
    print(f"$ {shlex.join(cmd)}", file=sys.stderr, flush=True)
    t0 = time.time()
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout.splitlines():
        sys.stderr.write("  | " + line + "\n")
    if p.returncode != 0:
        print(f"warning: torch_bench.py --only {group} failed (exit {p.returncode}); PyTorch "
              "columns of this group are '-'", file=sys.stderr)
        return {}, None, time.time() - t0
    rows, env, _warnings = read_torch_json(path)
    return rows, env, time.time() - t0


def list_agon_rows(bench, filt, env):
    """Agon's benchmark ids in `bench` whose names match `filt` (criterion's `--list`)."""
    cmd = ["cargo", "bench", "-q", "--bench", bench, "--", "--list", filt]
    out = run_text(cmd, cwd=ROOT, env=env) or ""
    return [line[:-len(": benchmark")] for line in out.splitlines()
            if line.endswith(": benchmark")]


def torch_name(agon_id):
    """The torch_bench.py row an Agon row is compared with, or None (no PyTorch side)."""
    kind = classify_sgemm(agon_id)
    if kind is not None:
        return f"sgemm/square_{kind[1]}" if kind[0] == "square" else None
    return agon_id


def row_units(ids):
    """Agon ids grouped by their PyTorch row, in order: [(agon regex, torch regex or
    None)]. An sgemm size's three ISA rows are one unit with PyTorch's row of that size;
    the rows without a PyTorch side (the FMA peak, the per-image layer shapes) run
    together as the last unit."""
    units = {}
    for i in ids:
        units.setdefault(torch_name(i), ([], torch_name(i)))[0].append(i)
    units[None] = units.pop(None, ([], None))
    if not units[None][0]:
        del units[None]
    return [("^(" + "|".join(re.escape(i) for i in agon) + ")$",
             None if t is None else "^" + re.escape(t) + "$")
            for agon, t in units.values()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--torch-python", default="python3", metavar="PATH",
                    help="a Python with torch for scripts/torch_bench.py (python3); without "
                         "torch there, only Agon runs and the PyTorch columns are '-'")
    ap.add_argument("--groups", default=",".join(GROUPS),
                    help=f"comma-separated groups to run ({','.join(GROUPS)})")
    ap.add_argument("--filter", default="", metavar="REGEX",
                    help="only rows whose name matches this regex (searched, unanchored, in "
                         "Agon's criterion ids, e.g. sgemm/square_64/avx2, and in "
                         "torch_bench.py's names, e.g. sgemm/square_64)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: criterion --quick with short times, torch_bench.py with "
                         "--min-time 0.1 and no waiting for a quiet machine")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for both sides (RAYON_NUM_THREADS, torch --threads) (2)")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"),
                    help="the file whose marked blocks are rewritten (BENCHMARKS.md)")
    ap.add_argument("--dry-run", action="store_true", help="print the blocks, write nothing")
    ap.add_argument("--force-write", action="store_true",
                    help="write --out even with --quick or --filter (by default those only "
                         "print: a smoke run's figures, or a table of some rows, are not a "
                         "table for the doc)")
    ap.add_argument("--no-peak", action="store_true",
                    help="do not run sgemm/fma_peak when the sgemm rows that ran exclude it")
    ap.add_argument("--max-other", type=float, default=0.15,
                    help="cores other processes may use on average during an Agon group before "
                         "its cells are marked '?' (0.15, torch_bench.py's default)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each group's two sides this many times, alternating which goes "
                         "first; times are medians over the rounds and ratios the median of "
                         "each round's back-to-back ratio, with their range (1)")
    ap.add_argument("--pair-rows", action="store_true",
                    help="run the two sides row by row (Agon's row, then PyTorch's same row, "
                         "the order alternating from row to row and round to round) instead "
                         "of group by group, so that each ratio compares runs seconds apart")
    ap.add_argument("--torch-args", default="",
                    help="extra arguments for torch_bench.py, one shell-quoted string")
    args = ap.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        ap.error(f"unknown group(s): {', '.join(bad)} (known: {', '.join(GROUPS)})")
    groups = [g for g in GROUPS if g in groups]  # always in the documented order
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.filter:
        try:
            re.compile(args.filter)
        except re.error as e:
            ap.error(f"--filter: {e}")
    command = "python3 " + shlex.join(
        [os.path.relpath(os.path.abspath(__file__), ROOT)] + (sys.argv[1:] if argv is None else argv))

    notes = []
    torch_note = None
    torch_version = torch_available(args.torch_python)
    if torch_version is None:
        torch_note = f"torch is not importable by {args.torch_python}"
        print(f"note: {torch_note}: PyTorch columns are '-'", file=sys.stderr)

    targets = bench_targets()
    runnable = [g for g in groups if BENCH_FILE[g] in targets]
    for g in groups:
        if g not in runnable:
            note = f"no benches/{BENCH_FILE[g]}.rs in this checkout: Agon's {g} columns are '-'"
            notes.append(note)
            print(f"note: {note}", file=sys.stderr)
    need_peak = (not args.no_peak and "sgemm" in targets
                 and ("sgemm" not in groups or (args.filter and not re.search(args.filter, PEAK_PROBE))))

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    to_build = sorted({BENCH_FILE[g] for g in runnable} | ({"sgemm"} if need_peak else set()))
    if to_build:
        build_benches(to_build, env)

    crit = criterion_dir()
    agon, torch = {}, {}
    flags = Flags()
    info = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "groups": groups, "quick": args.quick, "threads": args.threads,
            "lscpu": lscpu_fields(), "flags": cpu_flags(),
            "isa_env": os.environ.get("AGON_GEMM_ISA"), "gemm_paths": None,
            "rustc": (run_text(["rustc", "--version"], cwd=ROOT) or "").strip() or None,
            "torch_env": None, "torch_note": torch_note if torch_version is None else None,
            "sittings": {}, "command": command, "rounds": args.rounds,
            "pair_rows": args.pair_rows}

    def agon_group(group, bench, filt):
        since = time.time() - 1.0  # mtimes have a coarse grain on some filesystems
        wall, other, gemm = run_agon(bench, filt, args, env)
        if gemm and not info["gemm_paths"]:
            info["gemm_paths"] = gemm
        # Only this run's rows: the mtime window reaches a second back, so without the filter
        # a run would also take the rows the run before it wrote in its last second (the
        # last row of a sitting used to be replaced by its last round's figure alone when
        # the FMA peak was read again right after it).
        rows = {k: v for k, v in read_criterion(crit, since=since).items() if re.search(filt, k)}
        if not rows:
            print(f"warning: cargo bench --bench {bench} -- {filt} wrote no criterion results",
                  file=sys.stderr)
        if other is not None and other > args.max_other:
            for name in rows:
                flags.add(group, "Agon", name, f"other processes used {other:.2f} cores on "
                          f"average while `cargo bench --bench {bench}` ran")
        return rows, wall, other

    def add_round(into, rows, rnd):
        for name, row in rows.items():
            into.setdefault(name, [None] * args.rounds)[rnd] = row

    def add_wall(s, key, wall):
        s[key] = s.get(key, 0.0) + wall

    agon_rounds, torch_rounds = {}, {}
    with tempfile.TemporaryDirectory(prefix="agon-bench-") as tmpdir:
        if need_peak:
            agon.update(agon_group("sgemm", "sgemm", "^sgemm/fma_peak/")[0])
        units = {}
        if args.pair_rows:
            for g in groups:
                ids = list_agon_rows(BENCH_FILE[g], args.filter or f"^{g}/", env) \
                    if g in runnable else []
                units[g] = row_units([i for i in ids if i.startswith(g + "/")])
        for rnd in range(args.rounds):
            for g in groups:
                s = info["sittings"].setdefault(g, {})

                def one_side(side, agon_filter, torch_match):
                    if side == "agon" and g in runnable:
                        rows, wall, other = agon_group(g, BENCH_FILE[g], agon_filter)
                        add_wall(s, "agon_wall", wall)
                        if other is not None:
                            s["agon_other"] = max(other, s.get("agon_other") or 0.0)
                        add_round(agon_rounds, rows, rnd)
                    elif side == "torch" and torch_version is not None:
                        rows, tenv, wall = run_torch(g, args, tmpdir, torch_match)
                        add_wall(s, "torch_wall", wall)
                        if tenv:
                            info["torch_env"] = tenv
                        flag_torch_rows(g, rows, flags)
                        add_round(torch_rounds, rows, rnd)

                if args.pair_rows:
                    # Row by row: which side goes first alternates from row to row and from
                    # round to round, so each row's rounds have both orders.
                    for u, (agon_re, torch_re) in enumerate(units.get(g, [])):
                        sides = ("agon", "torch") if (rnd + u) % 2 == 0 else ("torch", "agon")
                        for side in sides:
                            if side == "agon" or torch_re is not None:
                                one_side(side, agon_re, torch_re)
                else:
                    # Odd rounds run PyTorch first, so a drift of the VM's speed within a
                    # round favours each side equally often.
                    sides = ("agon", "torch") if rnd % 2 == 0 else ("torch", "agon")
                    for side in sides:
                        one_side(side, args.filter or f"^{g}/", None)
        agon_r, torch_r = combine_rounds(agon_rounds, torch_rounds)
        agon.update(agon_r)
        torch.update(torch_r)
        # The FMA peak is read a second time at the end of the sitting and the higher
        # reading kept: on a VM whose second vCPU is at times shared with another guest, a
        # single reading can catch it at half speed (2026-12-06, Xeon: 241 then 335 GFLOP/s
        # on 2 threads), and every faster row of the sitting was then flagged impossible.
        peak_rows = {k: v for k, v in agon.items() if PEAK_RE.match(k)}
        if peak_rows and not args.no_peak:
            agon.update(agon_group("sgemm", "sgemm", "^sgemm/fma_peak/")[0])
            for k, first in peak_rows.items():
                again = agon.get(k)
                if not (again and gflops(again)) or (gflops(first) or 0) >= gflops(again):
                    agon[k] = first
            info["peak_readings"] = 2

    peaks = Peaks(agon)
    active = (info["gemm_paths"] or {}).get("active") or (info["isa_env"] or "").lower() or None
    blocks = {}
    for g in groups:
        gb = group_blocks(g, {k: v for k, v in agon.items() if k.startswith(g + "/")},
                          {k: v for k, v in torch.items() if k.startswith(g + "/")},
                          peaks, args.threads, active, flags)
        if not gb:
            print(f"note: no rows for group {g}", file=sys.stderr)
        if gb and args.quick:
            for k in gb:
                gb[k] += "\n\n_--quick smoke run: not figures for a table._"
        if gb:
            stamp = f"\n\n_Measured {info['date']} by `scripts/run_benchmarks.py`._"
            blocks.update({k: v + stamp for k, v in gb.items()})
    if not blocks:
        print("error: no group produced a row; nothing to write", file=sys.stderr)
        return 1
    blocks = {"machine": machine_block(info), **blocks}
    if notes:
        blocks["machine"] += "\n" + "\n".join(f"- Note: {n}." for n in notes)

    for ws in flags.warnings.values():
        for w in ws:
            print(f"WARNING: {w}", file=sys.stderr)
    if not peaks:
        print("note: no sgemm/fma_peak rows were measured: no share of peak, no peak check",
              file=sys.stderr)

    order = [k for k, _, _ in BLOCKS]
    blocks = dict(sorted(blocks.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
    for key, content in blocks.items():
        print(f"<!-- bench:{key} -->\n{content}\n<!-- /bench:{key} -->\n")
    if args.dry_run:
        print("(dry run: nothing written)", file=sys.stderr)
        return 0
    if (args.quick or args.filter) and not args.force_write:
        print(f"(--quick/--filter: {args.out} not written; --force-write writes it)",
              file=sys.stderr)
        return 0
    with open(args.out) as f:
        text = f.read()
    kept = kept_group_lines(text, blocks["machine"], groups)
    if kept:
        lines = blocks["machine"].splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("- Command:"))
        lines[at:at] = kept
        lines.append("- Groups not in this sitting keep their earlier lines, dated, and their "
                     "tables.")
        blocks["machine"] = "\n".join(lines)
    text, appended = rewrite_markers(text, blocks, {k: t for k, _, t in BLOCKS})
    with open(args.out, "w") as f:
        f.write(text)
    for key in appended:
        print(f"note: {args.out} had no <!-- bench:{key} --> markers: appended a section at the end",
              file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
