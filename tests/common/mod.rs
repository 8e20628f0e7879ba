//! Helpers shared by the root package's integration tests (`mod common;` in each).

/// `agon train` arguments for the run other tests damage and resume: the ring-of-8 MLP for
/// 4 steps, which trains in milliseconds. Add `--out DIR`.
#[allow(dead_code)]
pub const RING_TRAIN_ARGS: [&str; 12] = [
    "train",
    "--data",
    "ring8",
    "--model",
    "mlp",
    "--steps",
    "4",
    "--set",
    "model.mlp_hidden=8",
    "--set",
    "batch_size=16",
    "--quiet",
];

/// Runs `f` on a fresh rayon pool of `threads` threads (for same-bits-on-any-thread-count
/// checks).
#[allow(dead_code)]
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// A fresh, empty directory under the system's temp dir, unique to this test process and
/// removed when the test ends (kept if it fails, to look at).
#[allow(dead_code)] // each test binary compiles its own copy and uses some helpers only
pub fn temp_dir(suite: &str, name: &str) -> agon_reference::files::TempDir {
    agon_reference::files::TempDir::new(&format!("{suite}-{name}"))
}

/// Runs the `agon` binary with `args` and asserts it succeeded, showing its stderr if not.
#[allow(dead_code)]
#[track_caller]
pub fn agon_ok(args: &[&str]) -> std::process::Output {
    agon_ok_with_env(&[], args)
}

/// As [`agon_ok`], with the environment variables `envs` set for the run.
#[allow(dead_code)]
#[track_caller]
pub fn agon_ok_with_env(envs: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agon"))
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "agon {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the `agon` binary with `args`.
#[allow(dead_code)]
pub fn agon(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_agon"))
        .args(args)
        .output()
        .unwrap()
}

/// `agon train` arguments for a default-model run that trains in about a second (2 steps of
/// a 4-wide model with 8-dim codes on 32 shipped Fashion-MNIST images). Add `--out DIR`.
#[allow(dead_code)]
pub const TINY_TRAIN_ARGS: [&str; 14] = [
    "train",
    "--steps",
    "2",
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
];

/// Trains [`TINY_TRAIN_ARGS`] plus `extra` into `out` and returns its checkpoint.
#[allow(dead_code)]
#[track_caller]
pub fn train_tiny(out: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
    let out_s = out.to_str().unwrap();
    agon_ok(&[&TINY_TRAIN_ARGS[..], &["--out", out_s], extra].concat());
    out.join("checkpoint.safetensors")
}
