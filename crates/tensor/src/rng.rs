//! Random arrays from an explicit, caller-owned RNG: the same seed gives the same array.
//!
//! Nothing here touches a global or thread-local generator; pass e.g.
//! `rand::rngs::StdRng::seed_from_u64(seed)`. Sampling is sequential, so the result does
//! not depend on the thread count.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::array::NdArray;

impl NdArray {
    /// Elements drawn uniformly from `[low, high)`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let a = agon_tensor::NdArray::rand_uniform(&[100], -1.0, 1.0, &mut rng);
    /// assert!(a.to_vec().iter().all(|&x| (-1.0..1.0).contains(&x)));
    /// ```
    ///
    /// # Panics
    /// If `low >= high` or either bound is not finite.
    #[track_caller]
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        low: f32,
        high: f32,
        rng: &mut R,
    ) -> Self {
        let dist = Uniform::new(low, high)
            .unwrap_or_else(|e| panic!("rand_uniform: bad range [{low}, {high}): {e}"));
        let n = shape.iter().product();
        let data = (0..n).map(|_| dist.sample(rng)).collect();
        NdArray::from_dense(data, shape)
    }

    /// Elements drawn from a normal distribution with mean `mean` and standard deviation `std`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let a = agon_tensor::NdArray::rand_normal(&[2, 3], 0.0, 0.02, &mut rng);
    /// assert_eq!(a.shape(), &[2, 3]);
    /// ```
    ///
    /// # Panics
    /// If `std` is negative or not finite.
    #[track_caller]
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: f32, std: f32, rng: &mut R) -> Self {
        let dist = Normal::new(mean, std)
            .unwrap_or_else(|e| panic!("rand_normal: bad parameters mean {mean}, std {std}: {e}"));
        let n = shape.iter().product();
        let data = (0..n).map(|_| dist.sample(rng)).collect();
        NdArray::from_dense(data, shape)
    }
}
