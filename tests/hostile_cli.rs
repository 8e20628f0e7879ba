//! Seeded fuzzing of the `agon` command's entry points with hostile files (issue 12's
//! acceptance): real checkpoints damaged byte-wise and semantically (the configuration
//! stored inside them edited to lie), configuration files, IDX and PNG datasets, and random
//! argument lists, fed to `inspect`, `sample`, `interpolate`, `export`, `eval`,
//! `detect`, `invert`, `edit` (checkpoints), `eval --train-classifier`, `train --config`
//! and `train --resume`.
//!
//! For every case: no panic, no abort, no hang, peak allocation within the stated budget
//! ([`budget`]: twice what the undamaged case needs plus 32 bytes per input byte, measured
//! with a counting allocator), and either success or an error that names the file (or the
//! key) at fault.
//!
//! The cases run in-process through [`agon::cli::run_args`], in a child process of this
//! test binary: the commands' own output goes to /dev/null, an abort or a hang shows up as
//! the child's death or timeout, and the parent names the case it was in (the child logs
//! each case to a report file before running it). Reproduce one case: every mutation is a
//! pure function of the case's seed; set `AGON_FUZZ_ONLY=<case name>`.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

use common::RING_TRAIN_ARGS;

use agon::gan::trainer::CHECKPOINT_FILE;
use agon::nn::checkpoint::Checkpoint;
use agon_reference::counting::{peak_during, Counting};
use agon_reference::files::{gzip, idx_bytes, png_bytes, TempDir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How long the whole child may take before it counts as hung (it takes ~12 s in a debug
/// build on 2 cores).
const CHILD_LIMIT: Duration = Duration::from_secs(180);

#[test]
fn cli_entry_points_survive_hostile_files_configs_and_arguments() {
    if let Ok(report) = std::env::var("AGON_FUZZ_REPORT") {
        fuzz(Path::new(&report));
        return;
    }
    let dir = TempDir::new("hostile-cli");
    let report = dir.join("report.txt");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cli_entry_points_survive_hostile_files_configs_and_arguments",
            "--test-threads",
            "1",
        ])
        .env("AGON_FUZZ_REPORT", &report)
        .env("AGON_FUZZ_DIR", &dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let last = text.lines().rev().find_map(|l| l.strip_prefix("case "));
    let failures: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    match status {
        None => panic!("hung in case {last:?} (killed after {CHILD_LIMIT:?})"),
        Some(s) if !text.contains("\ndone ") => {
            panic!("the fuzz process died ({s}) in case {last:?}: an abort or a crash")
        }
        Some(_) => {}
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let summary = text.lines().find(|l| l.starts_with("done ")).unwrap();
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------
// The child: cases, run in-process.

/// What a case must name when it fails: any of these strings.
struct Case {
    name: String,
    args: Vec<String>,
    names: Vec<String>,
    budget: usize,
}

struct Fuzz {
    report: std::fs::File,
    only: Option<String>,
    cases: usize,
    errors: usize,
    worst: f64,
}

/// The panic message of the case running, captured by the hook.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

impl Fuzz {
    fn log(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.report, "{line}").unwrap();
        self.report.sync_data().unwrap();
    }

    /// Runs one case: the result, or `None` when skipped by `AGON_FUZZ_ONLY`.
    fn run(&mut self, case: Case) -> Option<Result<(), String>> {
        let setup = case.name.starts_with("setup");
        if !setup && self.only.as_ref().is_some_and(|o| *o != case.name) {
            return None;
        }
        self.log(&format!("case {} {:?}", case.name, case.args));
        let args = std::iter::once("agon".to_string()).chain(case.args.iter().cloned());
        let (result, peak) = peak_during(|| {
            catch_unwind(AssertUnwindSafe(|| {
                agon::cli::run_args(args).map_err(|e| e.to_string())
            }))
        });
        self.cases += 1;
        self.worst = self.worst.max(peak as f64 / case.budget as f64);
        let fail = |why: String| {
            format!(
                "FAIL {}: {why} (args {:?}, names {:?})",
                case.name, case.args, case.names
            )
        };
        let result = match result {
            Err(_) => {
                let msg = PANIC.lock().unwrap().take().unwrap_or_default();
                self.log(&fail(format!("panicked: {msg}")));
                return Some(Err(msg));
            }
            Ok(r) => r,
        };
        if peak > case.budget {
            self.log(&fail(format!(
                "allocated {peak} bytes at peak, over its budget of {}",
                case.budget
            )));
        }
        if let Err(e) = &result {
            self.errors += 1;
            if !case.names.is_empty() && !case.names.iter().any(|n| e.contains(n.as_str())) {
                self.log(&fail(format!(
                    "the error names none of {:?}: {e}",
                    case.names
                )));
            }
        }
        Some(result)
    }
}

/// The memory a damaged case may use: twice what the undamaged case needed, plus 32 bytes
/// per byte of the damaged input (a lying header may make a reader hold a few copies of
/// what is there, never what is claimed).
fn budget(clean_peak: usize, input_len: usize) -> usize {
    2 * clean_peak + 32 * input_len + (1 << 20)
}

fn s(x: &Path) -> String {
    x.display().to_string()
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| x.to_string()).collect()
}

fn fuzz(report: &Path) {
    std::panic::set_hook(Box::new(|info| {
        *PANIC.lock().unwrap() = Some(info.to_string());
    }));
    let root = PathBuf::from(std::env::var("AGON_FUZZ_DIR").unwrap());
    let mut f = Fuzz {
        report: std::fs::File::create(report).unwrap(),
        only: std::env::var("AGON_FUZZ_ONLY").ok(),
        cases: 0,
        errors: 0,
        worst: 0.0,
    };
    let ring = root.join("ring");
    let image = root.join("image");
    let setup = [
        (
            "setup-ring",
            argv(&[&RING_TRAIN_ARGS[..], &["--out", &s(&ring)]].concat()),
        ),
        (
            "setup-image",
            argv(&[
                "train",
                "--steps",
                "2",
                "--set",
                "model.width=4",
                "--set",
                "model.latent_dim=8",
                "--set",
                "batch_size=8",
                "--set",
                "data.limit=64",
                "--set",
                "log.samples=4",
                "--quiet",
                "--out",
                &s(&image),
            ]),
        ),
    ];
    for (name, args) in setup {
        let r = f.run(Case {
            name: name.into(),
            args,
            names: vec![],
            budget: usize::MAX,
        });
        r.unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    checkpoint_cases(&mut f, &root, &ring, "ring", 0);
    checkpoint_cases(&mut f, &root, &image, "image", 1);
    config_cases(&mut f, &root, &ring);
    dataset_cases(&mut f, &root);
    argument_cases(&mut f, &root, &ring);
    let line = format!(
        "done {} cases ({} clean errors), worst peak {:.0}% of its budget",
        f.cases,
        f.errors,
        100.0 * f.worst
    );
    f.log(&line);
}

// ---------------------------------------------------------------------------------------
// Checkpoints.

/// One to eight random bit flips anywhere in `b` (the same draws for every file kind).
fn flip_bits(b: &mut [u8], rng: &mut StdRng) {
    for _ in 0..rng.random_range(1..9) {
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
    }
}

/// A byte-wise mutation of `bytes`: truncation, bit flips (anywhere or in the header),
/// a lying header length, digits in the header JSON rewritten, junk appended or inserted.
fn damage(bytes: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let header_end = (8 + u64::from_le_bytes(b[..8].try_into().unwrap()) as usize).min(b.len());
    match rng.random_range(0..7) {
        0 => b.truncate(rng.random_range(0..b.len())),
        1 => flip_bits(&mut b, rng),
        2 => {
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(8..header_end);
                b[i] ^= 1 << rng.random_range(0..8);
            }
        }
        3 => {
            let lie: u64 = match rng.random_range(0..3) {
                0 => rng.random(),
                1 => (header_end as u64).saturating_mul(rng.random_range(2..1000)),
                _ => rng.random_range(0..header_end as u64),
            };
            b[..8].copy_from_slice(&lie.to_le_bytes());
        }
        4 => {
            // Shapes and data offsets that lie, keeping the JSON well formed.
            let digits: Vec<usize> = (8..header_end).filter(|&i| b[i].is_ascii_digit()).collect();
            for _ in 0..rng.random_range(1..4) {
                let i = digits[rng.random_range(0..digits.len())];
                b[i] = b'0' + rng.random_range(0..10u8);
            }
            if rng.random_bool(0.3) {
                let i = digits[rng.random_range(0..digits.len())];
                b.splice(i..i, *b"999999");
                let len = u64::from_le_bytes(b[..8].try_into().unwrap()) + 6;
                b[..8].copy_from_slice(&len.to_le_bytes());
            }
        }
        5 => b.extend((0..rng.random_range(1..4096)).map(|_| rng.random::<u8>())),
        _ => {
            let i = rng.random_range(0..b.len());
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            b.splice(i..i, junk);
        }
    }
    b
}

/// Values for a configuration key that a hostile file might hold.
fn hostile_values() -> Vec<toml::Value> {
    use toml::Value::*;
    vec![
        Integer(0),
        Integer(-1),
        Integer(1),
        Integer(3),
        Integer(1 << 31),
        Integer(i64::MAX),
        Float(f64::NAN),
        Float(f64::INFINITY),
        Float(-1e30),
        Float(0.5),
        Float(1.0),
        String(std::string::String::new()),
        String("x".into()),
        String("/dev/zero".into()),
        String("conditional".into()),
        String("dcgan28".into()),
        String("wasserstein".into()),
        Boolean(true),
        Array(vec![]),
        Table(toml::Table::new()),
    ]
}

fn hostile_value(rng: &mut StdRng) -> toml::Value {
    let values = hostile_values();
    values[rng.random_range(0..values.len())].clone()
}

/// Every leaf of a TOML table as a dotted key.
fn leaves(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaves(t, &key, out),
            _ => out.push(key),
        }
    }
}

