//! Synthetic 2-D Gaussian mixtures, the standard mode-collapse benchmarks (VEEGAN,
//! PacGAN): a **ring of 8** (means on the unit circle, std 0.01) and a **grid of 25**
//! (means at `{-4, -2, 0, 2, 4}^2`, std 0.05). Components are equally likely.
//!
//! Metrics need the modes: [`Mixture::centres`] and [`Mixture::std`] give them, and
//! [`Mixture::nearest`] assigns a point to its closest mode (the usual "high-quality
//! sample" rule counts a point within `3 std` of a mode).

use std::f32::consts::PI;

use agon_tensor::NdArray;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::dataset::Dataset;

/// Radius of the ring-of-8 means.
pub const RING8_RADIUS: f32 = 1.0;
/// Standard deviation of each ring-of-8 component.
pub const RING8_STD: f32 = 0.01;
/// Standard deviation of each grid-of-25 component.
pub const GRID25_STD: f32 = 0.05;

/// An isotropic Gaussian mixture in the plane with equally likely components.
///
/// ```
/// use agon_data::Mixture;
/// let ring = Mixture::ring8();
/// assert_eq!(ring.centres.len(), 8);
/// assert_eq!(ring.nearest([0.0, 0.99]).0, 2); // the mode at angle 90 degrees
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// A short name (`"ring8"`, `"grid25"`), used as the dataset name.
    pub name: String,
    /// The component means.
    pub centres: Vec<[f32; 2]>,
    /// The standard deviation of every component, on each axis.
    pub std: f32,
}

impl Mixture {
    /// Eight components at angles `2 pi k / 8` on the circle of radius 1, std 0.01.
    pub fn ring8() -> Self {
        let centres = (0..8)
            .map(|k| {
                let a = 2.0 * PI * k as f32 / 8.0;
                [RING8_RADIUS * a.cos(), RING8_RADIUS * a.sin()]
            })
            .collect();
        Mixture {
            name: "ring8".into(),
            centres,
            std: RING8_STD,
        }
    }

    /// Twenty-five components at `{-4, -2, 0, 2, 4}^2` (row-major: x outer, y inner),
    /// std 0.05.
    pub fn grid25() -> Self {
        let axis = [-4.0, -2.0, 0.0, 2.0, 4.0];
        let centres = axis
            .iter()
            .flat_map(|&x| axis.iter().map(move |&y| [x, y]))
            .collect();
        Mixture {
            name: "grid25".into(),
            centres,
            std: GRID25_STD,
        }
    }

    /// The component means (metrics count modes against these).
    pub fn centres(&self) -> &[[f32; 2]] {
        &self.centres
    }

    /// The per-axis standard deviation of every component.
    pub fn std(&self) -> f32 {
        self.std
    }

    /// `n` points `[n, 2]`, each from a uniformly chosen component, labelled with its
    /// component index (`num_classes` = number of components).
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Dataset {
        let k = self.centres.len();
        let mut points = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let c = rng.random_range(0..k);
            let dx: f32 = StandardNormal.sample(rng);
            let dy: f32 = StandardNormal.sample(rng);
            points.push(self.centres[c][0] + self.std * dx);
            points.push(self.centres[c][1] + self.std * dy);
            labels.push(c);
        }
        let points = NdArray::from_vec(points, &[n, 2]).expect("two coordinates per point");
        Dataset::new(self.name.clone(), points, Some((labels, k)))
    }

    /// The index of the mode closest to `point`, and the distance to it.
    pub fn nearest(&self, point: [f32; 2]) -> (usize, f32) {
        self.centres
            .iter()
            .enumerate()
            .map(|(i, c)| (i, (point[0] - c[0]).hypot(point[1] - c[1])))
            .fold(
                (0, f32::INFINITY),
                |best, cur| if cur.1 < best.1 { cur } else { best },
            )
    }
}

/// `n` points from the ring of 8 ([`Mixture::ring8`]), labelled by mode.
///
/// ```
/// use rand::SeedableRng;
/// let ds = agon_data::ring8(100, &mut rand::rngs::StdRng::seed_from_u64(0));
/// assert_eq!(ds.images().shape(), &[100, 2]);
/// ```
pub fn ring8<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Dataset {
    Mixture::ring8().sample(n, rng)
}

/// `n` points from the grid of 25 ([`Mixture::grid25`]), labelled by mode.
pub fn grid25<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Dataset {
    Mixture::grid25().sample(n, rng)
}
