//! The trainer and the `agon` command, end to end on tiny configurations.

mod common;
use common::{agon, agon_ok, on_threads};

use std::path::{Path, PathBuf};

use agon::gan::trainer::{ModelKind, StepStats, TaskKind, TrainConfig, TrainError, Trainer};
use agon::gan::GanLoss;
use agon::nn::Module;
use agon_reference::files::TempDir;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A fresh, empty directory under the system temp dir, removed when the test ends.
fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("trainer-{name}"))
}

/// A DCGAN small enough to train a few steps in a debug build.
fn tiny(out: &Path) -> TrainConfig {
    let mut c = TrainConfig {
        steps: 4,
        batch_size: 8,
        out_dir: out.to_path_buf(),
        ..TrainConfig::default()
    };
    c.data.limit = 64;
    c.model.width = 4;
    c.model.latent_dim = 8;
    c.log.samples = 8;
    c.log.every = 1;
    c.log.sample_every = 2;
    c.log.checkpoint_every = 2;
    c
}

fn run_steps(t: &mut Trainer, n: u64) -> Vec<StepStats> {
    (0..n).map(|_| t.train_step().unwrap()).collect()
}

fn param_bits(m: &dyn Module) -> Vec<Vec<u32>> {
    m.state_dict()
        .iter()
        .map(|(_, a)| a.to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn resuming_from_a_checkpoint_continues_bit_identically() {
    let dir = temp_dir("resume");
    let mut cfg = tiny(&dir.join("once"));
    cfg.steps = 6;
    cfg.optim.ema_decay = 0.9;
    cfg.optim.lr_decay_steps = 4;
    cfg.data.augment = "translation,cutout".into();
    let mut straight = Trainer::new(cfg.clone()).unwrap();
    let all = run_steps(&mut straight, 6);

    cfg.out_dir = dir.join("twice");
    let mut first = Trainer::new(cfg.clone()).unwrap();
    let mut resumed_stats = run_steps(&mut first, 3);
    first.save_checkpoint().unwrap();
    drop(first);
    let mut second = Trainer::resume(&cfg.out_dir, None).unwrap();
    assert_eq!(second.step(), 3);
    resumed_stats.extend(run_steps(&mut second, 3));

    assert_eq!(all, resumed_stats, "losses differ after resuming");
    assert_eq!(
        param_bits(straight.generator().unwrap()),
        param_bits(second.generator().unwrap())
    );
    assert_eq!(
        param_bits(straight.discriminator().unwrap()),
        param_bits(second.discriminator().unwrap())
    );
    assert_eq!(
        param_bits(straight.sampling_generator().unwrap()),
        param_bits(second.sampling_generator().unwrap())
    );
    // Every network the task declares, by name (the EMA copy too), and every optimiser.
    let (a, b) = (straight.task().networks(), second.task().networks());
    let names: Vec<&str> = a.iter().map(|n| n.0).collect();
    assert_eq!(names, ["g", "d", "ema"]);
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        assert_eq!(param_bits(*x), param_bits(*y), "network {name}");
    }
    for ((name, x), (_, y)) in straight
        .task()
        .optimizers()
        .iter()
        .zip(&second.task().optimizers())
    {
        let bits = |o: &dyn agon::nn::optim::Optimizer| -> Vec<Vec<u32>> {
            let state = o.state_dict();
            state
                .iter()
                .map(|(_, a)| a.to_vec().iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(*x), bits(*y), "optimiser {name}");
    }
}

/// `optim.lr_decay_steps`: both learning rates hold until the last N steps, then fall
/// linearly toward zero (the step's rate is set before it runs).
#[test]
fn learning_rates_decay_linearly_over_the_last_steps() {
    let dir = temp_dir("lr-decay");
    let mut cfg = tiny(&dir);
    cfg.steps = 6;
    cfg.optim.lr_g = Some(1e-3);
    cfg.optim.lr_d = Some(4e-3);
    cfg.optim.lr_decay_steps = 4;
    let mut t = Trainer::new(cfg).unwrap();
    let mut seen = vec![];
    for _ in 0..6 {
        t.train_step().unwrap();
        let lrs: Vec<f32> = t.task().optimizers().iter().map(|(_, o)| o.lr()).collect();
        seen.push(lrs);
    }
    // Steps 0-2 at the full rate (the decay starts after step 2 = 6 - 4), then 3/4, 2/4, 1/4.
    let want = [1.0f32, 1.0, 1.0, 0.75, 0.5, 0.25];
    for (k, (lrs, f)) in seen.iter().zip(want).enumerate() {
        assert!(
            (lrs[0] - 1e-3 * f).abs() < 1e-9,
            "step {k}: G at {}",
            lrs[0]
        );
        assert!(
            (lrs[1] - 4e-3 * f).abs() < 1e-9,
            "step {k}: D at {}",
            lrs[1]
        );
    }
}

/// An EMA generator is sampled with BatchNorm statistics recomputed for its averaged
/// weights (`optim.ema_bn_batches`), not the live generator's; recomputing them, however
/// often, leaves training itself unchanged.
#[test]
fn the_ema_generator_is_sampled_with_its_own_batch_norm_statistics() {
    let dir = temp_dir("ema-bn");
    let running_stats = |m: &dyn Module| -> Vec<(String, Vec<f32>)> {
        m.named_buffers()
            .into_iter()
            .filter(|(n, _)| n.ends_with("running_mean") || n.ends_with("running_var"))
            .map(|(n, b)| (n, b.data().to_vec()))
            .collect()
    };
    let run = |batches: usize, sample_between: bool| {
        let mut cfg = tiny(&dir.join(format!("b{batches}")));
        cfg.optim.ema_decay = 0.9;
        cfg.optim.ema_bn_batches = batches;
        let mut t = Trainer::new(cfg).unwrap();
        for _ in 0..4 {
            t.train_step().unwrap();
            if sample_between {
                t.sampling_generator().unwrap();
            }
        }
        let live = running_stats(t.generator().unwrap());
        let ema = running_stats(t.sampling_generator().unwrap());
        (param_bits(t.generator().unwrap()), live, ema)
    };
    let (g_copied, live_copied, ema_copied) = run(0, false);
    let (g_recomputed, live, ema) = run(4, true);
    // Off: the EMA carries the live generator's statistics.
    assert_eq!(live_copied, ema_copied);
    assert!(!live.is_empty());
    // On: its own, which differ from the live ones in every BatchNorm layer.
    for ((name, l), (_, e)) in live.iter().zip(&ema) {
        assert_ne!(l, e, "{name} was not recomputed");
    }
    // Recomputing after every step changed nothing in the generator being trained.
    assert_eq!(g_copied, g_recomputed);
    assert_eq!(live_copied, live);
}

/// Steps of the default DCGAN with batch and width large enough that its convolutions,
/// products and elementwise passes split into several rayon tasks, in a pool of `threads`.
/// `Trainer::train_step` runs on a worker of that pool (`on_worker` stays inside it).
fn steps_in_a_pool(out: &Path, threads: usize) -> (Vec<StepStats>, Vec<Vec<u32>>) {
    let mut cfg = tiny(out);
    cfg.batch_size = 32;
    cfg.model.width = 16;
    on_threads(threads, || {
        let mut t = Trainer::new(cfg).unwrap();
        let stats = run_steps(&mut t, 2);
        (stats, param_bits(t.generator().unwrap()))
    })
}

#[test]
fn training_steps_are_bit_identical_on_1_2_and_3_threads() {
    let dir = temp_dir("threads");
    let (stats, g) = steps_in_a_pool(&dir.join("1"), 1);
    for threads in [2, 3] {
        let (s, gt) = steps_in_a_pool(&dir.join(threads.to_string()), threads);
        let bits = |v: &[StepStats]| -> Vec<[u32; 2]> {
            v.iter()
                .map(|s| [s.d_loss.to_bits(), s.g_loss.to_bits()])
                .collect()
        };
        assert_eq!(bits(&s), bits(&stats), "losses differ on {threads} threads");
        assert!(gt == g, "generator weights differ on {threads} threads");
    }
}

/// The GEMM's K blocks are sized from the caches, and differently for each kernel (KC is
/// the L1 over the kernel's width: 32 floats for AVX-512, 16 for AVX2), but they chain
/// into one sum per element, so a run writes the same generator on either path, and so on
/// CPUs whose caches differ. At width 32 the discriminator's second convolution has K = 32 * 16 = 512 and the
/// generator's 3x3 layers K = 576: cut into blocks on at least one of the paths.
#[test]
fn training_runs_are_bit_identical_on_every_gemm_kernel() {
    let dir = temp_dir("kernels");
    let mut runs = Vec::new();
    for isa in agon_tensor::gemm::Isa::supported() {
        if isa == agon_tensor::gemm::Isa::Portable {
            continue; // matrixmultiply: its own blocking and rounding
        }
        let out = dir.join(isa.name());
        let out_s = out.to_str().unwrap();
        common::agon_ok_with_env(
            &[(agon_tensor::gemm::ISA_ENV, isa.name())],
            &[
                "train",
                "--steps",
                "2",
                "--quiet",
                "--out",
                out_s,
                "--set",
                "data.limit=32",
                "--set",
                "batch_size=8",
                "--set",
                "model.width=32",
                "--set",
                "log.samples=4",
            ],
        );
        let (g, _) =
            agon::gan::trainer::load_generator(&out.join("checkpoint.safetensors")).unwrap();
        runs.push((isa, param_bits(g.as_ref())));
    }
    for (isa, bits) in &runs[1..] {
        assert!(
            *bits == runs[0].1,
            "the generator trained on {isa:?} differs from {:?}'s",
            runs[0].0
        );
    }
}

#[test]
fn tasks_are_named_in_the_config_and_the_checkpoint() {
    let dir = temp_dir("tasks");
    // task = "conditional" is model.conditional = true: the same run, bit for bit.
    let mut by_flag = tiny(&dir.join("flag"));
    by_flag.model.conditional = true;
    let mut by_task = tiny(&dir.join("task"));
    by_task.task = TaskKind::Conditional;
    let (mut a, mut b) = (
        Trainer::new(by_flag).unwrap(),
        Trainer::new(by_task).unwrap(),
    );
    assert_eq!(
        (a.task().name(), b.task().name()),
        ("conditional", "conditional")
    );
    assert_eq!(run_steps(&mut a, 2), run_steps(&mut b, 2));
    assert_eq!(
        param_bits(a.generator().unwrap()),
        param_bits(b.generator().unwrap())
    );
    let ckpt = b.save_checkpoint().unwrap();
    // The saved configuration rebuilds the conditional models on its own.
    let (g, _) = agon::gan::trainer::load_generator(&ckpt).unwrap();
    assert_eq!(g.num_classes(), Some(10));
    let text =
        String::from_utf8_lossy(&agon_ok(&["inspect", ckpt.to_str().unwrap()]).stdout).into_owned();
    assert!(text.contains("agon.task = conditional"), "{text}");
    assert!(
        text.contains("network g: ") && text.contains("network d: "),
        "{text}"
    );
    assert!(text.contains("optimiser opt_g: "), "{text}");

    // Unknown or contradictory tasks are configuration errors naming the key.
    let mut bad = tiny(&dir.join("bad"));
    let err = TrainConfig::from_toml_str("task = \"stylegan\"", "inline")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("task = \"stylegan\"") && err.contains("unconditional"),
        "{err}"
    );
    bad.task = TaskKind::Unconditional;
    bad.model.conditional = true;
    let err = Trainer::new(bad).err().unwrap().to_string();
    assert!(err.contains("contradicts"), "{err}");
}

#[test]
fn resume_with_dropout_in_the_discriminator_is_exact() {
    let dir = temp_dir("resume-dropout");
    let mut cfg = tiny(&dir);
    cfg.model.kind = ModelKind::Dcgan28;
    cfg.batch_size = 4;
    cfg.optim.ema_decay = 0.0;
    let mut straight = Trainer::new(cfg.clone()).unwrap();
    let all = run_steps(&mut straight, 2);
    let mut first = Trainer::new(cfg.clone()).unwrap();
    let mut stats = run_steps(&mut first, 1);
    first.save_checkpoint().unwrap();
    let mut second = Trainer::resume(&cfg.out_dir, None).unwrap();
    stats.extend(run_steps(&mut second, 1));
    assert_eq!(all, stats);
}

#[test]
fn wgan_gp_and_r1_runs_train_with_positive_penalties() {
    let dir = temp_dir("penalties");
    let mut gp = tiny(&dir.join("gp"));
    gp.loss.kind = GanLoss::Wasserstein;
    gp.loss.gp_weight = 10.0;
    gp.optim.n_critic = 2;
    let mut t = Trainer::new(gp).unwrap();
    for s in run_steps(&mut t, 3) {
        assert!(
            s.penalty > 0.0 && s.d_loss.is_finite() && s.g_loss.is_finite(),
            "{s:?}"
        );
    }

    let mut r1 = tiny(&dir.join("r1"));
    r1.loss.r1_gamma = 10.0;
    r1.loss.r1_every = 2;
    let mut t = Trainer::new(r1).unwrap();
    let stats = run_steps(&mut t, 4);
    // Lazy R1: applied on D steps 0 and 2 only.
    let applied: Vec<bool> = stats.iter().map(|s| s.penalty > 0.0).collect();
    assert_eq!(applied, vec![true, false, true, false], "{stats:?}");
}

#[test]
fn conditional_model_writes_a_grid_with_one_column_per_class() {
    let dir = temp_dir("conditional");
    let mut cfg = tiny(&dir);
    cfg.model.conditional = true;
    cfg.log.samples = 20; // two rows of the ten classes
    let mut t = Trainer::new(cfg).unwrap();
    run_steps(&mut t, 1);
    let path = t.save_samples().unwrap();
    let grid = agon::data::load_png(&path).unwrap();
    // 10 columns and 2 rows of 28x28 images with 2-pixel padding.
    assert_eq!(grid.shape(), &[1, 2 + 2 * 30, 2 + 10 * 30]);
}

#[test]
fn config_errors_name_the_key() {
    let e = TrainConfig::from_toml_str("[model]\nkind = \"resnet\"\n", "x.toml").unwrap_err();
    assert!(
        e.to_string().contains("x.toml") && e.to_string().contains("model.kind"),
        "{e}"
    );
    let e = TrainConfig::from_toml_str("[loss]\nkindd = \"hinge\"\n", "y.toml").unwrap_err();
    assert!(e.to_string().contains("kindd"), "{e}");
    let e = TrainConfig::from_toml_str("batch_size = 6\n[model]\npack = 4\n", "z").unwrap_err();
    assert!(e.to_string().contains("model.pack"), "{e}");
}

#[test]
fn spectral_norm_applies_to_dcgan28_and_to_mlp() {
    let dir = temp_dir("sn");
    let mut cfg = tiny(&dir);
    cfg.model.kind = ModelKind::Dcgan28;
    cfg.model.spectral_norm = true;
    let d_names = |t: &Trainer| -> Vec<String> {
        let d = t.discriminator().unwrap();
        d.named_parameters().into_iter().map(|(n, _)| n).collect()
    };
    let names = d_names(&Trainer::new(cfg.clone()).unwrap());
    assert!(
        names.contains(&"main.0.weight_orig".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"main.7.weight_orig".to_string()),
        "{names:?}"
    );

    // The MLP discriminator (points and flattened images) has it on every linear layer.
    for data in ["ring8", "fashion-mnist"] {
        cfg.model.kind = ModelKind::Mlp;
        cfg.data.name = data.into();
        let mut t = Trainer::new(cfg.clone()).unwrap();
        let names = d_names(&t);
        let wrapped = names.iter().filter(|n| n.ends_with("weight_orig")).count();
        let layers = if data == "ring8" { 4 } else { 3 };
        assert_eq!(wrapped, layers, "{data}: {names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".weight")), "{names:?}");
        t.train_step().unwrap();
    }
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_the_last_checkpoint() {
    let dir = temp_dir("nan");
    let mut cfg = tiny(&dir);
    cfg.loss.kind = GanLoss::Wasserstein;
    cfg.optim.lr_d = Some(1e30);
    cfg.optim.lr_g = Some(1e30);
    cfg.steps = 50;
    let mut t = Trainer::new(cfg).unwrap();
    let saved = t.save_checkpoint().unwrap();
    let before = std::fs::read(&saved).unwrap();
    let err = loop {
        match t.train_step() {
            Ok(_) if !t.finished() => continue,
            Ok(_) => panic!("a learning rate of 1e30 did not diverge"),
            Err(e) => break e,
        }
    };
    match &err {
        TrainError::NonFinite { step, what, .. } => {
            assert!(*step >= 1 && what.contains("loss"), "{err}");
            assert!(err.to_string().contains(&format!("step {step}")), "{err}");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        before,
        "the last good checkpoint changed"
    );
}

#[test]
fn cli_trains_samples_interpolates_and_inspects() {
    let dir = temp_dir("cli");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    agon_ok(&[
        "train",
        "--steps",
        "2",
        "--out",
        out_s,
        "--quiet",
        "--set",
        "data.limit=32",
        "--set",
        "model.width=4",
        "--set",
        "model.latent_dim=8",
        "--set",
        "batch_size=8",
        "--set",
        "log.samples=4",
    ]);
    for f in [
        "checkpoint.safetensors",
        "samples.png",
        "log.csv",
        "losses.png",
        "config.toml",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let ckpt = out.join("checkpoint.safetensors");
    let ckpt_s = ckpt.to_str().unwrap();
    let png = dir.join("s.png");
    agon_ok(&[
        "sample",
        "--checkpoint",
        ckpt_s,
        "--n",
        "9",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(
        agon::data::load_png(&png).unwrap().shape(),
        &[1, 2 + 3 * 30, 2 + 3 * 30]
    );
    let walk = dir.join("w.png");
    agon_ok(&[
        "interpolate",
        "--checkpoint",
        ckpt_s,
        "--rows",
        "2",
        "--steps",
        "5",
        "--out",
        walk.to_str().unwrap(),
    ]);
    let inspect = agon(&["inspect", ckpt_s]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("g.main.0.weight") && text.contains("agon.step = 2"),
        "{text}"
    );

    // Resume to 3 steps continues from 2.
    let resume = agon_ok(&[
        "train", "--resume", "--out", out_s, "--steps", "3", "--quiet",
    ]);
    assert!(String::from_utf8_lossy(&resume.stderr).contains("resuming"));
}

#[test]
fn cli_bad_input_gets_clear_errors() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["train", "--config", "/no/such/file.toml"],
            "/no/such/file.toml",
        ),
        (
            &["train", "--set", "loss.kind=banana", "--steps", "1"],
            "loss.kind",
        ),
        (&["train", "--set", "nonsense"], "key=value"),
        (
            &["sample", "--checkpoint", "/no/such.safetensors"],
            "/no/such.safetensors",
        ),
        (
            &["train", "--resume", "--out", "/no/such/run"],
            "/no/such/run",
        ),
    ];
    for (args, needle) in cases {
        let o = agon(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
    let help = agon(&["train", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--resume"));
}

#[test]
fn cli_eval_counts_modes_of_a_ring_model_and_writes_json() {
    let dir = temp_dir("eval");
    let out = dir.join("ring");
    let out_s = out.to_str().unwrap();
    let train_args = [
        "train",
        "--model",
        "mlp",
        "--data",
        "ring8",
        "--steps",
        "3",
        "--out",
        out_s,
        "--quiet",
        "--set",
        "batch_size=32",
        "--set",
        "model.mlp_hidden=8",
        "--set",
        "log.eval_every=3",
    ];
    // Twice into the same directory: the second, fresh run must not append to the first
    // run's logs.
    for _ in 0..2 {
        agon_ok(&train_args);
        // log.eval_every: one row of mode counts at step 3, and nothing else.
        let periodic = std::fs::read_to_string(out.join("eval.csv")).unwrap();
        // Drawn too: one panel per column (modes, high_quality, reverse_kl; not seconds), in
        // colour.
        let curves = agon::data::load_png(&out.join("eval.png")).unwrap();
        assert_eq!((curves.shape()[0], curves.shape()[1]), (3, 3 * 360));
        assert!(
            periodic.starts_with("step,modes,high_quality,reverse_kl,seconds\n3,"),
            "{periodic}"
        );
        assert_eq!(periodic.lines().count(), 2, "{periodic}");
        // The last column is the loop's wall time up to step 3, scoring left out.
        let seconds: f64 = periodic
            .lines()
            .nth(1)
            .unwrap()
            .rsplit(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(seconds > 0.0 && seconds < 60.0, "{periodic}");
    }
    let ckpt = out.join("checkpoint.safetensors");
    let scores = dir.join("scores.json");
    let eval = agon_ok(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&eval.stdout);
    assert!(
        stdout.contains("modes") && stdout.contains("/8"),
        "{stdout}"
    );
    let json = std::fs::read_to_string(&scores).unwrap();
    assert!(
        json.contains("\"num_modes\": 8") && json.contains("\"reverse_kl\""),
        "{json}"
    );

    let none = agon(&["eval"]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("--checkpoint"));
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A checkpoint's tensors (name, bits) and its metadata other than the configuration
/// (which names the output directory).
type CheckpointContent = (Vec<(String, Vec<u32>)>, Vec<(String, String)>);

fn checkpoint_content(path: &Path) -> CheckpointContent {
    let c = agon::nn::checkpoint::Checkpoint::read(path).unwrap();
    let tensors = c
        .names()
        .iter()
        .map(|n| {
            let values = c.tensor(n).unwrap().to_vec();
            (n.to_string(), values.iter().map(|v| v.to_bits()).collect())
        })
        .collect();
    let meta = c
        .metadata()
        .iter()
        .filter(|(k, _)| k.as_str() != "agon.config")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (tensors, meta)
}

#[test]
fn the_library_run_loop_writes_what_the_cli_writes_and_resumes_after_a_stop() {
    use agon::gan::trainer::{resume_run, run, start_run, Progress, RunOutcome};
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = temp_dir("loop");
    let (cli, lib, stopped) = (dir.join("cli"), dir.join("lib"), dir.join("stopped"));
    agon_ok(&[
        "train",
        "--steps",
        "4",
        "--out",
        cli.to_str().unwrap(),
        "--quiet",
        "--set=data.limit=32",
        "--set=model.width=4",
        "--set=model.latent_dim=8",
        "--set=batch_size=8",
        "--set=log.samples=4",
        "--set=log.every=1",
        "--set=log.sample_every=2",
        "--set=log.checkpoint_every=2",
    ]);
    let text = std::fs::read_to_string(cli.join("config.toml")).unwrap();
    let config = |out: &Path| {
        let mut c = TrainConfig::from_toml_str(&text, "cli/config.toml").unwrap();
        c.out_dir = out.to_path_buf();
        c
    };

    // The same configuration through the library: the same files, the same bytes.
    let mut t = start_run(config(&lib)).unwrap();
    let mut steps_seen = vec![];
    let report = run(&mut t, &AtomicBool::new(false), &mut |p| {
        if let Progress::Step { stats, .. } = p {
            steps_seen.push(stats.step);
        }
    })
    .unwrap();
    assert_eq!(report.outcome, RunOutcome::Finished);
    assert_eq!((report.steps_run, steps_seen), (4, vec![1, 2, 3, 4]));
    let files = files_under(&cli);
    assert_eq!(files_under(&lib), files);
    for f in &files {
        let name = f.to_str().unwrap();
        if name == "checkpoint.safetensors" {
            assert_eq!(
                checkpoint_content(&lib.join(f)),
                checkpoint_content(&cli.join(f))
            );
        } else if name != "config.toml" {
            let same = std::fs::read(lib.join(f)).unwrap() == std::fs::read(cli.join(f)).unwrap();
            assert!(same, "{name} differs between the CLI and the library run");
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("step_000002.png")),
        "{files:?}"
    );

    // A stop requested after step 3 saves a checkpoint there; resuming finishes the run
    // with the same log and weights as the uninterrupted one.
    let stop = AtomicBool::new(false);
    let mut t = start_run(config(&stopped)).unwrap();
    let report = run(&mut t, &stop, &mut |p| {
        if let Progress::Step { stats, .. } = p
            && stats.step == 3
        {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!((report.outcome, t.step()), (RunOutcome::Interrupted, 3));
    let mut t = resume_run(&stopped, |_| Ok(())).unwrap();
    assert_eq!(t.step(), 3);
    let report = run(&mut t, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(
        (report.outcome, report.steps_run),
        (RunOutcome::Finished, 1)
    );
    let ckpt = "checkpoint.safetensors";
    assert_eq!(
        checkpoint_content(&stopped.join(ckpt)),
        checkpoint_content(&cli.join(ckpt))
    );
    assert_eq!(
        std::fs::read_to_string(stopped.join("log.csv")).unwrap(),
        std::fs::read_to_string(cli.join("log.csv")).unwrap()
    );
}

#[test]
fn export_writes_a_network_with_the_pytorch_names_and_shapes_of_the_fixtures() {
    use agon::nn::checkpoint::{load_module, Checkpoint};
    let dir = temp_dir("export");
    let mut cfg = tiny(&dir.join("run"));
    cfg.model.kind = ModelKind::Dcgan28;
    cfg.data.limit = 16;
    cfg.steps = 1;
    let mut t = Trainer::new(cfg).unwrap();
    t.train_step().unwrap();
    let ckpt = t.save_checkpoint().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (net, fixture, module) in [
        (
            "g",
            "dcgan28_g.safetensors",
            Box::new(agon::gan::Dcgan28Generator::new(
                &mut StdRng::seed_from_u64(9),
            )) as Box<dyn Module>,
        ),
        (
            "d",
            "dcgan28_d.safetensors",
            Box::new(agon::gan::Dcgan28Discriminator::new(
                &mut StdRng::seed_from_u64(9),
                1,
            )),
        ),
    ] {
        let out = dir.join(format!("{net}.safetensors"));
        agon_ok(&[
            "export",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--net",
            net,
            "--out",
            out.to_str().unwrap(),
        ]);
        // PyTorch's state_dict (written by scripts/torch_dcgan28.py): same names, shapes,
        // and I64 batch counters; no trainer prefixes.
        let (ours, torch) = (
            Checkpoint::read(&out).unwrap(),
            Checkpoint::read(fixtures.join(fixture)).unwrap(),
        );
        assert_eq!(ours.names(), torch.names(), "{net}");
        for name in ours.names() {
            assert_eq!(ours.shape(name), torch.shape(name), "{net} {name}");
            if name.ends_with("num_batches_tracked") {
                assert_eq!(ours.dtype(name), Some("I64"), "{name}");
            }
        }
        // And it loads strictly into a fresh model, with the trained values.
        load_module(module.as_ref(), &out).unwrap();
        let trained = if net == "g" {
            t.generator().unwrap().named_parameters()
        } else {
            t.discriminator().unwrap().named_parameters()
        };
        let fresh = module.named_parameters();
        assert_eq!(trained.len(), fresh.len());
        for ((n, a), (_, b)) in trained.iter().zip(&fresh) {
            assert_eq!(a.data().to_vec(), b.data().to_vec(), "{net} {n}");
        }
    }
    let err = agon(&[
        "export",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--net",
        "ema",
        "--out",
        dir.join("x.safetensors").to_str().unwrap(),
    ]);
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(
        !err.status.success() && msg.contains("it holds g, d"),
        "{msg}"
    );
}
