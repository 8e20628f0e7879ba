//! `agon train`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::gan::trainer::{
    resume_run, run as train_loop, start_run, ConfigError, Progress, RunOutcome, StepStats,
    TaskKind, TrainConfig, TrainError, CHECKPOINT_FILE,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::overrides;

/// Options of `agon train`; flags override the configuration file.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A TOML configuration (see README for the keys); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The GAN task: unconditional (default), conditional (class labels in G and D), or an
    /// image-to-image task: superres, inpaint, sketch2image, cyclegan.
    #[arg(long)]
    task: Option<String>,
    /// Architecture: dcgan (default), dcgan28, mlp.
    #[arg(long)]
    model: Option<String>,
    /// Data: fashion-mnist (default), mnist, ring8, grid25, cifar10, or a path.
    #[arg(long)]
    data: Option<String>,
    /// The data directory (shipped datasets, classifiers); default: $AGON_DATA_DIR, then
    /// the data/ of the checkout this runs in.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Total training steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Output directory for samples, logs and checkpoints.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed for everything random.
    #[arg(long)]
    seed: Option<u64>,
    /// Continue the run in --out from its checkpoint (with --steps as the new total).
    #[arg(long)]
    resume: bool,
    /// Any configuration key, e.g. --set loss.kind=hinge --set optim.lr_d=4e-4.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// No progress bar (one line per log interval instead).
    #[arg(long)]
    quiet: bool,
}

/// The keys the arguments give, as a TOML table (the configuration file, then `--set`, then
/// the flags), with a description of where they came from for error messages. The file is
/// parsed on its own first, so that its errors point at its own lines.
fn given_keys(a: &TrainArgs) -> Result<(toml::Table, String), Box<dyn std::error::Error>> {
    let mut table = match &a.config {
        Some(p) => {
            // stat first: opening a FIFO for reading would block.
            if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
                return Err(format!(
                    "{}: not a regular file (a directory, FIFO or device); --config takes a \
                     TOML file",
                    p.display()
                )
                .into());
            }
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("{}: cannot read the configuration: {e}", p.display()))?;
            let source = p.display().to_string();
            // Errors of the file alone name its lines and keys.
            TrainConfig::from_toml_str(&text, &source)?;
            text.parse::<toml::Table>()?
        }
        None => toml::Table::new(),
    };
    let mut sets = a.sets.clone();
    let flag = |k: &str, v: Option<String>| v.map(|v| format!("{k}={}", toml::Value::String(v)));
    sets.extend(flag("model.kind", a.model.clone()));
    sets.extend(flag("task", a.task.clone()));
    sets.extend(flag("data.name", a.data.clone()));
    sets.extend(flag(
        "data.dir",
        a.data_dir.as_ref().map(|p| p.display().to_string()),
    ));
    sets.extend(a.steps.map(|s| format!("steps={s}")));
    sets.extend(a.seed.map(|s| format!("seed={s}")));
    overrides::apply(&mut table, &sets)?;
    let described = match (&a.config, sets.is_empty()) {
        (Some(p), true) => p.display().to_string(),
        (Some(p), false) => format!("{} with --set/flags", p.display()),
        (None, _) => "--set/flags".to_string(),
    };
    Ok((table, described))
}

/// The configuration of a fresh run the arguments describe.
fn build_config(a: &TrainArgs) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let (mut table, described) = given_keys(a)?;
    if let Some(out) = &a.out {
        overrides::apply(
            &mut table,
            &[format!(
                "out_dir={}",
                toml::Value::String(out.display().to_string())
            )],
        )?;
    }
    Ok(TrainConfig::from_toml_str(
        &toml::to_string(&table)?,
        &described,
    )?)
}

