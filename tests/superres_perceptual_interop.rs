//! agon-gan's super-resolution generator (SRResNet with PixelShuffle upsampling and a
//! bicubic skip) and the image-to-image tasks' feature ("perceptual") loss through
//! agon-metrics' classifier, against PyTorch.
//!
//! `tests/fixtures/superres_perceptual.safetensors` is written by
//! `scripts/torch_superres_perceptual.py` (its docstring has the command, the torch version
//! and the layout): PyTorch's state dicts under `sr2.`, `sr4.` (x2 and x4 generators),
//! `lenet.` and `lenet_rgb.` (the shipped 28x28 classifier and a 3x36x36 one with the extra
//! convolution block), fixed inputs and output-gradient weightings, and PyTorch's outputs,
//! input and parameter gradients, running statistics after the forward, and the loss with
//! its gradient w.r.t. the generated batch. The state dicts load into Agon's models by name
//! (strict), and every result must agree within 1e-4 of its largest magnitude, the
//! generators in training mode (batch statistics). No PyTorch is needed to run this.

use agon::autodiff::{grad, Tensor};
use agon::gan::loss::perceptual_loss;
use agon::gan::models::SrResnetGenerator;
use agon::metrics::Classifier;
use agon::nn::checkpoint::Checkpoint;
use agon::nn::Module;
use agon_reference::fixtures::assert_close_to_scale;
use rand::rngs::StdRng;
use rand::SeedableRng;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/superres_perceptual.safetensors"
);
const TOL: f32 = 1e-4;

/// Loads `net`'s weights from the fixture's `name.` tensors, then checks its output, input
/// gradient, every parameter gradient of `(out * G).sum()` and the running statistics after
/// the forward against PyTorch's.
fn check_generator(net: &SrResnetGenerator, name: &str, running_stats: usize) {
    let ck = Checkpoint::read(PATH).unwrap();
    ck.load_module_into(name, net)
        .unwrap_or_else(|e| panic!("loading PyTorch's {name} state dict: {e}"));
    let get = |k: &str| ck.tensor(&format!("io.{name}.{k}")).unwrap().clone();
    let x = Tensor::param(get("x"));
    let out = net.forward(&x);
    assert_close_to_scale(&format!("{name} out"), out.data(), &get("out"), TOL);
    let loss = out.mul(&Tensor::constant(get("grad_out"))).sum_all();
    let params = net.named_parameters();
    let mut wrt: Vec<Tensor> = vec![x];
    wrt.extend(params.iter().map(|(_, p)| p.tensor()));
    let refs: Vec<&Tensor> = wrt.iter().collect();
    let grads = grad(&[&loss], &refs, None, false);
    assert_close_to_scale(
        &format!("{name} dx"),
        grads[0].as_ref().unwrap().data(),
        &get("dx"),
        TOL,
    );
    let grad_prefix = format!("io.{name}.grad.");
    let torch_grads = ck
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&grad_prefix))
        .count();
    assert_eq!(torch_grads, params.len(), "{name}: parameter count");
    for ((pname, _), g) in params.iter().zip(&grads[1..]) {
        let g = g
            .as_ref()
            .unwrap_or_else(|| panic!("{name}.{pname}: no gradient"));
        assert_close_to_scale(
            &format!("{name} grad {pname}"),
            g.data(),
            &get(&format!("grad.{pname}")),
            TOL,
        );
    }
    let mut after = 0;
    for (bname, buf) in net.named_buffers() {
        if let Some(want) = ck.tensor(&format!("after.{name}.{bname}")) {
            assert_close_to_scale(&format!("{name} {bname} after"), &buf.data(), want, TOL);
            after += 1;
        }
    }
    assert_eq!(after, running_stats, "{name}: running statistics compared");
}

#[test]
fn superres_generator_x2_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let g = SrResnetGenerator::new(1, 4, 1, 2, &mut rng);
    // One block, two BatchNorms, mean and variance.
    check_generator(&g, "sr2", 4);
}

#[test]
fn superres_generator_x4_rgb_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let g = SrResnetGenerator::new(3, 4, 2, 4, &mut rng);
    assert!(g
        .named_parameters()
        .iter()
        .any(|(n, _)| n == "upsample.3.weight"));
    check_generator(&g, "sr4", 8);
}

/// Loads PyTorch's classifier `name` and checks its features of the generated batch, the
/// perceptual loss and its gradient w.r.t. the generated batch; the real batch gets none.
fn check_perceptual(name: &str, shape: [usize; 3], classes: usize) {
    let ck = Checkpoint::read(PATH).unwrap();
    let phi = Classifier::for_shape(shape, classes, 1);
    ck.load_module_into(name, &phi)
        .unwrap_or_else(|e| panic!("loading PyTorch's {name} state dict: {e}"));
    phi.eval();
    let get = |k: &str| {
        ck.tensor(&format!("perceptual.{name}.{k}"))
            .unwrap()
            .clone()
    };
    let fake = Tensor::param(get("fake"));
    let target = Tensor::param(get("target"));
    assert_close_to_scale(
        &format!("{name} features"),
        phi.features(&fake).data(),
        &get("features"),
        TOL,
    );
    let loss = perceptual_loss(&phi, &fake, &target);
    assert_eq!(loss.shape(), &[] as &[usize]);
    assert_close_to_scale(
        &format!("{name} loss"),
        &loss.data().reshape(&[1]),
        &get("loss"),
        TOL,
    );
    let grads = grad(&[&loss], &[&fake, &target], None, false);
    assert_close_to_scale(
        &format!("{name} dfake"),
        grads[0].as_ref().expect("a gradient for fake").data(),
        &get("dfake"),
        TOL,
    );
    assert!(
        grads[1].is_none(),
        "{name}: the real batch must get no gradient"
    );
}

#[test]
fn perceptual_loss_through_the_shipped_classifier_matches_pytorch() {
    check_perceptual("lenet", [1, 28, 28], 10);
}

#[test]
fn perceptual_loss_through_a_deeper_rgb_classifier_matches_pytorch() {
    check_perceptual("lenet_rgb", [3, 36, 36], 4);
}
