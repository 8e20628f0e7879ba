//! Regressions for issue 12's dataset cases: sizes from files that drove allocation (an
//! abort, a 2 GB accept), empty datasets and zero-sized images that were accepted (and
//! later panicked in the batcher), a half IDX pair reported as nothing found, and FIFOs or
//! devices that hung or read until memory ran out. Each must now be an error naming the
//! file, returned promptly.

use std::path::{Path, PathBuf};

use agon_data::*;
use agon_reference::files::*;

/// Asserts the error's message names `file` and says `problem`.
fn assert_says(err: &DataError, file: &Path, problem: &str) {
    let msg = err.to_string();
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(&*name), "'{msg}' does not name {name}");
    assert!(msg.contains(problem), "'{msg}' does not say '{problem}'");
}

fn too_large(err: &DataError, limit: Limit) -> bool {
    matches!(err, DataError::TooLarge { limit: l, .. } if *l == limit)
}

// ------------------------------------------------------------ sizes from files

#[test]
fn png_declaring_16384_square_is_refused_from_its_header() {
    // Was: accepted, 2.1 GB resident (a 256 MiB frame widened to f32 twice over).
    let dir = TempDir::new("png-16384");
    let mut bytes = png_bytes(2, 2, 1, false, |_, _, _| 7);
    patch_ihdr(&mut bytes, 16384, 16384);
    let path = dir.join("a.png");
    std::fs::write(&path, &bytes).unwrap();
    for err in [
        load_png(&path).unwrap_err(),
        image_folder(&dir.0, [28, 28], 1).unwrap_err(),
    ] {
        assert!(too_large(&err, Limit::ImagePixels), "{err:?}");
        assert_says(&err, &path, "16384x16384");
        assert_says(&err, &path, "MAX_IMAGE_PIXELS");
    }
}

#[test]
fn png_and_jpeg_declaring_more_than_the_file_holds_are_truncated() {
    let dir = TempDir::new("img-capacity");
    // 4000 x 4000 is within the pixel limit, but 16 MB of pixels cannot come out of a
    // 70-byte PNG (deflate expands at most 1032:1), so no buffer is allocated for them.
    let mut png = png_bytes(2, 2, 1, false, |_, _, _| 7);
    patch_ihdr(&mut png, 4000, 4000);
    let path = dir.join("lie.png");
    std::fs::write(&path, &png).unwrap();
    let err = load_png(&path).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_says(&err, &path, "truncated");

    let mut jpeg = jpeg_bytes(8, 8, true);
    let at = jpeg_sof_dims(&jpeg).unwrap();
    jpeg[at..at + 4].copy_from_slice(&[0x0f, 0xa0, 0x0f, 0xa0]); // 4000 x 4000
    let path = dir.join("lie.jpg");
    std::fs::write(&path, &jpeg).unwrap();
    let err = image_folder(&dir.0, [8, 8], 3).unwrap_err();
    // lie.jpg sorts before lie.png.
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_says(&err, &path, "truncated");

    // 65535 x 65535 (the most a JPEG can declare) is over the pixel limit outright.
    jpeg[at..at + 4].copy_from_slice(&[0xff; 4]);
    std::fs::write(&path, &jpeg).unwrap();
    let err = image_folder(&dir.0, [8, 8], 3).unwrap_err();
    assert!(too_large(&err, Limit::ImagePixels), "{err:?}");
    assert_says(&err, &path, "65535x65535");
}

#[test]
fn honest_large_frames_within_the_limits_still_load() {
    let dir = TempDir::new("img-honest");
    // 3000 x 2000 zeros: a 6 MB frame in a file of a few KB, a real 1000:1 deflate ratio.
    std::fs::write(dir.join("big.png"), png_zeros(3000, 2000)).unwrap();
    let ds = image_folder(&dir.0, [4, 6], 1).unwrap();
    assert_eq!(ds.images().shape(), &[1, 1, 4, 6]);
    assert!(ds.images().to_vec().iter().all(|&v| v == -1.0));
}

