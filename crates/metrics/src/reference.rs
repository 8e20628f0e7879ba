//! The `f64` loop implementations that the Gram-tile scores replaced (test-only), and the
//! tests that hold the new scores to them: 1e-4 relative for KID, the same counts for the
//! k-NN scores, the same bits on any number of threads.

use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::density_coverage::{density_coverage_of, DensityCoverage};
use crate::gram::Centred;
use crate::kid::{kid_of, mmd2_unbiased};
use crate::knn::knn_inputs;
use crate::linalg::{for_each_sq_distance_block, gram, Matrix};
use crate::precision_recall::{precision_recall_of, PrecisionRecall};
use crate::{density_coverage, kid, kid_full, precision_recall, MeanStd};

/// The old kernel sums of the MMD estimate for row sets `x` and `y`.
fn mmd2_f64(x: &Matrix, y: &Matrix) -> f64 {
    let d = x.cols() as f64;
    let kernel = |dot: f64| (dot / d + 1.0).powi(3);
    let off_diagonal_mean = |g: &Matrix| -> f64 {
        let n = g.rows();
        let mut sum = 0.0;
        for i in 0..n {
            for (j, &v) in g.row(i).iter().enumerate() {
                if i != j {
                    sum += kernel(v);
                }
            }
        }
        sum / (n * (n - 1)) as f64
    };
    let kxy = gram(x, y);
    let cross =
        kxy.as_slice().iter().map(|&v| kernel(v)).sum::<f64>() / (x.rows() * y.rows()) as f64;
    off_diagonal_mean(&gram(x, x)) + off_diagonal_mean(&gram(y, y)) - 2.0 * cross
}

fn kid_full_f64(a: &NdArray, b: &NdArray) -> f64 {
    mmd2_f64(&Matrix::from_ndarray(a), &Matrix::from_ndarray(b))
}

fn kid_f64(a: &NdArray, b: &NdArray, subsets: usize, subset_size: usize, seed: u64) -> MeanStd {
    let (x, y) = (Matrix::from_ndarray(a), Matrix::from_ndarray(b));
    let size = subset_size.min(x.rows()).min(y.rows());
    let mut rng = StdRng::seed_from_u64(seed);
    let pick = |m: &Matrix, rng: &mut StdRng| -> Matrix {
        let idx = rand::seq::index::sample(rng, m.rows(), size);
        let mut data = Vec::with_capacity(size * m.cols());
        for i in idx.iter() {
            data.extend_from_slice(m.row(i));
        }
        Matrix::from_vec(size, m.cols(), data)
    };
    let values: Vec<f64> = (0..subsets)
        .map(|_| {
            let xs = pick(&x, &mut rng);
            let ys = pick(&y, &mut rng);
            mmd2_f64(&xs, &ys)
        })
        .collect();
    MeanStd::of(&values)
}

fn kth_nn_sq_radii_f64(x: &Matrix, k: usize) -> Vec<f64> {
    let mut radii = vec![0.0; x.rows()];
    let mut others = Vec::with_capacity(x.rows());
    for_each_sq_distance_block(x, x, |i0, block| {
        for r in 0..block.rows() {
            let i = i0 + r;
            others.clear();
            others.extend(
                block
                    .row(r)
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &d)| d),
            );
            let (_, kth, _) = others.select_nth_unstable_by(k - 1, f64::total_cmp);
            radii[i] = *kth;
        }
    });
    radii
}

fn fraction_inside_f64(queries: &Matrix, centres: &Matrix, radii: &[f64]) -> f64 {
    let mut inside = 0usize;
    for_each_sq_distance_block(queries, centres, |_, block| {
        for r in 0..block.rows() {
            if block.row(r).iter().zip(radii).any(|(d, rad)| d < rad) {
                inside += 1;
            }
        }
    });
    inside as f64 / queries.rows() as f64
}

