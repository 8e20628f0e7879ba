//! Deterministic mutation fuzzing of every dataset reader.
//!
//! Small valid files (IDX raw and gzip, PNG, JPEG, CIFAR-10 batches) are damaged in
//! thousands of seeded ways: truncation, bit flips, overwritten and inserted bytes, extra
//! bytes, empty files, random bytes, header fields that lie (IDX dims huge or zero, PNG
//! IHDR and JPEG SOF sizes huge or zero, CIFAR labels out of range), wrong magic numbers,
//! and gzip bombs that inflate to more, less or exactly what their header claims. Each is
//! loaded through the public readers (`read_idx`, `load_idx_pair`, `load_idx_dir`,
//! `load_png`, `image_folder[_with]`, `load_cifar_batches`, `cifar10`). For every case:
//!
//! - no panic (caught, and reported with the seed that reproduces it);
//! - peak allocation within [`allowed_bytes`]: a stated multiple of the bytes actually on
//!   disk, the multiple being the format's largest expansion (1 for raw files, deflate's
//!   1032 for gzip and PNG, 512 pixels per byte for JPEG) times the bytes the reader
//!   keeps per decoded byte, whatever the header claims;
//! - an `Err`'s message names the full path of one of the case's files or its directory;
//! - an `Ok` dataset or image has no zero extent (an empty dataset is an error).
//!
//! Reproduce one case: `case(seed, dir)` builds it as a pure function of the seed; set
//! `AGON_FUZZ_SEED=<seed>` to run just that one, and `AGON_FUZZ_VERBOSE=1` to print each
//! case's description, peak and result.
//!
//! Everything runs in ONE test function: the allocation counters are process-wide, and
//! the readers allocate only on the calling thread, so no other test may run beside it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use agon_data::*;
use agon_reference::counting::{peak_during, Counting};
use agon_reference::files::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------
// What a load may cost.

/// How a file on disk may expand when read.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Raw IDX or CIFAR: the bytes, plus 4 bytes of `f32` each.
    Raw,
    /// Gzip IDX: up to 1032 bytes per byte; a buffer growing by doubling (2x), plus f32 (4x).
    Gzip,
    /// PNG: up to 8 * 1032 pixels per byte at 1 bit per pixel; expanded to at most 4 bytes
    /// per pixel for the frame plus 16 for `load_png`'s f32 `[4, H, W]` output.
    Png,
    /// JPEG: up to 512 pixels per byte (the reader's check); the decoder's input copy, its
    /// RGB output and coefficient planes, at most 32 bytes per pixel in all.
    Jpeg,
}

impl Kind {
    fn factor(self) -> usize {
        match self {
            Kind::Raw => 6,
            Kind::Gzip => 7 * 1032,
            Kind::Png => 20 * 8 * 1032,
            Kind::Jpeg => 32 * 512,
        }
    }
}

/// The memory a load may use: linear in the bytes on disk, by format (see [`Kind`]), plus
/// 2 MiB for buffers of fixed size (BufReader, inflate windows, decoder tables).
fn allowed_bytes(files: &[(PathBuf, Kind)]) -> usize {
    let on_disk: usize = files
        .iter()
        .map(|(p, k)| std::fs::metadata(p).map_or(0, |m| m.len() as usize) * k.factor())
        .sum();
    on_disk + (2 << 20)
}

// ---------------------------------------------------------------------------------------
// Valid files, and ways to damage them.

/// A small IDX image set `[n, h, w]` and labels below 10.
fn idx_images(rng: &mut StdRng) -> ([u32; 3], Vec<u8>, Vec<u8>) {
    let n = rng.random_range(1..6u32);
    let (h, w) = (rng.random_range(1..9u32), rng.random_range(1..9u32));
    let pixels = (0..n * h * w).map(|_| rng.random()).collect();
    let labels = (0..n).map(|_| rng.random_range(0..10)).collect();
    ([n, h, w], pixels, labels)
}

