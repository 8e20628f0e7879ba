//! The image-to-image tasks end to end on tiny settings: each trains, checkpoints, resumes
//! bit-identically, and `agon apply` runs it on a PNG and a JPEG the test writes; `agon
//! sample` and `agon eval` work on its checkpoint. Plus the properties each task promises
//! (inpainting keeps the known pixels, super-resolution starts at bicubic).

use std::path::Path;

use agon::cli::run_args;
use agon::data::{downsample_area, load_image, upsample_bicubic, HoleKind};
use agon::gan::models::{ImageNorm, ResnetGenerator};
use agon::gan::tasks::{score_translation, ImageToImage};
use agon::gan::trainer::{load_task, TaskKind, TrainConfig, Trainer};
use agon::nn::checkpoint::load_module;
use agon::nn::Module;
use agon::tensor::NdArray;
use agon_reference::files::{jpeg_bytes, TempDir};
use rand::rngs::StdRng;
use rand::SeedableRng;

const TASKS: [TaskKind; 4] = [
    TaskKind::Superres,
    TaskKind::Inpaint,
    TaskKind::Sketch2image,
    TaskKind::Cyclegan,
];

/// A few-step run of `task` on 64 Fashion-MNIST images with networks of width 4.
fn tiny(task: TaskKind, out: &Path) -> TrainConfig {
    let mut c = TrainConfig {
        task,
        steps: 4,
        batch_size: 8,
        out_dir: out.to_path_buf(),
        ..TrainConfig::default()
    };
    c.data.limit = 64;
    c.model.width = 4;
    c.translate.blocks = 1;
    c.translate.unet_depth = 2;
    c.translate.d_layers = 1;
    c.log.samples = 4;
    c.log.every = 1;
    c.log.sample_every = 2;
    c.log.checkpoint_every = 2;
    c.log.progress = false;
    c
}

/// Every network's and optimiser's state as bits.
fn state_bits(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    let task = t.task();
    let mut out = vec![];
    for (net, m) in task.networks() {
        for (name, a) in m.state_dict() {
            out.push((
                format!("{net}.{name}"),
                a.to_vec().iter().map(|v| v.to_bits()).collect(),
            ));
        }
    }
    for (opt, o) in task.optimizers() {
        for (name, a) in o.state_dict() {
            out.push((
                format!("{opt}.{name}"),
                a.to_vec().iter().map(|v| v.to_bits()).collect(),
            ));
        }
    }
    out
}

#[test]
fn each_task_trains_and_resumes_bit_identically() {
    let dir = TempDir::new("i2i-resume");
    for task in TASKS {
        let straight_dir = dir.join(format!("{task}-straight"));
        let mut straight = Trainer::new(tiny(task, &straight_dir)).unwrap();
        assert_eq!(straight.task().name(), task.to_string());
        let stats: Vec<_> = (0..4).map(|_| straight.train_step().unwrap()).collect();
        assert!(
            stats.iter().all(|s| s.g_loss.is_finite() && s.d_loss > 0.0),
            "{task}: {stats:?}"
        );

        let split_dir = dir.join(format!("{task}-split"));
        let mut first = Trainer::new(tiny(task, &split_dir)).unwrap();
        for _ in 0..2 {
            first.train_step().unwrap();
        }
        first.save_checkpoint().unwrap();
        drop(first);
        let mut resumed = Trainer::resume(&split_dir, None).unwrap();
        assert_eq!(resumed.step(), 2);
        for _ in 0..2 {
            resumed.train_step().unwrap();
        }
        assert!(
            state_bits(&straight) == state_bits(&resumed),
            "{task}: 2 + 2 steps differ from 4 in one go"
        );
        assert_eq!(
            resumed.history().len(),
            2,
            "{task}: only the steps run here"
        );
    }
}