fn precision_recall_f64(real: &NdArray, fake: &NdArray, k: usize) -> PrecisionRecall {
    let (real, fake) = (Matrix::from_ndarray(real), Matrix::from_ndarray(fake));
    let real_radii = kth_nn_sq_radii_f64(&real, k);
    let fake_radii = kth_nn_sq_radii_f64(&fake, k);
    PrecisionRecall {
        precision: fraction_inside_f64(&fake, &real, &real_radii),
        recall: fraction_inside_f64(&real, &fake, &fake_radii),
    }
}

fn density_coverage_f64(real: &NdArray, fake: &NdArray, k: usize) -> DensityCoverage {
    let (real, fake) = (Matrix::from_ndarray(real), Matrix::from_ndarray(fake));
    let radii = kth_nn_sq_radii_f64(&real, k);
    let mut hits = 0usize;
    for_each_sq_distance_block(&fake, &real, |_, block| {
        for r in 0..block.rows() {
            hits += block
                .row(r)
                .iter()
                .zip(&radii)
                .filter(|(d, rad)| d < rad)
                .count();
        }
    });
    let mut covered = 0usize;
    for_each_sq_distance_block(&real, &fake, |i0, block| {
        for r in 0..block.rows() {
            let nearest_fake = block.row(r).iter().copied().fold(f64::INFINITY, f64::min);
            if nearest_fake < radii[i0 + r] {
                covered += 1;
            }
        }
    });
    DensityCoverage {
        density: hits as f64 / (k * fake.rows()) as f64,
        coverage: covered as f64 / real.rows() as f64,
    }
}

/// `n x d` features: uniform in `[shift, shift + scale)`, or, with `clusters > 0`, within
/// `scale` of one of `clusters` random points of `[0, 1)^d`, the same points for every
/// seed (near neighbours far closer than the points' norms: the comparisons the Gram
/// tiles cannot settle alone).
fn features(n: usize, d: usize, scale: f32, shift: f32, clusters: usize, seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(0);
    let centres: Vec<f32> = (0..clusters * d).map(|_| rng.random()).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = if clusters > 0 {
            rng.random_range(0..clusters)
        } else {
            0
        };
        for k in 0..d {
            let base = centres.get(c * d + k).copied().unwrap_or(0.0);
            data.push(base + shift + scale * rng.random::<f32>());
        }
    }
    NdArray::from_vec(data, &[n, d]).unwrap()
}

/// Tile heights the tests run each score with: the default, and small ones that leave a
/// ragged last tile on every shape below.
const TILES: [Option<usize>; 3] = [None, Some(7), Some(64)];

fn tiler(tile: Option<usize>) -> impl Fn(usize) -> usize + Sync {
    move |m| tile.unwrap_or_else(|| crate::gram::tile_rows(m))
}

fn relative(new: f64, old: f64) -> f64 {
    (new - old).abs() / old.abs()
}

/// (real, fake) pairs: ReLU-like non-negative features with an offset, centred ones of
/// different spread, and tight clusters; shapes that are no multiple of any tile height.
fn pairs() -> Vec<(NdArray, NdArray)> {
    vec![
        (
            features(600, 64, 1.0, 2.0, 0, 1),
            features(550, 64, 1.1, 2.05, 0, 2),
        ),
        (
            features(301, 33, 2.0, -1.0, 0, 3),
            features(257, 33, 1.0, -0.5, 0, 4),
        ),
        (
            features(400, 16, 1e-3, 0.0, 6, 5),
            features(350, 16, 1e-3, 0.0, 6, 6),
        ),
    ]
}

