//! agon_metrics::{psnr, ssim} against scikit-image on `tests/fixtures/image_quality.safetensors`
//! (written by `scripts/image_quality_fixtures.py`; its docstring lists the cases and the
//! scikit-image settings). Every case in the file is checked and the count must match the
//! file's, so a truncated fixture fails. No Python is needed to run this.

use agon_metrics::{psnr, ssim};
use agon_reference::fixtures;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/image_quality.safetensors"
);

#[test]
fn psnr_and_ssim_match_scikit_image() {
    let fx = fixtures::load(PATH);
    let cases = fx.case_names();
    assert_eq!(
        cases.len(),
        fx.meta("num_cases").unwrap().parse::<usize>().unwrap()
    );
    assert!(cases.len() >= 6, "{cases:?}");
    for name in &cases {
        let range: f32 = fx
            .meta(name)
            .and_then(|m| m.strip_prefix("data_range="))
            .unwrap()
            .parse()
            .unwrap();
        let (out, target) = (
            fx.get(&format!("{name}.output")),
            fx.get(&format!("{name}.target")),
        );
        let (want_p, want_s) = (
            fx.get(&format!("{name}.psnr")).to_vec(),
            fx.get(&format!("{name}.ssim")).to_vec(),
        );
        let (p, s) = (psnr(&out, &target, range), ssim(&out, &target, range));
        assert_eq!((p.len(), s.len()), (want_p.len(), want_s.len()), "{name}");
        for i in 0..p.len() {
            // The references are float64 results stored as f32; ours are f64 from the same
            // f32 pixels: agreement to f32 rounding.
            assert!(
                (p[i] - f64::from(want_p[i])).abs() < 1e-4,
                "{name}[{i}]: psnr {} vs scikit-image {}",
                p[i],
                want_p[i]
            );
            assert!(
                (s[i] - f64::from(want_s[i])).abs() < 1e-6,
                "{name}[{i}]: ssim {} vs scikit-image {}",
                s[i],
                want_s[i]
            );
        }
    }
}
