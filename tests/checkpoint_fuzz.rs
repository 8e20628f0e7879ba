//! Deterministic mutation fuzzing of checkpoint loading.
//!
//! Valid files of a few models are damaged in thousands of seeded ways (truncation, bit
//! flips in header and data, header-length fields that lie, JSON numbers and dtypes that
//! lie, structural edits, random bytes). Loading each must return `Ok` or a clean `Err`
//! naming the file: never a panic (caught and reported with the seed that reproduces it),
//! and never more memory than a small multiple of the bytes actually present, whatever the
//! header claims (measured with a counting allocator).
//!
//! Reproduce one case: `case(seed)` below is a pure function of the seed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use agon_autodiff::Tensor;
use agon_nn::checkpoint::{load_module, save_module, Checkpoint, CheckpointError};
use agon_nn::{BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Sequential};
use agon_reference::counting::{thread_peak_during as peak_during, Counting};
use agon_tensor::{Conv2dParams, NdArray};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetensors::{Dtype, View};

// Peak bytes live on the current thread during a load (tests here run in parallel).
#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The memory a load may use: linear in the bytes actually present, whatever the header
/// claims. The file itself, its values widened to f32 (at most twice the bytes, for F16),
/// and per-tensor bookkeeping: the JSON parse and the parsed entries take up to ~15 bytes
/// per header byte for headers of many tiny tensors (measured: 3000 empty tensors).
fn allowed_bytes(file_len: usize) -> usize {
    16 * file_len + (256 << 10)
}

// ---------------------------------------------------------------------------------------
// Valid files to mutate.

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn conv_bn_linear(seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Conv2d::new(
            1,
            2,
            3,
            Conv2dParams::new().padding(1),
            true,
            &mut rng,
        ))
        .push(BatchNorm2d::new(2))
        .push(ReLU)
        .push(Flatten)
        .push(Linear::new(2 * 3 * 3, 2, true, &mut rng))
}

fn linear(seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new().push(Linear::new(3, 2, false, &mut rng))
}

fn batchnorm(_seed: u64) -> Sequential {
    Sequential::new().push(BatchNorm1d::new(3))
}

/// A target model for each base file.
const MAKERS: [fn(u64) -> Sequential; 3] = [conv_bn_linear, linear, batchnorm];

/// The valid files: an Agon save with metadata and trained BatchNorm statistics, a plain
/// file without metadata, and a PyTorch-style file mixing F16, BF16, F64 and I64.
fn base_files() -> Vec<Vec<u8>> {
    let a = conv_bn_linear(1);
    a.train();
    let x = NdArray::rand_normal(&[2, 1, 3, 3], 0.0, 1.0, &mut StdRng::seed_from_u64(2));
    a.forward(&Tensor::constant(x));
    let mut ck = Checkpoint::new();
    ck.add_module("", &a)
        .set_metadata("config", "{\"layers\": [1, 2, 3]}")
        .set_metadata("step", "42");
    let first = ck.to_bytes().unwrap();

    let second = Checkpoint::new()
        .add_module("", &linear(3))
        .to_bytes()
        .unwrap();

    let u16s = |v: &[u16]| v.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    let f64s = |v: &[f64]| v.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    let tensors = [
        (
            "0.weight",
            Raw {
                dtype: Dtype::F16,
                shape: vec![3],
                bytes: u16s(&[0x3C00, 0x0001, 0xFC00]),
            },
        ),
        (
            "0.bias",
            Raw {
                dtype: Dtype::BF16,
                shape: vec![3],
                bytes: u16s(&[0x3F80, 0, 0x8000]),
            },
        ),
        (
            "0.running_mean",
            Raw {
                dtype: Dtype::F64,
                shape: vec![3],
                bytes: f64s(&[0.5, -1.0, 2.0]),
            },
        ),
        (
            "0.running_var",
            Raw {
                dtype: Dtype::F64,
                shape: vec![3],
                bytes: f64s(&[1.0, 1.0, 1.0]),
            },
        ),
        (
            "0.num_batches_tracked",
            Raw {
                dtype: Dtype::I64,
                shape: vec![],
                bytes: 9i64.to_le_bytes().to_vec(),
            },
        ),
    ];
    let third = safetensors::serialize(tensors.iter().map(|(n, r)| (*n, r)), None).unwrap();
    vec![first, second, third]
}

