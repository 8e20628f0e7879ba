//! Loading reference fixtures: small safetensors files of inputs and PyTorch outputs,
//! written by the scripts in `scripts/` (for example `scripts/torch_fixtures.py`, whose
//! docstring gives the exact command and the naming scheme) and committed under
//! `tests/fixtures/`, so tests compare Agon with PyTorch without PyTorch installed.
//!
//! Conventions shared with the scripts:
//! - every tensor is `float32` (integer results such as pooling indices are stored as small
//!   exact floats) and named `<op>.<case>.<role>`; `<op>.<case>` is the *case name*;
//! - the file's metadata maps each case name to its parameters, written as
//!   `key=value` pairs separated by `;` (see [`Case`]), and holds `num_cases`, `cases`
//!   (comma-separated case names) and `torch_version`.
//!
//! Fixtures are test data, so problems with them are test failures: [`load`] and
//! [`Fixtures::get`] panic with a message naming the file and what is wrong.
//!
//! ```no_run
//! let fx = agon_reference::fixtures::load(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/conv_pool.safetensors"
//! ));
//! for case in fx.cases() {
//!     let x = fx.get(&format!("{}.x", case.name));
//!     println!("{} {:?} stride={}", case.name, x.shape(), case.usize("stride"));
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use agon_tensor::NdArray;
use safetensors::{Dtype, SafeTensors};

/// The tensors and metadata of one fixture file, fully loaded into memory.
#[derive(Clone, Debug)]
pub struct Fixtures {
    path: PathBuf,
    tensors: BTreeMap<String, NdArray>,
    metadata: HashMap<String, String>,
}

/// One case of a fixture file: its name and its parsed parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `<op>.<case>`, the prefix of the case's tensor names, e.g. `conv2d.s2_p1_d1_bias`.
    pub name: String,
    /// The parameters from the metadata entry named after the case (`key=value;...`).
    pub params: BTreeMap<String, String>,
}

impl Case {
    /// The op, i.e. the part of the name before the first `.` (e.g. `conv2d`).
    pub fn op(&self) -> &str {
        self.name.split('.').next().unwrap_or("")
    }

    /// The raw value of parameter `key`.
    ///
    /// # Panics
    /// If the case has no such parameter.
    #[track_caller]
    pub fn param(&self, key: &str) -> &str {
        match self.params.get(key) {
            Some(v) => v,
            None => panic!(
                "fixture case {}: no parameter {key:?} (has {:?})",
                self.name,
                self.params.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// Parameter `key` as an integer.
    ///
    /// # Panics
    /// If it is missing or not an unsigned integer.
    #[track_caller]
    pub fn usize(&self, key: &str) -> usize {
        let v = self.param(key);
        v.parse().unwrap_or_else(|_| {
            panic!(
                "fixture case {}: parameter {key}={v:?} is not an integer",
                self.name
            )
        })
    }

    /// Parameter `key` as a per-axis pair `[h, w]`: `"3x2"` gives `[3, 2]`, a single value
    /// `"3"` applies to both axes.
    ///
    /// # Panics
    /// If it is missing or malformed.
    #[track_caller]
    pub fn pair(&self, key: &str) -> [usize; 2] {
        let v = self.param(key);
        let parse = |s: &str| -> usize {
            s.parse().unwrap_or_else(|_| {
                panic!(
                    "fixture case {}: parameter {key}={v:?} is not N or HxW",
                    self.name
                )
            })
        };
        match v.split_once('x') {
            Some((h, w)) => [parse(h), parse(w)],
            None => {
                let n = parse(v);
                [n, n]
            }
        }
    }

    /// Parameter `key` as a flag (`1`/`0`, `true`/`false`).
    ///
    /// # Panics
    /// If it is missing or not a flag.
    #[track_caller]
    pub fn flag(&self, key: &str) -> bool {
        match self.param(key) {
            "1" | "true" => true,
            "0" | "false" => false,
            v => panic!(
                "fixture case {}: parameter {key}={v:?} is not a flag",
                self.name
            ),
        }
    }
}

/// Read a fixture file written by one of the `scripts/*_fixtures.py` scripts.
///
/// Pass an absolute path, normally built from the root package's manifest directory:
/// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conv_pool.safetensors")`.
///
/// # Panics
/// If the file cannot be read or parsed, or holds a tensor that is not `float32`; the
/// message names the file (and the tensor).
#[track_caller]
pub fn load(path: impl AsRef<Path>) -> Fixtures {
    let path = path.as_ref();
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "fixtures: cannot read {}: {e} (regenerate with the script named in its docs, \
             e.g. scripts/torch_fixtures.py)",
            path.display()
        )
    });
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| {
        panic!(
            "fixtures: {} is not a safetensors file: {e}",
            path.display()
        )
    });
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| {
        panic!(
            "fixtures: {} is not a safetensors file: {e}",
            path.display()
        )
    });
    let mut tensors = BTreeMap::new();
    for (name, view) in st.iter() {
        assert_eq!(
            view.dtype(),
            Dtype::F32,
            "fixtures: tensor {name:?} in {} is {:?}, only F32 is supported",
            path.display(),
            view.dtype()
        );
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let array = NdArray::from_vec(data, view.shape())
            .unwrap_or_else(|e| panic!("fixtures: tensor {name:?} in {}: {e}", path.display()));
        tensors.insert(name.to_string(), array);
    }
    Fixtures {
        path: path.to_path_buf(),
        tensors,
        metadata,
    }
}