/// A small PNG of a random colour type and depth.
fn some_png(rng: &mut StdRng) -> Vec<u8> {
    let (w, h) = (rng.random_range(1..12), rng.random_range(1..12));
    let channels = rng.random_range(1..5);
    let sixteen = rng.random_bool(0.3);
    let salt: u8 = rng.random();
    png_bytes(w, h, channels, sixteen, move |x, y, c| {
        (x as u8).wrapping_mul(31) ^ (y as u8).wrapping_mul(17) ^ (c as u8) ^ salt
    })
}

/// One of the generic byte-level mutations; returns its description.
fn mutate(bytes: &mut Vec<u8>, rng: &mut StdRng) -> String {
    let len = bytes.len();
    match rng.random_range(0..9) {
        0 => {
            let at = rng.random_range(0..=len);
            bytes.truncate(at);
            format!("truncated to {at}")
        }
        1 => {
            let flips = rng.random_range(1..9);
            for _ in 0..flips {
                if len > 0 {
                    let i = rng.random_range(0..len);
                    bytes[i] ^= 1 << rng.random_range(0..8);
                }
            }
            format!("{flips} bit flips")
        }
        2 => {
            let at = rng.random_range(0..=len);
            let n = rng.random_range(1..16).min(len - at);
            for b in &mut bytes[at..at + n] {
                *b = rng.random();
            }
            format!("{n} bytes overwritten at {at}")
        }
        3 => {
            let at = rng.random_range(0..=len);
            let n = rng.random_range(1..64);
            let extra: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            bytes.splice(at..at, extra);
            format!("{n} bytes inserted at {at}")
        }
        4 => {
            let n = rng.random_range(1..4096);
            bytes.extend((0..n).map(|_| rng.random::<u8>()));
            format!("{n} extra bytes")
        }
        5 => {
            bytes.clear();
            "empty".into()
        }
        6 => {
            let n = rng.random_range(0..256);
            *bytes = (0..n).map(|_| rng.random()).collect();
            format!("{n} random bytes")
        }
        7 => {
            let copy = bytes.clone();
            bytes.extend(copy);
            "doubled".into()
        }
        _ => {
            let at = rng.random_range(0..=len);
            let n = rng.random_range(1..32).min(len - at);
            bytes[at..at + n].fill(0);
            format!("{n} bytes zeroed at {at}")
        }
    }
}

/// A lying IDX header value.
fn lie(rng: &mut StdRng) -> u32 {
    *[0, 1, 7, 60_000, 1 << 16, 1 << 24, u32::MAX, rng.random()]
        .get(rng.random_range(0..8))
        .unwrap()
}

/// An IDX file (`dims`, `data`) damaged one way or another, maybe gzipped; with its kind.
fn hostile_idx(dims: &[u32], data: &[u8], rng: &mut StdRng) -> (Vec<u8>, Kind, String) {
    let gz = rng.random_bool(0.5);
    let mut dims = dims.to_vec();
    let mut bytes;
    let what = match rng.random_range(0..6) {
        0 => {
            let i = rng.random_range(0..dims.len());
            dims[i] = lie(rng);
            bytes = idx_bytes(&dims, data);
            format!("dim {i} = {}", dims[i])
        }
        1 => {
            bytes = idx_bytes(&dims, data);
            let i = rng.random_range(0..4);
            bytes[i] = rng.random();
            format!("magic byte {i} = {}", bytes[i])
        }
        2 if gz => {
            // A bomb: the header claims `claim` bytes, the stream inflates to `actual`.
            let unit: u32 = dims[1..].iter().product();
            let n = if rng.random_bool(0.2) {
                rng.random_range(1_000_000..4_000_000)
            } else {
                rng.random_range(1..(2 << 20) / unit.max(1)).max(1)
            };
            dims[0] = n;
            let claim = (n as u64 * unit as u64) as i64;
            let actual = match rng.random_range(0..4) {
                0 => claim,
                1 => claim - rng.random_range(1..=claim.clamp(1, 4096)),
                2 => claim + 1,
                _ => claim + (1 << 20),
            }
            .clamp(0, 4 << 20) as usize;
            bytes = idx_bytes(&dims, &vec![0; actual]);
            format!("gzip bomb: claims {claim} bytes, inflates to {actual}")
        }
        _ => {
            bytes = idx_bytes(&dims, data);
            mutate(&mut bytes, rng)
        }
    };
    if gz {
        bytes = gzip(&bytes);
        if rng.random_bool(0.2) {
            let m = mutate(&mut bytes, rng);
            return (bytes, Kind::Gzip, format!("{what}, gzip then {m}"));
        }
        (bytes, Kind::Gzip, format!("{what}, gzip"))
    } else {
        (bytes, Kind::Raw, what)
    }
}

