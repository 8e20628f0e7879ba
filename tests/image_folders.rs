//! Training on a user's own images of another size and colour, end to end through the CLI:
//! a folder of 32x32 and larger RGB PNG and JPEG files made here, a DCGAN at 32 and at
//! 64 pixels, a feature classifier trained on the folder, and scores that refuse a
//! classifier trained on other data.

use std::path::Path;
use std::process::{Command, Output};

use agon::tensor::NdArray;
use agon_reference::files::TempDir;

fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("folders-{name}"))
}

fn agon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agon"))
        .args(args)
        .output()
        .unwrap()
}

#[track_caller]
fn agon_ok(args: &[&str]) -> String {
    let out = agon(args);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "agon {args:?} failed: {text}");
    text + &String::from_utf8_lossy(&out.stdout)
}

/// An RGB image `[3, h, w]` in `[-1, 1]`: class 0 red-dominant stripes, class 1
/// blue-dominant blobs, varied by `i`.
fn picture(class: usize, i: usize, h: usize, w: usize) -> NdArray {
    let mut v = vec![0.0f32; 3 * h * w];
    for y in 0..h {
        for x in 0..w {
            let t = ((x + 3 * i) % 8) as f32 / 8.0;
            let r = ((y * y + x * 7 + i * 13) % 17) as f32 / 17.0;
            let (main, other) = if class == 0 { (0, 2) } else { (2, 0) };
            v[main * h * w + y * w + x] = 0.6 + 0.4 * t - 0.2 * r;
            v[other * h * w + y * w + x] = -0.8 + 0.3 * r;
            v[h * w + y * w + x] = -0.5 + 0.5 * t * r;
        }
    }
    NdArray::from_vec(v, &[3, h, w]).unwrap()
}

/// `dir/<class>/` with 16 images per class: PNGs and JPEGs, mostly 32x32, every fourth
/// 40x48 (to be resized).
fn make_folder(dir: &Path) {
    for (class, name) in ["red", "blue"].iter().enumerate() {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..16 {
            let (h, w) = if i % 4 == 3 { (40, 48) } else { (32, 32) };
            let img = picture(class, i, h, w);
            if i % 2 == 0 {
                agon::data::save_png(&img, &sub.join(format!("{i:02}.png"))).unwrap();
            } else {
                let bytes: Vec<u8> = (0..h * w)
                    .flat_map(|p| (0..3).map(move |c| (c, p)))
                    .map(|(c, p)| ((img.to_vec()[c * h * w + p] + 1.0) * 127.5).round() as u8)
                    .collect();
                let rgb = image::RgbImage::from_raw(w as u32, h as u32, bytes).unwrap();
                rgb.save_with_format(sub.join(format!("{i:02}.jpg")), image::ImageFormat::Jpeg)
                    .unwrap();
            }
        }
    }
    // Not an image, skipped by its name.
    std::fs::write(dir.join("red/notes.txt"), "not a picture").unwrap();
}

const TINY: [&str; 10] = [
    "--quiet",
    "--set=model.width=4",
    "--set=model.latent_dim=8",
    "--set=batch_size=8",
    "--set=log.samples=4",
    "--set=log.every=5",
    "--set=log.sample_every=10",
    "--set=log.checkpoint_every=10",
    "--seed",
    "3",
];

