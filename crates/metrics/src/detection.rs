//! Scores of a real-vs-generated detector, as detection papers report them (Wang et al.
//! 2020, "CNN-generated images are surprisingly easy to spot... for now"): ROC-AUC, average
//! precision, and accuracy at a fixed threshold. "Generated" is the positive class and a
//! higher score means "more likely generated".
//!
//! Both ranking scores treat tied scores as one threshold, as scikit-learn does, so a
//! detector that gives every image the same score gets AUC 0.5 and AP equal to the share
//! of generated images, not whatever order the ties happened to be in.

/// ROC-AUC, AP and accuracy of one detector on one test set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectionScores {
    /// Area under the ROC curve: the probability that a random generated image scores
    /// above a random real one (ties count one half).
    pub roc_auc: f64,
    /// Average precision: `Σ_k (R_k - R_{k-1}) P_k` over the distinct thresholds from the
    /// top (scikit-learn's `average_precision_score`, no interpolation).
    pub average_precision: f64,
    /// The share classified correctly when "generated" means `score > threshold`.
    pub accuracy: f64,
}

/// `roc_auc`, `average_precision` and the accuracy at `threshold` (0.5 for probabilities).
///
/// ```
/// use agon_metrics::detection_scores;
/// let p_fake = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1];
/// let is_fake = [true, true, true, false, false, false];
/// let s = detection_scores(&p_fake, &is_fake, 0.5);
/// assert!((s.roc_auc - 8.0 / 9.0).abs() < 1e-12); // one real above one fake
/// assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-12);
/// ```
///
/// # Panics
/// As [`roc_auc`].
pub fn detection_scores(scores: &[f64], is_fake: &[bool], threshold: f64) -> DetectionScores {
    DetectionScores {
        roc_auc: roc_auc(scores, is_fake),
        average_precision: average_precision(scores, is_fake),
        accuracy: accuracy_at(scores, is_fake, threshold),
    }
}

/// Checks the inputs shared by every score here.
#[track_caller]
fn check(what: &str, scores: &[f64], is_fake: &[bool]) -> (usize, usize) {
    assert_eq!(
        scores.len(),
        is_fake.len(),
        "{what}: {} scores for {} labels",
        scores.len(),
        is_fake.len()
    );
    assert!(scores.iter().all(|s| !s.is_nan()), "{what}: a score is NaN");
    let fakes = is_fake.iter().filter(|&&f| f).count();
    let reals = is_fake.len() - fakes;
    assert!(
        fakes > 0 && reals > 0,
        "{what}: needs both classes (got {fakes} generated and {reals} real)"
    );
    (fakes, reals)
}

/// Indices of `scores` from the highest down; equal scores end up adjacent.
fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Area under the ROC curve, by the rank-sum (Mann-Whitney U) identity:
/// `AUC = (Σ ranks of the generated - n_f (n_f + 1) / 2) / (n_f n_r)`, with tied scores
/// given their average rank, which equals the trapezoidal area scikit-learn computes.
///
/// ```
/// use agon_metrics::roc_auc;
/// assert_eq!(roc_auc(&[0.9, 0.1], &[true, false]), 1.0);
/// assert_eq!(roc_auc(&[0.5, 0.5, 0.5], &[true, false, false]), 0.5);
/// ```
///
/// # Panics
/// If the lengths differ, a score is NaN, or one class is missing.
pub fn roc_auc(scores: &[f64], is_fake: &[bool]) -> f64 {
    let (fakes, reals) = check("roc_auc", scores, is_fake);
    let mut order = descending(scores);
    order.reverse(); // ascending: rank 1 is the lowest score
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum += mean_rank * order[i..=j].iter().filter(|&&k| is_fake[k]).count() as f64;
        i = j + 1;
    }
    let (nf, nr) = (fakes as f64, reals as f64);
    (rank_sum - nf * (nf + 1.0) / 2.0) / (nf * nr)
}

/// Average precision: walking the thresholds from the highest score down, each tie group
/// at once, `AP = Σ_k (R_k - R_{k-1}) P_k` with `P_k`, `R_k` the precision and recall of
/// "generated when score ≥ the k-th threshold".
///
/// ```
/// use agon_metrics::average_precision;
/// // Ranked fake, real, fake: P = 1 at R = 1/2, then P = 2/3 at R = 1.
/// let ap = average_precision(&[0.9, 0.5, 0.2], &[true, false, true]);
/// assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
/// ```
///
/// # Panics
/// As [`roc_auc`].
pub fn average_precision(scores: &[f64], is_fake: &[bool]) -> f64 {
    let (fakes, _) = check("average_precision", scores, is_fake);
    let order = descending(scores);
    let (mut true_pos, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        true_pos += order[i..=j].iter().filter(|&&k| is_fake[k]).count();
        seen += j - i + 1;
        let recall = true_pos as f64 / fakes as f64;
        ap += (recall - last_recall) * true_pos as f64 / seen as f64;
        last_recall = recall;
        i = j + 1;
    }
    ap
}

/// The share of images classified correctly when "generated" means `score > threshold`.
///
/// ```
/// use agon_metrics::accuracy_at;
/// assert_eq!(accuracy_at(&[0.7, 0.5, 0.2], &[true, true, false], 0.5), 2.0 / 3.0);
/// ```
///
/// # Panics
/// As [`roc_auc`].
pub fn accuracy_at(scores: &[f64], is_fake: &[bool], threshold: f64) -> f64 {
    check("accuracy_at", scores, is_fake);
    let right = scores
        .iter()
        .zip(is_fake)
        .filter(|&(&s, &f)| (s > threshold) == f)
        .count();
    right as f64 / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUC by counting every (generated, real) pair, ties one half.
    fn auc_by_pairs(scores: &[f64], is_fake: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &f) in is_fake.iter().enumerate() {
            for (j, &r) in is_fake.iter().enumerate() {
                if f && !r {
                    pairs += 1.0;
                    wins += match scores[i].total_cmp(&scores[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn auc_equals_the_pair_count_with_ties() {
        // Scores on a coarse grid, so many tie.
        let scores: Vec<f64> = (0..200).map(|i| ((i * 37 % 11) as f64) / 10.0).collect();
        let is_fake: Vec<bool> = (0..200).map(|i| (i * 13 % 7) < 3).collect();
        let auc = roc_auc(&scores, &is_fake);
        assert!((auc - auc_by_pairs(&scores, &is_fake)).abs() < 1e-12);
    }

    #[test]
    fn constant_scores_give_chance_rankings() {
        let is_fake = [true, false, false, true, false];
        assert_eq!(roc_auc(&[0.3; 5], &is_fake), 0.5);
        assert!((average_precision(&[0.3; 5], &is_fake) - 0.4).abs() < 1e-12);
        // Inverted scores flip the AUC.
        let s = [0.9, 0.1, 0.2, 0.8, 0.3];
        let flipped: Vec<f64> = s.iter().map(|v| -v).collect();
        assert_eq!(roc_auc(&s, &is_fake), 1.0);
        assert_eq!(roc_auc(&flipped, &is_fake), 0.0);
        assert_eq!(average_precision(&s, &is_fake), 1.0);
    }

    #[test]
    #[should_panic(expected = "needs both classes")]
    fn one_class_is_refused() {
        roc_auc(&[0.1, 0.2], &[true, true]);
    }
}
