//! agon-data end to end: readers (round trips and every error case), the shipped
//! Fashion-MNIST, mixtures, the batcher, DiffAugment and PNG grids.

use std::path::{Path, PathBuf};

use agon_autodiff::{grad, Tensor};
use agon_data::*;
use agon_reference::files::{gzip, patch_ihdr, TempDir};
use agon_reference::gradcheck::{gradcheck, GradcheckOptions};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// An IDX header (unsigned bytes) for `dims`.
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

/// Asserts the error's message names the file and contains `problem`.
fn assert_names(err: &DataError, file: &Path, problem: &str) {
    let msg = err.to_string();
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(&*name), "'{msg}' does not name {name}");
    assert!(msg.contains(problem), "'{msg}' does not say '{problem}'");
}

// ---------------------------------------------------------------- IDX

#[test]
fn idx_round_trip_raw_and_gzip() {
    let dir = TempDir::new("idx-rt");
    let pixels: Vec<u8> = (0..3 * 2 * 4).map(|i| (i * 11) as u8).collect();
    for gz in [false, true] {
        let (img, lab) = (dir.join(format!("i{gz}")), dir.join(format!("l{gz}")));
        write_idx(&img, &[3, 2, 4], &pixels, gz).unwrap();
        write_idx(&lab, &[3], &[2, 0, 7], gz).unwrap();
        let head = std::fs::read(&img).unwrap();
        assert_eq!(
            head[..2] == [0x1f, 0x8b],
            gz,
            "gzip detected by magic, not name"
        );
        let ds = load_idx_pair(&img, &lab).unwrap();
        assert_eq!(ds.images().shape(), &[3, 1, 2, 4]);
        assert_eq!(ds.labels(), Some(&[2, 0, 7][..]));
        assert_eq!(ds.num_classes(), Some(8));
        let want: Vec<f32> = pixels.iter().map(|&b| b as f32 / 127.5 - 1.0).collect();
        assert_eq!(ds.images().to_vec(), want);
        assert_eq!(read_idx(&img, 3).unwrap().data, pixels);
    }
}

#[test]
fn idx_directory_prefers_train_and_accepts_raw_names() {
    let dir = TempDir::new("idx-dir");
    write_idx(
        &dir.join("t10k-images-idx3-ubyte"),
        &[1, 2, 2],
        &[0; 4],
        false,
    )
    .unwrap();
    write_idx(&dir.join("t10k-labels-idx1-ubyte"), &[1], &[3], false).unwrap();
    assert_eq!(mnist(&dir.0).unwrap().len(), 1);
    write_idx(
        &dir.join("train-images.idx3-ubyte.gz"),
        &[2, 2, 2],
        &[0; 8],
        true,
    )
    .unwrap();
    write_idx(&dir.join("train-labels.idx1-ubyte.gz"), &[2], &[1, 9], true).unwrap();
    let ds = mnist(&dir.0).unwrap();
    assert_eq!(
        (ds.len(), ds.name(), ds.num_classes()),
        (2, "mnist", Some(10))
    );
    assert_eq!(
        load_idx_dir(&dir.0, Some(Split::Test), "x").unwrap().len(),
        1
    );
    assert_eq!(kmnist(&dir.0).unwrap().class_names().unwrap()[1], "ki");
}

#[test]
fn idx_wrong_magic_is_named() {
    let dir = TempDir::new("idx-magic");
    let path = dir.join("train-images-idx3-ubyte");
    std::fs::write(&path, b"\x12\x34\x56\x78 this is not idx").unwrap();
    let err = read_idx(&path, 3).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { .. }), "{err:?}");
    assert_names(&err, &path, "wrong magic number 0x12345678");
}