/// Loads `bytes` into a fresh model for base `which`, under panic and memory watch.
/// Returns the load's result and its peak allocation; `Err(message)` describes a violation.
fn check(which: usize, bytes: &[u8]) -> Result<(Result<(), CheckpointError>, usize), String> {
    let model = MAKERS[which](7);
    let (result, peak) = peak_during(|| {
        catch_unwind(AssertUnwindSafe(|| {
            Checkpoint::from_bytes(bytes).and_then(|ck| ck.load_module_into("", &model))
        }))
    });
    let result = result.map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("panicked: {msg}")
    })?;
    if peak > allowed_bytes(bytes.len()) {
        return Err(format!(
            "allocated {peak} bytes for a {}-byte file (allowed {})",
            bytes.len(),
            allowed_bytes(bytes.len())
        ));
    }
    if let Err(e) = &result {
        let msg = e.to_string();
        if !msg.contains("<memory>") {
            return Err(format!("error does not name the file: {msg}"));
        }
    }
    Ok((result, peak))
}

// ---------------------------------------------------------------------------------------
// Mutations.

const HOSTILE_NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "7",
    "4294967295",
    "4294967296",
    "281474976710656",
    "281474976710657",
    "2305843009213693951",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "-1",
    "1.5",
    "1e9",
    "1e999",
    "null",
    "\"3\"",
    "[]",
];

const DTYPES: &[&str] = &[
    "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "U16", "I8", "U8", "BOOL", "U32", "U64",
    "C64", "F4", "F6_E2M3", "F8_E4M3", "F8_E8M0", "f32", "", "XYZ",
];

fn header_len(bytes: &[u8]) -> usize {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    n.min(bytes.len() - 8)
}