fn set_leaf(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap();
    let mut t = table;
    for p in parts {
        t = t.get_mut(p).unwrap().as_table_mut().unwrap();
    }
    t.insert(last.to_string(), value);
}

/// `config` with one leaf set to a hostile value: (new TOML, the key).
fn lying_config(config: &str, rng: &mut StdRng) -> (String, String) {
    let mut table: toml::Table = config.parse().unwrap();
    let mut keys = vec![];
    leaves(&table, "", &mut keys);
    let key = keys[rng.random_range(0..keys.len())].clone();
    set_leaf(&mut table, &key, hostile_value(rng));
    (toml::to_string(&table).unwrap(), key)
}

/// The commands a checkpoint file feeds, reading `ckpt` and writing under `out`.
fn checkpoint_commands(ckpt: &Path, out: &Path, rng: &mut StdRng) -> Vec<Vec<String>> {
    let c = s(ckpt);
    let net = ["g", "d", "ema"][rng.random_range(0..3)];
    vec![
        argv(&["inspect", &c]),
        argv(&[
            "sample",
            "--checkpoint",
            &c,
            "--n",
            "4",
            "--out",
            &s(&out.join("s.png")),
        ]),
        argv(&[
            "export",
            "--checkpoint",
            &c,
            "--net",
            net,
            "--out",
            &s(&out.join("g.safetensors")),
        ]),
        argv(&[
            "eval",
            "--checkpoint",
            &c,
            "--n",
            "16",
            "--out",
            &s(&out.join("scores.json")),
        ]),
        argv(&[
            "interpolate",
            "--checkpoint",
            &c,
            "--rows",
            "1",
            "--steps",
            "2",
            "--out",
            &s(&out.join("i.png")),
        ]),
        argv(&["detect", "--checkpoint", &c, &s(&probe_png(out))]),
        argv(&[
            "invert",
            "--checkpoint",
            &c,
            "--real",
            "2",
            "--restarts",
            "1",
            "--steps",
            "1",
            "--out",
            &s(&out.join("inv")),
        ]),
        argv(&[
            "edit",
            "--checkpoint",
            &c,
            "--direction",
            "ink",
            "--samples",
            "16",
            "--measure-n",
            "2",
            "--rows",
            "1",
            "--steps",
            "2",
            "--out",
            &s(&out.join("e.png")),
        ]),
    ]
}