#[test]
fn kid_matches_the_f64_loops_to_1e_4() {
    let mut worst = 0.0f64;
    for (a, b) in pairs() {
        let old_full = kid_full_f64(&a, &b);
        assert_eq!(kid_full(&a, &b), {
            let centre = crate::gram::union_mean(&[&a, &b]);
            let (x, y) = (Centred::new(&a, &centre), Centred::new(&b, &centre));
            mmd2_unbiased(&x, &y, &tiler(None))
        });
        let old = kid_f64(&a, &b, 4, 200, 9);
        let centre = crate::gram::union_mean(&[&a, &b]);
        let (x, y) = (Centred::new(&a, &centre), Centred::new(&b, &centre));
        for tile in TILES {
            let full = mmd2_unbiased(&x, &y, &tiler(tile));
            let sub = kid_of(&x, &y, 4, 200, 9, &tiler(tile));
            let diffs = [
                relative(full, old_full),
                relative(sub.mean, old.mean),
                relative(sub.std, old.std),
            ];
            worst = diffs.iter().copied().fold(worst, f64::max);
            assert!(
                diffs.iter().all(|&r| r < 1e-4),
                "tile {tile:?}: kid_full {full} vs {old_full}, kid {sub:?} vs {old:?}"
            );
        }
    }
    eprintln!("kid: largest relative difference to the f64 loops {worst:.2e}");
}

#[test]
fn knn_scores_match_the_f64_loops_exactly() {
    for (real, fake) in pairs() {
        for k in [1, 3, 5] {
            let old_pr = precision_recall_f64(&real, &fake, k);
            let old_dc = density_coverage_f64(&real, &fake, k);
            assert_eq!(precision_recall(&real, &fake, k), old_pr);
            assert_eq!(density_coverage(&real, &fake, k), old_dc);
            let (x, y) = knn_inputs("test", &real, &fake, k);
            for tile in TILES {
                assert_eq!(
                    precision_recall_of(&x, &y, k, tiler(tile)),
                    old_pr,
                    "{tile:?}"
                );
                assert_eq!(
                    density_coverage_of(&x, &y, k, tiler(tile)),
                    old_dc,
                    "{tile:?}"
                );
            }
        }
    }
}

#[test]
fn radii_are_the_exact_kth_neighbour_distances() {
    for (real, fake) in pairs() {
        let (x, _) = knn_inputs("test", &real, &fake, 3);
        let old = kth_nn_sq_radii_f64(&Matrix::from_ndarray(&real), 3);
        for tile in [7, 64, 1024] {
            let new = crate::knn::kth_nn_sq_radii(&x, 3, tile);
            for (n, o) in new.iter().zip(&old) {
                // The old expansion's own f64 rounding is about 1e-16 of the squared norms.
                assert!(relative(*n, *o) < 1e-8, "tile {tile}: {n} vs {o}");
            }
        }
    }
}

#[test]
fn tile_distances_stay_within_their_error_bound() {
    for (real, fake) in pairs() {
        let (x, y) = knn_inputs("test", &real, &fake, 3);
        let t = x.sq_distance_bound();
        let worst = crate::gram::map_tiles(&x, &y, 64, false, |tile| {
            let mut worst = 0.0f64;
            for r in 0..tile.rows() {
                let i = tile.i0 + r;
                for (j, &g) in tile.row(r).iter().enumerate() {
                    let s = x.sq_norms()[i] + y.sq_norms()[j];
                    let approx = (s - 2.0 * f64::from(g)).max(0.0);
                    let exact = x.exact_sq_distance(i, &y, j);
                    worst = worst.max((approx - exact).abs() / (t * s));
                }
            }
            worst
        });
        let worst = worst.into_iter().fold(0.0, f64::max);
        assert!(worst <= 1.0, "an error reached {worst} of its bound");
    }
}

#[test]
fn scores_are_the_same_bits_on_1_and_3_threads() {
    let (real, fake) = pairs().swap_remove(0);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (
                kid_full(&real, &fake).to_bits(),
                kid(&real, &fake, 6, 100, 3),
                precision_recall(&real, &fake, 3),
                density_coverage(&real, &fake, 5),
            )
        })
    };
    assert_eq!(run(1), run(3));
}