#[test]
fn the_reconstruction_only_baseline_trains_no_discriminator() {
    let dir = TempDir::new("i2i-l1-only");
    let mut cfg = tiny(TaskKind::Superres, &dir.0);
    cfg.translate.adv_weight = 0.0;
    let mut t = Trainer::new(cfg).unwrap();
    let d_before = state_bits(&t)
        .into_iter()
        .filter(|(n, _)| n.starts_with("d."))
        .collect::<Vec<_>>();
    let s = t.train_step().unwrap();
    assert_eq!(s.d_loss, 0.0);
    let d_after: Vec<_> = state_bits(&t)
        .into_iter()
        .filter(|(n, _)| n.starts_with("d."))
        .collect();
    assert!(d_before == d_after, "D changed without an adversarial term");
}

/// Runs `agon` in-process, panicking with its error.
fn agon(args: &[&str]) {
    if let Err(e) = run_args(std::iter::once("agon").chain(args.iter().copied())) {
        panic!("agon {args:?}: {e}");
    }
}

#[test]
fn agon_apply_sample_and_eval_work_on_every_task() {
    let dir = TempDir::new("i2i-cli");
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    // A PNG and a JPEG of sizes that are not 28 (nor a multiple of the U-Net's 4).
    let png = NdArray::from_vec(
        (0..3 * 10 * 13)
            .map(|i| ((i * 7) % 19) as f32 / 9.0 - 1.0)
            .collect(),
        &[3, 10, 13],
    )
    .unwrap();
    agon::data::save_png(&png, &inputs.join("a.png")).unwrap();
    std::fs::write(inputs.join("b.jpg"), jpeg_bytes(9, 6, true)).unwrap();
    for task in TASKS {
        let run = dir.join(task.to_string());
        let mut cfg = tiny(task, &run);
        cfg.steps = 2;
        let cfg_path = dir.join(format!("{task}.toml"));
        std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
        agon(&["train", "--config", cfg_path.to_str().unwrap(), "--quiet"]);
        let ckpt = run.join("checkpoint.safetensors");
        assert!(ckpt.exists() && run.join("samples.png").exists(), "{task}");

        let out = dir.join(format!("{task}-out"));
        agon(&[
            "apply",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--input",
            inputs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let scale = if task == TaskKind::Superres { 4 } else { 1 };
        for (name, (h, w)) in [("a", (10, 13)), ("b", (6, 9))] {
            let made = load_image(&out.join(format!("{name}.png")), 1, None).unwrap();
            assert_eq!(made.shape(), &[1, 1, scale * h, scale * w], "{task} {name}");
        }

        let grid = dir.join(format!("{task}-grid.png"));
        agon(&[
            "sample",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--n",
            "5",
            "--out",
            grid.to_str().unwrap(),
        ]);
        // 5 triplets, 2 a row: 6 columns and 3 rows of 28-pixel tiles with 2-pixel gaps.
        let g = load_image(&grid, 1, None).unwrap();
        assert_eq!(g.shape(), &[1, 1, 3 * 30 + 2, 6 * 30 + 2], "{task} grid");

        let scores = dir.join(format!("{task}-scores.json"));
        agon(&[
            "eval",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--n",
            "32",
            "--out",
            scores.to_str().unwrap(),
        ]);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&scores).unwrap()).unwrap();
        assert_eq!(
            json["held_out"], true,
            "{task}: data.limit = 64 leaves images to score"
        );
        let settings = json["scores"].as_object().unwrap();
        for (setting, s) in settings {
            let psnr = s["model"]["psnr"].as_f64().unwrap();
            assert!(psnr.is_finite() && psnr > 0.0, "{task} {setting}: {s}");
            assert!(s.get("baseline").is_some(), "{task} {setting}: {s}");
        }
    }
}