#[test]
fn idx_truncated_raw_and_gzip_are_named() {
    let dir = TempDir::new("idx-trunc");
    let mut bytes = idx_header(&[5, 28, 28]);
    bytes.extend(vec![7u8; 100]);
    let raw = dir.join("short-idx3-ubyte");
    std::fs::write(&raw, &bytes).unwrap();
    let err = read_idx(&raw, 3).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 3936,
                actual: 116,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &raw, "truncated");

    // A complete gzip stream holding too few bytes.
    let gz = dir.join("short-idx3-ubyte.gz");
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    let err = read_idx(&gz, 3).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_names(&err, &gz, "truncated");

    // A gzip stream cut short (a partial download).
    let mut full = idx_header(&[50, 28, 28]);
    full.extend((0..50 * 784).map(|i| (i * 31 % 251) as u8));
    let packed = gzip(&full);
    let cut = dir.join("cut-idx3-ubyte.gz");
    std::fs::write(&cut, &packed[..packed.len() / 2]).unwrap();
    let err = read_idx(&cut, 3).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_names(&err, &cut, "truncated");

    // Shorter than the magic number.
    let tiny = dir.join("tiny");
    std::fs::write(&tiny, [0u8, 0]).unwrap();
    assert_names(&read_idx(&tiny, 1).unwrap_err(), &tiny, "truncated");
}

#[test]
fn idx_hostile_header_is_rejected_without_allocating() {
    let dir = TempDir::new("idx-hostile");
    // Claims 2^96 bytes; raw and gzip.
    let bytes = idx_header(&[u32::MAX, u32::MAX, u32::MAX]);
    let raw = dir.join("huge");
    std::fs::write(&raw, &bytes).unwrap();
    let err = read_idx(&raw, 3).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooLarge {
                limit: Limit::IdxBytes,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &raw, "limit");
    assert_names(&err, &raw, "MAX_IDX_BYTES");
    // Claims 1.9 GB that a 20-byte file does not have: truncated, checked before reading.
    let big = dir.join("big");
    std::fs::write(&big, idx_header(&[10_000, 10_000, 19])).unwrap();
    assert!(matches!(
        read_idx(&big, 3).unwrap_err(),
        DataError::Truncated { .. }
    ));
    let gz = dir.join("big.gz");
    std::fs::write(&gz, gzip(&idx_header(&[10_000, 10_000, 19]))).unwrap();
    assert!(matches!(
        read_idx(&gz, 3).unwrap_err(),
        DataError::Truncated { .. }
    ));
}

#[test]
fn idx_count_mismatch_swapped_files_and_trailing_bytes() {
    let dir = TempDir::new("idx-mismatch");
    let (img, lab) = (dir.join("imgs"), dir.join("labs"));
    write_idx(&img, &[3, 2, 2], &[0; 12], false).unwrap();
    write_idx(&lab, &[4], &[0, 1, 2, 3], true).unwrap();
    let err = load_idx_pair(&img, &lab).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                image_count: 3,
                label_count: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &img, "count mismatch: 3 images");
    assert_names(&err, &lab, "4 labels");

    let err = load_idx_pair(&lab, &img).unwrap_err();
    assert!(matches!(err, DataError::Unsupported { .. }), "{err:?}");
    assert_names(&err, &lab, "label file");

    let mut bytes = idx_header(&[2]);
    bytes.extend([1, 2, 3]);
    let trailing = dir.join("trailing");
    std::fs::write(&trailing, &bytes).unwrap();
    assert_names(
        &read_idx(&trailing, 1).unwrap_err(),
        &trailing,
        "trailing bytes",
    );

    let mut float = idx_header(&[2]);
    float[2] = 0x0d;
    float.extend([0; 8]);
    let f = dir.join("floats");
    std::fs::write(&f, &float).unwrap();
    assert_names(&read_idx(&f, 1).unwrap_err(), &f, "element type 0x0d");

    // MNIST-format directories need labels below 10.
    write_idx(&dir.join("t10k-images-idx3-ubyte"), &[1, 1, 1], &[0], false).unwrap();
    write_idx(&dir.join("t10k-labels-idx1-ubyte"), &[1], &[10], false).unwrap();
    let err = mnist(&dir.0).unwrap_err();
    assert!(
        err.to_string()
            .contains("label 10 at index 0 is not below 10"),
        "{err}"
    );
}

#[test]
fn missing_files_are_reported() {
    let dir = TempDir::new("missing");
    let err = fashion_mnist(&dir.0).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("train-images-idx3-ubyte.gz"));
    let err = read_idx(&dir.join("nope"), 1).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert_names(&err, &dir.join("nope"), "nope");
}

