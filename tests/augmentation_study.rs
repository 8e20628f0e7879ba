//! Augmenting scarce data (issue 14), end to end on tiny settings: a conditional GAN
//! trained on N images of each class (`data.per_class`), then the classifier trained on
//! the same N per class (`agon eval --train-classifier --per-class`) on real images only,
//! with classic augmentation, and with the GAN's samples added (`--extra-samples`).
//! `scripts/augmentation_table.py` runs the full-size version into docs/results.md.

mod common;

use std::path::{Path, PathBuf};

use agon::gan::trainer::{load_dataset, train_test_split, DataConfig};
use common::{agon, agon_ok, temp_dir};
use serde_json::Value;

/// The first 200 shipped Fashion-MNIST test images as an IDX test split of their own, so
/// the classifier's split is 160 training images and 40 held out (and every run is quick).
fn small_fashion_mnist(dir: &Path) -> PathBuf {
    let data = agon::data::fashion_mnist(&agon::data::shipped_fashion_mnist_dir())
        .unwrap()
        .take(200);
    let pixels: Vec<u8> = data
        .images()
        .to_vec()
        .iter()
        .map(|v| ((v + 1.0) * 127.5).round() as u8)
        .collect();
    let labels: Vec<u8> = data.labels().unwrap().iter().map(|&l| l as u8).collect();
    let out = dir.join("fmnist200");
    std::fs::create_dir_all(&out).unwrap();
    agon::data::write_idx(
        &out.join("t10k-images-idx3-ubyte.gz"),
        &[200, 28, 28],
        &pixels,
        true,
    )
    .unwrap();
    agon::data::write_idx(
        &out.join("t10k-labels-idx1-ubyte.gz"),
        &[200],
        &labels,
        true,
    )
    .unwrap();
    out
}