/// Replaces the header with `header`, updating the length field when `fix_len`.
fn with_header(bytes: &[u8], header: &[u8], fix_len: bool) -> Vec<u8> {
    let n = header_len(bytes);
    let mut out = if fix_len {
        (header.len() as u64).to_le_bytes().to_vec()
    } else {
        bytes[..8].to_vec()
    };
    out.extend_from_slice(header);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// Byte ranges of the runs of ASCII digits in `s`.
fn number_spans(s: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = vec![];
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_digit() {
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

const KINDS: &[&str] = &[
    "truncate",
    "flip header bits",
    "flip data bits",
    "header length",
    "lying number",
    "dtype swap",
    "json edit",
    "overwrite range",
    "random bytes",
    "append bytes",
];

/// The mutated file of case `seed`: (base index, mutation kind, bytes).
fn case(seed: u64, bases: &[Vec<u8>]) -> (usize, &'static str, Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let which = rng.random_range(0..bases.len());
    let base = &bases[which];
    let n = header_len(base);
    let (h0, h1) = (8, 8 + n);
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    let mut b = base.clone();
    match kind {
        "truncate" => b.truncate(rng.random_range(0..b.len())),
        "flip header bits" => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(h0..h1);
                b[i] ^= 1 << rng.random_range(0..8);
            }
        }
        "flip data bits" => {
            if h1 < b.len() {
                for _ in 0..rng.random_range(1..=16) {
                    let i = rng.random_range(h1..b.len());
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        "header length" => {
            let len = b.len() as u64;
            let choices = [
                0,
                1,
                7,
                8,
                n as u64 - 1,
                n as u64 + 1,
                len - 8,
                len - 7,
                len,
                u64::MAX,
                u64::MAX - 7,
                1 << 63,
                100_000_000,
                100_000_001,
                rng.random(),
            ];
            let v = choices[rng.random_range(0..choices.len())];
            b[..8].copy_from_slice(&v.to_le_bytes());
        }
        "lying number" => {
            let header = &base[h0..h1];
            let spans = number_spans(header);
            let (s, e) = spans[rng.random_range(0..spans.len())];
            let original: u64 = std::str::from_utf8(&header[s..e])
                .unwrap()
                .parse()
                .unwrap_or(0);
            let replacement = match rng.random_range(0..4) {
                0 => original.wrapping_add(1).to_string(),
                1 => original.wrapping_sub(1).to_string(),
                2 => rng.random::<u64>().to_string(),
                _ => HOSTILE_NUMBERS[rng.random_range(0..HOSTILE_NUMBERS.len())].to_string(),
            };
            let mut h = header[..s].to_vec();
            h.extend_from_slice(replacement.as_bytes());
            h.extend_from_slice(&header[e..]);
            b = with_header(base, &h, rng.random_bool(0.8));
        }
        "dtype swap" => {
            let header = std::str::from_utf8(&base[h0..h1]).unwrap();
            let spots: Vec<usize> = header
                .match_indices("\"dtype\":\"")
                .map(|(i, _)| i + 9)
                .collect();
            let at = spots[rng.random_range(0..spots.len())];
            let end = at + header[at..].find('"').unwrap();
            let new = DTYPES[rng.random_range(0..DTYPES.len())];
            let h = format!("{}{}{}", &header[..at], new, &header[end..]);
            b = with_header(base, h.as_bytes(), rng.random_bool(0.9));
        }
        "json edit" => {
            let mut h = base[h0..h1].to_vec();
            let i = rng.random_range(0..h.len());
            match rng.random_range(0..3) {
                0 => {
                    let j = rng.random_range(i..h.len().min(i + 40) + 1);
                    h.drain(i..j);
                }
                1 => {
                    let j = rng.random_range(i..h.len().min(i + 40) + 1);
                    let piece = h[i..j].to_vec();
                    h.splice(i..i, piece);
                }
                _ => {
                    const TOKENS: &[&str] = &[
                        "{",
                        "}",
                        "[",
                        "]",
                        ",",
                        ":",
                        "\"",
                        "\\",
                        "\\u0000",
                        "0",
                        "-",
                        "\"__metadata__\":{}",
                        "\u{feff}",
                        "\0",
                    ];
                    let t = TOKENS[rng.random_range(0..TOKENS.len())];
                    h.splice(i..i, t.bytes());
                }
            }
            b = with_header(base, &h, rng.random_bool(0.8));
        }
        "overwrite range" => {
            let i = rng.random_range(0..b.len());
            let j = rng.random_range(i..b.len().min(i + 64) + 1);
            rng.fill(&mut b[i..j]);
        }
        "random bytes" => {
            let len = rng.random_range(0..2 * base.len());
            b = vec![0; len];
            rng.fill(&mut b[..]);
            if len >= 8 && rng.random_bool(0.5) {
                // A plausible length field over random content.
                let n = rng.random_range(0..=(len as u64 - 8));
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
        }
        "append bytes" => {
            let extra = rng.random_range(1..64);
            for _ in 0..extra {
                b.push(rng.random());
            }
        }
        _ => unreachable!(),
    }
    (which, kind, b)
}

/// Cases per run: together with the hostile corpus this stays within a few seconds in the
/// debug profile on two cores.
const CASES: u64 = 100_000;
const SEED_BASE: u64 = 0x0a60_c4ec_2024;

#[test]
fn valid_base_files_load() {
    for (which, bytes) in base_files().iter().enumerate() {
        let (out, _) = check(which, bytes).unwrap();
        assert!(out.is_ok(), "base file {which}: {out:?}");
    }
}

#[test]
fn mutated_files_never_panic_or_overallocate() {
    let bases = base_files();
    let mut failures = vec![];
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut max_peak = 0;
    for i in 0..CASES {
        let seed = SEED_BASE + i;
        let (which, kind, bytes) = case(seed, &bases);
        let outcome = check(which, &bytes).map(|(r, peak)| {
            max_peak = max_peak.max(peak);
            r
        });
        match outcome {
            Ok(Ok(())) => *outcomes.entry(format!("{kind}: ok")).or_default() += 1,
            Ok(Err(e)) => {
                let variant = format!("{e:?}");
                let variant = variant
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or("")
                    .to_string();
                *outcomes.entry(format!("{kind}: {variant}")).or_default() += 1;
            }
            Err(violation) => failures.push(format!(
                "seed {seed:#x} (base {which}, {kind}, {} bytes): {violation}",
                bytes.len()
            )),
        }
    }
    eprintln!("{CASES} mutated files (peak allocation of a load: {max_peak} bytes), outcomes:");
    for (k, v) in &outcomes {
        eprintln!("  {k:<40} {v}");
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Wraps a JSON header into a file with `data` after it.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

#[test]
fn hand_crafted_hostile_headers_fail_cleanly() {
    // Offsets that tile a 2^64-byte "data section": the safetensors crate's own offset sum
    // overflows (a panic in debug builds) unless the header's numbers are bounded first.
    let k: u64 = (1 << 61) - 1;
    let tiles: Vec<String> = (0..8u64)
        .map(|i| {
            format!(
                "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{k}],\"data_offsets\":[{},{}]}}",
                i * k,
                (i + 1) * k
            )
        })
        .collect();
    let overflow = format!("{{{}}}", tiles.join(","));

    let deep = format!("{{\"w\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_meta = format!(
        "{{\"__metadata__\":{}{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    let many: Vec<String> = (0..3000)
        .map(|i| format!("\"e{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}"))
        .collect();
    let long_name = "n".repeat(1 << 20);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("offset sum near 2^64", file(&overflow, &[])),
        ("one huge tensor", file(r#"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#, &[0; 16])),
        ("shape product overflow", file(r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#, &[])),
        ("zero-size but absurd extents", file(r#"{"w":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#, &[])),
        ("zero-size, addressable extents", file(r#"{"w":{"dtype":"F32","shape":[0,65536,65536],"data_offsets":[0,0]}}"#, &[])),
        ("offsets reversed", file(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, &[0; 4])),
        ("offsets past the end", file(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[])),
        ("negative offset", file(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, &[0; 4])),
        ("float shape", file(r#"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, &[0; 4])),
        ("sub-byte dtype, odd count", file(r#"{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#, &[0; 1])),
        ("unknown dtype", file(r#"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4])),
        ("metadata not strings", file(r#"{"__metadata__":{"step":3}}"#, &[])),
        ("metadata an array", file(r#"{"__metadata__":[1,2]}"#, &[])),
        ("duplicate names", file(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, &[0; 8])),
        ("deep nesting", file(&deep, &[])),
        ("deep metadata", file(&deep_meta, &[])),
        ("3000 empty tensors", file(&format!("{{{}}}", many.join(",")), &[])),
        ("a 1 MiB name", file(&format!("{{\"{long_name}\":{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}}}"), &[0; 4])),
        ("not UTF-8", {
            let mut b = file("{\"w\":{}}", &[]);
            b[10] = 0xff;
            b
        }),
        ("empty header", file("", &[])),
        ("empty file", vec![]),
        ("length only", 0u64.to_le_bytes().to_vec()),
        ("header length 2^64-1", u64::MAX.to_le_bytes().iter().copied().chain(*b"{}").collect()),
    ];
    for (label, bytes) in cases {
        // Base 1 (a linear layer): these files never hold its weight.
        match check(1, &bytes) {
            Ok((Err(e), peak)) => eprintln!("{label} ({} bytes, peak {peak}): {e}", bytes.len()),
            Ok((Ok(()), _)) => panic!("{label}: loaded"),
            Err(violation) => panic!("{label}: {violation}"),
        }
    }
}

#[test]
fn files_on_disk_fail_cleanly_and_name_the_path() {
    let dir = std::env::temp_dir().join(format!("agon-test-ckpt-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("fuzzed.safetensors");
    let bases = base_files();
    let mut failures = vec![];
    for i in 0..300 {
        let seed = SEED_BASE ^ (0xd15c << 32) ^ i;
        let (which, kind, bytes) = case(seed, &bases);
        std::fs::write(&path, &bytes).unwrap();
        let model = MAKERS[which](7);
        let result = catch_unwind(AssertUnwindSafe(|| load_module(&model, &path)));
        match result {
            Err(_) => failures.push(format!("seed {seed:#x} ({kind}): panicked")),
            Ok(Err(e)) if !e.to_string().contains("fuzzed.safetensors") => {
                failures.push(format!("seed {seed:#x} ({kind}): no path in `{e}`"))
            }
            Ok(_) => {}
        }
    }
    // A round trip through the same path still works afterwards.
    let model = conv_bn_linear(3);
    save_module(&model, &path, &BTreeMap::new()).unwrap();
    load_module(&conv_bn_linear(4), &path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