#[test]
fn corrupt_and_random_bytes_never_panic() {
    let dir = TempDir::new("fuzz");
    // A gzip stream with flipped bytes in the middle: an error, whichever kind.
    let mut full = idx_header(&[20, 28, 28]);
    full.extend((0..20 * 784).map(|i| (i * 7 % 256) as u8));
    let mut packed = gzip(&full);
    let mid = packed.len() / 2;
    for b in &mut packed[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let bad = dir.join("corrupt.gz");
    std::fs::write(&bad, &packed).unwrap();
    assert_names(&read_idx(&bad, 3).unwrap_err(), &bad, "corrupt.gz");

    // Random files, some starting with a plausible IDX header or the PNG signature.
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(0);
    let path = dir.join("random");
    for i in 0..300 {
        let len = rng.random_range(0..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let prefix: &[u8] = match i % 3 {
            0 => &[0, 0, 8, 3],
            1 => b"\x89PNG\r\n\x1a\n",
            _ => &[],
        };
        bytes.splice(0..0, prefix.iter().copied());
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_idx(&path, 3).is_err());
        assert!(load_png(&path).is_err());
        assert!(load_cifar_batches(&[&path]).is_err());
    }
}

// ------------------------------------------------------- Fashion-MNIST

#[test]
fn shipped_fashion_mnist_is_the_full_test_split() {
    let ds = fashion_mnist(&shipped_fashion_mnist_dir()).unwrap();
    assert_eq!(ds.len(), 10_000);
    assert_eq!(ds.images().shape(), &[10_000, 1, 28, 28]);
    assert_eq!(ds.class_counts(), Some(vec![1000; 10]));
    assert_eq!(ds.name(), "fashion-mnist");
    let px = ds.images().to_vec();
    let (lo, hi) = px
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert_eq!((lo, hi), (-1.0, 1.0));
}

#[test]
fn default_dataset_directory_choice() {
    let empty = TempDir::new("pick-empty");
    let shipped = shipped_fashion_mnist_dir();
    let candidates = [
        empty.0.clone(),
        PathBuf::from("/no/such/dir"),
        shipped.clone(),
    ];
    assert_eq!(pick_dataset_dir(&candidates), Some(shipped.clone()));
    assert_eq!(pick_dataset_dir(&candidates[..2]), None);
    // The system directory comes first; the shipped one is the fallback.
    let dirs = default_dataset_dirs();
    assert_eq!(dirs[0], Path::new(SYSTEM_FASHION_MNIST_DIR));
    assert_eq!(dirs.last(), Some(&shipped));
    let ds = default_dataset().unwrap();
    assert!(ds.len() == 60_000 || ds.len() == 10_000, "{}", ds.len());
    assert_eq!(ds.image_shape(), &[1, 28, 28]);
}

// ------------------------------------------------------------ CIFAR-10

fn cifar_record(label: u8, fill: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| {
        if i < 1024 {
            fill
        } else {
            (i / 1024) as u8 * 100
        }
    }));
    r
}

#[test]
fn cifar_batches_load_and_errors_are_named() {
    let dir = TempDir::new("cifar");
    let nested = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&nested).unwrap();
    let mut bytes = cifar_record(3, 255);
    bytes.extend(cifar_record(9, 0));
    std::fs::write(nested.join("data_batch_1.bin"), &bytes).unwrap();
    std::fs::write(nested.join("data_batch_2.bin"), cifar_record(0, 0)).unwrap();
    std::fs::write(nested.join("test_batch.bin"), cifar_record(1, 0)).unwrap();
    let ds = cifar10(&dir.0).unwrap();
    assert_eq!(ds.images().shape(), &[3, 3, 32, 32]);
    assert_eq!(ds.labels(), Some(&[3, 9, 0][..]));
    assert_eq!(ds.class_names().unwrap()[3], "cat");
    let img = ds.images();
    assert_eq!(img.get(&[0, 0, 5, 5]), 1.0); // red plane of record 0
    assert_eq!(img.get(&[1, 0, 5, 5]), -1.0);
    assert_eq!(img.get(&[0, 1, 0, 0]), 100.0 / 127.5 - 1.0); // green plane

    let short = dir.join("short.bin");
    std::fs::write(&short, &bytes[..3073 + 10]).unwrap();
    let err = load_cifar_batches(&[&short]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 6146,
                actual: 3083,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &short, "truncated");

    let bad = dir.join("bad_label.bin");
    std::fs::write(&bad, cifar_record(12, 0)).unwrap();
    assert_names(&load_cifar_batches(&[&bad]).unwrap_err(), &bad, "label 12");

    let none = TempDir::new("cifar-none");
    assert!(matches!(
        cifar10(&none.0).unwrap_err(),
        DataError::NotFound { .. }
    ));
}