/// A tiny GAN trained for 2 steps on `per_class` images of each class of `data` (seed 3).
fn tiny_gan(dir: &Path, data: &str, per_class: usize, conditional: bool) -> (PathBuf, String) {
    let out = dir.join(if conditional { "cgan" } else { "gan" });
    let per_class = format!("data.per_class={per_class}");
    let mut args = vec![
        "train",
        "--data",
        data,
        "--steps",
        "2",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--set",
        &per_class,
        "--set",
        "model.width=4",
        "--set",
        "model.latent_dim=8",
        "--set",
        "batch_size=8",
        "--set",
        "log.samples=4",
    ];
    if conditional {
        args.extend(["--set", "model.conditional=true"]);
    }
    let o = agon_ok(&args);
    (
        out.join("checkpoint.safetensors"),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `agon eval --train-classifier DATA --per-class 4 --seed SEED --steps 3` plus `extra`,
/// with the JSON it wrote.
fn classifier(dir: &Path, data: &str, name: &str, seed: &str, extra: &[&str]) -> Value {
    let json = dir.join(format!("{name}.json"));
    let mut args = vec![
        "eval",
        "--train-classifier",
        data,
        "--per-class",
        "4",
        "--seed",
        seed,
        "--steps",
        "3",
        "--out",
        json.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = agon_ok(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("test accuracy") && text.contains("not saved"),
        "{text}"
    );
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

/// Runs `agon` expecting a clean failure (exit code 1, no panic) whose message holds `what`.
#[track_caller]
fn refused<S: AsRef<str> + std::fmt::Debug>(args: &[S], what: &str) {
    let o = agon(&args.iter().map(AsRef::as_ref).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(what), "{args:?}: wanted {what:?} in {err}");
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

#[test]
fn the_three_classifiers_see_the_gans_images() {
    let dir = temp_dir("augment", "three");
    let data_dir = small_fashion_mnist(&dir);
    let data = data_dir.to_str().unwrap();
    let (ckpt, log) = tiny_gan(&dir, data, 4, true);
    assert!(
        log.contains("data.per_class = 4: 40 images, 4 of each class, picked by seed 3"),
        "{log}"
    );
    let ckpt_s = ckpt.to_str().unwrap();

    let real = classifier(&dir, data, "real", "3", &[]);
    let classic = classifier(&dir, data, "classic", "3", &["--augment", "classic"]);
    let shift = classifier(&dir, data, "shift", "3", &["--augment", "shift"]);
    assert_eq!(shift["augment"], "shift");
    assert_eq!(shift["picked"], classic["picked"]);
    let gan = classifier(
        &dir,
        data,
        "gan",
        "3",
        &["--extra-samples", ckpt_s, "--extra-n", "30"],
    );
    for (v, augment) in [(&real, "none"), (&classic, "classic"), (&gan, "none")] {
        assert_eq!(v["per_class"], 4, "{v}");
        assert_eq!(v["real_images"], 40, "{v}");
        assert_eq!(counts(&v["real_per_class"]), vec![4; 10], "{v}");
        assert_eq!(v["augment"], augment, "{v}");
        assert_eq!(
            (v["steps"].clone(), v["seed"].clone()),
            (3.into(), 3.into())
        );
        // Tested on the 40 images after the 160 it picks from.
        assert_eq!(v["test_images"], 40, "{v}");
        let acc = v["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{v}");
        assert!(v["classifier"].is_null(), "an experiment is not saved: {v}");
        // The same pick every time.
        assert_eq!(v["picked"], real["picked"]);
    }
    assert_eq!(real["extra_n"], 0);
    assert_eq!(real["train_images"], 40);
    assert_eq!(gan["extra_n"], 30);
    assert_eq!(counts(&gan["extra_per_class"]), vec![3; 10]);
    assert_eq!(gan["train_images"], 70);
    assert_eq!(gan["extra_samples"], ckpt_s);
    let note = gan["extra_note"].as_str().unwrap();
    assert!(note.contains("was trained on the same images"), "{note}");
    // Another seed picks other images: said so.
    let other = classifier(
        &dir,
        data,
        "other",
        "4",
        &["--extra-samples", ckpt_s, "--extra-n", "10"],
    );
    let note = other["extra_note"].as_str().unwrap();
    assert!(
        note.contains("not the images this classifier is given"),
        "{note}"
    );

    // The picked indices are of the training part, and they are the GAN's images.
    let picked: Vec<usize> = counts(&real["picked"])
        .into_iter()
        .map(|i| i as usize)
        .collect();
    assert_eq!(picked.len(), 40);
    assert!(picked.iter().all(|&i| i < 160), "{picked:?}");
    let cfg = DataConfig {
        name: data.to_string(),
        ..DataConfig::default()
    };
    let split = train_test_split(&cfg, 3).unwrap();
    let gan_images = load_dataset(
        &DataConfig {
            per_class: 4,
            ..cfg.clone()
        },
        3,
    )
    .unwrap()
    .dataset;
    let ours = split.train.subset(&picked);
    assert_eq!(gan_images.images().to_vec(), ours.images().to_vec());
    assert_eq!(gan_images.labels(), ours.labels());
}

#[test]
fn bad_values_are_refused_cleanly() {
    let dir = temp_dir("augment", "bad");
    let data_dir = small_fashion_mnist(&dir);
    let data = data_dir.to_str().unwrap();
    let (cond, _) = tiny_gan(&dir, data, 2, true);
    let (plain, _) = tiny_gan(&dir, data, 2, false);
    let base = ["eval", "--train-classifier", data, "--steps", "1"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    refused(&with(&["--per-class", "0"]), "--per-class 0");
    refused(
        &with(&["--per-class", "1000"]),
        "1000 images of each class asked for",
    );
    refused(
        &with(&["--extra-samples", cond.to_str().unwrap(), "--extra-n", "15"]),
        "multiple of the 10 classes",
    );
    refused(
        &with(&["--extra-samples", cond.to_str().unwrap(), "--extra-n", "0"]),
        "--extra-n 0",
    );
    refused(
        &with(&[
            "--extra-samples",
            plain.to_str().unwrap(),
            "--extra-n",
            "10",
        ]),
        "unconditional",
    );
    refused(
        &with(&["--extra-samples", "/no/such.safetensors", "--extra-n", "10"]),
        "/no/such.safetensors",
    );
    refused(
        &["eval", "--train-classifier", data, "--steps", "0"],
        "--steps 0",
    );
    // Usage errors are clap's (exit code 2).
    for args in [
        with(&["--augment", "sideways"]),
        with(&["--extra-n", "10"]),
        with(&["--epochs", "2"]),
        [
            "eval",
            "--checkpoint",
            cond.to_str().unwrap(),
            "--per-class",
            "4",
        ]
        .map(String::from)
        .to_vec(),
    ] {
        let o = agon(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    // The GAN side: too many per class, and per_class beside data.limit.
    let out = dir.join("never");
    let out = out.to_str().unwrap();
    let train = |set: &[&str]| -> Vec<String> {
        let mut a = vec![
            "train", "--data", data, "--steps", "1", "--quiet", "--out", out,
        ];
        for s in set {
            a.extend(["--set", s]);
        }
        a.into_iter().map(String::from).collect()
    };
    refused(&train(&["data.per_class=100"]), "data.per_class = 100");
    refused(
        &train(&["data.per_class=4", "data.limit=64"]),
        "data.per_class = 4 and data.limit = 64",
    );
    refused(
        &train(&["data.per_class=4", "task=superres"]),
        "data.per_class is not available",
    );
    assert!(!Path::new(out).join("checkpoint.safetensors").exists());
}