/// A task with four networks and two optimisers: `agon inspect` lists each by name, and
/// `agon export --net g_ab` writes that generator alone, with plain names that load
/// strictly into a fresh `ResnetGenerator`, holding the trained values.
#[test]
fn inspect_and_export_name_each_network_of_a_cyclegan_checkpoint() {
    let dir = TempDir::new("i2i-cyclegan-export");
    let mut cfg = tiny(TaskKind::Cyclegan, &dir.join("run"));
    cfg.steps = 1;
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.train_step().unwrap();
    let ckpt = t.save_checkpoint().unwrap();
    let ckpt_s = ckpt.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agon"))
        .args(["inspect", ckpt_s])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for net in ["g_ab", "g_ba", "d_a", "d_b"] {
        assert!(text.contains(&format!("network {net}: ")), "{text}");
    }
    for opt in ["opt_g", "opt_d"] {
        assert!(text.contains(&format!("optimiser {opt}: ")), "{text}");
    }

    let exported = dir.join("g_ab.safetensors");
    agon(&[
        "export",
        "--checkpoint",
        ckpt_s,
        "--net",
        "g_ab",
        "--out",
        exported.to_str().unwrap(),
    ]);
    let fresh = ResnetGenerator::new(
        1,
        1,
        cfg.model.width,
        cfg.translate.blocks,
        ImageNorm::Instance,
        None,
        &mut StdRng::seed_from_u64(99),
    );
    load_module(&fresh, &exported).unwrap();
    let networks = t.task().networks();
    let trained = networks.iter().find(|(n, _)| *n == "g_ab").unwrap().1;
    let bits = |m: &dyn Module| -> Vec<(String, Vec<u32>)> {
        m.named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.data().to_vec().iter().map(|v| v.to_bits()).collect()))
            .collect()
    };
    assert!(
        bits(trained) == bits(&fresh),
        "the export holds g_ab's trained values"
    );

    // A network the checkpoint does not hold is refused, naming those it does.
    let err = run_args([
        "agon",
        "export",
        "--checkpoint",
        ckpt_s,
        "--net",
        "g",
        "--out",
        dir.join("g.safetensors").to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"g\"") && err.contains("g_ab, g_ba, d_a, d_b"),
        "{err}"
    );
}