// ------------------------------------------------------------ PNG folder

/// Writes a PNG with `channels` (1, 3 or 4) samples of `depth` bits from a pixel function
/// returning values in [0, 1].
fn write_png(
    path: &Path,
    w: u32,
    h: u32,
    channels: usize,
    sixteen: bool,
    f: impl Fn(u32, u32, usize) -> f32,
) {
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                let v = f(x, y, c);
                if sixteen {
                    data.extend(((v * 65535.0).round() as u16).to_be_bytes());
                } else {
                    data.push((v * 255.0).round() as u8);
                }
            }
        }
    }
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(match channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    });
    enc.set_depth(if sixteen {
        png::BitDepth::Sixteen
    } else {
        png::BitDepth::Eight
    });
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&data).unwrap();
    w.finish().unwrap();
}

#[test]
fn image_folder_with_classes_crops_resizes_and_converts() {
    let dir = TempDir::new("folder");
    for class in ["cats", "dogs", "empty"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
    }
    std::fs::write(dir.join("README.txt"), "not an image, skipped").unwrap();
    // 16-bit gray 12x24, white centre square and black side strips: the centre crop
    // keeps only the white square.
    write_png(&dir.join("cats/a.png"), 24, 12, 1, true, |x, _, _| {
        if (6..18).contains(&x) {
            1.0
        } else {
            0.0
        }
    });
    // 8-bit RGB constant colour, 3x3 (upscaled).
    write_png(&dir.join("cats/b.PNG"), 3, 3, 3, false, |_, _, c| {
        [1.0, 0.0, 0.2][c]
    });
    // 8-bit RGBA 16x16: left half 0, right half 1 (alpha ignored), area-downscaled.
    write_png(&dir.join("dogs/c.png"), 16, 16, 4, false, |x, _, c| {
        if c == 3 {
            0.3
        } else if x >= 8 {
            1.0
        } else {
            0.0
        }
    });
    let ds = image_folder(&dir.0, [4, 4], 3).unwrap();
    assert_eq!(ds.images().shape(), &[3, 3, 4, 4]);
    assert_eq!(ds.labels(), Some(&[0, 0, 1][..]));
    assert_eq!(
        ds.class_names().unwrap(),
        &["cats".to_string(), "dogs".to_string()]
    );
    let img = ds.images();
    let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
    // a: gray repeated to RGB, all white after the crop.
    assert!(img.narrow(0, 0, 1).to_vec().iter().all(|&v| close(v, 1.0)));
    // b: constant colour survives bilinear upscaling.
    for (c, want) in [1.0f32, -1.0, 0.2 * 2.0 - 1.0].iter().enumerate() {
        let plane = img.narrow(0, 1, 1).narrow(1, c, 1).to_vec();
        assert!(
            plane
                .iter()
                .all(|&v| close(v, (*want * 255.0).round() / 255.0)),
            "{plane:?}"
        );
    }
    // c: area average keeps the edge sharp at an even split.
    assert_eq!(img.get(&[2, 0, 0, 1]), -1.0);
    assert_eq!(img.get(&[2, 2, 3, 2]), 1.0);

    let gray = image_folder(&dir.0, [2, 3], 1).unwrap();
    assert_eq!(gray.images().shape(), &[3, 1, 2, 3]);
    let luma = 0.299 * 1.0 + 0.587 * 0.0 + 0.114 * (51.0 / 255.0);
    assert!(close(gray.images().get(&[1, 0, 1, 1]), luma * 2.0 - 1.0));
}

