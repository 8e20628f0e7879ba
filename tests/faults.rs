//! Issue 12's kinds of fault, one regression test (or a table of cases) each: values the
//! trainer used to assert on, sizes from checkpoints, divergence that stays finite, runs
//! that mix, the process's own streams, messages and hangs. `hostile_cli.rs` fuzzes the
//! same entry points with mutated files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::RING_TRAIN_ARGS;

use agon::gan::trainer::{ModelKind, TrainConfig, TrainError, Trainer, CHECKPOINT_FILE};
use agon::gan::GanLoss;
use agon::nn::checkpoint::Checkpoint;
use agon::tensor::NdArray;
use agon_reference::files::TempDir;

fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("faults-{name}"))
}

/// A ring-of-8 MLP run: trains in milliseconds.
fn ring(out: &Path) -> TrainConfig {
    let mut c = TrainConfig {
        steps: 4,
        batch_size: 16,
        out_dir: out.to_path_buf(),
        ..TrainConfig::default()
    };
    c.data.name = "ring8".into();
    c.model.kind = ModelKind::Mlp;
    c.model.mlp_hidden = 8;
    c.model.latent_dim = 4;
    c.log.every = 1;
    c.log.sample_every = 2;
    c.log.checkpoint_every = 2;
    c
}

fn agon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agon"))
}