#[test]
fn apply_refuses_a_generation_checkpoint_and_misplaced_flags() {
    let dir = TempDir::new("i2i-apply-errors");
    let run = dir.join("ring");
    let mut args: Vec<&str> = common::RING_TRAIN_ARGS.to_vec();
    args.extend(["--out", run.to_str().unwrap()]);
    agon(&args);
    let ckpt = run.join("checkpoint.safetensors");
    let e = run_args([
        "agon",
        "apply",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--input",
        dir.0.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("image-to-image") && e.contains("unconditional"),
        "{e}"
    );
}

mod common;

#[test]
fn inpainting_keeps_every_known_pixel_and_superres_starts_at_bicubic() {
    let dir = TempDir::new("i2i-properties");
    let t = Trainer::new(tiny(TaskKind::Inpaint, &dir.join("inpaint"))).unwrap();
    let i2i = t.task().image_to_image().unwrap();
    let real = NdArray::rand_uniform(&[3, 1, 28, 28], -1.0, 1.0, &mut StdRng::seed_from_u64(1));
    let input = i2i.prepare(
        &real,
        Some(HoleKind::Strokes),
        &mut StdRng::seed_from_u64(2),
    );
    let out = i2i.translate(&input);
    let mask = input.mask.as_ref().unwrap().to_vec();
    let (o, r) = (out.to_vec(), real.to_vec());
    let holes = mask.iter().filter(|&&m| m > 0.5).count();
    assert!(holes > 0 && holes < mask.len());
    for p in 0..mask.len() {
        if mask[p] < 0.5 {
            assert_eq!(o[p].to_bits(), r[p].to_bits(), "known pixel {p} changed");
        }
    }

    // A fresh SRResNet's output is bicubic plus the residual of small random weights.
    let t = Trainer::new(tiny(TaskKind::Superres, &dir.join("sr"))).unwrap();
    let sr = t.task().image_to_image().unwrap();
    let input = sr.prepare(&real, None, &mut StdRng::seed_from_u64(0));
    assert_eq!(input.source.to_vec(), downsample_area(&real, 4).to_vec());
    let bicubic = upsample_bicubic(&input.source, 4);
    assert_eq!(sr.baseline(&input).unwrap().to_vec(), bicubic.to_vec());
    let diff = sr
        .translate(&input)
        .sub(&bicubic)
        .map(f32::abs)
        .mean_all()
        .item();
    assert!(diff < 0.5, "mean |output - bicubic| = {diff}");
}

#[test]
fn cyclegan_resolves_its_domains_and_trains_on_them_alone() {
    let dir = TempDir::new("i2i-cyclegan");
    let mut cfg = tiny(TaskKind::Cyclegan, &dir.join("ok"));
    cfg.translate.a = "Sneaker, sandal".into();
    cfg.translate.b = "ankle-boot".into();
    let t = Trainer::new(cfg.clone()).unwrap();
    // Saved as indices, so the checkpoint rebuilds the task without the data's names.
    assert_eq!(
        (
            t.config().translate.a.as_str(),
            t.config().translate.b.as_str()
        ),
        ("7,5", "9")
    );
    assert!(
        t.notes().iter().any(|n| n.contains("Ankle boot (9)")),
        "{:?}",
        t.notes()
    );
    let i2i = t.task().image_to_image().unwrap();
    assert_eq!(i2i.domains(), Some((&[7, 5][..], &[9][..])));
    let names: Vec<&str> = t.task().networks().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["g_ab", "g_ba", "d_a", "d_b", "pool_a", "pool_b"]);
    // The identity baseline keeps every pixel; the scores go both ways.
    let real = NdArray::rand_uniform(&[4, 1, 28, 28], -1.0, 1.0, &mut StdRng::seed_from_u64(4));
    let scores = score_translation(i2i, &real, Some(&[7, 9, 5, 9]), None, 0);
    let settings: Vec<&str> = scores.iter().map(|s| s.setting.as_str()).collect();
    assert_eq!(settings, ["A to B", "B to A"]);
    for s in &scores {
        let base = s.baseline.as_ref().unwrap();
        assert!(
            base.psnr.is_infinite() && (base.ssim - 1.0).abs() < 1e-9,
            "{s:?}"
        );
        assert!(s.model.psnr.is_finite(), "{s:?}");
    }

    for (a, b, wanted) in [
        ("sneaker", "boots", "no class is called \"boots\""),
        ("sneaker", "7", "share class 7"),
        ("12", "9", "class 12 does not exist"),
    ] {
        let mut bad = cfg.clone();
        bad.translate.a = a.into();
        bad.translate.b = b.into();
        let e = Trainer::new(bad).err().unwrap().to_string();
        assert!(e.contains(wanted), "{a} / {b}: {e}");
    }
}

/// Two folders of a user's own images, one subfolder per domain, 12x12 RGB (not a multiple
/// of the generator's 4), train and resume by domain name.
#[test]
fn cyclegan_trains_on_a_folder_with_one_subfolder_per_domain() {
    let dir = TempDir::new("i2i-cyclegan-folders");
    let root = dir.join("domains");
    for (domain, level) in [("horses", -0.6f32), ("zebras", 0.6)] {
        std::fs::create_dir_all(root.join(domain)).unwrap();
        for i in 0..6 {
            let v: Vec<f32> = (0..3 * 12 * 12)
                .map(|p| level + ((p * 7 + i * 3) % 11) as f32 / 40.0)
                .collect();
            let img = NdArray::from_vec(v, &[3, 12, 12]).unwrap();
            agon::data::save_png(&img, &root.join(domain).join(format!("{i}.png"))).unwrap();
        }
    }
    let mut cfg = tiny(TaskKind::Cyclegan, &dir.join("run"));
    cfg.data.name = root.display().to_string();
    cfg.data.limit = 0;
    cfg.translate.a = "horses".into();
    cfg.translate.b = "zebras".into();
    let mut t = Trainer::new(cfg).unwrap();
    assert_eq!(t.config().translate.a, "0");
    let s = t.train_step().unwrap();
    assert!(s.g_loss.is_finite() && s.d_loss > 0.0, "{s:?}");
    t.save_checkpoint().unwrap();
    let (task, _) = load_task(&dir.join("run").join("checkpoint.safetensors")).unwrap();
    let i2i = task.image_to_image().unwrap();
    assert_eq!(i2i.channels(), 3);
    assert_eq!(i2i.domains(), Some((&[0][..], &[1][..])));
}

