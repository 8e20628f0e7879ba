//! Dropout with its own seeded randomness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use agon_autodiff::Tensor;
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::module::Module;

/// Zeroes each element with probability `p` in training mode and scales the rest by
/// `1 / (1 - p)`; the identity in evaluation mode.
///
/// The masks come from a seeded generator: call `k` uses `StdRng` seeded from
/// `(seed, k)`, so the whole random state is two integers ([`rng_state`](Dropout::rng_state))
/// that a checkpoint can save and a resumed run restore.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Dropout, Module};
/// use agon_tensor::NdArray;
/// let d = Dropout::new(0.5, 42);
/// let y = d.forward(&Tensor::constant(NdArray::ones(&[1000])));
/// let kept = y.data().to_vec().iter().filter(|&&v| v > 0.0).count();
/// assert!((400..600).contains(&kept));
/// // The whole random state, for checkpoints; restoring it repeats the next mask.
/// let saved = d.rng_state();
/// let a = d.forward(&Tensor::constant(NdArray::ones(&[8])));
/// d.set_rng_state(saved);
/// assert_eq!(d.forward(&Tensor::constant(NdArray::ones(&[8]))).data().to_vec(), a.data().to_vec());
/// d.eval();
/// assert_eq!(d.forward(&Tensor::constant(NdArray::ones(&[3]))).data().to_vec(), vec![1.0; 3]);
/// ```
pub struct Dropout {
    /// Probability of zeroing an element.
    pub p: f32,
    seed: AtomicU64,
    calls: AtomicU64,
    training: AtomicBool,
}

impl Dropout {
    /// Dropout with probability `p`, masks drawn from `seed`.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`.
    #[track_caller]
    pub fn new(p: f32, seed: u64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "Dropout: probability {p} must be in [0, 1)"
        );
        Dropout {
            p,
            seed: AtomicU64::new(seed),
            calls: AtomicU64::new(0),
            training: AtomicBool::new(true),
        }
    }

    /// `(seed, calls so far)`: everything that decides future masks.
    pub fn rng_state(&self) -> (u64, u64) {
        (
            self.seed.load(Ordering::Relaxed),
            self.calls.load(Ordering::Relaxed),
        )
    }

    /// Restores a state from [`rng_state`](Dropout::rng_state).
    pub fn set_rng_state(&self, (seed, calls): (u64, u64)) {
        self.seed.store(seed, Ordering::Relaxed);
        self.calls.store(calls, Ordering::Relaxed);
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            return x.clone();
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        // Mix the call number into the seed (a splitmix-style odd multiplier keeps
        // consecutive calls' seeds far apart).
        let seed = self.seed.load(Ordering::Relaxed) ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = StdRng::seed_from_u64(seed);
        let keep = 1.0 / (1.0 - self.p);
        let p = self.p;
        let mask = NdArray::rand_uniform(x.shape(), 0.0, 1.0, &mut rng).map(move |u| {
            if u >= p {
                keep
            } else {
                0.0
            }
        });
        x.mul(&Tensor::constant(mask))
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn own_rng_state(&self) -> Option<(u64, u64)> {
        Some(self.rng_state())
    }

    fn set_own_rng_state(&self, state: (u64, u64)) {
        self.set_rng_state(state);
    }
}
