//! agon-metrics: scores against NumPy/SciPy, and the properties that make them meaningful.
//!
//! Against NumPy/SciPy: `tests/fixtures/metrics.safetensors`, written by
//! `scripts/metrics_fixtures.py` (see its docstring for the command, versions, cases and
//! tensor names), holds feature matrices and the reference Fréchet distance (SciPy
//! `sqrtm`), KID on all samples, precision/recall (k = 3), density/coverage (k = 5) and the
//! Inception-style score. Each must agree to 1e-3 relative; every tensor is read.
//!
//! Properties: FD(A, A) = 0, symmetry, the closed form for shifts; `sqrtm(M)^2 = M` and
//! `V diag(l) V^T = M` for random SPD and singular PSD matrices (proptest); KID's subset
//! average equals `kid_full` when a subset is the whole set; mode counting on exact mixture
//! samples, one-mode samples and far-off samples; the classifier's training reduces its
//! loss on a tiny subset, and save/load round-trips.

use std::collections::{BTreeMap, BTreeSet};

use agon_autodiff::Tensor;
use agon_data::{fashion_mnist, shipped_fashion_mnist_dir, Dataset, Mixture};
use agon_metrics::linalg::{mean_cov, sqrtm_psd, symmetric_eigen, Matrix};
use agon_metrics::{
    accuracy, accuracy_at, average_precision, count_modes, density_coverage, frechet_distance,
    frechet_distance_features, inception_score, kid, kid_full, mean_loss, memorisation,
    nearest_neighbours, precision_recall, roc_auc, train_classifier_with, Classifier,
    ClassifierTrainConfig, FeatureStats, DC_K, PR_K,
};
use agon_reference::fixtures;
use agon_tensor::NdArray;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/metrics.safetensors"
);
const RTOL: f64 = 1e-3;

