//! An Inception-style score (Salimans et al. 2016) from any classifier's class
//! probabilities: `IS = exp(E_x KL(p(y|x) || p(y)))`, where `p(y)` is the mean of `p(y|x)`
//! over the samples. It is high when each sample is confidently one class (sharp
//! `p(y|x)`) and the classes are used evenly (flat `p(y)`); it ranges from 1 to the number
//! of classes `K`. With Agon's classifier it is not comparable to published Inception
//! Scores: name it for the classifier ("IS (agon-fmnist classifier)").

use agon_tensor::NdArray;

use crate::MeanStd;

/// `exp(mean_x KL(p(y|x) || p(y)))` over the rows of `probs` (`[N, K]`), in `f64`, with
/// `0 log 0 = 0`.
fn score_of_rows(rows: &[&[f64]]) -> f64 {
    let k = rows[0].len();
    let mut marginal = vec![0.0; k];
    for row in rows {
        for (m, p) in marginal.iter_mut().zip(row.iter()) {
            *m += p;
        }
    }
    let n = rows.len() as f64;
    marginal.iter_mut().for_each(|m| *m /= n);
    let mean_kl = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&marginal)
                .filter(|&(&p, _)| p > 0.0)
                .map(|(&p, &m)| p * (p.ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n;
    mean_kl.exp()
}

/// The Inception-style score of class probabilities `probs` (`[N, K]`, rows summing to 1,
/// e.g. [`Classifier::probabilities`](crate::Classifier::probabilities)).
///
/// With `splits > 1` the rows are cut into `splits` consecutive chunks (sizes differing by
/// at most one), the score is computed on each and the mean and population standard
/// deviation are returned (the original protocol used 10 splits of 5,000); with
/// `splits = 1` the std is 0. Computed in `f64`; terms with `p(y|x) = 0` contribute 0.
///
/// ```
/// use agon_metrics::inception_score;
/// use agon_tensor::NdArray;
/// // Four confident samples, two per class: IS = K = 2.
/// let p = NdArray::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0], &[4, 2]).unwrap();
/// assert!((inception_score(&p, 1).mean - 2.0).abs() < 1e-12);
/// // Uniform predictions: IS = 1.
/// assert!((inception_score(&NdArray::full(&[4, 2], 0.5), 2).mean - 1.0).abs() < 1e-12);
/// ```
///
/// # Panics
/// If `probs` is not 2-D, `splits` is 0 or exceeds the number of rows, or a probability is
/// negative or not finite.
#[track_caller]
pub fn inception_score(probs: &NdArray, splits: usize) -> MeanStd {
    assert!(
        probs.ndim() == 2 && probs.shape()[0] > 0 && probs.shape()[1] > 0,
        "inception_score: need class probabilities [N, K] with N, K > 0, got {:?}",
        probs.shape()
    );
    let (n, k) = (probs.shape()[0], probs.shape()[1]);
    assert!(
        splits >= 1 && splits <= n,
        "inception_score: splits must be in 1..={n} (the number of samples), got {splits}"
    );
    let values: Vec<f64> = probs.to_vec().into_iter().map(f64::from).collect();
    assert!(
        values.iter().all(|p| p.is_finite() && *p >= 0.0),
        "inception_score: probabilities must be finite and non-negative (pass softmax \
         outputs, not logits)"
    );
    let rows: Vec<&[f64]> = values.chunks_exact(k).collect();
    let scores: Vec<f64> = (0..splits)
        .map(|s| score_of_rows(&rows[s * n / splits..(s + 1) * n / splits]))
        .collect();
    MeanStd::of(&scores)
}
