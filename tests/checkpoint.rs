//! Safetensors checkpoints: bit-exact round trips, PyTorch dtypes and names, strict and
//! transactional loading, typed errors, atomic writes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agon_autodiff::{Gradients, Tensor};
use agon_nn::checkpoint::{load_module, save_module, Checkpoint, CheckpointError};
use agon_nn::optim::{OptimStateError, Optimizer};
use agon_nn::{BatchNorm2d, Conv2d, Flatten, Linear, Module, Param, ReLU, Sequential};
use agon_tensor::{Conv2dParams, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;
use safetensors::{Dtype, SafeTensors, View};

/// A directory under the system temp dir, unique to this test and process, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("agon-test-ckpt-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Names in the directory, sorted.
    fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Conv -> BatchNorm -> ReLU -> Flatten -> Linear, on [N, 2, 4, 4] inputs.
fn small_model(seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Conv2d::new(
            2,
            3,
            3,
            Conv2dParams::new().padding(1),
            true,
            &mut rng,
        ))
        .push(BatchNorm2d::new(3))
        .push(ReLU)
        .push(Flatten)
        .push(Linear::new(3 * 4 * 4, 5, true, &mut rng))
}

/// Runs `n` training forwards so the BatchNorm running statistics and counter move.
fn train_forwards(model: &Sequential, n: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    model.train();
    for _ in 0..n {
        let x = NdArray::rand_normal(&[4, 2, 4, 4], 0.5, 2.0, &mut rng);
        model.forward(&Tensor::constant(x));
    }
}

/// Every parameter and buffer as raw bits, by name.
fn bits(model: &dyn Module) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    model
        .state_dict()
        .into_iter()
        .map(|(n, a)| {
            let b = a.to_vec().iter().map(|v| v.to_bits()).collect();
            (n, a.shape().to_vec(), b)
        })
        .collect()
}

/// A tensor to craft files with the safetensors crate directly.
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