/// `n` 12x12 RGB PNGs in `dir`, named `<prefix><i>.png`: one colour and one pattern per
/// domain (`horses`: reddish with horizontal stripes, else bluish with a checkerboard).
fn write_domain_images(dir: &Path, horses: bool, prefix: &str, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let v: Vec<f32> = (0..3 * 12 * 12)
            .map(|p| {
                let (c, y, x) = (p / 144, p / 12 % 12, p % 12);
                let (tint, on) = if horses {
                    ([0.6, -0.2, -0.5][c], y % 3 == 0)
                } else {
                    ([-0.5, -0.1, 0.6][c], (x / 3 + y / 3) % 2 == 0)
                };
                tint + if on { 0.3 } else { -0.1 } + i as f32 / 50.0
            })
            .collect();
        let img = NdArray::from_vec(v, &[3, 12, 12]).unwrap();
        agon::data::save_png(&img, &dir.join(format!("{prefix}{i}.png"))).unwrap();
    }
}

/// A tiny cyclegan run on two folders of a user's images given as `translate.a_dir` and
/// `translate.b_dir`: 8 flat images of "horses", 8 "zebras" in two subfolders (whose own
/// labels are dropped).
fn two_folders(dir: &TempDir, out: &Path) -> TrainConfig {
    let horses = dir.join("horses");
    let zebras = dir.join("zebras");
    write_domain_images(&horses, true, "h", 8);
    write_domain_images(&zebras.join("day"), false, "d", 4);
    write_domain_images(&zebras.join("night"), false, "n", 4);
    let mut cfg = tiny(TaskKind::Cyclegan, out);
    cfg.data.limit = 0;
    cfg.translate.a_dir = horses.display().to_string();
    cfg.translate.b_dir = zebras.display().to_string();
    cfg
}

