//! agon-gan's image-to-image networks (pix2pix's U-Net generator and PatchGAN
//! discriminator, CycleGAN's ResNet generator) against PyTorch.
//!
//! `tests/fixtures/pix2pix_nets.safetensors` is written by `scripts/torch_pix2pix_nets.py`
//! (its docstring has the command, the torch version and the layout): PyTorch's state dicts
//! under `unet.`, `patch.` and `resnet.`, a fixed input and output-gradient weighting for each, and
//! PyTorch's outputs, input gradients, parameter gradients and (for the U-Net) running
//! statistics after the forward. The state dicts load into Agon's models by name (strict),
//! and every result must agree within 1e-4 of its largest magnitude, in training mode
//! (batch statistics). No PyTorch is needed to run this.

use agon::autodiff::{grad, Tensor};
use agon::gan::models::{ImageNorm, PatchDiscriminator, ResnetGenerator, UnetGenerator};
use agon::nn::checkpoint::Checkpoint;
use agon::nn::Module;
use agon::tensor::NdArray;
use agon_reference::fixtures::assert_close_to_scale;
use rand::rngs::StdRng;
use rand::SeedableRng;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pix2pix_nets.safetensors"
);
const TOL: f32 = 1e-4;

/// The largest magnitude in `a`.
fn max_abs(a: &NdArray) -> f32 {
    a.to_vec().iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Loads `net`'s weights from the fixture's `name.` tensors, then checks its output, input
/// gradient and every parameter gradient of `(out * G).sum()` against PyTorch's.
///
/// The biases of convolutions feeding an instance norm (`zero_grad`) have a gradient that
/// is exactly zero in exact arithmetic (the norm subtracts each plane's mean, and a bias is
/// constant over the plane): both frameworks leave rounding noise there, which cannot be
/// compared elementwise, so for those Agon's gradient must be noise-sized, below 1e-4 of
/// the largest parameter gradient.
fn check(net: &dyn Module, name: &str, zero_grad: &[&str]) -> Checkpoint {
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
    let largest = params
        .iter()
        .map(|(p, _)| max_abs(&get(&format!("grad.{p}"))))
        .fold(0.0f32, f32::max);
    for ((pname, _), g) in params.iter().zip(&grads[1..]) {
        let g = g
            .as_ref()
            .unwrap_or_else(|| panic!("{name}.{pname}: no gradient"));
        if zero_grad.contains(&pname.as_str()) {
            let (ours, theirs) = (max_abs(g.data()), max_abs(&get(&format!("grad.{pname}"))));
            assert!(
                ours <= 1e-4 * largest && theirs <= 1e-4 * largest,
                "{name} {pname}: gradient should vanish: agon {ours:e}, PyTorch {theirs:e}, \
                 largest {largest:e}"
            );
            continue;
        }
        assert_close_to_scale(
            &format!("{name} grad {pname}"),
            g.data(),
            &get(&format!("grad.{pname}")),
            TOL,
        );
    }
    ck
}

#[test]
fn unet_generator_matches_pytorch_outputs_gradients_and_running_statistics() {
    let mut rng = StdRng::seed_from_u64(0);
    let g = UnetGenerator::new(1, 1, 4, 5, ImageNorm::Batch, None, &mut rng);
    let ck = check(&g, "unet", &[]);
    let mut after = 0;
    for (name, buf) in g.named_buffers() {
        if let Some(want) = ck.tensor(&format!("after.unet.{name}")) {
            assert_close_to_scale(&format!("unet {name} after"), &buf.data(), want, TOL);
            after += 1;
        }
    }
    // Eight BatchNorms (two per middle level, one in the innermost), mean and variance.
    assert_eq!(after, 14, "running statistics compared");
}

#[test]
fn patch_discriminator_matches_pytorch_outputs_and_gradients() {
    let mut rng = StdRng::seed_from_u64(0);
    let d = PatchDiscriminator::new(2, 4, 3, ImageNorm::Batch, &mut rng);
    check(&d, "patch", &[]);
}

#[test]
fn resnet_generator_with_instance_norm_matches_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let g = ResnetGenerator::new(1, 1, 4, 2, ImageNorm::Instance, None, &mut rng);
    let zero = [
        "model.1.bias",
        "model.4.bias",
        "model.7.bias",
        "model.10.conv_block.1.bias",
        "model.10.conv_block.5.bias",
        "model.11.conv_block.1.bias",
        "model.11.conv_block.5.bias",
        "model.12.bias",
        "model.15.bias",
    ];
    check(&g, "resnet", &zero);
}

#[test]
fn instance_norm_variants_build_with_biased_convolutions_and_no_buffers() {
    let mut rng = StdRng::seed_from_u64(0);
    let g = UnetGenerator::new(3, 3, 4, 3, ImageNorm::Instance, Some(7), &mut rng);
    let d = PatchDiscriminator::new(6, 4, 2, ImageNorm::Instance, &mut rng);
    assert!(
        g.named_buffers().is_empty()
            && d.named_buffers().iter().all(|(n, _)| n.contains("dropout"))
    );
    assert!(g
        .named_parameters()
        .iter()
        .any(|(n, _)| n == "model.model.1.model.1.bias"));
    let y = g.forward(&Tensor::constant(NdArray::zeros(&[1, 3, 16, 16])));
    assert_eq!(y.shape(), &[1, 3, 16, 16]);
}
