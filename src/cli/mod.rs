//! Command-line definitions and dispatch.

/// `println!` that returns the write error (`agon inspect | head` closes the pipe early)
/// from the enclosing function instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| crate::cli::stream_error("stdout", e))?
    }};
}

/// `eprintln!` that returns the write error from the enclosing function instead of
/// panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stderr().lock(), $($arg)*)
            .map_err(|e| crate::cli::stream_error("stderr", e))?
    }};
}

mod apply;
mod detect;
mod edit;
mod eval;
mod inspect;
mod invert;
mod neighbours;
mod overrides;
mod sample;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Generative adversarial networks in Rust.
#[derive(Parser, Debug)]
#[command(name = "agon", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a GAN; writes sample grids, a loss log and curve, and checkpoints to --out.
    Train(train::TrainArgs),
    /// Write a grid of samples from a checkpoint (image-to-image tasks: input | output |
    /// real triplets of real images).
    Sample(sample::SampleArgs),
    /// Run a trained image-to-image model (superres, inpaint, sketch2image, cyclegan) on your own
    /// PNG or JPEG images.
    Apply(apply::ApplyArgs),
    /// Write a latent-space walk: each row moves between two random points.
    Interpolate(sample::InterpolateArgs),
    /// Score a checkpoint (FID-style, KID, precision/recall, density/coverage, mode
    /// counting on 2-D mixtures), or train the feature classifier the scores use.
    Eval(eval::EvalArgs),
    /// Score images as real or generated, with a detector from `agon detector train` or
    /// a training checkpoint's discriminator.
    Detect(detect::DetectArgs),
    /// Train or evaluate a real-vs-generated detector.
    #[command(subcommand)]
    Detector(detect::DetectorCommand),
    /// Move samples (or an inverted image) along a latent direction (InterFaceGAN boundary
    /// for a measured attribute, or a GANSpace component) and measure what moved.
    Edit(edit::EditArgs),
    /// Find the latent codes that reconstruct real images (optimisation with restarts,
    /// optionally from a trained encoder), or train that encoder.
    Invert(invert::InvertArgs),
    /// Put samples beside their nearest training images and measure memorisation, or
    /// find the dataset images nearest a query image (--query).
    Neighbours(neighbours::NeighboursArgs),
    /// Show what a checkpoint holds: tensors, shapes, metadata.
    Inspect {
        /// The checkpoint (.safetensors).
        file: PathBuf,
    },
    /// Write one network of a training checkpoint as a PyTorch state_dict (safetensors,
    /// plain names: main.0.weight, ...).
    Export {
        /// The training checkpoint.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Which network: g (generator), d (discriminator) or ema (the averaged generator);
        /// `agon inspect` lists a checkpoint's networks.
        #[arg(long, default_value = "g")]
        net: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A write to one of the process's own streams failed.
pub fn stream_error(stream: &str, e: std::io::Error) -> String {
    format!("cannot write to {stream}: {e}")
}

/// The run stopped on Ctrl-C (after saving): `main` exits with 130, as a shell does for a
/// process ended by SIGINT.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Parses `args` (the program name first, as `std::env::args`) and runs the command: what
/// the `agon` binary does, minus printing the error and choosing the exit code. Usage
/// errors, `--help` and `--version` come back as the [`clap::Error`] (its `exit_code` and
/// `print` do what the binary does with them).
///
/// ```no_run
/// agon::cli::run_args(["agon", "inspect", "runs/fashion-mnist/checkpoint.safetensors"])
///     .unwrap();
/// ```
///
/// # Errors
/// A usage error, or the command's error (naming the file, key or stream at fault);
/// [`Interrupted`] when a training run stopped on Ctrl-C.
pub fn run_args<I, T>(args: I) -> Result<(), Box<dyn std::error::Error>>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    run(Cli::try_parse_from(args)?)
}

/// Runs the parsed command; errors are reported by `main`.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Interpolate(a) => sample::interpolate(a),
        Command::Eval(a) => eval::run(a),
        Command::Detect(a) => detect::detect(a),
        Command::Detector(c) => detect::run(c),
        Command::Neighbours(a) => neighbours::run(a),
        Command::Invert(a) => invert::run(a),
        Command::Edit(a) => edit::run(a),
        Command::Inspect { file } => inspect::run(&file),
        Command::Export {
            checkpoint,
            net,
            out,
        } => {
            let n = crate::gan::trainer::export_network(&checkpoint, &net, &out)?;
            say!("wrote {} ({n} tensors of network {net})", out.display());
            Ok(())
        }
    }
}