impl Fixtures {
    /// The file these fixtures were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor called `name` (e.g. `conv2d.s2_p1_d1_bias.out`).
    ///
    /// # Panics
    /// If the file has no such tensor; the message names the tensor and the file.
    #[track_caller]
    pub fn get(&self, name: &str) -> NdArray {
        match self.tensors.get(name) {
            Some(t) => t.clone(),
            None => panic!(
                "fixtures: no tensor {name:?} in {} ({} tensors; regenerate the file?)",
                self.path.display(),
                self.tensors.len()
            ),
        }
    }

    /// The tensor called `name`, or `None` when absent (for optional roles such as a bias).
    pub fn try_get(&self, name: &str) -> Option<NdArray> {
        self.tensors.get(name).cloned()
    }

    /// True when the file holds a tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The metadata entry `key` (e.g. `torch_version`), if present.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The whole metadata map.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// The distinct case names found in the tensor names (everything before the last `.`),
    /// sorted. Independent of the metadata, so tests can cross-check the two.
    pub fn case_names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .tensors
            .keys()
            .filter_map(|n| n.rsplit_once('.').map(|(case, _)| case.to_string()))
            .collect();
        names.into_iter().collect()
    }

    /// Every case with its parameters, in sorted name order.
    ///
    /// # Panics
    /// If a case has no metadata entry or its entry is not `key=value;...`.
    #[track_caller]
    pub fn cases(&self) -> Vec<Case> {
        self.case_names()
            .into_iter()
            .map(|name| {
                let spec = self.meta(&name).unwrap_or_else(|| {
                    panic!(
                        "fixtures: case {name:?} in {} has no metadata entry",
                        self.path.display()
                    )
                });
                let params = spec
                    .split(';')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or_else(|| {
                            panic!(
                                "fixtures: case {name:?} in {}: malformed parameter {kv:?}",
                                self.path.display()
                            )
                        });
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                Case { name, params }
            })
            .collect()
    }
}

/// Asserts `max |got - want| / max |want| <= tol` (and every value finite), printing the
/// ratio (visible with `--nocapture`) and naming the worst element on failure: the measure
/// for comparing a whole network's output or gradient with PyTorch's, whose scale the
/// largest magnitude sets.
///
/// # Panics
/// On a shape mismatch or an error above `tol`.
#[track_caller]
pub fn assert_close_to_scale(label: &str, got: &NdArray, want: &NdArray, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{label}: shape");
    let (g, w) = (got.to_vec(), want.to_vec());
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let (worst, err) = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0, 0.0f32), |(i, m), (j, e)| {
            if e > m || e.is_nan() {
                (j, e)
            } else {
                (i, m)
            }
        });
    let rel = err / scale;
    println!("{label}: max rel err {rel:.2e}");
    assert!(
        rel <= tol && g.iter().all(|v| v.is_finite()),
        "{label}: max rel err {rel:e} at flat index {worst} (agon {} vs PyTorch {}, scale {scale})",
        g[worst],
        w[worst]
    );
}
