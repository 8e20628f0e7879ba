//! The `agon` binary away from the repository: no compile-time paths, one data resolver
//! (`--data-dir`, then `AGON_DATA_DIR`, then a checkout's `data/`) for train and eval.
//!
//! The test runs the real `cargo install --path . --root TMP` (in the dev profile, reusing
//! this build's target directory, so it takes seconds) and runs the installed binary from a
//! directory outside the checkout. (An earlier second test ran a copy of the test build's
//! binary through the same checks; it tested the same code and doubled the test's time.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use agon_reference::files::TempDir;

/// The repository's shipped data directory.
fn repo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A fresh directory outside the checkout (the system temp dir), removed when the test ends.
fn temp_dir(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("reloc-{name}"));
    assert!(
        agon::data::checkout_data_dir(&dir).is_none(),
        "{} is inside a checkout",
        dir.display()
    );
    dir
}

/// Runs `bin args` in `cwd` with `AGON_DATA_DIR` set to `env_dir` (or unset).
fn run(bin: &Path, cwd: &Path, env_dir: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(cwd).env_remove("AGON_DATA_DIR");
    if let Some(d) = env_dir {
        cmd.env("AGON_DATA_DIR", d);
    }
    cmd.output().unwrap()
}

#[track_caller]
fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed: {stderr}");
    stderr + &String::from_utf8_lossy(&out.stdout)
}

const TINY: [&str; 14] = [
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
    "--set=log.sample_every=2",
];

/// Trains and scores with the binary at `bin`, run from a directory outside any checkout.
fn check_relocated(bin: &Path, work: &Path) {
    let data = repo_data();
    let data_s = data.to_str().unwrap();

    // Nothing to find: a clear error naming every way to give the directory, no panic.
    let lost = run(
        bin,
        work,
        None,
        &[&["train", "--out", "lost"][..], &TINY].concat(),
    );
    let err = String::from_utf8_lossy(&lost.stderr);
    assert!(!lost.status.success(), "trained without data: {err}");
    assert!(
        err.contains("--data-dir") && err.contains("AGON_DATA_DIR") && !err.contains("panicked"),
        "{err}"
    );
    // A wrong directory is named.
    let wrong = run(
        bin,
        work,
        Some(&work.join("nope")),
        &[&["train", "--out", "lost"][..], &TINY].concat(),
    );
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && err.contains("nope") && err.contains("AGON_DATA_DIR"),
        "{err}"
    );

    // --data-dir for the default data (Fashion-MNIST), AGON_DATA_DIR for the shipped MNIST.
    for (data_name, out, flag, env) in [
        ("fashion-mnist", "fm", Some(data_s), None),
        ("mnist", "mn", None, Some(data.as_path())),
    ] {
        let mut args = vec!["train", "--data", data_name, "--out", out];
        args.extend(flag.map(|d| ["--data-dir", d]).iter().flatten());
        ok(run(bin, work, env, &[&args[..], &TINY].concat()), data_name);
        for f in [
            "checkpoint.safetensors",
            "samples.png",
            "log.csv",
            "config.toml",
        ] {
            assert!(work.join(out).join(f).is_file(), "{out}/{f} missing");
        }
    }
    let eval = |ckpt: &str, env: Option<&Path>, extra: &[&str]| {
        let ckpt = work.join(ckpt);
        let mut args = vec!["eval", "--checkpoint", ckpt.to_str().unwrap(), "--n", "40"];
        args.extend_from_slice(extra);
        run(bin, work, env, &args)
    };
    // The MNIST run recorded no directory: eval needs one, and says how to give it.
    let lost = eval("mn/checkpoint.safetensors", None, &[]);
    let err = String::from_utf8_lossy(&lost.stderr);
    assert!(
        !lost.status.success() && err.contains("AGON_DATA_DIR"),
        "{err}"
    );
    let text = ok(
        eval("mn/checkpoint.safetensors", Some(&data), &[]),
        "eval (env)",
    );
    assert!(text.contains("FID (agon-mnist classifier)"), "{text}");
    ok(
        eval("mn/checkpoint.safetensors", None, &["--data-dir", data_s]),
        "eval (--data-dir)",
    );
    assert!(work.join("mn/scores.json").is_file());
    // The Fashion-MNIST run recorded its --data-dir, so eval finds the classifier alone.
    let text = ok(
        eval("fm/checkpoint.safetensors", None, &[]),
        "eval (recorded)",
    );
    assert!(
        text.contains("FID (agon-fashion-mnist classifier)"),
        "{text}"
    );
}

#[test]
fn cargo_install_gives_a_binary_that_works_from_anywhere() {
    // `--debug` into this build's own target directory: the crates `cargo test` just built
    // are reused, so the install takes seconds, not a release build's minutes; the
    // installed binary is what `cargo install` puts in place, run from elsewhere.
    let root = temp_dir("install");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let out = Command::new(env!("CARGO"))
        .args(["install", "--debug", "--offline", "--locked", "--path"])
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("--root")
        .arg(root.as_os_str())
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    check_relocated(&root.join("bin/agon"), &work);
}