#[test]
fn image_folder_without_classes_and_bad_files() {
    let dir = TempDir::new("folder-flat");
    write_png(&dir.join("x.png"), 5, 7, 1, false, |_, _, _| 0.0);
    let ds = image_folder(&dir.0, [8, 8], 1).unwrap();
    assert_eq!(
        (ds.len(), ds.labels(), ds.image_shape()),
        (1, None, &[1, 8, 8][..])
    );

    let text = dir.join("y.png");
    std::fs::write(&text, "hello, I am a text file").unwrap();
    let err = image_folder(&dir.0, [8, 8], 1).unwrap_err();
    assert!(matches!(err, DataError::NotAnImage { .. }), "{err:?}");
    assert_names(&err, &text, "not an image");
    assert_names(&load_png(&text).unwrap_err(), &text, "not an image");
    // A .jpg that is not one is named the same way (PNGs sort first, so remove y.png).
    std::fs::remove_file(&text).unwrap();
    let jpg = dir.join("z.JPG");
    std::fs::write(&jpg, [0xff, 0xd8, 0xff, 0x00, 1, 2, 3]).unwrap();
    let err = image_folder(&dir.0, [8, 8], 1).unwrap_err();
    assert!(matches!(err, DataError::NotAnImage { .. }), "{err:?}");
    assert_names(&err, &jpg, "JPEG");

    let empty = TempDir::new("folder-empty");
    assert_names(
        &image_folder(&empty.0, [8, 8], 1).unwrap_err(),
        &empty.0,
        "no .png, .jpg or .jpeg files",
    );
}