/// Two folders as the two domains: resolved to classes 0 and 1 named after the folders,
/// trained by `agon train`, resumed by `agon train --resume` without repeating the keys
/// (bit-identical to 4 steps in one go), then `agon sample`, `apply` and `eval` on the
/// checkpoint.
#[test]
fn cyclegan_trains_on_two_image_folders() {
    let dir = TempDir::new("i2i-cyclegan-two-folders");
    let cfg = two_folders(&dir, &dir.join("straight"));
    let (a_dir, b_dir) = (cfg.translate.a_dir.clone(), cfg.translate.b_dir.clone());
    let mut straight = Trainer::new(cfg.clone()).unwrap();
    let resolved = straight.config().clone();
    assert_eq!(
        (resolved.translate.a.as_str(), resolved.translate.b.as_str()),
        ("0", "1")
    );
    assert_eq!(resolved.data.name, format!("{a_dir} + {b_dir}"));
    assert!(
        straight
            .notes()
            .iter()
            .any(|n| n.contains("domain A: horses (0); domain B: zebras (1)")),
        "{:?}",
        straight.notes()
    );
    assert_eq!(straight.sample_shape(), &[3, 12, 12]);
    let i2i = straight.task().image_to_image().unwrap();
    assert_eq!(i2i.domains(), Some((&[0][..], &[1][..])));
    for _ in 0..4 {
        let s = straight.train_step().unwrap();
        assert!(s.g_loss.is_finite() && s.d_loss > 0.0, "{s:?}");
    }

    // `agon train` from the configuration as a file, 2 steps, then 2 more by --resume.
    let run = dir.join("run");
    let mut first = cfg.clone();
    first.out_dir = run.clone();
    first.steps = 2;
    let cfg_path = dir.join("two-folders.toml");
    std::fs::write(&cfg_path, first.to_toml()).unwrap();
    agon(&["train", "--config", cfg_path.to_str().unwrap(), "--quiet"]);
    // The saved configuration names both folders and the resolved domains, so the run
    // resumes, samples and applies from it alone; given back as --config it is valid.
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let saved_cfg = TrainConfig::from_toml_str(&saved, "config.toml").unwrap();
    assert_eq!(
        (
            saved_cfg.translate.a_dir.as_str(),
            saved_cfg.translate.b_dir.as_str(),
            saved_cfg.translate.a.as_str(),
            saved_cfg.translate.b.as_str(),
            saved_cfg.data.name.as_str(),
        ),
        (
            a_dir.as_str(),
            b_dir.as_str(),
            "0",
            "1",
            resolved.data.name.as_str()
        ),
        "{saved}"
    );
    agon(&[
        "train",
        "--resume",
        "--out",
        run.to_str().unwrap(),
        "--steps",
        "4",
        "--quiet",
    ]);
    let resumed = Trainer::resume(&run, None).unwrap();
    assert_eq!(resumed.step(), 4);
    assert!(
        state_bits(&straight) == state_bits(&resumed),
        "2 + 2 steps differ from 4 in one go"
    );

    let ckpt = run.join("checkpoint.safetensors");
    let (task, _) = load_task(&ckpt).unwrap();
    assert_eq!(task.image_to_image().unwrap().channels(), 3);
    let grid = dir.join("grid.png");
    agon(&[
        "sample",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "4",
        "--out",
        grid.to_str().unwrap(),
    ]);
    // 4 triplets of domain A, 2 a row: 6 columns and 2 rows of 12-pixel tiles, 2-pixel gaps.
    let g = load_image(&grid, 3, None).unwrap();
    assert_eq!(g.shape(), &[1, 3, 2 * 14 + 2, 6 * 14 + 2]);
    let out = dir.join("applied");
    agon(&[
        "apply",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--input",
        &a_dir,
        "--out",
        out.to_str().unwrap(),
    ]);
    let made = load_image(&out.join("h0.png"), 3, None).unwrap();
    assert_eq!(made.shape(), &[1, 3, 12, 12]);
    let scores = dir.join("scores.json");
    agon(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "16",
        "--out",
        scores.to_str().unwrap(),
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&scores).unwrap()).unwrap();
    assert_eq!(json["data"], resolved.data.name.as_str(), "{json}");
}