#[test]
fn image_folder_over_the_dataset_budget_is_refused_before_allocating() {
    // Was: "memory allocation of 8053063680 bytes failed" (abort) for 40 images of 4096 x
    // 4096 RGB taking their size from the first.
    let dir = TempDir::new("folder-budget");
    let big = png_zeros(4096, 4096); // 16 MB gray each
    for i in 0..33 {
        std::fs::write(dir.join(format!("{i:02}.png")), &big).unwrap();
    }
    let err = image_folder_with(&dir.0, None, None).unwrap_err();
    assert!(too_large(&err, Limit::DatasetBytes), "{err:?}");
    assert_says(&err, &dir.0, "33 images of 1x4096x4096");
    assert_says(&err, &dir.0, "MAX_DATASET_BYTES");
    // A requested size is checked the same way.
    let err = image_folder(&dir.0, [1 << 16, 1 << 16], 3).unwrap_err();
    assert!(too_large(&err, Limit::DatasetBytes), "{err:?}");
}

#[test]
fn idx_claims_over_the_dataset_budget_are_refused_before_reading() {
    let dir = TempDir::new("idx-budget");
    // 800 MB of pixels, 3.2 GB as f32: refused from the header alone, raw or gzip. The
    // raw file is sparse (set_len), so the claim is backed by a real length.
    let images = dir.join("train-images-idx3-ubyte");
    let header = idx_bytes(&[1_000_000, 28, 28], &[]);
    std::fs::write(&images, &header).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&images)
        .unwrap();
    f.set_len(header.len() as u64 + 784_000_000).unwrap();
    let labels = dir.join("train-labels-idx1-ubyte");
    std::fs::write(&labels, idx_bytes(&[1_000_000], &[])).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&labels)
        .unwrap();
    f.set_len(8 + 1_000_000).unwrap();
    let err = load_idx_pair(&images, &labels).unwrap_err();
    assert!(too_large(&err, Limit::DatasetBytes), "{err:?}");
    assert_says(&err, &images, "1000000 images of 28x28");

    // A gzip bomb's header is read before its stream inflates.
    let gz = dir.join("bomb.gz");
    std::fs::write(&gz, gzip(&header)).unwrap();
    let labels_gz = dir.join("labels.gz");
    std::fs::write(&labels_gz, gzip(&idx_bytes(&[1_000_000], &[]))).unwrap();
    let err = load_idx_pair(&gz, &labels_gz).unwrap_err();
    assert!(too_large(&err, Limit::DatasetBytes), "{err:?}");

    // A stream that inflates past its header's claim is read one byte past it, no more.
    let mut long = idx_bytes(&[1, 28, 28], &[0; 784]);
    long.extend(vec![0u8; 50 << 20]);
    std::fs::write(&gz, gzip(&long)).unwrap();
    let err = read_idx(&gz, 3).unwrap_err();
    assert_says(&err, &gz, "trailing bytes");
}

#[test]
fn cifar_over_the_dataset_budget_is_refused_from_file_lengths() {
    let dir = TempDir::new("cifar-budget");
    // Sparse files: 200,000 records (2.4 GB as f32) whose bytes are never read.
    let mut paths = vec![];
    for i in 1..=4 {
        let p = dir.join(format!("data_batch_{i}.bin"));
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(50_000 * 3073).unwrap();
        paths.push(p);
    }
    let err = load_cifar_batches(&paths).unwrap_err();
    assert!(too_large(&err, Limit::DatasetBytes), "{err:?}");
    assert_says(&err, &paths[3], "200000 CIFAR-10 images");
}

// ------------------------------------------------------------ empty and zero-sized

