//! agon-gan's dcgan28 models against PyTorch, both directions.
//!
//! PyTorch -> Agon: `tests/fixtures/dcgan28_{g,d,io}.safetensors` are written by
//! `scripts/torch_dcgan28.py` (its docstring has the command, the torch version and the
//! file contents): PyTorch's state dicts for the generator and discriminator, fixed inputs,
//! and PyTorch's outputs. The state dicts are loaded into Agon's models by name with
//! `agon_nn::checkpoint::load_module` (strict), and Agon must reproduce every output within
//! 1e-4 of the output's largest magnitude: G in eval mode, G in train mode (batch
//! statistics) together with the running statistics after that forward, and D in eval mode.
//! D in train mode cannot be compared elementwise (each framework draws its own dropout
//! masks), so it is only checked for shape and for actually dropping.
//!
//! Agon -> PyTorch: [`agon_generator_for_pytorch`] saves a seeded Agon generator and its
//! outputs to `<target>/agon-interop/` and prints the command that checks them with
//! PyTorch (`scripts/torch_dcgan28.py --check-agon DIR`). No PyTorch is needed to run
//! these tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agon::autodiff::Tensor;
use agon::nn::checkpoint::{load_module, save_module, Checkpoint};
use agon::nn::Module;
use agon::tensor::NdArray;
use agon_gan::{Dcgan28Discriminator, Dcgan28Generator};
use agon_reference::fixtures::assert_close_to_scale;
use rand::rngs::StdRng;
use rand::SeedableRng;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// Largest allowed `max |agon - torch| / max |torch|`.
const TOL: f32 = 1e-4;
/// The BatchNorm layers of the generator.
const BN_LAYERS: [&str; 3] = ["main.1", "main.5", "main.8"];

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Loads a PyTorch state dict into `module` (strict: same names, same shapes).
#[track_caller]
fn load(module: &dyn Module, path: &Path) {
    load_module(module, path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
}

/// `max |got - want| / max |want|` within [`TOL`].
#[track_caller]
fn assert_close(label: &str, got: &NdArray, want: &NdArray) {
    assert_close_to_scale(label, got, want, TOL);
}

/// The inputs and PyTorch outputs (counters converted to f32).
fn io() -> BTreeMap<String, NdArray> {
    let path = fixture("dcgan28_io.safetensors");
    let ck = Checkpoint::read(&path).unwrap_or_else(|e| panic!("{e}"));
    ck.names()
        .into_iter()
        .map(|n| {
            let t = ck
                .tensor(n)
                .unwrap_or_else(|| panic!("{}: {n}", path.display()));
            (n.to_string(), t.clone())
        })
        .collect()
}

fn constant(io: &BTreeMap<String, NdArray>, name: &str) -> Tensor {
    Tensor::constant(io[name].clone())
}

#[test]
fn pytorch_generator_eval_and_train_match() {
    let io = io();
    let g = Dcgan28Generator::new(&mut StdRng::seed_from_u64(0));
    load(&g, &fixture("dcgan28_g.safetensors"));
    assert_eq!(g.named_buffers()[2].1.data().item(), 5.0, "fixture count");
    let z = constant(&io, "z");

    g.eval();
    assert_close("G eval", g.forward(&z).data(), &io["g_eval"]);

    g.train();
    assert_close("G train", g.forward(&z).data(), &io["g_train"]);
    let buffers = g.named_buffers();
    assert_eq!(buffers.len(), 3 * BN_LAYERS.len());
    for (name, b) in buffers {
        assert_close(
            &format!("{name} after one train forward"),
            &b.data(),
            &io[&format!("g_train.{name}")],
        );
    }
    assert_eq!(
        g.named_buffers()[2].1.data().item(),
        6.0,
        "num_batches_tracked"
    );
}

#[test]
fn pytorch_discriminator_eval_matches() {
    let io = io();
    let d = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(0), 0);
    load(&d, &fixture("dcgan28_d.safetensors"));
    let x = constant(&io, "x");
    d.eval();
    let eval = d.forward(&x).data().clone();
    assert_close("D eval", &eval, &io["d_eval"]);

    // Train mode: masks differ from PyTorch's, so only check that dropout is on.
    d.train();
    let train = d.forward(&x).data().clone();
    assert_eq!(train.shape(), &[8, 1]);
    assert!(train.to_vec().iter().all(|v| v.is_finite()));
    assert_ne!(train.to_vec(), eval.to_vec(), "dropout had no effect");
}

/// Agon -> PyTorch: a seeded Agon generator, warmed by one train forward so its BatchNorm
/// buffers are not the defaults, is saved with its eval and train outputs on the fixture's
/// `z`; `scripts/torch_dcgan28.py --check-agon DIR` reloads it in PyTorch and compares.
/// Here the saved file is also read back into a differently seeded Agon generator, which
/// must then compute the same outputs bit for bit.
#[test]
fn agon_generator_for_pytorch() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .join("agon-interop");
    std::fs::create_dir_all(&dir).unwrap();
    let io = io();
    let z = constant(&io, "z");

    let mut rng = StdRng::seed_from_u64(28);
    let g = Dcgan28Generator::new(&mut rng);
    let warm = NdArray::rand_normal(&[16, 100], 0.0, 1.0, &mut rng);
    let _ = g.forward(&Tensor::constant(warm));
    let g_path = dir.join("g.safetensors");
    let meta = BTreeMap::from([("model".to_string(), "dcgan28 generator".to_string())]);
    save_module(&g, &g_path, &meta).unwrap();

    g.eval();
    let eval = g.forward(&z).data().clone();
    g.train();
    let train = g.forward(&z).data().clone();
    let mut outputs = Checkpoint::new();
    outputs
        .add_tensor("z", io["z"].clone())
        .add_tensor("g_eval", eval.clone())
        .add_tensor("g_train", train.clone());
    for (name, b) in g.named_buffers() {
        // Counters go in as exact small floats; the script compares them as integers.
        outputs.add_tensor(&format!("g_train.{name}"), b.data());
    }
    outputs.save(dir.join("outputs.safetensors")).unwrap();

    let again = Dcgan28Generator::new(&mut StdRng::seed_from_u64(1));
    load(&again, &g_path);
    again.eval();
    assert_eq!(again.forward(&z).data().to_vec(), eval.to_vec());
    again.train();
    assert_eq!(again.forward(&z).data().to_vec(), train.to_vec());

    println!(
        "Agon's dcgan28 generator and outputs are in {0}; check them with PyTorch:\n  \
         python scripts/torch_dcgan28.py --check-agon {0}",
        dir.display()
    );
}
