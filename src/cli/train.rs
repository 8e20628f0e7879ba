//! `agon train`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use agon::gan::trainer::{StepStats, TrainConfig, TrainError, Trainer};
use clap::Args;

use super::overrides;

/// Options of `agon train`; flags override the configuration file.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A TOML configuration (see README for the keys); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Architecture: dcgan (default), dcgan28, mlp.
    #[arg(long)]
    model: Option<String>,
    /// Data: fashion-mnist (default), mnist, ring8, grid25, cifar10, or a path.
    #[arg(long)]
    data: Option<String>,
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

/// The configuration the arguments describe.
fn build_config(a: &TrainArgs) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let (text, source) = match &a.config {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| format!("{}: cannot read the configuration: {e}", p.display()))?,
            p.display().to_string(),
        ),
        None => (String::new(), "defaults".to_string()),
    };
    let mut table: toml::Table = text.parse().map_err(|e| format!("{source}: {e}"))?;
    let mut sets = a.sets.clone();
    let flag = |k: &str, v: Option<String>| v.map(|v| format!("{k}={}", toml::Value::String(v)));
    sets.extend(flag("model.kind", a.model.clone()));
    sets.extend(flag("data.name", a.data.clone()));
    sets.extend(flag(
        "out_dir",
        a.out.as_ref().map(|p| p.display().to_string()),
    ));
    sets.extend(a.steps.map(|s| format!("steps={s}")));
    sets.extend(a.seed.map(|s| format!("seed={s}")));
    overrides::apply(&mut table, &sets)?;
    let described = if sets.is_empty() {
        source
    } else {
        format!("{source} with --set/flags")
    };
    Ok(TrainConfig::from_toml_str(
        &toml::to_string(&table)?,
        &described,
    )?)
}

pub fn run(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut trainer = if a.resume {
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| TrainConfig::default().out_dir);
        let t = Trainer::resume(&out, a.steps)?;
        t.truncate_log()?;
        eprintln!(
            "resuming {} at step {} of {}",
            out.display(),
            t.step(),
            t.config().steps
        );
        t
    } else {
        let cfg = build_config(&a)?;
        std::fs::create_dir_all(&cfg.out_dir)?;
        std::fs::write(cfg.out_dir.join("config.toml"), cfg.to_toml())?;
        // A fresh run starts fresh logs: rows left by an earlier run in the same directory
        // would otherwise be read as this run's.
        for log in ["log.csv", "eval.csv"] {
            let _ = std::fs::remove_file(cfg.out_dir.join(log));
        }
        Trainer::new(cfg)?
    };
    let cfg = trainer.config().clone();
    eprintln!(
        "training {} on {} for {} steps (batch {}, loss {}), writing to {}",
        cfg.model.kind,
        cfg.data.name,
        cfg.steps,
        cfg.batch_size,
        cfg.loss.kind,
        cfg.out_dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C while saving would be lost, which is fine: the first one is honoured.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let evaluator = if cfg.log.eval_every > 0 {
        Some(super::eval::Periodic::new(&cfg)?)
    } else {
        None
    };
    let bar = !a.quiet && cfg.log.progress && std::io::stderr().is_terminal();
    let (start, first) = (Instant::now(), trainer.step());
    while !trainer.finished() && !stop.load(Ordering::SeqCst) {
        let stats = match trainer.train_step() {
            Ok(s) => s,
            Err(e @ TrainError::NonFinite { .. }) => {
                eprintln!();
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let step = stats.step;
        let done = trainer.finished();
        if step % cfg.log.every == 0 || done {
            trainer.append_log(&stats)?;
        }
        if step % cfg.log.sample_every == 0 || done {
            trainer.save_samples()?;
            trainer.save_loss_curve()?;
        }
        if step % cfg.log.checkpoint_every == 0 || done {
            trainer.save_checkpoint()?;
        }
        if let Some(ev) = evaluator
            .as_ref()
            .filter(|_| step % cfg.log.eval_every == 0)
        {
            let row = ev.run(trainer.sampling_generator(), &cfg, step)?;
            if bar {
                eprintln!();
            }
            eprintln!("eval {row}");
        }
        report(
            &stats,
            cfg.steps,
            step - first,
            start,
            bar,
            step % cfg.log.every == 0,
        );
    }
    if bar {
        eprintln!();
    }
    if !trainer.finished() {
        trainer.save_checkpoint()?;
        trainer.save_samples()?;
        eprintln!(
            "interrupted at step {}: checkpoint saved; continue with\n  agon train --resume --out {}",
            trainer.step(),
            cfg.out_dir.display()
        );
        return Ok(());
    }
    let out = &cfg.out_dir;
    eprintln!(
        "done: {} steps in {:.0?}\n  samples:    {}\n  loss log:   {} and {}\n  checkpoint: {}",
        trainer.step(),
        start.elapsed(),
        out.join("samples.png").display(),
        out.join("log.csv").display(),
        out.join("losses.png").display(),
        out.join("checkpoint.safetensors").display()
    );
    Ok(())
}

/// A progress line: step, speed, ETA and the latest losses.
fn report(s: &StepStats, total: u64, done_here: u64, start: Instant, bar: bool, log_step: bool) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let rate = done_here as f64 / secs;
    let eta = (total.saturating_sub(s.step)) as f64 / rate.max(1e-9);
    let line = format!(
        "step {:>6}/{total} {:5.1} it/s ETA {:>4.0}s  d_loss {:.3} g_loss {:.3} D(x) {:.2} D(G(z)) {:.2}",
        s.step, rate, eta, s.d_loss, s.g_loss, s.d_real, s.d_fake
    );
    if bar {
        let width = 24;
        let filled = (s.step as usize * width / total.max(1) as usize).min(width);
        eprint!(
            "\r[{}{}] {line}",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
    } else if log_step {
        eprintln!("{line}");
    }
}
