//! What people do with a trained GAN (issue 14), end to end on tiny checkpoints trained
//! here in a second: latent walks (slerp, linear, class to class), fake detection with a
//! standalone detector and a discriminator, nearest neighbours and the memorisation figure,
//! retrieval, inversion (with and without an encoder) and latent editing (InterFaceGAN
//! boundaries, GANSpace components).

mod common;

use std::path::{Path, PathBuf};

use agon::autodiff::{no_grad, Tensor};
use agon::gan::{Dcgan, Generator};
use agon::nn::Module;
use agon::tensor::{Indices, NdArray};
use common::{agon, agon_ok, temp_dir, train_tiny};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A tiny default-model run in `dir/run` (conditional when asked).
fn tiny_checkpoint(dir: &Path, conditional: bool) -> PathBuf {
    let extra: &[&str] = if conditional {
        &["--set", "model.conditional=true"]
    } else {
        &[]
    };
    train_tiny(&dir.join("run"), extra)
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
    let plain_dir = temp_dir("using", "interpolate-plain");
    let plain = tiny_checkpoint(&plain_dir, false);
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

/// A tiny default-model run with `seed` in `dir/<name>` (a generator whose samples are
/// still near noise: easy to detect).
fn tiny_run(dir: &Path, name: &str, seed: &str) -> PathBuf {
    train_tiny(&dir.join(name), &["--seed", seed])
}

/// Row `row` of the shipped Fashion-MNIST images written as a PNG at `path`.
fn shipped_image_png(path: &Path, row: usize) -> PathBuf {
    let cfg = agon::gan::trainer::DataConfig {
        name: "fashion-mnist".into(),
        ..Default::default()
    };
    let data = agon::gan::trainer::load_dataset(&cfg, 0).unwrap().dataset;
    let image = data.images().narrow(0, row, 1).reshape(&[1, 28, 28]);
    agon::data::save_png(&image, path).unwrap();
    path.to_path_buf()
}

#[test]
fn detector_trains_scores_and_detects() {
    let dir = temp_dir("using", "detect");
    let (g0, g1) = (tiny_run(&dir, "g0", "0"), tiny_run(&dir, "g1", "1"));
    let (g0, g1) = (g0.to_str().unwrap(), g1.to_str().unwrap());
    let det = dir.join("det.safetensors");
    let det_s = det.to_str().unwrap();
    agon_ok(&[
        "detector",
        "train",
        "--real",
        "fashion-mnist",
        "--fake",
        g0,
        "--n",
        "300",
        "--epochs",
        "2",
        "--out",
        det_s,
    ]);
    let meta = agon::nn::checkpoint::Checkpoint::read(&det)
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(meta["role"], "real-vs-generated");
    assert_eq!(meta["generators"], g0);

    // Held-out real images against fresh samples of the generator it saw and of one it
    // did not: both are near noise after 2 steps, so both are caught.
    let json = dir.join("scores.json");
    agon_ok(&[
        "detector",
        "eval",
        "--detector",
        det_s,
        "--real",
        "fashion-mnist",
        "--fake",
        g0,
        g1,
        "--n",
        "200",
        "--json",
        json.to_str().unwrap(),
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = doc["scores"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        for key in ["roc_auc", "average_precision", "accuracy"] {
            let v = row[key].as_f64().unwrap();
            assert!(v > 0.9 && v <= 1.0, "{key} = {v} for {}", row["generator"]);
        }
    }
    assert_eq!(doc["n"], 200);

    // `agon detect` on a held-out real image and on a generated one, as PNG files.
    let real_png = shipped_image_png(&dir.join("real.png"), 9);
    let fake_png = dir.join("fake.png");
    agon_ok(&[
        "sample",
        "--checkpoint",
        g1,
        "--n",
        "1",
        "--seed",
        "5",
        "--out",
        fake_png.to_str().unwrap(),
    ]);
    let out = agon_ok(&[
        "detect",
        "--checkpoint",
        det_s,
        real_png.to_str().unwrap(),
        fake_png.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let verdicts: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(verdicts, ["real", "generated"], "{text}");

    // The discriminator of a run as the detector: every image gets a probability.
    let out = agon_ok(&["detect", "--checkpoint", g0, real_png.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let p: f64 = text
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&p), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("discriminator"));

    // Mistakes name what is wrong.
    let bad = agon(&["detect", "--checkpoint", det_s, "/no/such.png"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("/no/such.png"));
    let bad = agon(&[
        "detector",
        "train",
        "--real",
        "fashion-mnist",
        "--fake",
        g0,
        "--n",
        "0",
        "--out",
        det_s,
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--n 0"));
    let bad = agon(&[
        "detector",
        "eval",
        "--detector",
        det_s,
        "--real",
        "mnist-typo",
        "--fake",
        g0,
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("mnist-typo"));
}

#[test]
fn neighbours_show_samples_beside_training_images_and_retrieve_a_query() {
    let dir = temp_dir("using", "neighbours");
    let ckpt = tiny_run(&dir, "g", "0");
    let (grid, json) = (dir.join("nb.png"), dir.join("nb.json"));
    let run = agon_ok(&[
        "neighbours",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "3",
        "--k",
        "2",
        "--score-n",
        "200",
        "--reference",
        "32",
        "--out",
        grid.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    // 3 rows of sample + 2 by pixels + 2 by classifier features + 2 by the run's
    // discriminator's features.
    assert_eq!(
        agon::data::load_png(&grid).unwrap().shape(),
        &[1, 2 + 3 * 30, 2 + 7 * 30]
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["training_images"], 32); // the run's data.limit
    for space in ["pixels", "features"] {
        let s = &doc[space];
        assert_eq!(s["samples"], 200);
        assert_eq!(s["reference_rows"], 32);
        // After 2 steps the samples are far from every training image: none is nearer
        // than training images are to each other.
        assert_eq!(s["share_closer_than_median_real_pair"], 0.0, "{space}: {s}");
        assert!(
            s["median_sample_to_train_distance"].as_f64()
                > s["median_real_to_real_distance"].as_f64()
        );
    }
    // The discriminator's space is measured too (no claim on its value after 2 steps).
    let d = &doc["discriminator"];
    assert_eq!(
        (d["samples"].as_u64(), d["reference_rows"].as_u64()),
        (Some(200), Some(32))
    );
    let share = d["share_closer_than_median_real_pair"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share), "{d}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("median real-to-real"));

    // With a checkpoint, a query is also searched for by the discriminator's features: an
    // image of the run's data (its first 32 shipped images) finds itself first in all three.
    let own = shipped_image_png(&dir.join("own.png"), 5);
    let out = agon_ok(&[
        "neighbours",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--query",
        own.to_str().unwrap(),
        "--k",
        "2",
        "--out",
        dir.join("own-nb.png").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let firsts: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("1"))
        .map(|l| (l.split('\t').next().unwrap(), l.split('\t').nth(2).unwrap()))
        .collect();
    assert_eq!(
        firsts,
        [("pixels", "5"), ("features", "5"), ("discriminator", "5")],
        "{text}"
    );

    // Retrieval: a dataset image as the query finds itself first, in both spaces.
    let query = shipped_image_png(&dir.join("query.png"), 1234);
    let out = agon_ok(&[
        "neighbours",
        "--query",
        query.to_str().unwrap(),
        "--k",
        "3",
        "--out",
        dir.join("q.png").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let firsts: Vec<&str> = text
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("1"))
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    assert_eq!(firsts, ["1234", "1234"], "{text}");

    let bad = agon(&[
        "neighbours",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--k",
        "40",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--k 40 is more than the 32"));
    let bad = agon(&["neighbours"]);
    assert!(!bad.status.success());
}

#[test]
fn invert_reconstructs_real_images_and_trains_an_encoder() {
    let dir = temp_dir("using", "invert");
    let ckpt = tiny_run(&dir, "g", "0");
    let ckpt = ckpt.to_str().unwrap();
    let mean_psnr = |out: &Path| -> f64 {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("inversion.json")).unwrap())
                .unwrap();
        doc["mean_psnr"].as_f64().unwrap()
    };
    let (one, many) = (dir.join("one"), dir.join("many"));
    for (steps, out) in [("1", &one), ("60", &many)] {
        agon_ok(&[
            "invert",
            "--checkpoint",
            ckpt,
            "--real",
            "3",
            "--restarts",
            "2",
            "--steps",
            steps,
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    // More optimisation reconstructs better.
    assert!(
        mean_psnr(&many) > mean_psnr(&one) + 0.1,
        "{} vs {}",
        mean_psnr(&many),
        mean_psnr(&one)
    );
    for f in ["real-0000.png", "real-0002.png", "pairs.png", "codes.csv"] {
        assert!(many.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(many.join("codes.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert_eq!(csv.lines().nth(1).unwrap().split(',').count(), 1 + 8); // name + latent_dim

    // An encoder: trained on the generator's samples, then a start (or the whole answer).
    let enc = dir.join("enc.safetensors");
    agon_ok(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--train-encoder",
        enc.to_str().unwrap(),
        "--encoder-steps",
        "3",
    ]);
    let meta = agon::nn::checkpoint::Checkpoint::read(&enc)
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(
        (meta["role"].as_str(), meta["latent_dim"].as_str()),
        ("gan-encoder", "8")
    );
    let from_encoder = dir.join("enc-out");
    // A user's own image file as the input.
    let png = dir.join("mine.png");
    agon::data::save_png(&agon::tensor::NdArray::full(&[1, 20, 20], 0.3), &png).unwrap();
    let run = agon_ok(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--input",
        png.to_str().unwrap(),
        "--encoder",
        enc.to_str().unwrap(),
        "--steps",
        "0",
        "--out",
        from_encoder.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&run.stdout).contains("mine.png\tPSNR"));
    assert!(from_encoder.join("mine.png").is_file());

    // A folder of the user's images: every PNG in it is inverted (not the text file), each
    // reconstruction and code written under its own name.
    let folder = dir.join("mine");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, level) in [("a.png", -0.4f32), ("b.png", 0.5)] {
        let img = agon::tensor::NdArray::full(&[1, 28, 28], level);
        agon::data::save_png(&img, &folder.join(name)).unwrap();
    }
    std::fs::write(folder.join("notes.txt"), "not an image").unwrap();
    let from_folder = dir.join("folder-out");
    let run = agon_ok(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--input",
        folder.to_str().unwrap(),
        "--steps",
        "2",
        "--out",
        from_folder.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        said.contains("a.png\tPSNR") && said.contains("b.png\tPSNR"),
        "{said}"
    );
    for f in ["a.png", "b.png", "codes.csv", "inversion.json"] {
        assert!(from_folder.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(from_folder.join("codes.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        3,
        "a header and one code per image: {csv}"
    );

    let bad = agon(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--real",
        "2",
        "--encoder",
        ckpt,
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an encoder"));
    let bad = agon(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--real",
        "2",
        "--steps",
        "0",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("give --encoder"));
    let bad = agon(&[
        "invert",
        "--checkpoint",
        ckpt,
        "--real",
        "2",
        "--class",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not conditional"));
}

#[test]
fn edit_moves_the_attribute_it_was_fitted_for() {
    let dir = temp_dir("using", "edit");
    let ckpt = tiny_run(&dir, "g", "0");
    let ckpt = ckpt.to_str().unwrap();
    let json = dir.join("edit.json");
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    for (direction, key) in [
        ("brightness", "brightness"),
        ("ink", "ink"),
        ("class:sneaker", "target_class"),
    ] {
        let strip = dir.join(format!("{key}.png"));
        agon_ok(&[
            "edit",
            "--checkpoint",
            ckpt,
            "--direction",
            direction,
            "--samples",
            "400",
            "--measure-n",
            "50",
            "--rows",
            "2",
            "--steps",
            "5",
            "--strength",
            "4",
            "--out",
            strip.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        assert_eq!(
            agon::data::load_png(&strip).unwrap().shape(),
            &[1, 2 + 2 * 30, 2 + 5 * 30]
        );
        let v: Vec<f64> = read()[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        // The boundary's normal points towards more of the attribute (a 2-step generator is
        // far from linear, so only the two ends are compared).
        assert!(v[0] < v[2], "{direction}: {v:?} at -4 / 0 / +4");
    }
    let doc = read();
    assert_eq!(doc["other_classes_tv"].as_array().unwrap().len(), 2);
    // GANSpace components, and editing an inverted image of the user's.
    let png = dir.join("mine.png");
    agon::data::save_png(&agon::tensor::NdArray::full(&[1, 28, 28], -0.2), &png).unwrap();
    let out = agon_ok(&[
        "edit",
        "--checkpoint",
        ckpt,
        "--direction",
        "pc1",
        "--samples",
        "300",
        "--measure-n",
        "20",
        "--input",
        png.to_str().unwrap(),
        "--out",
        dir.join("pc.png").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("GANSpace component 1"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reconstruction: PSNR"));
    let bad = agon(&["edit", "--checkpoint", ckpt, "--direction", "smile"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected class:NAME"));
    let bad = agon(&[
        "edit",
        "--checkpoint",
        ckpt,
        "--direction",
        "class:sandwich",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sandwich"));
}