fn run(args: &[&str]) -> Output {
    agon().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Trains `ring` in `out` through the CLI (the checkpoint other tests damage).
fn trained_ring(out: &Path) -> PathBuf {
    let mut args = RING_TRAIN_ARGS.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out.join(CHECKPOINT_FILE)
}

#[test]
fn values_the_code_asserted_on_are_configuration_errors_naming_the_key() {
    let cases = [
        ("[optim]\nbeta1 = 1.0", "optim.beta1"),
        ("[optim]\nbeta2 = -0.1", "optim.beta2"),
        ("[loss]\ngp_weight = -1.0", "loss.gp_weight"),
        ("[loss]\nr1_gamma = nan", "loss.r1_gamma"),
        ("[loss]\nweight_clip = -0.01", "loss.weight_clip"),
        (
            "[model]\nkind = \"mlp\"\nmlp_hidden = 0",
            "model.mlp_hidden",
        ),
        ("[model]\nwidth = 0", "model.width"),
        ("[log]\nsamples = 0", "log.samples"),
        ("[log]\nsamples = 100000", "log.samples"),
        ("[log]\neval_samples = 0", "log.eval_samples"),
        ("[log]\neval_samples = 3", "log.eval_samples"),
        ("steps = 0", "steps"),
        ("batch_size = 1000000", "batch_size"),
        ("[data]\nlimit = 10", "data.limit"),
        ("[optim]\nn_critic = 1000000", "optim.n_critic"),
    ];
    for (text, key) in cases {
        let e = TrainConfig::from_toml_str(text, "case.toml")
            .err()
            .unwrap_or_else(|| panic!("{text} was accepted"));
        assert!(
            e.message.contains(key) && e.source == "case.toml",
            "{text}: {e}"
        );
    }
}

#[test]
fn a_dataset_smaller_than_the_batch_is_refused_before_training() {
    let dir = temp_dir("small-data");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..20 {
        let img = NdArray::full(&[1, 16, 16], (i as f32 / 20.0) * 2.0 - 1.0);
        agon::data::save_png(&img, &images.join(format!("{i}.png"))).unwrap();
    }
    let mut cfg = ring(&dir.join("run"));
    cfg.data.name = images.display().to_string();
    cfg.model.kind = ModelKind::Dcgan;
    cfg.model.width = 4;
    cfg.batch_size = 32;
    let e = Trainer::new(cfg)
        .err()
        .expect("a batch of 32 from 20 images");
    let text = e.to_string();
    assert!(
        text.contains("batch_size = 32") && text.contains("20 samples"),
        "{text}"
    );
}

#[test]
fn keys_the_model_does_not_use_are_refused() {
    for (text, key) in [
        (
            "[model]\nkind = \"dcgan28\"\nlatent_dim = 10\n",
            "model.latent_dim",
        ),
        ("[model]\nkind = \"mlp\"\nwidth = 64\n", "model.width"),
        ("[model]\nmlp_hidden = 64\n", "model.mlp_hidden"),
        ("[loss]\nr1_every = 4\n", "loss.r1_every"),
    ] {
        let e = TrainConfig::from_toml_str(text, "user.toml").unwrap_err();
        assert!(e.message.contains(key), "{text}: {e}");
    }
    // What a run writes as config.toml leaves them out, so it can be given back.
    let mut cfg = TrainConfig::default();
    cfg.model.kind = ModelKind::Dcgan28;
    let back = TrainConfig::from_toml_str(&cfg.to_toml(), "saved").unwrap();
    assert_eq!(back.to_toml(), cfg.to_toml());
}

#[test]
fn gradient_penalty_and_r1_together_are_both_applied() {
    let dir = temp_dir("gp-r1");
    let penalty = |gp: f32, r1: f32| {
        let mut cfg = ring(&dir);
        cfg.loss.kind = GanLoss::Wasserstein;
        cfg.loss.gp_weight = gp;
        cfg.loss.r1_gamma = r1;
        cfg.loss.r1_every = 1;
        Trainer::new(cfg).unwrap().train_step().unwrap().penalty
    };
    let (gp, r1, both) = (penalty(10.0, 0.0), penalty(0.0, 10.0), penalty(10.0, 10.0));
    assert!(gp > 0.0 && r1 > 0.0, "gp {gp} r1 {r1}");
    // The first step's D is the same in all three runs, so the terms add exactly (up to
    // rounding of the sum).
    assert!(
        (both - (gp + r1)).abs() <= 1e-5 * (gp + r1),
        "gp {gp} + r1 {r1} != both {both}"
    );
}

#[test]
fn wgan_weight_clipping_is_reachable_from_the_configuration() {
    let dir = temp_dir("clip");
    let mut cfg = ring(&dir);
    cfg.loss.kind = GanLoss::Wasserstein;
    cfg.loss.weight_clip = 0.01;
    cfg.optim.lr_d = Some(0.1);
    let mut t = Trainer::new(cfg).unwrap();
    t.train_step().unwrap();
    for (name, p) in t.discriminator().unwrap().named_parameters() {
        let v = p.data().to_vec();
        assert!(v.iter().all(|x| x.abs() <= 0.01), "{name} escaped the clip");
    }
}

#[test]
fn oversized_models_in_a_checkpoint_are_refused_before_allocation() {
    let dir = temp_dir("oversized");
    let path = trained_ring(&dir.join("run"));
    let mut ck = Checkpoint::read(&path).unwrap();
    let cfg = ck.metadata()["agon.config"].replace("mlp_hidden = 8", "mlp_hidden = 100000");
    ck.set_metadata("agon.config", &cfg);
    let bad = dir.join("bad.safetensors");
    ck.save(&bad).unwrap();
    for cmd in ["sample", "eval"] {
        let o = run(&[cmd, "--checkpoint", bad.to_str().unwrap(), "--n", "16"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains("bad.safetensors") && err.contains("the file holds only"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn weights_that_diverge_while_losses_stay_finite_are_never_written() {
    let dir = temp_dir("poison");
    let mut t = Trainer::new(ring(&dir)).unwrap();
    t.train_step().unwrap();
    let saved = t.save_checkpoint().unwrap();
    let before = std::fs::read(&saved).unwrap();
    // Poison one weight (what an overflowing optimiser does) and try to save.
    let (name, p) = t.generator().unwrap().named_parameters().remove(0);
    let mut v = p.data().to_vec();
    v[0] = f32::INFINITY;
    p.set(NdArray::from_vec(v, p.data().shape()).unwrap());
    match t.save_checkpoint() {
        Err(TrainError::NonFiniteState { tensor, .. }) => {
            assert_eq!(tensor, format!("g.{name}"))
        }
        other => panic!("a poisoned checkpoint was written: {other:?}"),
    }
    assert!(t.check_finite().is_err());
    assert_eq!(std::fs::read(&saved).unwrap(), before);
}

#[test]
fn finite_but_exploding_losses_stop_the_run() {
    let dir = temp_dir("explode");
    let mut cfg = ring(&dir);
    cfg.loss.kind = GanLoss::Wasserstein;
    cfg.optim.lr_d = Some(1e6);
    cfg.optim.lr_g = Some(1e6);
    cfg.steps = 200;
    let mut t = agon::gan::trainer::start_run(cfg).unwrap();
    let e = agon::gan::trainer::run(&mut t, &Default::default(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::NonFinite { .. } | TrainError::NonFiniteState { .. }
        ),
        "{e}"
    );
    if dir.join(CHECKPOINT_FILE).exists() {
        let ck = Checkpoint::read(dir.join(CHECKPOINT_FILE)).unwrap();
        for n in ck.names() {
            assert!(
                ck.tensor(n).unwrap().all_finite(),
                "{n} was written poisoned"
            );
        }
    }
}

#[test]
fn a_checkpoint_with_nan_weights_is_refused_by_sample_eval_and_resume() {
    let dir = temp_dir("nan-ckpt");
    let run_dir = dir.join("run");
    let path = trained_ring(&run_dir);
    let mut ck = Checkpoint::read(&path).unwrap();
    let name = ck
        .names()
        .into_iter()
        .find(|n| n.starts_with("g.") && n.ends_with("weight"))
        .unwrap()
        .to_string();
    let t = ck.tensor(&name).unwrap();
    ck.add_tensor(&name, NdArray::full(t.shape(), f32::NAN));
    ck.save(&path).unwrap();
    let p = path.to_str().unwrap();
    for args in [
        vec!["sample", "--checkpoint", p, "--out"],
        vec!["eval", "--checkpoint", p, "--n", "16", "--out"],
        vec!["train", "--resume", "--steps", "8", "--quiet", "--out"],
    ] {
        let mut args = args.clone();
        let target = if args[0] == "train" {
            run_dir.display().to_string()
        } else {
            dir.join("out.x").display().to_string()
        };
        args.push(&target);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&name) && err.contains("NaN"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_fresh_run_sets_an_earlier_run_aside_and_cleans_partial_writes() {
    let dir = temp_dir("mix");
    let first = trained_ring(&dir);
    let old = std::fs::read(&first).unwrap();
    let partial = dir.join(".checkpoint.safetensors.99999-0.tmp");
    std::fs::write(&partial, b"half a checkpoint").unwrap();
    // A fresh run that fails before its first save must leave nothing resumable behind.
    let mut cfg = ring(&dir);
    cfg.seed = 7;
    let t = agon::gan::trainer::start_run(cfg).unwrap();
    assert!(
        !dir.join(CHECKPOINT_FILE).exists(),
        "the old checkpoint is still resumable"
    );
    assert!(!partial.exists(), "the partial write was left");
    assert_eq!(
        std::fs::read(dir.join("earlier-runs/1").join(CHECKPOINT_FILE)).unwrap(),
        old
    );
    assert!(
        t.notes().iter().any(|n| n.contains("earlier-runs")),
        "{:?}",
        t.notes()
    );
    let e = Trainer::resume(&dir, None)
        .err()
        .expect("resumed another run");
    assert!(e.to_string().contains(CHECKPOINT_FILE), "{e}");
}

#[test]
fn resume_refuses_contradicting_flags_and_applies_the_changeable_ones() {
    let dir = temp_dir("resume-flags");
    let out = dir.join("run");
    trained_ring(&out);
    let o = out.to_str().unwrap();
    for (extra, needle) in [
        (vec!["--seed", "5"], "seed"),
        (vec!["--model", "dcgan"], "model.kind"),
        (vec!["--data", "grid25"], "data.name"),
        (vec!["--set", "optim.lr_d=0.1"], "optim.lr_d"),
        (
            vec!["--config", "/no/such/config.toml"],
            "/no/such/config.toml",
        ),
    ] {
        let mut args = vec!["train", "--resume", "--out", o, "--steps", "6", "--quiet"];
        args.extend(extra.iter());
        let r = run(&args);
        let err = stderr(&r);
        assert_eq!(r.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    // The saved values themselves, the step total and the logging cadence are accepted.
    let r = run(&[
        "train",
        "--resume",
        "--out",
        o,
        "--steps",
        "6",
        "--seed",
        "0",
        "--set",
        "log.every=3",
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let cfg = std::fs::read_to_string(out.join("log.csv")).unwrap();
    assert!(cfg.lines().any(|l| l.starts_with("6,")), "{cfg}");
    // A finished run is not "resumed" for zero steps.
    let r = run(&["train", "--resume", "--out", o, "--quiet"]);
    assert!(stderr(&r).contains("nothing to resume"), "{}", stderr(&r));
}

#[test]
fn a_closed_stdout_ends_inspect_with_a_message() {
    let dir = temp_dir("pipe");
    let path = trained_ring(&dir);
    // `| head -0`: the pipe's read end is closed before the child starts, so its first
    // write fails. (Closing it after spawn raced the child, which could finish writing
    // into the pipe's buffer first on a loaded machine and exit 0.)
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = agon()
        .args(["inspect", path.to_str().unwrap()])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to stdout"), "{err}");
}

/// Waits for `child` at most `limit`, killing it after.
fn wait_for(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("agon did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads `err` until the first progress line ("step ...") of a training run.
fn wait_for_progress(err: &mut impl Read) {
    let mut buf = [0u8; 4096];
    let mut seen = String::new();
    while !seen.contains("step ") {
        let n = err.read(&mut buf).unwrap();
        assert!(n > 0, "no progress: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// Starts a training run in `out` long enough to be stopped from outside, and returns it
/// with its stderr once the first progress line has been read.
fn long_ring_run(out: &Path) -> (std::process::Child, std::process::ChildStderr) {
    let mut c = agon();
    c.args([
        "train",
        "--data",
        "ring8",
        "--model",
        "mlp",
        "--steps",
        "10000000",
        "--set",
        "log.every=1",
        "--set",
        "log.checkpoint_every=1000000",
        "--out",
    ])
    .arg(out);
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    wait_for_progress(&mut err);
    (child, err)
}

#[test]
fn sigint_saves_and_exits_130() {
    let dir = temp_dir("sigint");
    let (mut child, mut err) = long_ring_run(&dir);
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    let status = wait_for(&mut child, Duration::from_secs(60));
    let rest = drain.join().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted at step"), "{rest}");
    assert!(Checkpoint::read(dir.join(CHECKPOINT_FILE)).is_ok());
}

#[test]
fn a_closed_stderr_stops_training_with_the_checkpoint_saved() {
    let dir = temp_dir("stderr");
    // Once training is under way (a progress line), the terminal goes away. (Before it, a
    // failed "training ..." line ends the command with nothing trained, nothing to save.)
    let (mut child, err) = long_ring_run(&dir);
    drop(err);
    let status = wait_for(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(1));
    let ck = Checkpoint::read(dir.join(CHECKPOINT_FILE)).expect("no checkpoint saved");
    assert!(ck.metadata()["agon.step"].parse::<u64>().unwrap() >= 1);
}

#[test]
fn messages_name_the_file_line_and_what_is_written() {
    let dir = temp_dir("messages");
    // TOML errors point at the user's file and line, even with --set given.
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "steps = 3\n\n[model]\nwidth = \"wide\"\n").unwrap();
    let o = run(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--set",
        "seed=1",
    ]);
    let err = stderr(&o);
    assert!(err.contains("bad.toml") && err.contains("line 4"), "{err}");
    // Output directories that cannot be made are named.
    let file = dir.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let out = file.join("run");
    let o = run(&[
        "train",
        "--data",
        "ring8",
        "--model",
        "mlp",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains(out.to_str().unwrap()), "{}", stderr(&o));
    // 2-D runs do not list a grid they never write; their samples are CSV.
    let run_dir = dir.join("ring");
    let path = trained_ring(&run_dir);
    assert!(!run_dir.join("samples.png").exists());
    let o = run(&[
        "train",
        "--data",
        "ring8",
        "--model",
        "mlp",
        "--steps",
        "2",
        "--set",
        "model.mlp_hidden=8",
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert!(!stderr(&o).contains("samples.png"), "{}", stderr(&o));
    let png = dir.join("points.png");
    let o = run(&[
        "sample",
        "--checkpoint",
        path.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !png.exists() && dir.join("points.csv").exists(),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "interpolate",
        "--checkpoint",
        path.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("points"), "{}", stderr(&o));
}

#[test]
fn fifos_are_refused_not_opened() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let f = fifo.to_str().unwrap();
    for args in [
        vec!["inspect", f],
        vec!["sample", "--checkpoint", f],
        vec!["train", "--config", f],
    ] {
        let mut child = agon()
            .args(&args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_for(&mut child, Duration::from_secs(20));
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}

/// An IDX folder of `n` 28x28 test images with labels, and optionally train images alone.
fn idx_folder(dir: &Path, n: u32, train_images_without_labels: bool) {
    use agon_reference::files::{gzip, idx_bytes};
    std::fs::create_dir_all(dir).unwrap();
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let images = gzip(&idx_bytes(&[n, 28, 28], &pixels));
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), &images).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte.gz"),
        gzip(&idx_bytes(&[n], &labels)),
    )
    .unwrap();
    if train_images_without_labels {
        std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &images).unwrap();
    }
}

#[test]
fn classifier_training_refuses_splits_it_cannot_use() {
    let dir = temp_dir("eval-splits");
    let out = dir.join("c.safetensors");
    let out = out.to_str().unwrap();
    // Three test images and no train split: 4/5 of them used to leave an empty train set
    // (a panic in the batcher).
    let few = dir.join("few");
    idx_folder(&few, 3, false);
    let o = run(&[
        "eval",
        "--train-classifier",
        few.to_str().unwrap(),
        "--classifier",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("too few"), "{}", stderr(&o));
    // A train split whose labels are missing: an error naming them, not a quiet fall-back
    // to training on part of the test split.
    let half = dir.join("half");
    idx_folder(&half, 20, true);
    let o = run(&[
        "eval",
        "--train-classifier",
        half.to_str().unwrap(),
        "--classifier",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("labels"), "{}", stderr(&o));
    assert!(!Path::new(out).exists());
}