pub fn run(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut trainer = if a.resume {
        // Keys given with --resume must agree with the checkpoint, except the step total,
        // the logging cadence and the data directory.
        let (mut table, described) = given_keys(&a)?;
        let from_file = table.remove("out_dir");
        let out = match (&a.out, from_file) {
            (Some(p), _) => p.clone(),
            (None, Some(toml::Value::String(p))) => PathBuf::from(p),
            // The folder a fresh run of the named task writes to.
            _ => match table.get("task").and_then(|t| t.as_str()).map(str::parse) {
                Some(Ok(task)) => TrainConfig::for_task(task).out_dir,
                _ => TrainConfig::default().out_dir,
            },
        };
        let t = resume_run(&out, |cfg| cfg.apply_on_resume(&table, &described))?;
        say!(
            "resuming {} at step {} of {}",
            out.display(),
            t.step(),
            t.config().steps
        );
        t
    } else {
        let (_, described) = given_keys(&a)?;
        start_run(build_config(&a)?).map_err(|e| name_the_source(e, &described))?
    };
    let cfg = trainer.config().clone();
    for note in trainer.notes() {
        say!("note: {note}");
    }
    let networks = match cfg.task {
        TaskKind::Superres => "an SRResNet G and a PatchGAN D".to_string(),
        TaskKind::Inpaint | TaskKind::Sketch2image => "a U-Net G and a PatchGAN D".to_string(),
        TaskKind::Cyclegan => "two ResNet Gs and two PatchGAN Ds".to_string(),
        _ => cfg.model.kind.to_string(),
    };
    say!(
        "training {networks} ({} task) on {} for {} steps (batch {}, loss {}), writing to {}",
        trainer.task().name(),
        cfg.data.name,
        cfg.steps,
        cfg.batch_size,
        cfg.loss.kind,
        cfg.out_dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    let (flag, sigint) = (stop.clone(), interrupted.clone());
    // A second Ctrl-C while saving would be lost, which is fine: the first one is honoured.
    let _ = ctrlc::set_handler(move || {
        sigint.store(true, Ordering::SeqCst);
        flag.store(true, Ordering::SeqCst);
    });
    // indicatif's bar on a terminal; plain lines at the log interval otherwise (CI, pipes).
    let bar = (!a.quiet && cfg.log.progress && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(cfg.steps).with_position(trainer.step());
        b.set_style(
            ProgressStyle::with_template("[{bar:24}] {pos:>6}/{len} ETA {eta:>4}  {msg}")
                .expect("a valid template")
                .progress_chars("#>-"),
        );
        b
    });
    // A progress line that cannot be written (stderr closed: the terminal or the pipe went
    // away) stops the run the way Ctrl-C does, so the checkpoint is saved.
    let mut stderr_lost: Option<std::io::Error> = None;
    let mut report_line = |text: String| {
        use std::io::Write as _;
        if stderr_lost.is_none()
            && let Err(e) = writeln!(std::io::stderr(), "{text}")
        {
            stderr_lost = Some(e);
            stop.store(true, Ordering::SeqCst);
        }
    };
    let result = train_loop(&mut trainer, &stop, &mut |p| match p {
        Progress::Eval { row, .. } => match &bar {
            Some(b) => b.println(format!("eval {row}")),
            None => report_line(format!("eval {row}")),
        },
        Progress::Step {
            stats,
            total,
            run_here,
            elapsed,
            logged,
        } => match &bar {
            Some(b) => {
                b.set_position(stats.step);
                let rate = run_here as f64 / elapsed.as_secs_f64().max(1e-9);
                b.set_message(format!("{rate:5.1} it/s  {}", losses(stats)));
            }
            None if logged => report_line(line(stats, total, run_here, elapsed)),
            None => {}
        },
    });
    if let Some(b) = &bar {
        b.finish();
    }
    let report = result?;
    if let Some(e) = stderr_lost {
        return Err(format!(
            "{}; stopped at step {} with the checkpoint saved",
            super::stream_error("stderr", e),
            trainer.step()
        )
        .into());
    }
    let out = &cfg.out_dir;
    match report.outcome {
        RunOutcome::Interrupted => {
            say!(
                "interrupted at step {}: checkpoint saved; continue with\n  agon train --resume --out {}",
                trainer.step(),
                out.display()
            );
            if interrupted.load(Ordering::SeqCst) {
                return Err(super::Interrupted.into());
            }
        }
        RunOutcome::Finished => {
            say!("done: {} steps in {:.0?}", trainer.step(), report.elapsed);
            // 2-D points have no grid.
            if trainer.sample_shape().len() == 3 {
                say!("  samples:    {}", out.join("samples.png").display());
            }
            say!(
                "  loss log:   {} and {}\n  checkpoint: {}",
                out.join("log.csv").display(),
                out.join("losses.png").display(),
                out.join(CHECKPOINT_FILE).display()
            );
        }
    }
    Ok(())
}

/// Configuration errors found while building the run (the models for the data, the task)
/// name where the configuration came from, as those found while reading it do.
fn name_the_source(e: TrainError, described: &str) -> TrainError {
    match e {
        TrainError::Config(mut c) if c.source == "configuration" => {
            c.source = described.to_string();
            TrainError::Config(c)
        }
        // The data the configuration names could not be loaded: say where it was named
        // (a damaged data.name in a file is found by the file's name).
        TrainError::Data(d) if described != "--set/flags" => TrainError::Config(ConfigError {
            source: described.to_string(),
            message: format!("data error: {d}"),
        }),
        other => other,
    }
}

/// The latest losses, as the bar's message.
fn losses(s: &StepStats) -> String {
    format!(
        "d_loss {:.3} g_loss {:.3} D(x) {:.2} D(G(z)) {:.2}",
        s.d_loss, s.g_loss, s.d_real, s.d_fake
    )
}

/// A plain progress line: step, speed, ETA and the latest losses.
fn line(s: &StepStats, total: u64, done_here: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = done_here as f64 / secs;
    let eta = (total.saturating_sub(s.step)) as f64 / rate.max(1e-9);
    format!(
        "step {:>6}/{total} {:5.1} it/s ETA {:>4.0}s  {}",
        s.step,
        rate,
        eta,
        losses(s)
    )
}
