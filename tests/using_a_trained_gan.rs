//! What people do with a trained GAN (issue 14), end to end on tiny checkpoints trained
//! here in a second: latent walks (slerp, linear, class to class).

mod common;

use std::path::{Path, PathBuf};

use agon::autodiff::{no_grad, Tensor};
use agon::gan::{Dcgan, Generator};
use agon::nn::Module;
use agon::tensor::{Indices, NdArray};
use common::{agon, agon_ok, temp_dir};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Trains the default model, tiny, for 2 steps into `dir/run` (conditional when asked) and
/// returns its checkpoint.
fn tiny_checkpoint(dir: &Path, conditional: bool) -> PathBuf {
    let out = dir.join("run");
    let mut args = vec![
        "train",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
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
    if conditional {
        args.extend(["--set", "model.conditional=true"]);
    }
    agon_ok(&args);
    out.join("checkpoint.safetensors")
}

#[test]
fn one_hot_blends_are_the_labelled_samples() {
    let mut rng = StdRng::seed_from_u64(3);
    let cfg = Dcgan {
        width: 4,
        latent_dim: 8,
        num_classes: Some(5),
        ..Dcgan::new(28, 1)
    };
    let g = cfg.generator(&mut rng);
    g.eval();
    let z = NdArray::rand_normal(&[5, 8], 0.0, 1.0, &mut rng);
    let classes = vec![4, 0, 2, 2, 1];
    let labels = Indices::from_vec(classes.clone(), &[5]);
    let mut mix = vec![0.0f32; 25];
    for (i, &c) in classes.iter().enumerate() {
        mix[i * 5 + c] = 1.0;
    }
    let mix = NdArray::from_vec(mix, &[5, 5]).unwrap();
    let z = Tensor::constant(z);
    let (labelled, blended) = no_grad(|| {
        (
            g.generate(&z, Some(&labels)).data().clone(),
            g.generate_blended(&z, &mix).unwrap().data().clone(),
        )
    });
    let gap = labelled
        .to_vec()
        .iter()
        .zip(blended.to_vec())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        gap < 1e-5,
        "one-hot blend differs from the labelled sample by {gap}"
    );
    // An unconditional generator has nothing to blend.
    let plain = Dcgan {
        width: 4,
        latent_dim: 8,
        ..Dcgan::new(28, 1)
    }
    .generator(&mut rng);
    assert!(plain.generate_blended(&z, &mix).is_none());
}

#[test]
fn interpolate_walks_by_slerp_line_and_class() {
    let dir = temp_dir("using", "interpolate");
    let ckpt = tiny_checkpoint(&dir, true);
    let ckpt = ckpt.to_str().unwrap();
    let png = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (slerp, linear, classes) = (png("slerp.png"), png("linear.png"), png("classes.png"));
    let common = ["--checkpoint", ckpt, "--rows", "2", "--steps", "5"];
    for (mode, out) in [("slerp", &slerp), ("linear", &linear)] {
        let run = agon_ok(
            &[
                &["interpolate"],
                &common[..],
                &["--mode", mode, "--out", out],
            ]
            .concat(),
        );
        assert!(String::from_utf8_lossy(&run.stderr).contains(&format!("{mode} latent walk")));
    }
    let run = agon_ok(
        &[
            &["interpolate"],
            &common[..],
            &["--from-class", "1", "--to-class", "7", "--out", &classes],
        ]
        .concat(),
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("class 1 -> class 7"));
    let (a, b) = (
        agon::data::load_png(Path::new(&slerp)).unwrap(),
        agon::data::load_png(Path::new(&linear)).unwrap(),
    );
    assert_eq!(a.shape(), &[1, 2 + 2 * 30, 2 + 5 * 30]);
    assert_eq!(b.shape(), a.shape());
    // Same ends, different paths: the walks agree at the first and last image of each row
    // and differ in between.
    let (a, b) = (a.to_vec(), b.to_vec());
    let width = 2 + 5 * 30;
    let column_gap = |col: usize| {
        (0..a.len())
            .filter(|i| (i % width).saturating_sub(2) / 30 == col && i % width >= 2)
            .map(|i| (a[i] - b[i]).abs())
            .fold(0.0f32, f32::max)
    };
    assert!(
        column_gap(0) < 1e-2 && column_gap(4) < 1e-2,
        "the ends moved"
    );
    assert!(
        column_gap(2) > 1e-3,
        "slerp and linear gave the same middle"
    );
    assert_eq!(
        agon::data::load_png(Path::new(&classes)).unwrap().shape(),
        &[1, 62, 152]
    );

    // Mistakes get errors that name the flag.
    let bad = agon(
        &[
            &["interpolate"],
            &common[..],
            &["--from-class", "1", "--to-class", "10"],
        ]
        .concat(),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--to-class 10 is out of range"));
    let bad = agon(&[&["interpolate"], &common[..], &["--mode", "spline"]].concat());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("slerp"));
    let plain = tiny_checkpoint(&temp_dir("using", "interpolate-plain"), false);
    let bad = agon(&[
        "interpolate",
        "--checkpoint",
        plain.to_str().unwrap(),
        "--from-class",
        "0",
        "--to-class",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not conditional"));
}