fn f32_raw(shape: &[usize], values: &[f32]) -> Raw {
    Raw {
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn write_raw(path: &Path, tensors: &[(&str, Raw)]) {
    let bytes = safetensors::serialize(tensors.iter().map(|(n, r)| (*n, r)), None).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The model's own state as raw F32 tensors (counters as I64), to edit before writing.
fn raw_state(model: &dyn Module) -> Vec<(String, Raw)> {
    model
        .state_dict()
        .into_iter()
        .map(|(n, a)| {
            let raw = if n.ends_with("num_batches_tracked") {
                Raw {
                    dtype: Dtype::I64,
                    shape: vec![],
                    bytes: (a.item() as i64).to_le_bytes().to_vec(),
                }
            } else {
                f32_raw(a.shape(), &a.to_vec())
            };
            (n, raw)
        })
        .collect()
}

fn write_state(path: &Path, state: &[(String, Raw)]) {
    let refs: Vec<(&str, Raw)> = state
        .iter()
        .map(|(n, r)| {
            (
                n.as_str(),
                Raw {
                    dtype: r.dtype,
                    shape: r.shape.clone(),
                    bytes: r.bytes.clone(),
                },
            )
        })
        .collect();
    write_raw(path, &refs);
}

#[test]
fn round_trip_is_bit_identical_with_running_stats() {
    let dir = TempDir::new("round-trip");
    let path = dir.path("model.safetensors");
    let model = small_model(1);
    train_forwards(&model, 3, 7);
    let meta = BTreeMap::from([
        ("config".to_string(), "{\"channels\": 3}".to_string()),
        ("step".to_string(), "1234".to_string()),
    ]);
    save_module(&model, &path, &meta).unwrap();

    let copy = small_model(99);
    assert_ne!(bits(&copy), bits(&model));
    let back = load_module(&copy, &path).unwrap();
    assert_eq!(bits(&copy), bits(&model));

    // The running statistics really moved, and came back.
    let sd: HashMap<String, NdArray> = copy.state_dict().into_iter().collect();
    assert_eq!(sd["1.num_batches_tracked"].item(), 3.0);
    assert!(sd["1.running_mean"].to_vec().iter().any(|&v| v != 0.0));

    // Metadata: the caller's keys plus the format marker and version.
    assert_eq!(back["config"], "{\"channels\": 3}");
    assert_eq!(back["step"], "1234");
    assert_eq!(back["format"], "agon");
    assert_eq!(back["agon_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(back.len(), 4);

    // Loading the same file again is idempotent, and evaluation agrees.
    copy.eval();
    model.eval();
    let x = Tensor::constant(NdArray::ones(&[1, 2, 4, 4]));
    assert_eq!(
        copy.forward(&x).data().to_vec(),
        model.forward(&x).data().to_vec()
    );
}

#[test]
fn file_uses_pytorch_names_and_dtypes() {
    let dir = TempDir::new("names-dtypes");
    let path = dir.path("model.safetensors");
    let model = small_model(2);
    train_forwards(&model, 2, 3);
    save_module(&model, &path, &BTreeMap::new()).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "1.bias",
            "1.num_batches_tracked",
            "1.running_mean",
            "1.running_var",
            "1.weight",
            "4.bias",
            "4.weight"
        ]
    );
    let nbt = st.tensor("1.num_batches_tracked").unwrap();
    assert_eq!(nbt.dtype(), Dtype::I64);
    assert_eq!(nbt.shape(), &[] as &[usize]);
    assert_eq!(nbt.data(), 2i64.to_le_bytes());
    for name in names.iter().filter(|n| !n.ends_with("num_batches_tracked")) {
        assert_eq!(st.tensor(name).unwrap().dtype(), Dtype::F32, "{name}");
    }
    assert_eq!(st.tensor("0.weight").unwrap().shape(), &[3, 2, 3, 3]);
    assert_eq!(st.tensor("4.weight").unwrap().shape(), &[5, 48]);
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "agon");
}

#[test]
fn missing_tensors_are_named() {
    let dir = TempDir::new("missing");
    let path = dir.path("m.safetensors");
    let mut rng = StdRng::seed_from_u64(3);
    let small = Sequential::new().push(Linear::new(2, 2, true, &mut rng));
    save_module(&small, &path, &BTreeMap::new()).unwrap();

    let bigger = Sequential::new()
        .push(Linear::new(2, 2, true, &mut rng))
        .push(BatchNorm2d::new(2));
    let before = bits(&bigger);
    let err = load_module(&bigger, &path).unwrap_err();
    match &err {
        CheckpointError::MissingTensors { path: p, names } => {
            assert_eq!(p, &path);
            assert_eq!(
                names,
                &[
                    "1.bias",
                    "1.num_batches_tracked",
                    "1.running_mean",
                    "1.running_var",
                    "1.weight"
                ]
            );
        }
        other => panic!("expected MissingTensors, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("m.safetensors") && msg.contains("`1.running_var`"),
        "{msg}"
    );
    assert_eq!(bits(&bigger), before);
}

#[test]
fn unexpected_tensors_are_named() {
    let dir = TempDir::new("unexpected");
    let path = dir.path("u.safetensors");
    let mut rng = StdRng::seed_from_u64(4);
    let bigger = Sequential::new()
        .push(Linear::new(2, 2, true, &mut rng))
        .push(Linear::new(2, 1, false, &mut rng));
    save_module(&bigger, &path, &BTreeMap::new()).unwrap();

    let small = Sequential::new().push(Linear::new(2, 2, true, &mut rng));
    let before = bits(&small);
    let err = load_module(&small, &path).unwrap_err();
    match &err {
        CheckpointError::UnexpectedTensors { names, .. } => assert_eq!(names, &["1.weight"]),
        other => panic!("expected UnexpectedTensors, got {other:?}"),
    }
    assert!(err.to_string().contains("`1.weight`"));
    assert!(err.to_string().contains("u.safetensors"));
    assert_eq!(bits(&small), before);
}

#[test]
fn shape_mismatch_names_tensor_and_shapes() {
    let dir = TempDir::new("shape");
    let path = dir.path("s.safetensors");
    let model = small_model(5);
    let mut state = raw_state(&model);
    // The last linear's bias gets one element too many.
    let bias = state.iter_mut().find(|(n, _)| n == "4.bias").unwrap();
    bias.1 = f32_raw(&[6], &[0.0; 6]);
    write_state(&path, &state);

    let target = small_model(6);
    let before = bits(&target);
    let err = load_module(&target, &path).unwrap_err();
    match &err {
        CheckpointError::ShapeMismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "4.bias");
            assert_eq!(expected, &[5]);
            assert_eq!(found, &[6]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("`4.bias`") && msg.contains("[6]") && msg.contains("[5]"),
        "{msg}"
    );
    // 0.* and 1.* came first in module order and were valid, yet nothing was set.
    assert_eq!(bits(&target), before);
}

#[test]
fn integer_and_byte_dtypes_are_refused_for_floats() {
    let dir = TempDir::new("dtype-refused");
    let model = small_model(7);
    for (name, dtype) in [
        ("0.weight", Dtype::I8),
        ("4.bias", Dtype::U8),
        ("0.bias", Dtype::I64),
        ("1.running_mean", Dtype::I64),
        ("1.running_var", Dtype::I32),
        ("1.num_batches_tracked", Dtype::U8),
    ] {
        let path = dir.path(&format!("{name}-{dtype}.safetensors"));
        let mut state = raw_state(&model);
        let entry = state.iter_mut().find(|(n, _)| n == name).unwrap();
        let numel: usize = entry.1.shape.iter().product();
        entry.1 = Raw {
            dtype,
            shape: entry.1.shape.clone(),
            bytes: vec![1; numel * dtype.bitsize() / 8],
        };
        write_state(&path, &state);

        let target = small_model(8);
        let before = bits(&target);
        let err = load_module(&target, &path).unwrap_err();
        match &err {
            CheckpointError::UnsupportedDtype {
                name: n, dtype: d, ..
            } => {
                assert_eq!(n, name);
                assert_eq!(d, &dtype.to_string());
            }
            other => panic!("{name} as {dtype}: expected UnsupportedDtype, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`{name}`")) && msg.contains(&dtype.to_string()),
            "{msg}"
        );
        assert_eq!(bits(&target), before, "{name} as {dtype}");
    }
}

/// Half-precision bits of the exactly representable test values used below.
fn f16_bits(v: f32) -> u16 {
    const TABLE: [(f32, u16); 4] = [
        (1.0, 0x3C00),
        (-2.0, 0xC000),
        (0.5, 0x3800),
        (65504.0, 0x7BFF),
    ];
    TABLE
        .iter()
        .find(|(x, _)| *x == v)
        .expect("not in the table")
        .1
}

#[test]
fn half_bfloat_double_and_int_counters_are_converted() {
    let dir = TempDir::new("dtype-convert");
    let path = dir.path("mixed.safetensors");
    let mut rng = StdRng::seed_from_u64(9);
    let model = Sequential::new()
        .push(Linear::new(2, 3, true, &mut rng))
        .push(BatchNorm2d::new(3));

    // weight [3, 2] in F16, including a subnormal, -0, infinity; bias in BF16; running
    // stats in F64; the counter in I32 (older exports) for this one.
    let w_bits: [u16; 6] = [
        f16_bits(1.0),
        f16_bits(-2.0),
        0x0001,
        0x8000,
        0x7C00,
        0x03FF,
    ];
    let w_want = [
        1.0,
        -2.0,
        2f32.powi(-24),
        -0.0,
        f32::INFINITY,
        1023.0 * 2f32.powi(-24),
    ];
    let b_bits: [u16; 3] = [0x3F80, 0xC0A0, 0x4049]; // 1, -5, 3.140625
    let mean = [0.1f64, -1e-3, 1e40]; // 1e40 overflows f32: infinity
    let var = [1.0f64, 2.5, 0.3];
    let u16s = |v: &[u16]| v.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    let f64s = |v: &[f64]| v.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    let ones = [1.0f32; 3];
    write_raw(
        &path,
        &[
            (
                "0.weight",
                Raw {
                    dtype: Dtype::F16,
                    shape: vec![3, 2],
                    bytes: u16s(&w_bits),
                },
            ),
            (
                "0.bias",
                Raw {
                    dtype: Dtype::BF16,
                    shape: vec![3],
                    bytes: u16s(&b_bits),
                },
            ),
            ("1.weight", f32_raw(&[3], &ones)),
            (
                "1.bias",
                Raw {
                    dtype: Dtype::F16,
                    shape: vec![3],
                    bytes: u16s(&[f16_bits(0.5); 3]),
                },
            ),
            (
                "1.running_mean",
                Raw {
                    dtype: Dtype::F64,
                    shape: vec![3],
                    bytes: f64s(&mean),
                },
            ),
            (
                "1.running_var",
                Raw {
                    dtype: Dtype::F64,
                    shape: vec![3],
                    bytes: f64s(&var),
                },
            ),
            (
                "1.num_batches_tracked",
                Raw {
                    dtype: Dtype::I32,
                    shape: vec![],
                    bytes: 41i32.to_le_bytes().to_vec(),
                },
            ),
        ],
    );
    let meta = load_module(&model, &path).unwrap();
    assert!(meta.is_empty(), "a file without metadata: {meta:?}");
    let sd: HashMap<String, NdArray> = model.state_dict().into_iter().collect();
    let got_bits = |n: &str| {
        sd[n]
            .to_vec()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    let want_bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(got_bits("0.weight"), want_bits(&w_want));
    assert_eq!(sd["0.bias"].to_vec(), vec![1.0, -5.0, 3.140625]);
    assert_eq!(sd["1.bias"].to_vec(), vec![0.5; 3]);
    assert_eq!(
        sd["1.running_mean"].to_vec(),
        vec![0.1f64 as f32, -1e-3f64 as f32, f32::INFINITY]
    );
    assert_eq!(sd["1.running_var"].to_vec(), vec![1.0, 2.5, 0.3f64 as f32]);
    assert_eq!(sd["1.num_batches_tracked"].item(), 41.0);

    // Saving it again writes F32 and the counter as I64.
    let again = dir.path("again.safetensors");
    save_module(&model, &again, &BTreeMap::new()).unwrap();
    let ck = Checkpoint::read(&again).unwrap();
    assert_eq!(ck.dtype("0.weight"), Some("F32"));
    assert_eq!(ck.dtype("1.num_batches_tracked"), Some("I64"));
    assert_eq!(ck.tensor("1.num_batches_tracked").unwrap().item(), 41.0);
}

#[test]
fn failed_load_changes_nothing_even_after_valid_tensors() {
    let dir = TempDir::new("transactional");
    let path = dir.path("t.safetensors");
    let source = small_model(10);
    train_forwards(&source, 1, 1);
    let mut state = raw_state(&source);
    // Everything valid except the very last tensor in module order: a buffer of the wrong
    // dtype (module order: params 0.*, 1.*, 4.*, then buffers 1.running_*, counter).
    let last = state
        .iter_mut()
        .find(|(n, _)| n == "1.num_batches_tracked")
        .unwrap();
    last.1 = Raw {
        dtype: Dtype::I8,
        shape: vec![],
        bytes: vec![5],
    };
    write_state(&path, &state);

    let target = small_model(11);
    let before = bits(&target);
    assert!(matches!(
        load_module(&target, &path),
        Err(CheckpointError::UnsupportedDtype { .. })
    ));
    assert_eq!(bits(&target), before);

    // Malformed and unreadable files leave it alone too.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 3);
    let trunc = dir.path("trunc.safetensors");
    std::fs::write(&trunc, &bytes).unwrap();
    let err = load_module(&target, &trunc).unwrap_err();
    assert!(matches!(err, CheckpointError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("trunc.safetensors"), "{err}");
    let err = load_module(&target, dir.path("absent.safetensors")).unwrap_err();
    match &err {
        CheckpointError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("absent.safetensors"));
    assert_eq!(bits(&target), before);
}

#[test]
fn save_replaces_atomically_and_leaves_no_temporary_files() {
    let dir = TempDir::new("atomic");
    let path = dir.path("model.safetensors");
    let a = small_model(12);
    let b = small_model(13);
    save_module(&a, &path, &BTreeMap::new()).unwrap();
    save_module(&b, &path, &BTreeMap::new()).unwrap();
    assert_eq!(dir.listing(), ["model.safetensors"]);
    let c = small_model(14);
    load_module(&c, &path).unwrap();
    assert_eq!(bits(&c), bits(&b));

    // A crash mid-write leaves a partial temporary file beside an intact target: the
    // target still loads, and the next save still succeeds.
    let old = std::fs::read(&path).unwrap();
    let partial = dir.path(&format!(
        ".model.safetensors.{}-crashed.tmp",
        std::process::id()
    ));
    std::fs::write(&partial, &old[..old.len() / 2]).unwrap();
    let d = small_model(15);
    load_module(&d, &path).unwrap();
    assert_eq!(bits(&d), bits(&b));
    save_module(&a, &path, &BTreeMap::new()).unwrap();
    load_module(&d, &path).unwrap();
    assert_eq!(bits(&d), bits(&a));
    std::fs::remove_file(&partial).unwrap();
    assert_eq!(dir.listing(), ["model.safetensors"]);
}

#[test]
fn failing_save_leaves_old_state_and_no_temporary_file() {
    let dir = TempDir::new("atomic-fail");
    let model = small_model(16);

    // The target is a (non-empty) directory: the rename fails, the directory and its
    // contents are untouched, the temporary file is removed.
    let target = dir.path("model.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"precious").unwrap();
    let err = save_module(&model, &target, &BTreeMap::new()).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    assert_eq!(std::fs::read(target.join("keep")).unwrap(), b"precious");
    assert_eq!(dir.listing(), ["model.safetensors"]);

    // The parent directory does not exist.
    let err = save_module(
        &model,
        dir.path("no/such/dir/m.safetensors"),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");

    // A read-only directory: the old file stays byte-identical. (Skipped where the
    // permission is not enforced, e.g. when running as root.)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path("ro");
        std::fs::create_dir(&ro).unwrap();
        let path = ro.join("m.safetensors");
        save_module(&small_model(17), &path, &BTreeMap::new()).unwrap();
        let old = std::fs::read(&path).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let enforced = std::fs::write(ro.join("probe"), b"x").is_err();
        if enforced {
            let err = save_module(&model, &path, &BTreeMap::new()).unwrap_err();
            assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
            assert_eq!(std::fs::read(&path).unwrap(), old);
            let names: Vec<_> = std::fs::read_dir(&ro)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["m.safetensors"]);
        } else {
            eprintln!("read-only directory not enforced here (root?): that case is skipped");
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// SGD with momentum, just enough to exercise optimiser state in checkpoints.
struct Momentum {
    params: Vec<(String, Param)>,
    buffers: Vec<NdArray>,
    steps: f32,
    lr: f32,
}

impl Momentum {
    fn new(params: Vec<(String, Param)>) -> Self {
        let buffers = params
            .iter()
            .map(|(_, p)| NdArray::zeros(&p.shape()))
            .collect();
        Momentum {
            params,
            buffers,
            steps: 0.0,
            lr: 0.1,
        }
    }
}

impl Optimizer for Momentum {
    fn step(&mut self, _grads: &Gradients) {
        self.steps += 1.0;
    }
    fn step_grads(&mut self, _grads: &[Option<Tensor>]) {
        self.steps += 1.0;
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn state_dict(&self) -> Vec<(String, NdArray)> {
        let mut s = vec![("step".to_string(), NdArray::scalar(self.steps))];
        for ((n, _), b) in self.params.iter().zip(&self.buffers) {
            s.push((format!("{n}.momentum_buffer"), b.clone()));
        }
        s
    }
    fn load_state_dict(&mut self, state: &[(String, NdArray)]) -> Result<(), OptimStateError> {
        let map: HashMap<&str, &NdArray> = state.iter().map(|(n, a)| (n.as_str(), a)).collect();
        let mut expected = vec![("step".to_string(), vec![])];
        expected.extend(
            self.params
                .iter()
                .map(|(n, p)| (format!("{n}.momentum_buffer"), p.shape())),
        );
        for (n, shape) in &expected {
            let a = map
                .get(n.as_str())
                .ok_or(OptimStateError::Missing(n.clone()))?;
            if a.shape() != shape.as_slice() {
                return Err(OptimStateError::ShapeMismatch {
                    name: n.clone(),
                    expected: shape.clone(),
                    found: a.shape().to_vec(),
                });
            }
        }
        if let Some((n, _)) = state
            .iter()
            .find(|(n, _)| !expected.iter().any(|(e, _)| e == n))
        {
            return Err(OptimStateError::Unexpected(n.clone()));
        }
        self.steps = map["step"].item();
        for (i, (n, _)) in self.params.iter().enumerate() {
            self.buffers[i] = map[format!("{n}.momentum_buffer").as_str()].clone();
        }
        Ok(())
    }
}

#[test]
fn checkpoint_holds_modules_optimisers_tensors_and_metadata() {
    let dir = TempDir::new("container");
    let path = dir.path("train.safetensors");
    let g = small_model(20);
    let d = small_model(21);
    train_forwards(&d, 2, 5);
    let mut opt = Momentum::new(g.named_parameters());
    opt.steps = 17.0;
    opt.buffers[0] = NdArray::full(opt.buffers[0].shape(), 0.25);
    let noise = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);

    let mut ck = Checkpoint::new();
    ck.add_module("generator", &g)
        .add_module("discriminator", &d)
        .add_optimizer("opt_g", &opt)
        .add_tensor("fixed_noise", noise.clone())
        .set_metadata("step", "17")
        .set_metadata("format", "ignored: the format marker wins");
    ck.save(&path).unwrap();

    let back = Checkpoint::read(&path).unwrap();
    assert_eq!(back.metadata()["step"], "17");
    assert_eq!(back.metadata()["format"], "agon");
    assert!(back.names().contains(&"generator.0.weight"));
    assert!(back
        .names()
        .contains(&"discriminator.1.num_batches_tracked"));
    assert!(back.names().contains(&"opt_g.0.weight.momentum_buffer"));
    assert_eq!(
        back.dtype("discriminator.1.num_batches_tracked"),
        Some("I64")
    );
    assert_eq!(back.tensor("fixed_noise").unwrap().to_vec(), noise.to_vec());
    assert_eq!(back.shape("fixed_noise"), Some(&[2usize, 3][..]));
    assert!(back.tensor("nope").is_none());

    let (g2, d2) = (small_model(22), small_model(23));
    back.load_module_into("generator", &g2).unwrap();
    back.load_module_into("discriminator", &d2).unwrap();
    assert_eq!(bits(&g2), bits(&g));
    assert_eq!(bits(&d2), bits(&d));
    let mut opt2 = Momentum::new(g2.named_parameters());
    back.load_optimizer_into("opt_g", &mut opt2).unwrap();
    assert_eq!(opt2.steps, 17.0);
    assert_eq!(opt2.buffers[0].to_vec(), opt.buffers[0].to_vec());

    // Strict within a prefix: a module without the last layer finds `generator.4.*` extra.
    let mut rng = StdRng::seed_from_u64(0);
    let partial = Sequential::new()
        .push(Conv2d::new(
            2,
            3,
            3,
            Conv2dParams::new().padding(1),
            true,
            &mut rng,
        ))
        .push(BatchNorm2d::new(3));
    match back.load_module_into("generator", &partial).unwrap_err() {
        CheckpointError::UnexpectedTensors { names, .. } => {
            assert_eq!(names, ["generator.4.bias", "generator.4.weight"])
        }
        other => panic!("{other:?}"),
    }
    // The whole file into one module: everything of the other prefixes is unexpected.
    assert!(matches!(
        back.load_module_into("", &g2),
        Err(CheckpointError::MissingTensors { .. })
    ));

    // Optimiser errors are wrapped with the file and prefix; the optimiser is unchanged.
    let other_model = Sequential::new().push(Linear::new(3, 3, true, &mut rng));
    let mut wrong = Momentum::new(
        other_model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n.replace('0', "4"), p))
            .collect(),
    );
    let err = back.load_optimizer_into("opt_g", &mut wrong).unwrap_err();
    match &err {
        CheckpointError::Optimizer { prefix, source, .. } => {
            assert_eq!(prefix, "opt_g");
            assert!(
                matches!(source, OptimStateError::ShapeMismatch { .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("train.safetensors"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(wrong.steps, 0.0);
}

#[test]
fn unconverted_dtypes_are_kept_byte_for_byte() {
    let dir = TempDir::new("raw-keep");
    let path = dir.path("q.safetensors");
    write_raw(
        &path,
        &[
            (
                "quantised",
                Raw {
                    dtype: Dtype::I8,
                    shape: vec![2, 2],
                    bytes: vec![1, 255, 3, 128],
                },
            ),
            ("scale", f32_raw(&[1], &[0.5])),
        ],
    );
    let ck = Checkpoint::read(&path).unwrap();
    assert_eq!(ck.names(), ["quantised", "scale"]);
    assert_eq!(ck.dtype("quantised"), Some("I8"));
    assert!(ck.tensor("quantised").is_none());
    let again = dir.path("again.safetensors");
    ck.save(&again).unwrap();
    let bytes = std::fs::read(&again).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let q = st.tensor("quantised").unwrap();
    assert_eq!(
        (q.dtype(), q.shape(), q.data()),
        (Dtype::I8, &[2usize, 2][..], &[1u8, 255, 3, 128][..])
    );
}
