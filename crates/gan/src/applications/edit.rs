//! Latent-space editing: directions in `z` that change one property of the samples.
//!
//! - **InterFaceGAN-style** (Shen et al. 2020): measure an attribute on `G(z)` for many
//!   codes, and fit a linear boundary in latent space between the codes whose samples score
//!   highest and lowest (the top and bottom quarter; logistic regression). Its unit normal
//!   is the direction: moving along it changes the attribute, moving across it does not.
//!   Attributes here are measured, not labelled: the feature classifier's probability of
//!   a class, brightness (mean pixel value) and ink (the share of pixels brighter than
//!   mid-grey).
//! - **GANSpace-style** (Härkönen et al. 2020): the principal components of the generator's
//!   first-block activations over many codes, carried back into latent space by regressing
//!   the codes on the components' coordinates (`z ≈ B c`; column `i` of `B` is the latent
//!   direction of component `i`). Unsupervised: the components are whatever varies most.

use agon_autodiff::{no_grad, Tensor};
use agon_metrics::Classifier;
use agon_tensor::NdArray;

use crate::Generator;

/// A property measured on images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// The feature classifier's probability of this class.
    Class(usize),
    /// Mean pixel value, in `[-1, 1]`.
    Brightness,
    /// The share of pixels above 0 (mid-grey).
    Ink,
}

/// `attribute` of each image of `images` `[N, C, H, W]` (`classifier` for classes).
///
/// # Panics
/// For [`Attribute::Class`] without a classifier or with a class it does not have.
pub fn measure(
    attribute: Attribute,
    images: &NdArray,
    classifier: Option<&Classifier>,
) -> Vec<f64> {
    let n = images.shape()[0];
    let per = images.numel() / n.max(1);
    match attribute {
        Attribute::Class(k) => {
            let c = classifier.expect("measure: a class attribute needs the feature classifier");
            assert!(
                k < c.num_classes(),
                "measure: class {k} of {}",
                c.num_classes()
            );
            let p = c.probabilities(images).to_vec();
            p.chunks(c.num_classes())
                .map(|row| f64::from(row[k]))
                .collect()
        }
        Attribute::Brightness => images
            .to_vec()
            .chunks(per)
            .map(|x| x.iter().map(|&v| f64::from(v)).sum::<f64>() / per as f64)
            .collect(),
        Attribute::Ink => images
            .to_vec()
            .chunks(per)
            .map(|x| x.iter().filter(|&&v| v > 0.0).count() as f64 / per as f64)
            .collect(),
    }
}

/// Scales `v` to unit length (left as it is when zero).
fn unit(mut v: Vec<f64>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v.into_iter().map(|x| x as f32).collect()
}

/// The InterFaceGAN direction for `scores` of the samples of codes `z` `[M, d]`: the unit
/// normal of a logistic-regression boundary between the top and the bottom quarter of the
/// codes by score, pointing towards higher scores.
///
/// ```
/// use agon_gan::applications::boundary_direction;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let z = NdArray::rand_normal(&[400, 5], 0.0, 1.0, &mut rng);
/// // The score depends on coordinate 2 only.
/// let scores: Vec<f64> = z.to_vec().chunks(5).map(|r| f64::from(r[2])).collect();
/// let n = boundary_direction(&z, &scores);
/// assert!(n[2] > 0.95);
/// ```
///
/// # Panics
/// If `z` is not `[M, d]` with one score per row, or has fewer than 8 rows.
pub fn boundary_direction(z: &NdArray, scores: &[f64]) -> Vec<f32> {
    let (m, d) = (z.shape()[0], z.shape()[1]);
    assert!(
        z.ndim() == 2 && scores.len() == m && m >= 8,
        "boundary_direction: {} scores for codes {:?} (need 8 or more)",
        scores.len(),
        z.shape()
    );
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let q = m / 4;
    let zv = z.to_vec();
    let rows: Vec<(&[f32], f64)> = order[..q]
        .iter()
        .map(|&i| (&zv[i * d..(i + 1) * d], 0.0))
        .chain(
            order[m - q..]
                .iter()
                .map(|&i| (&zv[i * d..(i + 1) * d], 1.0)),
        )
        .collect();
    // Logistic regression by gradient descent, a little L2 so separable data stays finite.
    let (mut w, mut b) = (vec![0.0f64; d], 0.0f64);
    let (lr, l2) = (0.5, 1e-3);
    for _ in 0..500 {
        let mut gw = vec![0.0f64; d];
        let mut gb = 0.0;
        for (x, y) in &rows {
            let logit = b + x
                .iter()
                .zip(&w)
                .map(|(&xi, wi)| f64::from(xi) * wi)
                .sum::<f64>();
            let err = 1.0 / (1.0 + (-logit).exp()) - y;
            gb += err;
            gw.iter_mut()
                .zip(x.iter())
                .for_each(|(g, &xi)| *g += err * f64::from(xi));
        }
        let k = rows.len() as f64;
        w.iter_mut()
            .zip(&gw)
            .for_each(|(wi, g)| *wi -= lr * (g / k + l2 * *wi));
        b -= lr * gb / k;
    }
    unit(w)
}

