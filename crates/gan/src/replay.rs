//! A replay buffer of generated images for the discriminator (Shrivastava et al. 2017;
//! CycleGAN's image pool): D is shown a mix of the newest fakes and fakes from earlier
//! steps, so it cannot chase only the generator's latest output and the two oscillate less.

use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Up to `capacity` earlier fakes. [`query`](Self::query) takes a new batch and returns one
/// of the same shape: while the buffer fills, the new images themselves (each is stored);
/// once full, each image is, with probability 1/2, swapped for a random stored one (which
/// is returned, the new one stored in its place), and otherwise returned as is. Capacity 0
/// returns every batch unchanged (CycleGAN's `--pool_size 0`; it uses 50).
///
/// Randomness comes from `(seed, queries so far)` only, so a run resumed from
/// [`images`](Self::images) and [`queries`](Self::queries) draws what the uninterrupted run
/// would have.
///
/// ```
/// use agon_gan::ReplayBuffer;
/// use agon_tensor::NdArray;
/// let mut pool = ReplayBuffer::new(4, 0);
/// let first = NdArray::full(&[4, 1, 2, 2], 1.0);
/// assert_eq!(pool.query(&first).to_vec(), first.to_vec()); // filling: passed through
/// let out = pool.query(&NdArray::full(&[4, 1, 2, 2], 2.0));
/// // Full now: each image is the new one (2) or an earlier one (1).
/// assert!(out.to_vec().iter().all(|&v| v == 1.0 || v == 2.0));
/// assert_eq!(pool.len(), 4);
/// ```
pub struct ReplayBuffer {
    capacity: usize,
    seed: u64,
    queries: u64,
    stored: Vec<NdArray>,
}

impl ReplayBuffer {
    /// An empty buffer of `capacity` images, its draws seeded by `seed`.
    pub fn new(capacity: usize, seed: u64) -> Self {
        ReplayBuffer {
            capacity,
            seed,
            queries: 0,
            stored: Vec::with_capacity(capacity.min(1024)),
        }
    }

    /// Images stored.
    pub fn len(&self) -> usize {
        self.stored.len()
    }

    /// True when nothing is stored yet.
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    /// Batches queried so far (with [`images`](Self::images), what a checkpoint keeps).
    pub fn queries(&self) -> u64 {
        self.queries
    }

    /// The stored images as one `[len, ...]` array, `None` when empty.
    pub fn images(&self) -> Option<NdArray> {
        let parts: Vec<&NdArray> = self.stored.iter().collect();
        (!parts.is_empty()).then(|| NdArray::stack(&parts, 0))
    }

    /// A buffer as it was when [`images`](Self::images) and [`queries`](Self::queries)
    /// were read.
    ///
    /// # Panics
    /// If `images` holds more than `capacity` images.
    pub fn restore(capacity: usize, seed: u64, images: Option<&NdArray>, queries: u64) -> Self {
        let stored: Vec<NdArray> = images.map_or(vec![], |a| {
            (0..a.shape()[0])
                .map(|i| a.narrow(0, i, 1).reshape(&a.shape()[1..]).contiguous())
                .collect()
        });
        assert!(
            stored.len() <= capacity,
            "ReplayBuffer::restore: {} images for capacity {capacity}",
            stored.len()
        );
        ReplayBuffer {
            capacity,
            seed,
            queries,
            stored,
        }
    }

    /// The batch D should judge in place of `fakes` (`[N, ...]`, detached values).
    pub fn query(&mut self, fakes: &NdArray) -> NdArray {
        if self.capacity == 0 {
            return fakes.clone();
        }
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ self.queries.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.queries += 1;
        let n = fakes.shape()[0];
        let sample_shape = &fakes.shape()[1..];
        let out: Vec<NdArray> = (0..n)
            .map(|i| {
                let image = fakes.narrow(0, i, 1).reshape(sample_shape).contiguous();
                if self.stored.len() < self.capacity {
                    self.stored.push(image.clone());
                    image
                } else if rng.random_bool(0.5) {
                    let k = rng.random_range(0..self.capacity);
                    std::mem::replace(&mut self.stored[k], image)
                } else {
                    image
                }
            })
            .collect();
        let parts: Vec<&NdArray> = out.iter().collect();
        NdArray::stack(&parts, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batch `q` of four 1-pixel images valued `10 q + i`: every value names its origin.
    fn batch(q: usize) -> NdArray {
        NdArray::from_vec((0..4).map(|i| (10 * q + i) as f32).collect(), &[4, 1]).unwrap()
    }

    #[test]
    fn returns_earlier_fakes_about_half_the_time_once_full_and_stores_what_it_withholds() {
        let mut pool = ReplayBuffer::new(8, 3);
        let (mut old, mut total) = (0, 0);
        for q in 0..200 {
            let out = pool.query(&batch(q)).to_vec();
            let new = batch(q).to_vec();
            for (i, (o, n)) in out.iter().zip(&new).enumerate() {
                if q >= 2 {
                    total += 1;
                    if o != n {
                        old += 1;
                        // An image given earlier (in this batch or before), never a later one.
                        assert!(*o < (10 * q + i) as f32, "{o} for image {i} of query {q}");
                    }
                }
            }
            // Every image of this batch is either returned or now stored: none is lost.
            let stored = pool.images().unwrap().to_vec();
            for n in &new {
                assert!(
                    out.contains(n) || stored.contains(n),
                    "{n} lost at query {q}"
                );
            }
        }
        let share = old as f64 / total as f64;
        assert!((0.4..0.6).contains(&share), "old share {share}");
        assert_eq!(pool.len(), 8);
    }

    #[test]
    fn capacity_zero_passes_through_and_restore_continues_the_same_draws() {
        let mut none = ReplayBuffer::new(0, 0);
        assert_eq!(none.query(&batch(1)).to_vec(), batch(1).to_vec());
        assert!(none.is_empty());

        let mut straight = ReplayBuffer::new(5, 9);
        let mut first = ReplayBuffer::new(5, 9);
        for q in 0..6 {
            straight.query(&batch(q));
            first.query(&batch(q));
        }
        let mut resumed = ReplayBuffer::restore(5, 9, first.images().as_ref(), first.queries());
        for q in 6..20 {
            assert_eq!(
                straight.query(&batch(q)).to_vec(),
                resumed.query(&batch(q)).to_vec()
            );
        }
    }
}