/// A small grey PNG in `dir` for the commands that read an image beside the checkpoint.
fn probe_png(dir: &Path) -> PathBuf {
    let path = dir.join("probe.png");
    if !path.exists() {
        agon::data::save_png(&agon::tensor::NdArray::full(&[1, 8, 8], 0.1), &path).unwrap();
    }
    path
}

/// Damaged copies of the checkpoint in `run` fed to every command that reads one, and to
/// `train --resume` from a copy of the run.
fn checkpoint_cases(f: &mut Fuzz, root: &Path, run: &Path, label: &str, seed: u64) {
    let original = std::fs::read(run.join(CHECKPOINT_FILE)).unwrap();
    let config = Checkpoint::from_bytes(&original).unwrap().metadata()["agon.config"].clone();
    let work = root.join(format!("ckpt-{label}"));
    std::fs::create_dir_all(&work).unwrap();

    // The undamaged cases' peaks set the budgets.
    let clean = work.join("clean.safetensors");
    std::fs::write(&clean, &original).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let clean_peaks: Vec<usize> = checkpoint_commands(&clean, &work, &mut rng)
        .into_iter()
        .map(|args| {
            peak_during(|| {
                let args = std::iter::once("agon".to_string()).chain(args);
                let _ = agon::cli::run_args(args);
            })
            .1
        })
        .collect();

    let cases = if label == "ring" { 150 } else { 60 };
    for k in 0..cases {
        let mut rng = StdRng::seed_from_u64(seed * 1000 + k);
        let path = work.join(format!("case{k}.safetensors"));
        let (bytes, key) = if k % 3 == 2 {
            // Semantic: a well-formed file whose stored configuration lies.
            let (text, key) = lying_config(&config, &mut rng);
            let mut ck = Checkpoint::from_bytes(&original).unwrap();
            ck.set_metadata("agon.config", &text);
            (ck.to_bytes().unwrap(), Some(key))
        } else {
            (damage(&original, &mut rng), None)
        };
        std::fs::write(&path, &bytes).unwrap();
        let mut names = vec![s(&path)];
        names.extend(key.clone());
        for (j, args) in checkpoint_commands(&path, &work, &mut rng)
            .into_iter()
            .enumerate()
        {
            f.run(Case {
                name: format!("{label}-checkpoint-{k}-{}", args[0]),
                args,
                names: names.clone(),
                budget: budget(clean_peaks[j], bytes.len()),
            });
        }
        // Resume from a copy of the run holding the damaged checkpoint (ring only: each
        // resume that succeeds trains a step).
        if label == "ring" && k % 2 == 0 {
            let out = work.join(format!("resume{k}"));
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(out.join(CHECKPOINT_FILE), &bytes).unwrap();
            let mut names = vec![s(&out.join(CHECKPOINT_FILE)), s(&out)];
            names.extend(key);
            f.run(Case {
                name: format!("{label}-checkpoint-{k}-resume"),
                args: argv(&[
                    "train",
                    "--resume",
                    "--steps",
                    "6",
                    "--quiet",
                    "--out",
                    &s(&out),
                ]),
                names,
                budget: budget(clean_peaks[0].max(64 << 20), bytes.len()),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Configuration files.

/// `train --config` with the ring run's `config.toml` damaged: every key set to every
/// hostile value, bytes corrupted, the text cut short before an unknown key.
fn config_cases(f: &mut Fuzz, root: &Path, ring: &Path) {
    let base = std::fs::read_to_string(ring.join("config.toml")).unwrap();
    let work = root.join("configs");
    std::fs::create_dir_all(&work).unwrap();
    let mut texts = vec![];
    // Every key with every hostile value.
    let table: toml::Table = base.parse().unwrap();
    let mut keys = vec![];
    leaves(&table, "", &mut keys);
    for key in &keys {
        for value in hostile_values() {
            let mut t = table.clone();
            // A path-like value is named by the error about it (`/dev/zero: not a
            // directory`), as is the key.
            let named: Vec<String> = match &value {
                toml::Value::String(v) if !v.is_empty() => vec![key.clone(), v.clone()],
                _ => vec![key.clone()],
            };
            set_leaf(&mut t, key, value);
            texts.push((toml::to_string(&t).unwrap(), named));
        }
    }
    // Damaged text.
    for k in 0..100u64 {
        let mut rng = StdRng::seed_from_u64(100 + k);
        let text = if k % 2 == 0 {
            let mut bytes = base.clone().into_bytes();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random_range(0x20..0x7f);
            }
            String::from_utf8(bytes).unwrap()
        } else {
            let cut = rng.random_range(0..base.len());
            format!("{}\nbogus_key = 1\n", &base[..cut])
        };
        texts.push((text, vec![]));
    }
    for (k, (text, key)) in texts.into_iter().enumerate() {
        let path = work.join(format!("c{k}.toml"));
        std::fs::write(&path, &text).unwrap();
        // A valid configuration may still diverge (a learning rate of 1e30): the error
        // then names the step and the loss, which is what is wrong.
        let mut names = vec![s(&path), "diverged at step".into()];
        names.extend(key);
        let out = work.join(format!("out{k}"));
        f.run(Case {
            name: format!("config-{k}"),
            args: argv(&[
                "train",
                "--config",
                &s(&path),
                "--steps",
                "2",
                "--quiet",
                "--out",
                &s(&out),
            ]),
            names,
            budget: 256 << 20,
        });
    }
}

// ---------------------------------------------------------------------------------------
// Datasets.

/// A small labelled IDX folder (test split, 20 images) and an image folder of two classes,
/// damaged byte-wise, fed to `train --data` and `eval --train-classifier`.
fn dataset_cases(f: &mut Fuzz, root: &Path) {
    let work = root.join("datasets");
    let n = 20u32;
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i * 7 % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let idx_files = [
        (
            "t10k-images-idx3-ubyte.gz",
            gzip(&idx_bytes(&[n, 28, 28], &pixels)),
        ),
        ("t10k-labels-idx1-ubyte.gz", gzip(&idx_bytes(&[n], &labels))),
        ("t10k-images-idx3-ubyte", idx_bytes(&[n, 28, 28], &pixels)),
    ];
    let png = |seed: u32| {
        png_bytes(12, 12, 3, false, move |x, y, c| {
            (x * 20 + y * 3 + c as u32 + seed) as u8
        })
    };
    for k in 0..60u64 {
        let mut rng = StdRng::seed_from_u64(200 + k);
        let dir = work.join(format!("d{k}"));
        if k % 2 == 0 {
            // IDX: one of the files damaged (the raw IDX variant replaces the gzip one).
            std::fs::create_dir_all(&dir).unwrap();
            let which = rng.random_range(0..3);
            for (i, (name, bytes)) in idx_files.iter().enumerate() {
                if i == 2 && which != 2 || i == 0 && which == 2 {
                    continue;
                }
                let bytes = if i == which {
                    damage_plain(bytes, &mut rng)
                } else {
                    bytes.clone()
                };
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        } else {
            for class in ["a", "b"] {
                std::fs::create_dir_all(dir.join(class)).unwrap();
                for i in 0..3 {
                    std::fs::write(dir.join(class).join(format!("{i}.png")), png(i)).unwrap();
                }
            }
            std::fs::write(dir.join("b").join("1.png"), damage_plain(&png(1), &mut rng)).unwrap();
        }
        // The error names the dataset folder (or the damaged file inside it).
        let names = vec![s(&dir)];
        f.run(Case {
            name: format!("dataset-{k}-train"),
            args: argv(&[
                "train",
                "--data",
                &s(&dir),
                "--model",
                "mlp",
                "--steps",
                "1",
                "--set",
                "model.mlp_hidden=4",
                "--set",
                "batch_size=4",
                "--set",
                "log.samples=4",
                "--quiet",
                "--out",
                &s(&work.join(format!("out{k}"))),
            ]),
            names: names.clone(),
            budget: 64 << 20,
        });
        f.run(Case {
            name: format!("dataset-{k}-classifier"),
            args: argv(&[
                "eval",
                "--train-classifier",
                &s(&dir),
                "--epochs",
                "1",
                "--classifier",
                &s(&work.join(format!("c{k}.safetensors"))),
            ]),
            names,
            budget: 64 << 20,
        });
    }
}

/// Bytes damaged as [`damage`] does, without the safetensors-specific header edits.
fn damage_plain(bytes: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match rng.random_range(0..4) {
        0 => b.truncate(rng.random_range(0..b.len())),
        1 => flip_bits(&mut b, rng),
        2 => {
            // Headers: the first 24 bytes hold IDX dimensions and PNG sizes.
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..b.len().min(24));
                b[i] = rng.random();
            }
        }
        _ => b.extend((0..rng.random_range(1..256)).map(|_| rng.random::<u8>())),
    }
    b
}

// ---------------------------------------------------------------------------------------
// Arguments.

/// Random argument lists: a command, then flags with hostile values (paths that are
/// missing, directories, devices or empty; numbers out of range). Outputs stay in the
/// temporary directory; `train` always has a small step count.
fn argument_cases(f: &mut Fuzz, root: &Path, ring: &Path) {
    let work = root.join("args");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("file"), "not a checkpoint").unwrap();
    let ckpt = s(&ring.join(CHECKPOINT_FILE));
    let paths = [
        ckpt.clone(),
        s(&work.join("missing")),
        s(&work),
        s(&work.join("file")),
        "/dev/null".into(),
        String::new(),
    ];
    let numbers = [
        "0",
        "-1",
        "1",
        "2",
        "99999999999999999999",
        "nan",
        "1e9",
        "x",
    ];
    let flags: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("inspect", vec![]),
        ("sample", vec!["--checkpoint", "--n", "--class", "--seed"]),
        (
            "interpolate",
            vec!["--checkpoint", "--rows", "--steps", "--seed"],
        ),
        ("export", vec!["--checkpoint", "--net"]),
        (
            "eval",
            vec![
                "--checkpoint",
                "--n",
                "--data-dir",
                "--seed",
                "--classifier",
            ],
        ),
        (
            "train",
            vec![
                "--config", "--data", "--model", "--task", "--seed", "--set", "--resume",
            ],
        ),
    ]);
    let commands: Vec<&str> = flags.keys().copied().collect();
    for k in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(300 + k);
        let cmd = commands[rng.random_range(0..commands.len())];
        let mut args = vec![cmd.to_string()];
        let out = work.join(format!("out{k}"));
        match cmd {
            "inspect" => args.push(paths[rng.random_range(0..paths.len())].clone()),
            "train" => args.extend(argv(&["--steps", "2", "--quiet", "--out", &s(&out)])),
            "eval" => args.extend(argv(&["--out", &s(&out.join("scores.json"))])),
            _ => args.extend(argv(&["--out", &s(&out.join("x.png"))])),
        }
        for _ in 0..rng.random_range(0..4) {
            let fl = &flags[cmd];
            if fl.is_empty() {
                break;
            }
            let flag = fl[rng.random_range(0..fl.len())];
            args.push(flag.to_string());
            match flag {
                "--resume" => {}
                "--checkpoint" | "--config" | "--data-dir" | "--classifier" => {
                    args.push(paths[rng.random_range(0..paths.len())].clone())
                }
                "--data" => args.push(
                    ["ring8", "grid25", "cifar10", "nowhere", ""][rng.random_range(0..5)].into(),
                ),
                "--model" => args.push(["mlp", "dcgan", "gpt"][rng.random_range(0..3)].into()),
                "--task" => {
                    args.push(["auto", "conditional", "inpaint"][rng.random_range(0..3)].into())
                }
                "--net" => args.push(["g", "d", "ema", "x"][rng.random_range(0..4)].into()),
                "--set" => args.push(
                    [
                        "model.mlp_hidden=4",
                        "batch_size=0",
                        "log.samples=0",
                        "optim.lr_g=-1",
                        "nokey=1",
                        "=",
                        "model=1",
                    ][rng.random_range(0..7)]
                    .into(),
                ),
                _ => args.push(numbers[rng.random_range(0..numbers.len())].into()),
            }
        }
        // Training defaults to the DCGAN on Fashion-MNIST; the MLP on a toy keeps a case
        // that succeeds fast.
        if cmd == "train" && !args.iter().any(|a| a == "--data") {
            args.extend(argv(&["--data", "ring8", "--model", "mlp"]));
        }
        f.run(Case {
            name: format!("args-{k}"),
            args,
            names: vec![],
            budget: 256 << 20,
        });
    }
}