/// The first `k` GANSpace directions of `g` from `m` codes `z` `[m, d]` (with `labels` for
/// a conditional generator), each a unit vector in latent space, with the share of the
/// activations' variance its component explains. `None` when `g` does not expose early
/// activations.
///
/// # Panics
/// If `k` is 0 or more than `d`, or `z` has fewer rows than `k + 1`.
pub fn principal_directions(
    g: &dyn Generator,
    z: &NdArray,
    labels: Option<&agon_tensor::Indices>,
    k: usize,
) -> Option<(Vec<Vec<f32>>, Vec<f64>)> {
    let (m, d) = (z.shape()[0], z.shape()[1]);
    assert!(
        k >= 1 && k <= d && m > k,
        "principal_directions: k = {k} for codes {:?}",
        z.shape()
    );
    g.eval();
    let acts = no_grad(|| g.early_activations(&Tensor::constant(z.clone()), labels));
    g.train();
    let acts = acts?.data().clone();
    let f = acts.numel() / m;
    // Centre the activations.
    let mut y = acts.reshape(&[m, f]).to_vec();
    for c in 0..f {
        let mean = (0..m).map(|r| f64::from(y[r * f + c])).sum::<f64>() / m as f64;
        (0..m).for_each(|r| y[r * f + c] -= mean as f32);
    }
    let y = NdArray::from_vec(y, &[m, f]).expect("m * f values");
    let yt = y.transpose(0, 1);
    // Orthogonal iteration for the top-k eigenvectors of Y^T Y (never formed): Q <- orth(Y^T Y Q).
    let mut q: Vec<f32> = (0..f * k)
        .map(|i| (((i * 7919) % 1013) as f32 / 1013.0) - 0.5)
        .collect();
    for _ in 0..60 {
        let qa = NdArray::from_vec(q.clone(), &[f, k]).expect("f * k values");
        let next = yt.matmul(&y.matmul(&qa)).to_vec();
        q = gram_schmidt(&next, f, k);
    }
    let qa = NdArray::from_vec(q.clone(), &[f, k]).expect("f * k values");
    let coords = y.matmul(&qa); // [m, k]
    let total: f64 = y.to_vec().iter().map(|v| f64::from(*v).powi(2)).sum();
    let cv = coords.to_vec();
    let explained: Vec<f64> = (0..k)
        .map(|j| {
            (0..m)
                .map(|r| f64::from(cv[r * k + j]).powi(2))
                .sum::<f64>()
                / total
        })
        .collect();
    // z ≈ B c: B = Z^T C (C^T C)^-1; C's columns are orthogonal (PCA coordinates), so
    // column j of B is Z^T c_j / |c_j|^2.
    let zv = z.to_vec();
    let dirs = (0..k)
        .map(|j| {
            let norm2: f64 = (0..m).map(|r| f64::from(cv[r * k + j]).powi(2)).sum();
            unit(
                (0..d)
                    .map(|i| {
                        (0..m)
                            .map(|r| f64::from(zv[r * d + i]) * f64::from(cv[r * k + j]))
                            .sum::<f64>()
                            / norm2.max(f64::MIN_POSITIVE)
                    })
                    .collect(),
            )
        })
        .collect();
    Some((dirs, explained))
}