/// Squared distances from row `i` of `a` to every row of `b`, in f64 loops.
fn brute_sq_distances(a: &NdArray, i: usize, b: &NdArray) -> Vec<f64> {
    let d = a.shape()[1];
    let (av, bv) = (a.to_vec(), b.to_vec());
    (0..b.shape()[0])
        .map(|j| {
            (0..d)
                .map(|c| (f64::from(av[i * d + c]) - f64::from(bv[j * d + c])).powi(2))
                .sum()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// The tiled search returns exactly the f64 brute-force neighbours (ties by index),
    /// including leave-one-out queries and sets with a large common offset (ReLU-like
    /// features) and duplicated rows.
    #[test]
    fn nearest_neighbours_match_brute_force(
        n in 2usize..300, m in 1usize..40, d in 1usize..70, k in 1usize..6,
        offset in 0.0f32..50.0, seed in 0u64..1000, leave_one_out: bool,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut base = NdArray::rand_normal(&[n, d], offset, 1.0, &mut rng).to_vec();
        // A few exact duplicates, so ties occur.
        for r in (0..n).step_by(7).skip(1) {
            let (src, dst) = (r - 1, r);
            for c in 0..d { base[dst * d + c] = base[src * d + c]; }
        }
        let base = NdArray::from_vec(base, &[n, d]).unwrap();
        let skip: Vec<usize> = (0..m).map(|i| (i * 13) % n).collect();
        let queries = if leave_one_out {
            let rows: Vec<NdArray> = skip.iter().map(|&r| base.narrow(0, r, 1)).collect();
            NdArray::concat(&rows.iter().collect::<Vec<_>>(), 0)
        } else {
            NdArray::rand_normal(&[m, d], offset, 1.2, &mut rng)
        };
        let k = k.min(n - usize::from(leave_one_out));
        let got = nearest_neighbours(&queries, &base, k, leave_one_out.then_some(&skip[..]));
        for i in 0..m {
            let mut want: Vec<(f64, usize)> = brute_sq_distances(&queries, i, &base)
                .into_iter().enumerate().map(|(j, v)| (v, j))
                .filter(|&(_, j)| !leave_one_out || j != skip[i]).collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let got: Vec<(f64, usize)> = got[i].iter().map(|nb| (nb.sq_distance, nb.index)).collect();
            prop_assert_eq!(&got[..], &want[..k]);
        }
    }
}

/// The memorisation figure against an independent computation: nearest distances by brute
/// force, the median and the share counted directly.
#[test]
fn memorisation_matches_a_direct_count() {
    let mut rng = StdRng::seed_from_u64(9);
    let train = NdArray::rand_normal(&[120, 6], 0.0, 1.0, &mut rng);
    // Half the samples are noisy copies of training rows, half fresh draws.
    let mut samples = NdArray::rand_normal(&[40, 6], 0.0, 1.0, &mut rng).to_vec();
    let tv = train.to_vec();
    for i in 0..20 {
        for c in 0..6 {
            samples[i * 6 + c] = tv[(i * 5) * 6 + c] + 0.01 * samples[i * 6 + c];
        }
    }
    let samples = NdArray::from_vec(samples, &[40, 6]).unwrap();
    let m = memorisation(&samples, &train, 60);
    let rows: Vec<usize> = (0..60).map(|i| i * 2).collect();
    let mut real: Vec<f64> = rows
        .iter()
        .map(|&r| {
            brute_sq_distances(&train, r, &train)
                .into_iter()
                .enumerate()
                .filter(|&(j, _)| j != r)
                .map(|(_, v)| v.sqrt())
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    real.sort_by(f64::total_cmp);
    let median = 0.5 * (real[29] + real[30]);
    let nearest: Vec<f64> = (0..40)
        .map(|i| {
            brute_sq_distances(&samples, i, &train)
                .into_iter()
                .map(f64::sqrt)
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let share = nearest.iter().filter(|&&v| v < median).count() as f64 / 40.0;
    assert!(
        (m.threshold - median).abs() < 1e-9,
        "{} vs {median}",
        m.threshold
    );
    assert_eq!(m.share_closer, share);
    assert_eq!((m.samples, m.reference_rows), (40, 60));
    // The copies are all closer than typical real pairs; the fresh draws mostly are not.
    assert!((0.5..0.9).contains(&share), "share {share}");
}

/// ROC-AUC, average precision and accuracy at 0.5 against scikit-learn
/// (`scripts/detection_fixtures.py`, `tests/fixtures/detection.safetensors`): ties,
/// a skewed class balance, perfect and inverted rankings. The references are stored as
/// f32, so they agree to f32 rounding.
#[test]
fn detection_scores_match_scikit_learn() {
    let fx = fixtures::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/detection.safetensors"
    ));
    let cases = fx.cases();
    assert_eq!(cases.len(), 5);
    assert_eq!(
        fx.meta("cases").unwrap().split(',').count(),
        cases.len(),
        "metadata and tensor names disagree"
    );
    for case in cases {
        let get = |role: &str| fx.get(&format!("{}.{role}", case.name)).to_vec();
        let scores: Vec<f64> = get("scores").iter().map(|&v| f64::from(v)).collect();
        let is_fake: Vec<bool> = get("is_fake").iter().map(|&v| v == 1.0).collect();
        assert_eq!(scores.len(), case.usize("n"));
        for (what, got, want) in [
            ("roc_auc", roc_auc(&scores, &is_fake), get("auc")[0]),
            (
                "average_precision",
                average_precision(&scores, &is_fake),
                get("ap")[0],
            ),
            (
                "accuracy",
                accuracy_at(&scores, &is_fake, 0.5),
                get("acc")[0],
            ),
        ] {
            assert!(
                (got - f64::from(want)).abs() <= 1e-6,
                "{}: {what} {got} vs scikit-learn {want}",
                case.name
            );
        }
    }
}

#[test]
fn scores_match_numpy_and_scipy() {
    let fx = fixtures::load(PATH);
    let cases: Vec<String> = fx
        .meta("cases")
        .expect("metadata 'cases'")
        .split(',')
        .map(String::from)
        .collect();
    assert_eq!(cases, fx.case_names(), "metadata and tensor names disagree");
    assert_eq!(fx.meta("num_cases"), Some(cases.len().to_string().as_str()));
    let mut used = BTreeSet::new();
    let mut failures = Vec::new();
    for case in fx.cases() {
        let get = |role: &str, used: &mut BTreeSet<String>| {
            let name = format!("{}.{role}", case.name);
            used.insert(name.clone());
            fx.get(&name)
        };
        let (a, b) = (get("a", &mut used), get("b", &mut used));
        assert_eq!(a.shape(), &[case.usize("n_a"), case.usize("d")]);
        assert_eq!(b.shape(), &[case.usize("n_b"), case.usize("d")]);
        assert_eq!((case.usize("pr_k"), case.usize("dc_k")), (PR_K, DC_K));
        let pr = precision_recall(&a, &b, PR_K);
        let dc = density_coverage(&a, &b, DC_K);
        let probs = get("probs", &mut used);
        let got = [
            ("fd", frechet_distance_features(&a, &b)),
            ("kid_full", kid_full(&a, &b)),
            ("precision", pr.precision),
            ("recall", pr.recall),
            ("density", dc.density),
            ("coverage", dc.coverage),
            ("is", inception_score(&probs, 1).mean),
        ];
        for (role, value) in got {
            let want = f64::from(get(role, &mut used).item());
            let rel = (value - want).abs() / want.abs();
            eprintln!(
                "{:28} agon {value:>14.8} numpy {want:>14.8} rel {rel:.1e}",
                format!("{}.{role}", case.name)
            );
            if rel.is_nan() || rel > RTOL {
                failures.push(format!(
                    "{}.{role}: agon {value} vs numpy {want} (relative {rel:.2e})",
                    case.name
                ));
            }
        }
    }
    let unread: Vec<&str> = fx.names().filter(|n| !used.contains(*n)).collect();
    assert!(
        failures.is_empty() && unread.is_empty(),
        "mismatches:\n  {}\nunread fixture tensors: {unread:?}",
        failures.join("\n  ")
    );
}

/// `[n, d]` features: standard normals mixed by a random matrix, scaled and shifted.
fn features(n: usize, d: usize, scale: f32, shift: f32, seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(seed);
    let mix = NdArray::rand_normal(&[d, d], 0.0, 1.0, &mut rng);
    let z = NdArray::rand_normal(&[n, d], 0.0, 1.0, &mut rng);
    z.matmul(&mix)
        .map(move |v| v * scale / (d as f32).sqrt() + shift)
}

#[test]
fn frechet_distance_is_zero_on_itself_symmetric_and_exact_for_shifts() {
    let a = features(300, 24, 1.0, 0.5, 1);
    let b = features(250, 24, 1.5, -0.2, 2);
    let stats = FeatureStats::new(&a);
    let scale = stats.cov.trace();
    assert!(frechet_distance_features(&a, &a).abs() < 1e-10 * scale);
    let (ab, ba) = (
        frechet_distance_features(&a, &b),
        frechet_distance_features(&b, &a),
    );
    assert!(ab > 0.1, "distinct sets, FD {ab}");
    assert!(
        (ab - ba).abs() < 1e-9 * ab,
        "FD(a, b) {ab} != FD(b, a) {ba}"
    );
    // Shifting every sample by c changes only the mean: FD = |c|^2 (c = 0.25 per axis).
    let shifted = a.map(|v| v + 0.25);
    let fd = frechet_distance_features(&a, &shifted);
    assert!((fd - 24.0 * 0.0625).abs() < 1e-4, "shift FD {fd}");
    // Diagonal covariances: sum_i (sqrt(a_i) - sqrt(b_i))^2 + |mu1 - mu2|^2.
    let c1 = Matrix::from_fn(3, 3, |i, j| if i == j { [1.0, 4.0, 9.0][i] } else { 0.0 });
    let c2 = Matrix::from_fn(3, 3, |i, j| if i == j { [4.0, 4.0, 1.0][i] } else { 0.0 });
    let fd = frechet_distance(&[0.0, 1.0, 0.0], &c1, &[0.0, 0.0, 2.0], &c2);
    assert!((fd - (1.0 + 0.0 + 4.0 + 1.0 + 4.0)).abs() < 1e-12, "{fd}");
}

#[test]
fn frechet_distance_handles_singular_covariances() {
    // 10 samples in 32 dimensions: rank-9 covariances, where sqrtm(C1 C2) is ill-posed.
    let a = features(10, 32, 1.0, 0.0, 3);
    let b = features(12, 32, 1.0, 0.3, 4);
    let fd = frechet_distance_features(&a, &b);
    assert!(fd.is_finite() && fd > 0.0, "{fd}");
    let self_fd = frechet_distance_features(&a, &a);
    let trace = FeatureStats::new(&a).cov.trace();
    eprintln!("FD(a, a) = {self_fd:e}, tr(C) = {trace}, FD(a, b) = {fd}");
    assert!(self_fd.abs() < 1e-9 * trace, "{self_fd}");
}

/// A random symmetric PSD matrix `G G^T / k` of size `n` and rank `min(n, k)`.
fn random_psd(n: usize, k: usize, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = Matrix::from_fn(n, k, |_, _| rng.random_range(-1.0..1.0));
    let gt = g.t();
    let m = g.matmul(&gt);
    Matrix::from_fn(n, n, |i, j| m.get(i, j) / k as f64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sqrtm_squares_back_and_eigen_reconstructs(n in 1usize..24, extra in 0usize..8, seed in any::<u64>()) {
        let m = random_psd(n, n + extra, seed); // SPD
        let scale = m.as_slice().iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let r = sqrtm_psd(&m);
        prop_assert!(r.matmul(&r).max_abs_diff(&m) < 1e-10 * scale);
        prop_assert!(r.max_abs_diff(&r.t()) == 0.0, "sqrtm is symmetric");
        let e = symmetric_eigen(&m);
        let v = &e.vectors;
        prop_assert!(v.t().matmul(v).max_abs_diff(&Matrix::identity(n)) < 1e-12);
        let back = Matrix::from_fn(n, n, |i, j| (0..n).map(|k| v.get(i, k) * e.values[k] * v.get(j, k)).sum());
        prop_assert!(back.max_abs_diff(&m) < 1e-11 * scale);
        prop_assert!(e.values.windows(2).all(|w| w[0] <= w[1]), "ascending");
        prop_assert!(e.values[0] > 0.0, "SPD");
    }

    #[test]
    fn sqrtm_of_singular_psd_squares_back(n in 2usize..20, seed in any::<u64>()) {
        let m = random_psd(n, n / 2, seed); // rank n / 2
        let scale = m.as_slice().iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let r = sqrtm_psd(&m);
        prop_assert!(r.matmul(&r).max_abs_diff(&m) < 1e-7 * scale);
    }
}

#[test]
fn eigen_of_special_matrices() {
    let z = symmetric_eigen(&Matrix::zeros(4, 4));
    assert_eq!(z.values, [0.0; 4]);
    let i = symmetric_eigen(&Matrix::identity(5));
    assert_eq!(i.values, [1.0; 5]);
    // Repeated eigenvalues: all-ones 6x6 has eigenvalues {0 (x5), 6}.
    let ones = symmetric_eigen(&Matrix::from_fn(6, 6, |_, _| 1.0));
    assert!(ones.values[..5].iter().all(|v| v.abs() < 1e-12));
    assert!((ones.values[5] - 6.0).abs() < 1e-12);
    // The feature width of the classifier, from a real covariance.
    let (_, cov) = mean_cov(&features(400, 128, 1.0, 0.0, 9));
    let r = sqrtm_psd(&cov);
    let scale = cov.as_slice().iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(r.matmul(&r).max_abs_diff(&cov) < 1e-10 * scale);
}

#[test]
fn kid_over_whole_set_subsets_equals_kid_full_and_is_seeded() {
    let a = features(60, 8, 1.0, 0.0, 5);
    let b = features(40, 8, 1.2, 0.1, 6);
    let full_b = features(60, 8, 1.2, 0.1, 6);
    // Subsets of all 60 rows are permutations: the estimate is the same.
    let whole = kid(&a, &full_b, 3, 60, 0);
    let exact = kid_full(&a, &full_b);
    assert!((whole.mean - exact).abs() < 1e-12 * exact.abs().max(1.0));
    assert!(whole.std < 1e-12);
    // Seeded; different seeds give different subsets; subset_size is capped at 40.
    let s = kid(&a, &b, 20, 30, 1);
    assert_eq!(s, kid(&a, &b, 20, 30, 1));
    assert_ne!(s, kid(&a, &b, 20, 30, 2));
    assert_eq!(kid(&a, &b, 2, 1000, 3).mean, kid(&a, &b, 2, 40, 3).mean);
    // Same distribution: near zero, far below a shifted set.
    let same = kid(&a, &features(60, 8, 1.0, 0.0, 7), 20, 30, 0).mean;
    let shifted = kid(&a, &a.map(|v| v + 1.0), 20, 30, 0).mean;
    assert!(same.abs() < 0.1 * shifted, "same {same}, shifted {shifted}");
}

#[test]
fn precision_recall_density_coverage_on_known_configurations() {
    let real = features(200, 4, 1.0, 0.0, 11);
    // The same points: every fake sits on a real centre, and vice versa.
    let pr = precision_recall(&real, &real, PR_K);
    assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
    let dc = density_coverage(&real, &real, DC_K);
    assert_eq!(dc.coverage, 1.0);
    // A collapsed generator (all samples near one real point): precise, no recall.
    let one = NdArray::from_vec(real.narrow(0, 0, 1).to_vec(), &[1, 4]).unwrap();
    let collapsed = one
        .broadcast_to(&[50, 4])
        .add(&features(50, 4, 1e-3, 0.0, 12));
    let pr = precision_recall(&real, &collapsed, PR_K);
    assert_eq!(pr.precision, 1.0);
    assert!(pr.recall < 0.05, "{pr:?}");
    let dc = density_coverage(&real, &collapsed, DC_K);
    assert!(dc.coverage <= 6.0 / 200.0, "{dc:?}");
    // Translation invariance (the blockwise expansion recentres first).
    let far = precision_recall(&real.map(|v| v + 1e3), &collapsed.map(|v| v + 1e3), PR_K);
    assert_eq!(far, pr);
}

#[test]
fn mode_counting_follows_the_pacgan_protocol() {
    let mut rng = StdRng::seed_from_u64(0);
    for mixture in [Mixture::ring8(), Mixture::grid25()] {
        let k = mixture.centres().len();
        let exact = mixture.sample(2500, &mut rng);
        let r = count_modes(exact.images(), &mixture);
        assert_eq!((r.modes_captured, r.num_modes), (k, k), "{}", mixture.name);
        // Within 3 std in 2-D: 1 - exp(-9/2) = 98.9% of a Gaussian's samples.
        assert!(r.high_quality_fraction > 0.975, "{r:?}");
        assert!(r.reverse_kl < 0.02, "{r:?}");
        assert_eq!(
            r.counts.iter().sum::<usize>() as f64,
            r.high_quality_fraction * 2500.0
        );

        // Every sample from mode 3: one mode, reverse KL = ln K.
        let c = mixture.centres()[3];
        let s = mixture.std();
        let noise = NdArray::rand_normal(&[2500, 2], 0.0, s, &mut rng).to_vec();
        let one: Vec<f32> = noise
            .chunks_exact(2)
            .flat_map(|d| [c[0] + d[0], c[1] + d[1]])
            .collect();
        let r = count_modes(&NdArray::from_vec(one, &[2500, 2]).unwrap(), &mixture);
        assert_eq!(r.modes_captured, 1);
        assert_eq!(r.counts[3] as f64, r.high_quality_fraction * 2500.0);
        assert!((r.reverse_kl - (k as f64).ln()).abs() < 1e-12);

        // Samples between modes (or NaN): nothing captured, no high quality, KL = ln K.
        let off = NdArray::from_vec(vec![10.0, 10.0, f32::NAN, 0.0], &[2, 2]).unwrap();
        let r = count_modes(&off, &mixture);
        assert_eq!((r.modes_captured, r.high_quality_fraction), (0, 0.0));
        assert!((r.reverse_kl - (k as f64).ln()).abs() < 1e-12);
    }
    // Two of eight modes, evenly: KL = ln(8 / 2).
    let ring = Mixture::ring8();
    let [a, b] = [ring.centres()[0], ring.centres()[5]];
    let pts = NdArray::from_vec(vec![a[0], a[1], b[0], b[1]], &[2, 2]).unwrap();
    let r = count_modes(&pts, &ring);
    assert_eq!((r.modes_captured, r.high_quality_fraction), (2, 1.0));
    assert!((r.reverse_kl - 4f64.ln()).abs() < 1e-12);
}

#[test]
fn inception_score_bounds() {
    let mut rng = StdRng::seed_from_u64(3);
    let n = 40;
    let probs: Vec<f32> = (0..n)
        .flat_map(|_| {
            let raw: Vec<f32> = (0..5).map(|_| rng.random_range(0.01..1.0)).collect();
            let s: f32 = raw.iter().sum();
            raw.into_iter().map(move |v| v / s)
        })
        .collect();
    let probs = NdArray::from_vec(probs, &[n, 5]).unwrap();
    let one = inception_score(&probs, 1);
    assert!(one.mean > 1.0 && one.mean < 5.0 && one.std == 0.0);
    let split = inception_score(&probs, 4);
    assert!(split.mean > 1.0 && split.std > 0.0);
}

/// 64 Fashion-MNIST test images, for the classifier tests.
fn tiny_fashion_mnist() -> Dataset {
    let data = fashion_mnist(&shipped_fashion_mnist_dir()).expect("shipped Fashion-MNIST");
    data.take(64)
}

#[test]
fn classifier_training_reduces_the_loss_on_a_tiny_subset() {
    let data = tiny_fashion_mnist();
    let config = ClassifierTrainConfig {
        epochs: 3,
        batch_size: 16,
        lr: 1e-3,
        seed: 0,
    };
    let before = mean_loss(&Classifier::new(10, 0), &data);
    let mut reports = Vec::new();
    let trained = train_classifier_with(&data, &config, |r| reports.push(*r));
    let after = mean_loss(&trained, &data);
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[2].steps, 12);
    assert!(after < 0.8 * before, "loss {before} -> {after}");
    assert!(reports[2].mean_loss < reports[0].mean_loss, "{reports:?}");
    assert!(accuracy(&trained, &data) > 0.3);
    // Deterministic for a seed.
    let again = train_classifier_with(&data, &config, |_| {});
    let x = data.images().narrow(0, 0, 4);
    assert_eq!(trained.embed(&x).to_vec(), again.embed(&x).to_vec());
}

#[test]
fn classifier_save_load_round_trips() {
    let dir = std::env::temp_dir().join(format!("agon-metrics-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("classifier.safetensors");
    let c = Classifier::new(10, 42);
    let meta = BTreeMap::from([("test_accuracy".to_string(), "0.1".to_string())]);
    c.save(&path, &meta).unwrap();
    let (back, meta) = Classifier::load(&path).unwrap();
    assert_eq!(meta["test_accuracy"], "0.1");
    assert_eq!(meta["num_classes"], "10");
    let x = tiny_fashion_mnist().images().narrow(0, 0, 8);
    let logits = |c: &Classifier| c.logits(&Tensor::constant(x.clone())).data().to_vec();
    assert_eq!(logits(&back), logits(&c));
    assert_eq!(back.embed(&x).shape(), &[8, 128]);
    assert_eq!(back.probabilities(&x).shape(), &[8, 10]);
    // A file that is not a classifier is refused with an error, not a panic.
    let other = dir.join("other.safetensors");
    let mut rng = StdRng::seed_from_u64(0);
    agon_nn::checkpoint::save_module(
        &agon_nn::Linear::new(2, 2, true, &mut rng),
        &other,
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(Classifier::load(&other).is_err());
    assert!(Classifier::load(dir.join("missing.safetensors")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