/// A PNG damaged one way or another.
fn hostile_png(rng: &mut StdRng) -> (Vec<u8>, String) {
    let mut png = some_png(rng);
    let what = match rng.random_range(0..4) {
        0 => {
            let (w, h) = (lie(rng), lie(rng));
            patch_ihdr(&mut png, w, h);
            format!("IHDR {w}x{h}")
        }
        1 => {
            // Bit depth (24) or colour type (25), CRC fixed: odd combinations.
            let (i, v) = (rng.random_range(24..26), rng.random_range(0..20));
            png[i] = v;
            let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
            patch_ihdr(&mut png, w, h);
            format!("IHDR byte {i} = {v}")
        }
        2 => {
            // A chunk length (IHDR's or the next chunk's) that lies.
            let at = *[8usize, 33].get(rng.random_range(0..2)).unwrap();
            let v = lie(rng);
            png[at..at + 4].copy_from_slice(&v.to_be_bytes());
            format!("chunk length at {at} = {v}")
        }
        _ => mutate(&mut png, rng),
    };
    (png, what)
}

/// A JPEG damaged one way or another.
fn hostile_jpeg(rng: &mut StdRng) -> (Vec<u8>, String) {
    let (w, h) = (rng.random_range(1..24), rng.random_range(1..24));
    let mut jpeg = jpeg_bytes(w, h, rng.random_bool(0.5));
    let what = if rng.random_bool(0.4) {
        let at = jpeg_sof_dims(&jpeg).expect("an encoded JPEG has a SOF segment");
        let (nh, nw) = (lie(rng) as u16, lie(rng) as u16);
        jpeg[at..at + 2].copy_from_slice(&nh.to_be_bytes());
        jpeg[at + 2..at + 4].copy_from_slice(&nw.to_be_bytes());
        format!("SOF {nw}x{nh}")
    } else {
        mutate(&mut jpeg, rng)
    };
    (jpeg, what)
}

/// A CIFAR batch damaged one way or another.
fn hostile_cifar(rng: &mut StdRng) -> (Vec<u8>, String) {
    let records = rng.random_range(1..4);
    let mut bytes = cifar_bytes(records);
    let what = if rng.random_bool(0.3) {
        let r = rng.random_range(0..records);
        bytes[r * 3073] = rng.random();
        format!("record {r} label {}", bytes[r * 3073])
    } else {
        mutate(&mut bytes, rng)
    };
    (bytes, what)
}

// ---------------------------------------------------------------------------------------
// Cases.

/// Loads the case: the shape of what was loaded (`None` for a raw IDX array, which may
/// legitimately be empty), or the error.
type Load = Box<dyn FnOnce() -> Result<Option<Vec<usize>>, DataError>>;

fn shape(ds: Dataset) -> Option<Vec<usize>> {
    Some(ds.images().shape().to_vec())
}

struct Case {
    what: String,
    /// The files written, with how they may expand.
    files: Vec<(PathBuf, Kind)>,
    /// Paths an error may name: the files and the directory.
    names: Vec<String>,
    load: Load,
}