#[test]
fn empty_datasets_are_errors() {
    // Were: Ok with 0 samples, and Batcher::new then panicked.
    let dir = TempDir::new("empty");
    let (img, lab) = (dir.join("i"), dir.join("l"));
    write_idx(&img, &[0, 28, 28], &[], false).unwrap();
    write_idx(&lab, &[0], &[], true).unwrap();
    let err = load_idx_pair(&img, &lab).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
    assert_says(&err, &img, "no images");
    write_idx(&img, &[0, 0, 0], &[], false).unwrap();
    assert_says(&load_idx_pair(&img, &lab).unwrap_err(), &img, "no images");
    // Zero-sized images with a positive count.
    write_idx(&img, &[2, 0, 5], &[], false).unwrap();
    write_idx(&lab, &[2], &[0, 1], false).unwrap();
    assert_says(&load_idx_pair(&img, &lab).unwrap_err(), &img, "0x5");

    let err = load_cifar_batches::<PathBuf>(&[]).unwrap_err();
    assert!(err.to_string().contains("no batch files"), "{err}");
    let zero = dir.join("data_batch_1.bin");
    std::fs::write(&zero, []).unwrap();
    assert_says(
        &load_cifar_batches(&[&zero]).unwrap_err(),
        &zero,
        "truncated",
    );

    let empty = TempDir::new("empty-folder");
    std::fs::create_dir_all(empty.join("class-without-images")).unwrap();
    assert!(image_folder(&empty.0, [8, 8], 1).is_err());
}

#[test]
fn zero_sized_jpeg_and_bad_labels_are_errors() {
    let dir = TempDir::new("zero-jpeg");
    let mut jpeg = jpeg_bytes(8, 8, false);
    let at = jpeg_sof_dims(&jpeg).unwrap();
    jpeg[at..at + 2].copy_from_slice(&[0, 0]); // height 0
    let path = dir.join("z.jpg");
    std::fs::write(&path, &jpeg).unwrap();
    let err = image_folder(&dir.0, [8, 8], 1).unwrap_err();
    assert!(matches!(err, DataError::NotAnImage { .. }), "{err:?}");
    assert_says(&err, &path, "zero");

    let bad = dir.join("bad.bin");
    let mut bytes = cifar_bytes(2);
    bytes[3073] = 255;
    std::fs::write(&bad, &bytes).unwrap();
    assert_says(
        &load_cifar_batches(&[&bad]).unwrap_err(),
        &bad,
        "record 1 has label 255",
    );
}

// ------------------------------------------------------------ half an IDX pair