#[test]
fn an_rgb_folder_of_png_and_jpeg_trains_at_32_and_64_and_is_scored_by_its_own_classifier() {
    let dir = temp_dir("rgb");
    let data = dir.join("shapes");
    make_folder(&data);
    let data_s = data.to_str().unwrap();
    let run32 = dir.join("run32");

    // 20 steps of DCGAN-32 (the size and the channels taken from the first image).
    let log = agon_ok(
        &[
            &[
                "train",
                "--data",
                data_s,
                "--steps",
                "20",
                "--out",
                run32.to_str().unwrap(),
            ][..],
            &TINY,
        ]
        .concat(),
    );
    assert!(log.contains("32 images as 3x32x32"), "{log}");
    assert!(log.contains("resized 8 of 32 images to 32x32"), "{log}");
    let grid = agon::data::load_png(&run32.join("samples.png")).unwrap();
    assert_eq!(grid.shape()[0], 3, "the sample grid is in colour");
    assert_eq!(
        grid.shape()[1],
        2 + 2 * 34,
        "2 x 2 images of 32 pixels, padded"
    );
    let csv = std::fs::read_to_string(run32.join("log.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");

    // A classifier trained on the folder (every fifth image held out) scores the run.
    let clf = dir.join("shapes.safetensors");
    let clf_s = clf.to_str().unwrap();
    let text = agon_ok(&[
        "eval",
        "--train-classifier",
        data_s,
        "--epochs",
        "2",
        "--classifier",
        clf_s,
    ]);
    assert!(text.contains("test accuracy"), "{text}");
    let (c, meta) = agon::metrics::Classifier::load(&clf).unwrap();
    assert_eq!(c.input_shape(), [3, 32, 32]);
    assert_eq!(
        meta["dataset"],
        agon::gan::trainer::dataset_identity(data_s)
    );
    let ckpt = run32.join("checkpoint.safetensors");
    let ckpt_s = ckpt.to_str().unwrap();
    let text = agon_ok(&[
        "eval",
        "--checkpoint",
        ckpt_s,
        "--classifier",
        clf_s,
        "--n",
        "32",
    ]);
    assert!(text.contains("FID (agon-"), "{text}");
    let scores = std::fs::read_to_string(run32.join("scores.json")).unwrap();
    assert!(
        scores.contains("\"fid\"") && scores.contains("\"precision\""),
        "{scores}"
    );

    // The shipped MNIST classifier is refused for this data, saying why and what to do.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/classifiers/mnist.safetensors");
    let out = agon(&[
        "eval",
        "--checkpoint",
        ckpt_s,
        "--classifier",
        shipped.to_str().unwrap(),
        "--n",
        "32",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "scored with the wrong classifier");
    assert!(
        err.contains("trained on 'mnist'") && err.contains("--train-classifier"),
        "{err}"
    );

    // DCGAN-64 from the CLI: the same folder resized up to 64x64.
    let run64 = dir.join("run64");
    let log = agon_ok(
        &[
            &[
                "train",
                "--data",
                data_s,
                "--steps",
                "2",
                "--set=data.image_size=64",
                "--out",
                run64.to_str().unwrap(),
            ][..],
            &TINY,
        ]
        .concat(),
    );
    assert!(log.contains("resized 32 of 32 images to 64x64"), "{log}");
    let grid = agon::data::load_png(&run64.join("samples.png")).unwrap();
    assert_eq!(grid.shape(), &[3, 2 + 2 * 66, 2 + 2 * 66]);
    let sampled = dir.join("more.png");
    agon_ok(&[
        "sample",
        "--checkpoint",
        run64.join("checkpoint.safetensors").to_str().unwrap(),
        "--n",
        "4",
        "--out",
        sampled.to_str().unwrap(),
    ]);
    assert_eq!(agon::data::load_png(&sampled).unwrap().shape()[0], 3);

    // A size the model cannot build is refused with the sizes it can.
    let out = agon(
        &[
            &[
                "train",
                "--data",
                data_s,
                "--steps",
                "1",
                "--set=data.image_size=48",
            ][..],
            &TINY,
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("power of two"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One CIFAR-10 binary record: the label, then the red, green and blue planes (32x32 each):
/// a horizontal ramp in the label's dominant channel, so the classes differ.
fn cifar_record(label: u8, i: usize) -> Vec<u8> {
    let mut rec = vec![label];
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                let ramp = (x * 8 + y + i * 5) % 256;
                let level = if c == (label as usize) % 3 {
                    ramp
                } else {
                    255 - ramp / 4
                };
                rec.push(level as u8);
            }
        }
    }
    rec
}

/// CIFAR-10 by name from a data directory (`--data cifar10 --data-dir DIR`, batches made
/// here in the real binary format): DCGAN-32 trains on it from the CLI with a colour grid,
/// `eval --train-classifier cifar10` saves the classifier where the data directory keeps
/// classifiers, and `eval --checkpoint` then finds and uses it without being told.
#[test]
fn cifar10_batches_train_from_the_cli_and_the_saved_classifier_is_found_by_default() {
    let dir = temp_dir("cifar");
    let batches = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&batches).unwrap();
    let records = |n: usize, offset: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| cifar_record((i % 3) as u8, i + offset))
            .collect()
    };
    std::fs::write(batches.join("data_batch_1.bin"), records(24, 0)).unwrap();
    std::fs::write(batches.join("test_batch.bin"), records(12, 100)).unwrap();
    let dir_s = dir.to_str().unwrap();
    let run = dir.join("run");
    agon_ok(
        &[
            &[
                "train",
                "--data",
                "cifar10",
                "--data-dir",
                dir_s,
                "--steps",
                "2",
                "--out",
                run.to_str().unwrap(),
            ][..],
            &TINY,
        ]
        .concat(),
    );
    let grid = agon::data::load_png(&run.join("samples.png")).unwrap();
    assert_eq!(
        grid.shape(),
        &[3, 2 + 2 * 34, 2 + 2 * 34],
        "2 x 2 colour 32x32 samples"
    );

    let text = agon_ok(&[
        "eval",
        "--train-classifier",
        "cifar10",
        "--data-dir",
        dir_s,
        "--epochs",
        "1",
    ]);
    assert!(text.contains("test accuracy"), "{text}");
    let saved = dir.join("classifiers/cifar10.safetensors");
    let (c, _) = agon::metrics::Classifier::load(&saved).unwrap();
    assert_eq!(c.input_shape(), [3, 32, 32]);

    let ckpt = run.join("checkpoint.safetensors");
    let text = agon_ok(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--data-dir",
        dir_s,
        "--n",
        "16",
    ]);
    assert!(text.contains("FID (agon-"), "{text}");
    assert!(
        std::fs::read_to_string(run.join("scores.json"))
            .unwrap()
            .contains("\"fid\""),
        "scores.json has the FID"
    );
}