fn write(path: &Path, bytes: &[u8], kind: Kind, files: &mut Vec<(PathBuf, Kind)>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
    files.push((path.to_path_buf(), kind));
}

/// The case of `seed`, its files written under `dir` (a pure function of the seed).
fn case(seed: u64, dir: &Path) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let rng = &mut rng;
    let mut files = vec![];
    let family = seed % 8;
    let (what, load): (String, Load) = match family {
        0 => {
            let (dims, pixels, _) = idx_images(rng);
            let (bytes, kind, what) = hostile_idx(&dims, &pixels, rng);
            let path = dir.join("images");
            write(&path, &bytes, kind, &mut files);
            let load = Box::new(move || read_idx(&path, 3).map(|_| None));
            (format!("read_idx: {what}"), load)
        }
        1 | 2 => {
            // A pair, one or both damaged; by path or as a directory of standard names.
            let (dims, pixels, labels) = idx_images(rng);
            let (mut img, mut lab) = (idx_bytes(&dims, &pixels), idx_bytes(&dims[..1], &labels));
            let (mut ik, mut lk) = (Kind::Raw, Kind::Raw);
            let mut what = vec![];
            let which = rng.random_range(0..3);
            if which != 1 {
                let (b, k, w) = hostile_idx(&dims, &pixels, rng);
                (img, ik, what) = (b, k, vec![format!("images: {w}")]);
            }
            if which != 0 {
                let (b, k, w) = hostile_idx(&dims[..1], &labels, rng);
                (lab, lk) = (b, k);
                what.push(format!("labels: {w}"));
            }
            let gz = |k: Kind| if matches!(k, Kind::Gzip) { ".gz" } else { "" };
            let (ip, lp) = (
                dir.join(format!("t10k-images-idx3-ubyte{}", gz(ik))),
                dir.join(format!("t10k-labels-idx1-ubyte{}", gz(lk))),
            );
            write(&ip, &img, ik, &mut files);
            if family == 2 && rng.random_bool(0.2) {
                what.push("labels file missing".into());
            } else {
                write(&lp, &lab, lk, &mut files);
            }
            let what = what.join("; ");
            let d = dir.to_path_buf();
            if family == 1 {
                let load = Box::new(move || load_idx_pair(&ip, &lp).map(shape));
                (format!("load_idx_pair: {what}"), load)
            } else {
                let load = Box::new(move || load_idx_dir(&d, None, "x").map(shape));
                (format!("load_idx_dir: {what}"), load)
            }
        }
        3 => {
            let (png, what) = hostile_png(rng);
            let path = dir.join("x.png");
            write(&path, &png, Kind::Png, &mut files);
            let load = Box::new(move || load_png(&path).map(|a| Some(a.shape().to_vec())));
            (format!("load_png: {what}"), load)
        }
        4 | 5 => {
            // A folder (maybe with classes) of valid images and one damaged PNG or JPEG.
            let classes = rng.random_bool(0.4);
            let sub = |i: usize| {
                if classes {
                    format!("c{}/", i % 2)
                } else {
                    String::new()
                }
            };
            let n = rng.random_range(0..3);
            for i in 0..n {
                let p = dir.join(format!("{}ok{i}.png", sub(i)));
                write(&p, &some_png(rng), Kind::Png, &mut files);
            }
            let (bytes, what, name, kind) = if family == 4 {
                let (b, w) = hostile_png(rng);
                (b, w, "bad.png", Kind::Png)
            } else {
                let (b, w) = hostile_jpeg(rng);
                (b, w, "bad.jpg", Kind::Jpeg)
            };
            write(
                &dir.join(format!("{}{name}", sub(n))),
                &bytes,
                kind,
                &mut files,
            );
            let size = rng
                .random_bool(0.5)
                .then(|| [rng.random_range(1..20), rng.random_range(1..20)]);
            let channels = rng.random_bool(0.5).then(|| [1, 3][rng.random_range(0..2)]);
            let d = dir.to_path_buf();
            let load = Box::new(move || image_folder_with(&d, size, channels).map(|r| shape(r.0)));
            (
                format!("image_folder_with({size:?}, {channels:?}), {n} good + {name}: {what}"),
                load,
            )
        }
        6 => {
            let (bytes, what) = hostile_cifar(rng);
            let bad = dir.join("data_batch_2.bin");
            write(&bad, &bytes, Kind::Raw, &mut files);
            let mut paths = vec![bad];
            if rng.random_bool(0.5) {
                let good = dir.join("data_batch_1.bin");
                write(&good, &cifar_bytes(2), Kind::Raw, &mut files);
                paths.insert(rng.random_range(0..2), good);
            }
            let load = Box::new(move || load_cifar_batches(&paths).map(shape));
            (format!("load_cifar_batches: {what}"), load)
        }
        _ => {
            let (bytes, what) = hostile_cifar(rng);
            let nested = rng.random_bool(0.5);
            let sub = if nested { "cifar-10-batches-bin/" } else { "" };
            write(
                &dir.join(format!("{sub}test_batch.bin")),
                &bytes,
                Kind::Raw,
                &mut files,
            );
            let d = dir.to_path_buf();
            let load = Box::new(move || cifar10(&d).map(shape));
            (format!("cifar10 (nested {nested}): {what}"), load)
        }
    };
    let mut names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    names.push(dir.display().to_string());
    Case {
        what,
        files,
        names,
        load,
    }
}