#[test]
fn idx_directory_missing_its_labels_says_so() {
    // Was: "no dataset files found" although the images file was right there.
    let dir = TempDir::new("half-pair");
    write_idx(
        &dir.join("train-images-idx3-ubyte.gz"),
        &[1, 2, 2],
        &[0; 4],
        true,
    )
    .unwrap();
    // A complete test split does not hide the half training split.
    write_idx(
        &dir.join("t10k-images-idx3-ubyte"),
        &[1, 2, 2],
        &[0; 4],
        false,
    )
    .unwrap();
    write_idx(&dir.join("t10k-labels-idx1-ubyte"), &[1], &[3], false).unwrap();
    assert!(has_idx_files(&dir.0));
    let err = load_idx_dir(&dir.0, None, "x").unwrap_err();
    assert!(matches!(err, DataError::Incomplete { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "train-images-idx3-ubyte.gz is here",
        "its labels file is missing",
        "train-labels-idx1-ubyte.gz",
        "train-labels.idx1-ubyte",
    ] {
        assert!(msg.contains(part), "'{msg}' does not say '{part}'");
    }
    assert_eq!(
        load_idx_dir(&dir.0, Some(Split::Test), "x").unwrap().len(),
        1
    );

    // Labels without images, the other way round.
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let err = load_idx_dir(&dir.0, Some(Split::Test), "x").unwrap_err();
    assert!(
        err.to_string().contains("its images file is missing"),
        "{err}"
    );
    assert!(!has_idx_files(&TempDir::new("no-idx").0));
}

// ------------------------------------------------------------ FIFOs and devices

/// A load run on its own thread: the error message, `None` when it succeeded.
type Loader = Box<dyn FnOnce() -> Option<String> + Send>;

/// Each loader, given `path` in the way it takes files.
fn loaders(path: &Path) -> Vec<(&'static str, Loader)> {
    let p = || path.to_path_buf();
    let (a, b, c, d) = (p(), p(), p(), p());
    vec![
        (
            "read_idx",
            Box::new(move || read_idx(&a, 3).err().map(|e| e.to_string())),
        ),
        (
            "load_idx_pair",
            Box::new(move || load_idx_pair(&b, &b).err().map(|e| e.to_string())),
        ),
        (
            "load_cifar_batches",
            Box::new(move || load_cifar_batches(&[&c]).err().map(|e| e.to_string())),
        ),
        (
            "load_png",
            Box::new(move || load_png(&d).err().map(|e| e.to_string())),
        ),
    ]
}

#[test]
fn fifos_devices_and_directories_are_refused_without_blocking() {
    // Were: a FIFO blocked forever in open(); /dev/zero read until memory ran out.
    let dir = TempDir::new("fifo");
    let fifo = dir.join("pipe");
    let have_fifo = mkfifo(&fifo);
    if !have_fifo {
        eprintln!("mkfifo unavailable: skipping the FIFO cases");
    }
    let mut cases = vec![(dir.join("subdir"), "a directory")];
    std::fs::create_dir_all(&cases[0].0).unwrap();
    if Path::new("/dev/zero").exists() {
        cases.push((PathBuf::from("/dev/zero"), "a character device"));
    }
    if have_fifo {
        cases.push((fifo.clone(), "a FIFO"));
    }
    for (path, kind) in &cases {
        for (name, load) in loaders(path) {
            let msg = within_secs(10, load)
                .unwrap_or_else(|| panic!("{name}({}) blocked", path.display()))
                .unwrap_or_else(|| panic!("{name}({}) succeeded", path.display()));
            let file = path.file_name().unwrap().to_string_lossy();
            assert!(msg.contains(&*file) && msg.contains(kind), "{name}: {msg}");
        }
    }
    if !have_fifo {
        return;
    }
    // Inside an image folder and under a dataset's standard names.
    let folder = TempDir::new("fifo-folder");
    std::fs::write(folder.join("a.png"), png_bytes(2, 2, 1, false, |_, _, _| 1)).unwrap();
    assert!(mkfifo(&folder.join("b.png")));
    assert!(mkfifo(&folder.join("notes"))); // not an image name: never opened
    let f = folder.0.clone();
    let err = within_secs(10, move || {
        image_folder(&f, [2, 2], 1).unwrap_err().to_string()
    })
    .expect("image_folder blocked on a FIFO");
    assert!(err.contains("b.png") && err.contains("FIFO"), "{err}");
    std::fs::remove_file(folder.join("b.png")).unwrap();
    assert_eq!(image_folder(&folder.0, [2, 2], 1).unwrap().len(), 1);

    let idx = TempDir::new("fifo-idx");
    assert!(mkfifo(&idx.join("train-images-idx3-ubyte")));
    write_idx(&idx.join("train-labels-idx1-ubyte"), &[1], &[0], false).unwrap();
    assert!(mkfifo(&idx.join("data_batch_1.bin")));
    let d = idx.0.clone();
    let (a, b) = within_secs(10, move || {
        (
            load_idx_dir(&d, None, "x").unwrap_err().to_string(),
            cifar10(&d).unwrap_err().to_string(),
        )
    })
    .expect("a directory loader blocked on a FIFO");
    assert!(
        a.contains("train-images-idx3-ubyte") && a.contains("FIFO"),
        "{a}"
    );
    assert!(b.contains("data_batch_1.bin") && b.contains("FIFO"), "{b}");
}

#[test]
fn truncated_jpeg_is_refused_not_filled_in() {
    // Was: decoded "successfully", the missing blocks filled in grey.
    let dir = TempDir::new("jpeg-cut");
    let jpeg = jpeg_bytes(64, 64, true);
    let path = dir.join("cut.jpg");
    std::fs::write(&path, &jpeg[..jpeg.len() * 3 / 4]).unwrap();
    let err = image_folder(&dir.0, [8, 8], 3).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_says(&err, &path, "truncated");
    // Whole, and with bytes after its end-of-image marker (as some cameras append), it loads.
    let mut whole = jpeg.clone();
    whole.extend_from_slice(b"appended video, ignored");
    std::fs::write(&path, &whole).unwrap();
    assert_eq!(image_folder(&dir.0, [8, 8], 3).unwrap().len(), 1);
}