/// Orthonormalises the `k` columns of `a` `[f, k]` (row-major) in order, in f64.
fn gram_schmidt(a: &[f32], f: usize, k: usize) -> Vec<f32> {
    let mut cols: Vec<Vec<f64>> = (0..k)
        .map(|j| (0..f).map(|i| f64::from(a[i * k + j])).collect())
        .collect();
    for j in 0..k {
        for p in 0..j {
            let dot: f64 = cols[j].iter().zip(&cols[p]).map(|(x, y)| x * y).sum();
            let prev = cols[p].clone();
            cols[j]
                .iter_mut()
                .zip(&prev)
                .for_each(|(x, y)| *x -= dot * y);
        }
        let norm = cols[j]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        cols[j].iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0.0f32; f * k];
    for (j, col) in cols.iter().enumerate() {
        for (i, v) in col.iter().enumerate() {
            out[i * k + j] = *v as f32;
        }
    }
    out
}

/// Codes `z` `[n, d]` moved along `direction` by each of `strengths`: `[n · s, d]`, code
/// by code (row `i · s + j` is code `i` at strength `j`).
///
/// ```
/// use agon_gan::applications::edit_codes;
/// use agon_tensor::NdArray;
/// let z = NdArray::zeros(&[1, 2]);
/// let e = edit_codes(&z, &[1.0, 0.0], &[-2.0, 0.0, 2.0]);
/// assert_eq!(e.to_vec(), vec![-2.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
/// ```
///
/// # Panics
/// If `direction` is not `d` long.
pub fn edit_codes(z: &NdArray, direction: &[f32], strengths: &[f32]) -> NdArray {
    let (n, d) = (z.shape()[0], z.shape()[1]);
    assert_eq!(
        direction.len(),
        d,
        "edit_codes: a direction of {} for codes of {d}",
        direction.len()
    );
    let zv = z.to_vec();
    let out: Vec<f32> = (0..n)
        .flat_map(|i| {
            let code = &zv[i * d..(i + 1) * d];
            strengths
                .iter()
                .flat_map(move |&s| code.iter().zip(direction).map(move |(c, u)| c + s * u))
        })
        .collect();
    NdArray::from_vec(out, &[n * strengths.len(), d]).expect("n * s * d values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_nn::Module;
    use agon_tensor::Indices;
    use rand::SeedableRng;

    /// A "generator" whose first block is linear: activations `[z_0, 10 z_3, z_1 + z_2]`.
    struct Linear3;

    impl Module for Linear3 {
        fn forward(&self, z: &Tensor) -> Tensor {
            z.clone()
        }
    }

    impl Generator for Linear3 {
        fn latent_dim(&self) -> usize {
            4
        }
        fn generate(&self, z: &Tensor, _: Option<&Indices>) -> Tensor {
            z.clone()
        }
        fn early_activations(&self, z: &Tensor, _: Option<&Indices>) -> Option<Tensor> {
            let v: Vec<f32> = z
                .data()
                .to_vec()
                .chunks(4)
                .flat_map(|r| [r[0], 10.0 * r[3], r[1] + r[2]])
                .collect();
            Some(Tensor::constant(
                NdArray::from_vec(v, &[z.shape()[0], 3]).unwrap(),
            ))
        }
    }

    #[test]
    fn principal_directions_find_the_dominant_latent_axes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let z = NdArray::rand_normal(&[2000, 4], 0.0, 1.0, &mut rng);
        let (dirs, explained) = principal_directions(&Linear3, &z, None, 2).unwrap();
        // Variances 100 (z_3), 2 (z_1 + z_2), 1 (z_0): the first component is z_3, the
        // second the diagonal of z_1 and z_2.
        assert!(dirs[0][3].abs() > 0.99, "{:?}", dirs[0]);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            (dirs[1][1].abs() - h).abs() < 0.05 && (dirs[1][2].abs() - h).abs() < 0.05,
            "{:?}",
            dirs[1]
        );
        assert!((explained[0] - 100.0 / 103.0).abs() < 0.02, "{explained:?}");
    }
}