/// What is wrong with a two-folder configuration is an error naming the key and the path.
#[test]
fn two_folder_mistakes_name_the_key_and_the_path() {
    let dir = TempDir::new("i2i-cyclegan-two-folder-errors");
    let cfg = two_folders(&dir, &dir.join("run"));
    let (a_dir, b_dir) = (cfg.translate.a_dir.clone(), cfg.translate.b_dir.clone());
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("file.png"), b"not a folder").unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let cases: Vec<(&str, TrainConfig, Vec<String>)> = vec![
        (
            "only a_dir",
            {
                let mut c = cfg.clone();
                c.translate.b_dir.clear();
                c
            },
            vec![
                "translate.a_dir".into(),
                a_dir.clone(),
                "without translate.b_dir".into(),
            ],
        ),
        (
            "only b_dir",
            {
                let mut c = cfg.clone();
                c.translate.a_dir.clear();
                c
            },
            vec![
                "translate.b_dir".into(),
                b_dir.clone(),
                "without translate.a_dir".into(),
            ],
        ),
        (
            "a contradicts",
            {
                let mut c = cfg.clone();
                c.translate.a = "zebras".into();
                c
            },
            vec![
                "translate.a = \"zebras\" contradicts translate.a_dir".into(),
                a_dir.clone(),
            ],
        ),
        (
            "b contradicts",
            {
                let mut c = cfg.clone();
                c.translate.b = "0".into();
                c
            },
            vec![
                "translate.b = \"0\" contradicts translate.b_dir".into(),
                b_dir.clone(),
            ],
        ),
        (
            "missing",
            {
                let mut c = cfg.clone();
                c.translate.b_dir = path("missing");
                c
            },
            vec![
                "translate.b_dir".into(),
                path("missing"),
                "no such folder".into(),
            ],
        ),
        (
            "empty",
            {
                let mut c = cfg.clone();
                c.translate.a_dir = path("empty");
                c
            },
            vec!["translate.a_dir".into(), path("empty"), "no .png".into()],
        ),
        (
            "a file",
            {
                let mut c = cfg.clone();
                c.translate.a_dir = path("file.png");
                c
            },
            vec![
                "translate.a_dir".into(),
                path("file.png"),
                "not a folder".into(),
            ],
        ),
        (
            "the same folder",
            {
                let mut c = cfg.clone();
                c.translate.b_dir = format!("{a_dir}/../horses");
                c
            },
            vec!["translate.b_dir is the same folder".into(), a_dir.clone()],
        ),
        (
            "data.name too",
            {
                let mut c = cfg.clone();
                c.data.name = "cifar10".into();
                c
            },
            vec!["data.name = \"cifar10\"".into(), "translate.a_dir".into()],
        ),
        (
            "another task",
            {
                let mut c = cfg.clone();
                c.task = TaskKind::Superres;
                c
            },
            vec![
                "translate.a_dir".into(),
                a_dir.clone(),
                "only task = \"cyclegan\"".into(),
            ],
        ),
    ];
    for (what, bad, wanted) in cases {
        let e = Trainer::new(bad).err().unwrap().to_string();
        for w in &wanted {
            assert!(e.contains(w.as_str()), "{what}: {w:?} is not in: {e}");
        }
    }

    // Through `agon train`: an explicit --data beside the folders, and the folders on
    // another task.
    let sets = [
        format!("translate.a_dir={}", toml::Value::String(a_dir.clone())),
        format!("translate.b_dir={}", toml::Value::String(b_dir.clone())),
    ];
    let out = dir.join("cli").display().to_string();
    let train = |extra: &[&str]| {
        let mut args = vec!["agon", "train", "--quiet", "--out", &out];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        args.extend(extra);
        run_args(args).err().map(|e| e.to_string())
    };
    let e = train(&["--task", "cyclegan", "--data", "fashion-mnist"]).unwrap();
    assert!(
        e.contains("data.name") && e.contains("translate.a_dir"),
        "{e}"
    );
    let e = train(&["--task", "inpaint"]).unwrap();
    assert!(e.contains("translate.a_dir") && e.contains(&a_dir), "{e}");
}

#[test]
fn scores_put_the_baseline_beside_the_model() {
    let dir = TempDir::new("i2i-scores");
    let t = Trainer::new(tiny(TaskKind::Inpaint, &dir.0)).unwrap();
    let i2i: &dyn ImageToImage = t.task().image_to_image().unwrap();
    let real = NdArray::rand_uniform(&[20, 1, 28, 28], -1.0, 1.0, &mut StdRng::seed_from_u64(3));
    let scores = score_translation(i2i, &real, None, None, 0);
    let settings: Vec<&str> = scores.iter().map(|s| s.setting.as_str()).collect();
    assert_eq!(settings, ["centre holes", "random holes"]);
    for s in &scores {
        let base = s.baseline.as_ref().unwrap();
        // Uniform noise: the diffusion fill predicts the mean, an L1 near 0.5 per pixel.
        assert!((0.3..0.7).contains(&base.hole_l1.unwrap()), "{s:?}");
        assert!(s.model.psnr.is_finite() && s.model.ssim < 1.0, "{s:?}");
    }
    // The centre hole is a quarter of the image, so the random holes' masks differ from it.
    assert_ne!(scores[0].baseline, scores[1].baseline);
    let e = load_task(&dir.join("missing.safetensors")).err().unwrap();
    assert!(e.to_string().contains("missing.safetensors"), "{e}");
}