#[test]
fn hostile_datasets_never_panic_overallocate_or_go_unnamed() {
    let root = TempDir::new("fuzz");
    let seeds: Vec<u64> = match std::env::var("AGON_FUZZ_SEED") {
        Ok(s) => vec![s.parse().expect("AGON_FUZZ_SEED must be a number")],
        Err(_) => (0..5_000).collect(),
    };
    // Silence the default hook's messages for panics that are caught and reported.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let verbose = std::env::var_os("AGON_FUZZ_VERBOSE").is_some();
    let started = Instant::now();
    let mut failures = vec![];
    let (mut oks, mut errs) = (0, 0);
    let mut worst = (0.0f64, 0u64);
    for &seed in &seeds {
        let dir = root.join(format!("case-{seed}"));
        let c = case(seed, &dir);
        let allowed = allowed_bytes(&c.files);
        let (result, peak) = peak_during(|| catch_unwind(AssertUnwindSafe(c.load)));
        let ratio = peak as f64 / allowed as f64;
        if verbose {
            eprintln!(
                "seed {seed} ({}): peak {peak} of {allowed}: {result:?}",
                c.what
            );
        }
        if ratio > worst.0 {
            worst = (ratio, seed);
        }
        match result {
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("seed {seed} ({}): panicked: {msg}", c.what));
            }
            Ok(Ok(shape)) => {
                oks += 1;
                // An empty dataset or a zero-sized image is an error, not a result.
                if let Some(shape) = shape.filter(|s| s.contains(&0)) {
                    failures.push(format!("seed {seed} ({}): loaded shape {shape:?}", c.what));
                }
            }
            Ok(Err(e)) => {
                errs += 1;
                let msg = e.to_string();
                if !c.names.iter().any(|n| msg.contains(n.as_str())) {
                    failures.push(format!(
                        "seed {seed} ({}): error names none of {:?}: {msg}",
                        c.what, c.names
                    ));
                }
            }
        }
        if peak > allowed {
            failures.push(format!(
                "seed {seed} ({}): peak allocation {peak} bytes, over the {allowed} allowed",
                c.what
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::panic::set_hook(hook);
    eprintln!(
        "{} cases in {:.1?}: {oks} loaded, {errs} refused; worst peak {:.3} of allowed (seed {})",
        seeds.len(),
        started.elapsed(),
        worst.0,
        worst.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
}
