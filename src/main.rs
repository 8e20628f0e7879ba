//! `agon`: train GANs, sample from them, inspect checkpoints.
//!
//! Run `agon --help` (or `cargo run --release -- --help`) for the commands.

use std::io::Write;
use std::process::ExitCode;

use agon::cli;
use clap::Parser;

fn main() -> ExitCode {
    // Before anything allocates: keep freed tensors' memory for the next op.
    agon::allocator::keep_freed_memory();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        // The run already said where its checkpoint is.
        Err(e) if e.is::<cli::Interrupted>() => ExitCode::from(130),
        Err(e) => {
            // stderr itself may be what failed: then the exit code is all that is left.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