#[test]
fn png_header_claiming_a_huge_frame_is_refused_before_allocating() {
    let dir = TempDir::new("png-huge");
    let path = dir.join("huge.png");
    write_png(&path, 1, 1, 1, false, |_, _, _| 0.5);
    let mut bytes = std::fs::read(&path).unwrap();
    patch_ihdr(&mut bytes, 60_000, 60_000);
    std::fs::write(&path, &bytes).unwrap();
    let err = load_png(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooLarge {
                limit: Limit::ImagePixels,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "60000x60000");
    assert_names(&err, &path, "MAX_IMAGE_PIXELS");
}

// ------------------------------------------------------------ mixtures

#[test]
fn mixtures_sample_near_their_modes() {
    let mut rng = StdRng::seed_from_u64(1);
    for (mix, n) in [(Mixture::ring8(), 8_000), (Mixture::grid25(), 10_000)] {
        let ds = mix.sample(n, &mut rng);
        let k = mix.centres().len();
        assert_eq!(ds.images().shape(), &[n, 2]);
        assert_eq!(ds.num_classes(), Some(k));
        let pts = ds.images().to_vec();
        let labels = ds.labels().unwrap();
        let mut var = 0.0f64;
        for (i, p) in pts.chunks(2).enumerate() {
            let (mode, dist) = mix.nearest([p[0], p[1]]);
            assert_eq!(mode, labels[i]);
            assert!(
                dist < 6.0 * mix.std(),
                "{} point {p:?} is {dist} from a mode",
                mix.name
            );
            let c = mix.centres()[mode];
            var += ((p[0] - c[0]) as f64).powi(2) + ((p[1] - c[1]) as f64).powi(2);
        }
        let std = (var / (2 * n) as f64).sqrt();
        assert!(
            (std / mix.std() as f64 - 1.0).abs() < 0.05,
            "{}: std {std}",
            mix.name
        );
        let expected = n / k;
        for (m, &c) in ds.class_counts().unwrap().iter().enumerate() {
            assert!(
                c.abs_diff(expected) < expected / 4,
                "{} mode {m}: {c}",
                mix.name
            );
        }
    }
    let ring = Mixture::ring8();
    assert!((ring.centres()[2][1] - 1.0).abs() < 1e-6 && ring.centres()[2][0].abs() < 1e-6);
    assert_eq!((ring.std(), RING8_RADIUS), (0.01, 1.0));
    let grid = Mixture::grid25();
    assert_eq!(
        (grid.std(), grid.centres()[0], grid.centres()[24]),
        (0.05, [-4.0, -4.0], [4.0, 4.0])
    );
    let again = ring8(5, &mut StdRng::seed_from_u64(3)).images().to_vec();
    assert_eq!(
        again,
        ring8(5, &mut StdRng::seed_from_u64(3)).images().to_vec()
    );
    assert_eq!(grid25(5, &mut rng).name(), "grid25");
}

// ------------------------------------------------------------- batcher

/// Ten samples whose value is their index, labelled `index % 3`.
fn counting(n: usize) -> Dataset {
    let x = NdArray::arange(0.0, n as f32, 1.0).reshape(&[n, 1, 1, 1]);
    Dataset::new("count", x, Some(((0..n).map(|i| i % 3).collect(), 3)))
}

fn ids(batch: &(NdArray, Option<Vec<usize>>)) -> Vec<usize> {
    batch.0.to_vec().iter().map(|&v| v as usize).collect()
}

#[test]
fn batcher_epochs_cover_everything_and_reshuffle() {
    let mut b = Batcher::new(counting(10), 4, 7);
    assert_eq!(b.batches_per_epoch(), 3);
    let epoch: Vec<_> = (0..3).map(|_| b.next_batch()).collect();
    assert_eq!(
        epoch.iter().map(|e| e.0.shape()[0]).collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    let mut seen: Vec<usize> = epoch.iter().flat_map(ids).collect();
    let first_order = seen.clone();
    for (batch, ids) in epoch.iter().zip(epoch.iter().map(ids)) {
        let want: Vec<usize> = ids.iter().map(|i| i % 3).collect();
        assert_eq!(
            batch.1.as_ref().unwrap(),
            &want,
            "labels follow their images"
        );
    }
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_ne!(first_order, (0..10).collect::<Vec<_>>(), "shuffled");
    let second: Vec<usize> = (0..3).flat_map(|_| ids(&b.next_batch())).collect();
    assert_ne!(second, first_order, "reshuffled each epoch");
    assert_eq!(b.state().epoch, 1);

    let mut d = Batcher::new(counting(10), 4, 7).drop_last(true);
    assert_eq!(d.batches_per_epoch(), 2);
    assert!((0..7).all(|_| d.next_batch().0.shape()[0] == 4));

    let mut s = Batcher::new(counting(5), 2, 0).shuffle(false);
    let order: Vec<usize> = (0..6).flat_map(|_| ids(&s.next_batch())).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
}

#[test]
fn batcher_is_deterministic_and_resumes_exactly() {
    let run = |seed| -> Vec<Vec<usize>> {
        let mut b = Batcher::new(counting(10), 3, seed);
        (0..12).map(|_| ids(&b.next_batch())).collect()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));

    // 2N batches in one go == N batches, save, a fresh batcher restored, N more.
    let whole = run(5);
    let mut first = Batcher::new(counting(10), 3, 5);
    let head: Vec<_> = (0..5).map(|_| ids(&first.next_batch())).collect();
    let state = first.state();
    assert_eq!(
        state,
        BatcherState {
            seed: 5,
            epoch: 1,
            position: 3
        }
    );
    let mut resumed = Batcher::new(counting(10), 3, 999);
    resumed.restore(state).unwrap();
    let tail: Vec<_> = (0..7).map(|_| ids(&resumed.next_batch())).collect();
    assert_eq!([head, tail].concat(), whole);

    let bad = BatcherState {
        seed: 1,
        epoch: 0,
        position: 11,
    };
    let err = resumed.restore(bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("position 11 is beyond the 10 samples"),
        "{err}"
    );
}

// ---------------------------------------------------------- DiffAugment

fn images(shape: &[usize], seed: u64) -> NdArray {
    NdArray::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

#[test]
fn diffaugment_gradients_flow_to_the_input() {
    let x = images(&[2, 3, 5, 6], 0);
    let opts = GradcheckOptions::default();
    type Aug = fn(&Tensor, &mut StdRng) -> Tensor;
    let transforms: [(&str, Aug); 6] = [
        ("brightness", |t, r| rand_brightness(t, r)),
        ("saturation", |t, r| rand_saturation(t, r)),
        ("contrast", |t, r| rand_contrast(t, r)),
        ("translation", |t, r| rand_translation(t, 0.25, r)),
        ("cutout", |t, r| rand_cutout(t, 0.5, r)),
        ("all", |t, r| DiffAugment::all().apply(t, r)),
    ];
    for (name, f) in transforms {
        // Reseeded inside, so every evaluation applies the same random transform; the
        // square makes the check see the transform's value, not only its linear part.
        let check = gradcheck(
            |t| f(&t[0], &mut StdRng::seed_from_u64(11)).square(),
            std::slice::from_ref(&x),
            &opts,
        );
        assert!(check.is_ok(), "{name}: {}", check.unwrap_err());
    }
}

#[test]
fn diffaugment_shapes_and_effects() {
    let mut rng = StdRng::seed_from_u64(3);
    let ones = Tensor::constant(NdArray::ones(&[4, 1, 8, 8]));
    // Translation moves content and fills with zeros; per image at most 8*8 ones remain.
    let t = rand_translation(&ones, 0.125, &mut rng);
    assert_eq!(t.shape(), &[4, 1, 8, 8]);
    assert!(t.data().to_vec().iter().all(|&v| v == 0.0 || v == 1.0));
    let kept = t.data().sum_all().item();
    assert!((4.0 * 7.0 * 7.0..=256.0).contains(&kept), "{kept}");
    // ratio 0: identity.
    assert_eq!(rand_translation(&ones, 0.0, &mut rng).data(), ones.data());
    // Cutout zeros at most a 4x4 square per image, at least a 2x2 corner of it.
    let c = rand_cutout(&ones, 0.5, &mut rng).data().clone();
    for i in 0..4 {
        let zeros = c
            .narrow(0, i, 1)
            .to_vec()
            .iter()
            .filter(|&&v| v == 0.0)
            .count();
        assert!((4..=16).contains(&zeros), "image {i}: {zeros} zeros");
    }
    // Brightness shifts each image by one constant in [-0.5, 0.5].
    let b = rand_brightness(&ones, &mut rng).data().sub_scalar(1.0);
    for i in 0..4 {
        let img = b.narrow(0, i, 1).to_vec();
        assert!(img.iter().all(|&v| v == img[0] && v.abs() <= 0.5));
    }
    // Saturation leaves gray images alone; contrast keeps each image's mean.
    let x = Tensor::constant(images(&[3, 1, 4, 4], 1));
    assert!(rand_saturation(&x, &mut rng)
        .data()
        .allclose(x.data(), 1e-5, 1e-6));
    let y = rand_contrast(&x, &mut rng);
    assert!(y.data().mean(&[1, 2, 3], false).allclose(
        &x.data().mean(&[1, 2, 3], false),
        1e-4,
        1e-5
    ));

    // apply(): same shape, graph kept, reproducible for a seed, "" is identity.
    let p = Tensor::param(images(&[2, 3, 8, 8], 2));
    let a1 = DiffAugment::all().apply(&p, &mut StdRng::seed_from_u64(9));
    let a2 = DiffAugment::all().apply(&p, &mut StdRng::seed_from_u64(9));
    assert_eq!(a1.data(), a2.data());
    let g = grad(&[&a1.sum_all()], &[&p], None, false)[0]
        .clone()
        .unwrap();
    assert_eq!(g.shape(), &[2, 3, 8, 8]);
    let none: DiffAugment = "".parse().unwrap();
    assert!(none.is_none());
    assert_eq!(none.apply(&p, &mut rng).data(), p.data());
    let some: DiffAugment = "translation, cutout".parse().unwrap();
    assert!(!some.color && some.translation && some.cutout);
    let err = "color,blur".parse::<DiffAugment>().unwrap_err();
    assert!(
        err.to_string().contains("unknown transform 'blur'"),
        "{err}"
    );
}

// ------------------------------------------------------------ PNG grids

#[test]
fn grid_png_round_trip_gray_and_rgb() {
    let dir = TempDir::new("grid");
    for c in [1, 3] {
        // Values on the 8-bit lattice survive exactly.
        let bytes =
            images(&[5, c, 6, 7], c as u64).map(|v| ((v + 1.0) * 127.5).round() / 127.5 - 1.0);
        let path = dir.join(format!("out/grid{c}.png"));
        save_grid(&bytes, 3, 2, &path).unwrap();
        let back = load_png(&path).unwrap();
        assert_eq!(back.shape(), &[c, 2 * 8 + 2, 3 * 9 + 2]);
        assert_eq!(
            back,
            make_grid(&bytes, 3, 2, 0.0).map(|v| ((v + 1.0) * 127.5).round() / 127.5 - 1.0)
        );
        // First image sits at (padding, padding).
        assert_eq!(
            back.narrow(1, 2, 6).narrow(2, 2, 7),
            bytes.narrow(0, 0, 1).squeeze(0)
        );
    }
    // Out-of-range values clamp; nothing but the PNGs is left behind (atomic writes).
    save_grid(
        &NdArray::full(&[1, 1, 2, 2], 7.0),
        1,
        0,
        &dir.join("out/clamp.png"),
    )
    .unwrap();
    assert_eq!(
        load_png(&dir.join("out/clamp.png")).unwrap().to_vec(),
        vec![1.0; 4]
    );
    let mut left: Vec<_> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["clamp.png", "grid1.png", "grid3.png"]);
}
