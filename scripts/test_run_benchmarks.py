"""Unit tests of run_benchmarks.py's parsing, mapping and BENCHMARKS.md rewriting, on fake
criterion directories; nothing is benchmarked. From the repository root:

    python3 -B -m unittest discover -s scripts -p 'test_run_benchmarks.py'
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_benchmarks as rb  # noqa: E402


def write_criterion(root, full_id, median_ns, flop=None, mean_ns=None, mtime=None):
    """One result as criterion 0.8 lays it out: <group>/<function id, '/' -> '_'>/new/."""
    group, _, function = full_id.partition("/")
    if "/" in group or not function:
        # c.bench_function("autodiff/mlp2d_step"): the whole id is the group, no function.
        group, function = full_id, None
    dir_name = rb_safe(group) + ("/" + rb_safe(function) if function else "")
    d = os.path.join(root, dir_name, "new")
    os.makedirs(d, exist_ok=True)
    bench = {"group_id": group, "function_id": function, "value_str": None,
             "throughput": {"Elements": flop} if flop else None, "full_id": full_id,
             "directory_name": dir_name, "title": full_id}
    est = {"mean": {"point_estimate": mean_ns or median_ns * 1.1},
           "median": {"point_estimate": median_ns}}
    with open(os.path.join(d, "benchmark.json"), "w") as f:
        json.dump(bench, f)
    with open(os.path.join(d, "estimates.json"), "w") as f:
        json.dump(est, f)
    if mtime is not None:
        os.utime(os.path.join(d, "estimates.json"), (mtime, mtime))
    return d


def rb_safe(s):
    for c in '?"/\\*<>:|^':
        s = s.replace(c, "_")
    return s


def torch_row(name, median_s, flop=None, busy=False, implausible=None):
    return {"name": name, "flop": flop, "gflops": flop / median_s / 1e9 if flop else None,
            "median_s": median_s, "busy": busy, "other_cpu": 0.5 if busy else 0.01,
            **({"implausible": implausible} if implausible else {})}


class ReadCriterion(unittest.TestCase):
    def test_nested_ids_map_back_through_benchmark_json(self):
        with tempfile.TemporaryDirectory() as root:
            d = write_criterion(root, "sgemm/square_64/avx512", 5000.0, flop=2 * 64 ** 3)
            self.assertTrue(d.endswith(os.path.join("sgemm", "square_64_avx512", "new")))
            write_criterion(root, "sgemm/fma_peak/avx2/2t", 1e6, flop=1e8)
            write_criterion(root, "autodiff/mlp2d_step", 3.6e6)
            # criterion's base/ copy and report/ must not be read.
            os.makedirs(os.path.join(root, "report"))
            rows = rb.read_criterion(root)
        self.assertEqual(set(rows), {"sgemm/square_64/avx512", "sgemm/fma_peak/avx2/2t",
                                     "autodiff/mlp2d_step"})
        self.assertEqual(rows["sgemm/square_64/avx512"]["ns"], 5000.0)  # median, not mean
        self.assertEqual(rows["sgemm/square_64/avx512"]["flop"], 2 * 64 ** 3)
        self.assertIsNone(rows["autodiff/mlp2d_step"]["flop"])
        self.assertAlmostEqual(rb.gflops(rows["sgemm/fma_peak/avx2/2t"]), 100.0)

    def test_results_older_than_the_run_are_skipped(self):
        with tempfile.TemporaryDirectory() as root:
            now = time.time()
            write_criterion(root, "conv/D1_forward", 5e5, flop=1e8, mtime=now - 3600)
            write_criterion(root, "conv/D2_forward", 5e6, flop=1e9, mtime=now)
            rows = rb.read_criterion(root, since=now - 1)
        self.assertEqual(list(rows), ["conv/D2_forward"])

    def test_missing_dir_is_empty(self):
        self.assertEqual(rb.read_criterion("/nonexistent/criterion"), {})


class Parsing(unittest.TestCase):
    def test_gemm_paths_line(self):
        g = rb.parse_gemm_paths("gemm paths: [Avx512, Avx2, Portable] (active avx512), caches "
                                "CacheSizes { l1d: 49152, l2: 2097152 }")
        self.assertEqual(g["paths"], ["avx512", "avx2", "portable"])
        self.assertEqual(g["active"], "avx512")
        self.assertIn("l1d: 49152", g["caches"])
        self.assertEqual(rb.parse_gemm_paths("gemm paths: [Portable] (active portable)")["active"],
                         "portable")
        self.assertIsNone(rb.parse_gemm_paths("Benchmarking sgemm/square_64/avx2"))

    def test_classify_sgemm(self):
        self.assertEqual(rb.classify_sgemm("sgemm/square_128/avx2"), ("square", 128, "avx2"))
        self.assertEqual(rb.classify_sgemm("sgemm/matmul/256"), ("square", 256, rb.LEGACY))
        self.assertEqual(rb.classify_sgemm("sgemm/fma_peak/avx512/2t"), ("peak", "avx512", 2))
        self.assertEqual(rb.classify_sgemm("sgemm/d_conv2/128x1600x49/portable"),
                         ("layer", ("d_conv2", 128, 1600, 49), "portable"))
        self.assertEqual(rb.classify_sgemm("sgemm/g_convt1/3200x256x49"),
                         ("layer", ("g_convt1", 3200, 256, 49), rb.LEGACY))
        self.assertIsNone(rb.classify_sgemm("sgemm/something_else"))

    def test_fmt_time(self):
        self.assertEqual(rb.fmt_time(8230.0), "8.23 µs")
        self.assertEqual(rb.fmt_time(42_100.0), "42.1 µs")
        self.assertEqual(rb.fmt_time(255_000.0), "255 µs")
        self.assertEqual(rb.fmt_time(999_900.0), "1.00 ms")
        self.assertEqual(rb.fmt_time(330.3e6), "330 ms")
        self.assertEqual(rb.fmt_time(None), "-")

    def test_torch_json(self):
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, "t.json")
            with open(path, "w") as f:
                json.dump({"env": {"torch": "2.15.0"}, "warnings": ["w"],
                           "results": [torch_row("sgemm/square_64", 5e-6, 2 * 64 ** 3, busy=True)]},
                          f)
            rows, env, warnings = rb.read_torch_json(path)
        self.assertAlmostEqual(rows["sgemm/square_64"]["ns"], 5000.0)
        self.assertTrue(rows["sgemm/square_64"]["busy"])
        self.assertEqual(env["torch"], "2.15.0")


def sgemm_fixture():
    """Agon: two paths, peaks 100 GFLOP/s/thread (avx512) and 50 (avx2); PyTorch rows."""
    agon = {}

    def add(full_id, ns, flop):
        agon[full_id] = {"ns": ns, "flop": flop}

    for isa, per_thread in (("avx512", 100.0), ("avx2", 50.0)):
        for t in (1, 2):
            add(f"sgemm/fma_peak/{isa}/{t}t", 1e6, per_thread * t * 1e6)
    for n in (64, 128):
        flop = 2.0 * n ** 3
        add(f"sgemm/square_{n}/avx512", flop / 150.0, flop)  # 150 GFLOP/s of 200: 75%
        add(f"sgemm/square_{n}/avx2", flop / 80.0, flop)
    add("sgemm/d_conv1/64x25x196/avx512", 2.0 * 64 * 25 * 196 / 60.0, 2.0 * 64 * 25 * 196)
    torch = {"sgemm/square_64": {"ns": 2.0 * 64 ** 3 / 100.0, "flop": 2.0 * 64 ** 3},
             "sgemm/square_128": {"ns": 2.0 * 128 ** 3 / 300.0, "flop": 2.0 * 128 ** 3},
             "sgemm/square_256": {"ns": 2.0 * 256 ** 3 / 190.0, "flop": 2.0 * 256 ** 3}}
    return agon, torch


class Tables(unittest.TestCase):
    def test_sgemm_square_peak_and_layers(self):
        agon, torch = sgemm_fixture()
        peaks = rb.Peaks(agon)
        self.assertEqual(peaks.of("avx512", 2), 200.0)
        self.assertEqual(peaks.machine(2), 200.0)
        self.assertEqual(peaks.of("avx2", 4), 200.0)  # 1-thread peak x threads
        flags = rb.Flags()
        out = rb.sgemm_tables(agon, torch, peaks, 2, "avx512", flags)
        self.assertEqual(set(out), {"sgemm", "sgemm_peak", "sgemm_layers"})
        lines = out["sgemm"].splitlines()
        self.assertEqual(lines[0], "| benchmark | Agon avx512 | GFLOP/s | of peak | Agon avx2 | "
                         "GFLOP/s | of peak | PyTorch | GFLOP/s | of peak | ratio |")
        row64 = next(l for l in lines if l.startswith("| square 64 "))
        cells = [c.strip() for c in row64.strip("|").split("|")]
        self.assertEqual(cells[2:4], ["150.0", "75%"])     # avx512 vs its 2-thread peak
        self.assertEqual(cells[5:7], ["80.0", "80%"])      # avx2 vs its own peak (100)
        self.assertEqual(cells[8:10], ["100.0", "50%"])    # PyTorch vs the machine's peak
        self.assertEqual(cells[10], "**0.67**")            # Agon faster: 100/150, bold
        row128 = next(l for l in lines if l.startswith("| square 128 "))
        self.assertTrue(row128.rstrip(" |").endswith("2.00 ?"))  # PyTorch 300 > peak 200
        # A row on one side only prints '-' for the other.
        row256 = next(l for l in lines if l.startswith("| square 256 "))
        self.assertIn("| - | - | - |", row256)
        self.assertTrue(row256.rstrip(" |").endswith("-"))
        # PyTorch's 128 row (300 GFLOP/s) is above the 200 GFLOP/s peak.
        ws = flags.warnings["sgemm"]
        self.assertTrue(any("sgemm/square_128" in w and "above" in w for w in ws), ws)
        self.assertIn("| avx512 | 100.0 | 200.0 |", out["sgemm_peak"])
        self.assertIn("| d_conv1 64x25x196 |", out["sgemm_layers"])
        self.assertIn("| 60.0 | 60% |", out["sgemm_layers"])  # of the 1-thread avx512 peak

    def test_smaller_n_slower_than_larger_is_flagged(self):
        agon = {"sgemm/square_64/avx2": {"ns": 9e6, "flop": 2.0 * 64 ** 3},
                "sgemm/square_512/avx2": {"ns": 1.5e6, "flop": 2.0 * 512 ** 3}}
        flags = rb.Flags()
        out = rb.sgemm_tables(agon, {}, rb.Peaks(agon), 2, None, flags)
        self.assertIn(("Agon", "sgemm/square_64/avx2"), flags.cells)
        self.assertNotIn(("Agon", "sgemm/square_512/avx2"), flags.cells)
        self.assertIn("9.00 ms ?", out["sgemm"])
        self.assertIn("No FMA peak", out["sgemm"])

    def test_legacy_matmul_ids(self):
        agon = {"sgemm/matmul/64": {"ns": 8230.0, "flop": 2.0 * 64 ** 3}}
        torch = {"sgemm/square_64": {"ns": 7900.0, "flop": 2.0 * 64 ** 3}}
        out = rb.sgemm_tables(agon, torch, rb.Peaks(agon), 2, None, rb.Flags())
        self.assertIn("| benchmark | Agon | GFLOP/s | of peak | PyTorch |", out["sgemm"])
        self.assertIn("| square 64 | 8.23 µs | 63.7 | - | 7.90 µs | 66.4 | - | 1.04 |",
                      out["sgemm"])

    def test_conv_rows_both_sides_and_order(self):
        agon = {"conv/G1_forward": {"ns": 38.27e6, "flop": 5.14e9},
                "conv/D1_weight_grad": {"ns": 0.674e6, "flop": 4.01e7},
                "conv/D1_forward": {"ns": 0.572e6, "flop": 4.01e7}}
        torch = {"conv/D1_forward": {"ns": 0.427e6, "flop": 4.01e7},
                 "conv/D1_input_grad": {"ns": 3.545e6, "flop": 4.01e7}}
        t = rb.conv_table(agon, torch, rb.Peaks({}), 2, rb.Flags())
        body = [l.split("|")[1].strip() for l in t.splitlines()[2:] if l.startswith("|")]
        self.assertEqual(body, ["D1 forward", "D1 input_grad", "D1 weight_grad", "G1 forward"])
        self.assertIn("| D1 forward | 572 µs | 70.1 | 427 µs | 93.9 | 1.34 |", t)
        self.assertIn("| D1 input_grad | - | - | 3.54 ms |", t)
        self.assertIn("| D1 weight_grad | 674 µs | 59.5 | - | - | - |", t)

    def test_generic_missing_side_and_busy_torch(self):
        agon = {"train_step/dcgan28": {"ns": 330.3e6, "flop": None},
                "train_step/mlp2d": {"ns": 3.15e6, "flop": None}}
        torch = {"train_step/dcgan28": {"ns": 261.4e6, "busy": False},
                 "train_step/mlp2d": {"ns": 4.24e6, "busy": True, "other_cpu": 0.9},
                 "train_step/default": {"ns": 34e6}}
        flags = rb.Flags()
        rb.flag_torch_rows("train_step", torch, flags)
        t = rb.generic_table("train_step", agon, torch, flags, 2)
        lines = t.splitlines()
        self.assertEqual(lines[0], "| benchmark | Agon | PyTorch | ratio |")
        self.assertEqual(lines[2], "| dcgan28 step (batch 64) | 330 ms | 261 ms | 1.26 |")
        self.assertEqual(lines[3], "| default model step (batch 64) | - | 34.0 ms | - |")
        self.assertEqual(lines[4], "| mlp2d step (batch 256) | 3.15 ms | 4.24 ms ? | **0.74** ? |")
        self.assertTrue(any("busy" in w for w in flags.warnings["train_step"]))

    def test_no_rows_no_table(self):
        self.assertIsNone(rb.generic_table("gen", {}, {}, rb.Flags(), 2))
        self.assertEqual(rb.group_blocks("conv", {}, {}, rb.Peaks({}), 2, None, rb.Flags()), {})


class Markers(unittest.TestCase):
    DOC = ("# Benchmarks\n\nProse stays.\n\n## Matrix multiply\n\n<!-- bench:sgemm -->\n"
           "| old | table |\n<!-- /bench:sgemm -->\n\nMore prose, with a \\1 and a $ sign.\n")

    def test_replaces_between_markers_and_keeps_prose(self):
        text, appended = rb.rewrite_markers(self.DOC, {"sgemm": "| new | \\1 table |\n"})
        self.assertEqual(appended, [])
        self.assertIn("<!-- bench:sgemm -->\n| new | \\1 table |\n<!-- /bench:sgemm -->", text)
        self.assertNotIn("| old |", text)
        self.assertIn("Prose stays.", text)
        self.assertIn("More prose, with a \\1 and a $ sign.", text)
        # Rewriting again gives the same text (idempotent).
        self.assertEqual(rb.rewrite_markers(text, {"sgemm": "| new | \\1 table |"})[0], text)

    def test_missing_markers_are_appended(self):
        text, appended = rb.rewrite_markers(self.DOC, {"conv": "| conv |"}, {"conv": "Convs"})
        self.assertEqual(appended, ["conv"])
        self.assertTrue(text.startswith(self.DOC.rstrip("\n")))
        self.assertTrue(text.endswith("\n\n## Convs\n\n<!-- bench:conv -->\n| conv |\n"
                                      "<!-- /bench:conv -->\n"))
        # Next time the appended markers are found and reused.
        again, appended = rb.rewrite_markers(text, {"conv": "| conv 2 |"}, {"conv": "Convs"})
        self.assertEqual(appended, [])
        self.assertEqual(again.count("## Convs"), 1)

    def test_unbalanced_marker_is_an_error(self):
        with self.assertRaises(ValueError):
            rb.rewrite_markers("<!-- bench:gen -->\nno end\n", {"gen": "x"})

    def test_a_partial_sitting_keeps_the_other_groups_lines_dated(self):
        old = ("<!-- bench:machine -->\n- Date: 2026-12-06 04:08 UTC; groups: sgemm, conv.\n"
               "- CPU: Xeon; 2 CPUs.\n- sgemm: Agon 124 s (other processes 0.00 cores on "
               "average), then PyTorch 7 s.\n- conv: Agon 100 s, then PyTorch 22 s.\n"
               "- gen (2026-12-05 10:00 UTC): Agon 19 s.\n- Command: `x`\n"
               "<!-- /bench:machine -->\n")
        new = "- Date: 2026-12-06 06:43 UTC; groups: conv.\n- CPU: Xeon; 2 CPUs.\n"
        self.assertEqual(rb.kept_group_lines(old, new, ["conv"]), [
            "- sgemm (2026-12-06 04:08 UTC): Agon 124 s (other processes 0.00 cores on "
            "average), then PyTorch 7 s.",
            "- gen (2026-12-05 10:00 UTC): Agon 19 s."])
        # Another machine: its tables are stale, not merely older; nothing is carried over.
        self.assertEqual(rb.kept_group_lines(old, "- CPU: EPYC; 2 CPUs.\n", ["conv"]), [])
        self.assertEqual(rb.kept_group_lines("no block", new, ["conv"]), [])

    def test_benchmarks_md_markers_are_balanced(self):
        path = os.path.join(rb.ROOT, "BENCHMARKS.md")
        with open(path) as f:
            text = f.read()
        for key, _, _ in rb.BLOCKS:
            self.assertEqual(text.count(f"<!-- bench:{key} -->"),
                             text.count(f"<!-- /bench:{key} -->"), key)


class MainWithFakes(unittest.TestCase):
    """main() end to end, with cargo, criterion and torch_bench.py replaced by fakes: which
    commands run in which order, what is read back, what BENCHMARKS.md becomes."""

    AGON = {  # what the fake `cargo bench --bench <file>` writes, by file
        "sgemm": [("sgemm/fma_peak/avx512/1t", 1e6, 1e8), ("sgemm/fma_peak/avx512/2t", 1e6, 2e8),
                  ("sgemm/square_64/avx512", 2.0 * 64 ** 3 / 100.0, 2.0 * 64 ** 3),
                  ("sgemm/square_64/portable", 2.0 * 64 ** 3 / 50.0, 2.0 * 64 ** 3)],
        "train_step": [("train_step/dcgan28", 271e6, None), ("train_step/mlp2d", 3.6e6, None)],
    }
    TORCH = {"sgemm": [torch_row("sgemm/square_64", 2.0 * 64 ** 3 / 80.0 * 1e-9, 2.0 * 64 ** 3)],
             "train_step": [torch_row("train_step/dcgan28", 0.157),
                            torch_row("train_step/default", 0.034)],
             "gen": [torch_row("gen/default_forward_256", 0.02)]}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.crit = os.path.join(self.tmp.name, "criterion")
        self.calls = []
        # A stale result from an earlier run must not be read.
        write_criterion(self.crit, "train_step/mlp2d", 1.0, mtime=time.time() - 3600)
        self.saved_list = rb.list_agon_rows
        saved = {n: getattr(rb, n) for n in ("bench_targets", "criterion_dir", "torch_available",
                                             "build_benches", "run_agon", "run_torch")}
        self.addCleanup(lambda: [setattr(rb, n, f) for n, f in saved.items()])
        rb.bench_targets = lambda: {"sgemm", "conv", "autodiff", "train_step"}  # no gen.rs
        rb.criterion_dir = lambda: self.crit
        rb.torch_available = lambda python: "2.15.0"
        rb.build_benches = lambda benches, env: self.calls.append(("build", tuple(benches)))

        def run_agon(bench, filt, args, env):
            self.calls.append(("agon", bench, filt, env["RAYON_NUM_THREADS"]))
            for full_id, ns, flop in self.AGON.get(bench, []):
                if rb.re.search(filt, full_id) and not (bench == "train_step" and full_id.endswith("mlp2d")):
                    write_criterion(self.crit, full_id, ns, flop=flop)
            return 2.0, 0.01, {"paths": ["avx512", "portable"], "active": "avx512",
                               "caches": "CacheSizes { l1d: 49152, l2: 2097152 }"} \
                if bench == "sgemm" else None

        def run_torch(group, args, tmpdir, match=None):
            self.calls.append(("torch", group) + ((match,) if match else ()))
            rows = {r["name"]: {"ns": r["median_s"] * 1e9, "flop": r["flop"], "busy": r["busy"],
                                "implausible": None, "other_cpu": r["other_cpu"]}
                    for r in self.TORCH.get(group, [])
                    if not match or rb.re.search(match, r["name"])}
            return rows, {"torch": "2.15.0", "cpu_capability": "AVX512", "threads": 2}, 1.0

        rb.run_agon, rb.run_torch = run_agon, run_torch
        self.out = os.path.join(self.tmp.name, "BENCHMARKS.md")
        with open(self.out, "w") as f:
            f.write("# Benchmarks\n\nProse.\n\n<!-- bench:train_step -->\nold\n"
                    "<!-- /bench:train_step -->\n\nTail prose.\n")

    def run_main(self, *argv):
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()) as out, \
                contextlib.redirect_stderr(io.StringIO()) as err:
            rc = rb.main(list(argv) + ["--out", self.out])
        self.stdout = out.getvalue()
        return rc, err.getvalue()

    def test_interleaved_and_written(self):
        rc, err = self.run_main("--groups", "train_step,sgemm,gen")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.calls, [
            ("build", ("sgemm", "train_step")),
            ("agon", "sgemm", "^sgemm/", "2"), ("torch", "sgemm"),
            ("agon", "train_step", "^train_step/", "2"), ("torch", "train_step"),
            ("torch", "gen"),  # documented order; gen has no Agon bench
            ("agon", "sgemm", "^sgemm/fma_peak/", "2")])  # the peak read again at the end
        with open(self.out) as f:
            text = f.read()
        self.assertIn("Prose.", text)
        self.assertIn("Tail prose.", text)
        self.assertNotIn("\nold\n", text)
        # Agon's only mlp2d result is stale (an hour old) and PyTorch has none: no row.
        self.assertNotIn("mlp2d", text)
        self.assertIn("| dcgan28 step (batch 64) | 271 ms | 157 ms | 1.73 |", text)
        self.assertIn("| default model step (batch 64) | - | 34.0 ms | - |", text)
        self.assertIn("| default generator forward (batch 256, eval) | - | 20.0 ms | - |", text)
        # sgemm: avx512 at 100 of a 200 GFLOP/s 2-thread peak; ratio on the active path.
        self.assertIn("| square 64 | 5.24 µs | 100.0 | 50% | 10.5 µs | 50.0 | 25% | 6.55 µs | "
                      "80.0 | 40% | **0.80** |", text)
        self.assertIn("active **avx512**", text)
        for key in ("machine", "sgemm", "sgemm_peak", "gen"):  # appended: no markers before
            self.assertIn(f"<!-- bench:{key} -->", text)
            self.assertIn(f"no <!-- bench:{key} --> markers", err)
        self.assertEqual(text.count("<!-- bench:train_step -->"), 1)
        self.assertIn("`python3 scripts/run_benchmarks.py --groups train_step,sgemm,gen --out ",
                      text)  # the command line

    def test_filter_runs_peak_first_and_dry_run_writes_nothing(self):
        with open(self.out) as f:
            before = f.read()
        rc, _ = self.run_main("--groups", "sgemm", "--filter", "square_64", "--dry-run",
                              "--threads", "1")
        self.assertEqual(rc, 0)
        self.assertEqual(self.calls[1:], [("agon", "sgemm", "^sgemm/fma_peak/", "1"),
                                          ("agon", "sgemm", "square_64", "1"),
                                          ("torch", "sgemm"),
                                          ("agon", "sgemm", "^sgemm/fma_peak/", "1")])
        with open(self.out) as f:
            self.assertEqual(f.read(), before)
        # --filter without --dry-run does not write either, unless --force-write.
        self.assertEqual(self.run_main("--groups", "sgemm", "--filter", "square_64")[0], 0)
        with open(self.out) as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.run_main("--groups", "sgemm", "--filter", "square_64",
                                       "--force-write")[0], 0)
        with open(self.out) as f:
            self.assertIn("| square 64 |", f.read())

    def test_rounds_alternate_and_pair_the_ratios(self):
        # The VM runs at half speed in the second round: both sides take twice as long. The
        # paired ratios are 0.80, 0.80, 0.84; the ratio of the two medians would be 0.84.
        agon_ns, torch_s = iter([200e6, 400e6, 210e6]), iter([0.25, 0.5, 0.25])
        plain_agon, plain_torch = rb.run_agon, rb.run_torch

        def run_agon(bench, filt, args, env):
            self.AGON = {"train_step": [("train_step/dcgan28", next(agon_ns), None)]}
            return plain_agon(bench, filt, args, env)

        def run_torch(group, args, tmpdir, match=None):
            self.TORCH = {"train_step": [torch_row("train_step/dcgan28", next(torch_s))]}
            return plain_torch(group, args, tmpdir, match)

        rb.run_agon, rb.run_torch = run_agon, run_torch
        rc, err = self.run_main("--groups", "train_step", "--rounds", "3", "--no-peak")
        self.assertEqual(rc, 0, err)
        self.assertEqual([c[:2] for c in self.calls[1:]], [
            ("agon", "train_step"), ("torch", "train_step"),
            ("torch", "train_step"), ("agon", "train_step"),
            ("agon", "train_step"), ("torch", "train_step")])
        with open(self.out) as f:
            text = f.read()
        self.assertIn("| dcgan28 step (batch 64) | 210 ms | 250 ms | **0.80** (0.80-0.84) |",
                      text)
        self.assertIn("3 rounds, alternating which side runs first", text)

    def test_pair_rows_runs_each_row_back_to_back(self):
        rb.list_agon_rows = lambda bench, filt, env: [
            i for i, _, _ in self.AGON.get(bench, []) if rb.re.search(filt, i)]
        self.addCleanup(lambda: setattr(rb, "list_agon_rows", self.saved_list))
        self.AGON = dict(self.AGON, sgemm=self.AGON["sgemm"] + [
            ("sgemm/square_64/avx2", 2.0 * 64 ** 3 / 90.0, 2.0 * 64 ** 3)])
        rc, err = self.run_main("--groups", "sgemm,train_step", "--rounds", "2", "--pair-rows")
        self.assertEqual(rc, 0, err)
        square = "^(sgemm/square_64/avx512|sgemm/square_64/portable|sgemm/square_64/avx2)$"
        peak = ("agon", "sgemm", "^(sgemm/fma_peak/avx512/1t|sgemm/fma_peak/avx512/2t)$", "2")
        square = [("agon", "sgemm", square, "2"), ("torch", "sgemm", "^sgemm/square_64$")]
        dcgan = [("agon", "train_step", "^(train_step/dcgan28)$", "2"),
                 ("torch", "train_step", "^train_step/dcgan28$")]
        mlp = [("agon", "train_step", "^(train_step/mlp2d)$", "2"),
               ("torch", "train_step", "^train_step/mlp2d$")]
        # An sgemm size's ISA rows form one unit with PyTorch's row; the rows without a
        # PyTorch side (the FMA peak) run together last. Which side goes first alternates
        # from row to row within a group and from round to round.
        self.assertEqual(self.calls[1:], [
            *square, peak, *dcgan, *mlp[::-1],
            *square[::-1], peak, *dcgan[::-1], *mlp,
            ("agon", "sgemm", "^sgemm/fma_peak/", "2")])
        with open(self.out) as f:
            text = f.read()
        self.assertIn("Sides paired row by row (`--pair-rows`)", text)
        self.assertIn("each row's two sides ran back to back", text)
        self.assertIn("| dcgan28 step (batch 64) | 271 ms | 157 ms | 1.73 (1.73-1.73) |", text)

    def test_a_run_reads_only_its_own_rows(self):
        # A result written a moment before the run (by the run before it) is newer than the
        # run's mtime window, which reaches a second back; the run filtered to square_64
        # must not take it as one of its own rows.
        write_criterion(self.crit, "sgemm/fma_peak/avx512/1t", 1e6, flop=1e8)
        rc, err = self.run_main("--groups", "sgemm", "--filter", "square_64", "--no-peak",
                                "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertIn("| square 64 |", self.stdout)
        self.assertNotIn("bench:sgemm_peak", self.stdout)

    def test_paired_ratio_cell(self):
        self.assertEqual(rb.fmt_ratio(1.0, 2.0), "**0.50**")
        self.assertEqual(rb.fmt_ratio(1.0, 2.0, paired=[1.1]), "**0.50**")  # one round: a / b
        self.assertEqual(rb.fmt_ratio(1.0, 2.0, True, paired=[1.2, 0.9, 1.1]),
                         "1.10 (0.90-1.20) ?")
        agon, torch = rb.combine_rounds({"x": [{"ns": 3.0}, None, {"ns": 5.0}]},
                                        {"x": [{"ns": 2.0}, {"ns": 9.0}, None]})
        self.assertEqual(agon["x"]["ns"], 4.0)
        self.assertEqual(agon["x"]["paired"], [1.5])  # only round 0 measured both
        self.assertEqual(torch["x"]["ns"], 5.5)

    def test_no_torch(self):
        rb.torch_available = lambda python: None
        rc, err = self.run_main("--groups", "train_step", "--torch-python", "/no/python")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(("torch", "train_step"), self.calls)
        with open(self.out) as f:
            text = f.read()
        self.assertIn("| dcgan28 step (batch 64) | 271 ms | - | - |", text)
        self.assertIn("PyTorch: not run (torch is not importable by /no/python)", text)


if __name__ == "__main__":
    unittest.main()
