//! agon-data's image-to-image transforms: resampling against PyTorch
//! (`tests/fixtures/resample.safetensors`, written by `scripts/torch_resample_fixtures.py`),
//! edge maps and hole masks by their defining properties.

use agon_data::{downsample_area, hole_masks, sobel_edges, upsample_bicubic, HoleKind};
use agon_reference::fixtures::{self, assert_close_to_scale};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/resample.safetensors"
);

#[test]
fn area_downsampling_and_bicubic_upsampling_match_pytorch() {
    let fx = fixtures::load(PATH);
    let cases = fx.case_names();
    assert_eq!(
        cases.len(),
        fx.meta("num_cases").unwrap().parse::<usize>().unwrap()
    );
    assert_eq!(cases.len(), 5, "{cases:?}");
    for name in &cases {
        let factor: usize = fx.meta(name).unwrap()["factor=".len()..].parse().unwrap();
        let x = fx.get(&format!("{name}.x"));
        let got = if name.starts_with("area") {
            downsample_area(&x, factor)
        } else {
            upsample_bicubic(&x, factor)
        };
        assert_close_to_scale(name, &got, &fx.get(&format!("{name}.out")), 1e-5);
    }
}

#[test]
fn edges_are_low_on_flat_images_and_high_across_a_step() {
    let flat = sobel_edges(&NdArray::full(&[2, 3, 8, 8], 0.3));
    assert_eq!(flat.shape(), &[2, 1, 8, 8]);
    assert!(flat.to_vec().iter().all(|&v| v == -1.0));
    // A horizontal step from -1 to 1 between rows 3 and 4: edges on those rows only.
    let step: Vec<f32> = (0..64)
        .map(|i| if i / 8 >= 4 { 1.0 } else { -1.0 })
        .collect();
    let e = sobel_edges(&NdArray::from_vec(step, &[1, 1, 8, 8]).unwrap());
    for y in 0..8 {
        let want = if y == 3 || y == 4 { 1.0 } else { -1.0 };
        assert!((0..8).all(|x| e.get(&[0, 0, y, x]) == want), "row {y}");
    }
}

#[test]
fn masks_have_the_promised_holes() {
    let mut rng = StdRng::seed_from_u64(0);
    let (h, w) = (28, 28);
    for kind in [HoleKind::Centre, HoleKind::Rectangle, HoleKind::Strokes] {
        let m = hole_masks(64, h, w, kind, &mut rng);
        assert_eq!(m.shape(), &[64, 1, h, w]);
        let v = m.to_vec();
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.0), "{kind:?}: binary");
        for (i, plane) in v.chunks(h * w).enumerate() {
            let hole = plane.iter().sum::<f32>() as usize;
            // Never nothing, never everything: something to fill and something to see.
            assert!(
                hole > 0 && hole < h * w / 2 + 1,
                "{kind:?} mask {i}: {hole} pixels"
            );
        }
        if kind == HoleKind::Rectangle {
            // Rectangles: each mask's hole is exactly its bounding box.
            for plane in v.chunks(h * w) {
                let on: Vec<(usize, usize)> = (0..h * w)
                    .filter(|&p| plane[p] == 1.0)
                    .map(|p| (p / w, p % w))
                    .collect();
                let (y0, y1) = (
                    on.iter().map(|p| p.0).min().unwrap(),
                    on.iter().map(|p| p.0).max().unwrap(),
                );
                let (x0, x1) = (
                    on.iter().map(|p| p.1).min().unwrap(),
                    on.iter().map(|p| p.1).max().unwrap(),
                );
                assert_eq!(on.len(), (y1 - y0 + 1) * (x1 - x0 + 1));
            }
        }
    }
    // Different draws give different masks; the same seed the same ones.
    let a = hole_masks(4, h, w, HoleKind::Strokes, &mut StdRng::seed_from_u64(5));
    let b = hole_masks(4, h, w, HoleKind::Strokes, &mut StdRng::seed_from_u64(5));
    assert_eq!(a.to_vec(), b.to_vec());
    assert_ne!(a.narrow(0, 0, 1).to_vec(), a.narrow(0, 1, 1).to_vec());
}
