//! Dropout with its own seeded randomness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use agon_autodiff::Tensor;
use agon_tensor::NdArray;
use rand::distr::{Distribution, Uniform};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;

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
        let mask = NdArray::from_vec(keep_mask(x.numel(), self.p, seed), x.shape())
            .expect("the mask has the input's element count");
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

/// Elements per chunk of [`keep_mask`]: each chunk seeks the stream to its first draw.
const MASK_CHUNK: usize = 1 << 15;

/// The mask of one dropout call: element `i` is `1 / (1 - p)` where the `i`-th draw of
/// `Uniform(0, 1)` from ChaCha12 seeded with `seed` (the stream of
/// `rand::rngs::StdRng::seed_from_u64(seed)`) is at least `p`, and 0 otherwise.
///
/// Each draw takes exactly one 32-bit word of the stream, so chunks of the mask seek to
/// their first word (`set_word_pos`) and are drawn in parallel: the same mask as one
/// sequential pass, on any thread count. It was one sequential pass of draws into a
/// uniform array, then a second pass to threshold it; on dcgan28's discriminator (800,000
/// and 400,000 elements per call, three calls a step) that was 4% of the training step.
///
/// The words come from the stream in blocks (`Rng::fill`, the same words in the same order
/// as one draw at a time), and each becomes its uniform value through [`OneWord`]: the
/// loop over a block is then straight-line arithmetic that vectorises, where drawing word
/// by word kept a buffer check and a refill branch per element (with the stream, 8% of
/// dcgan28's training step).
fn keep_mask(n: usize, p: f32, seed: u64) -> Vec<f32> {
    /// Words drawn per block: 4 KiB on the stack.
    const BLOCK: usize = 1024;
    let keep = 1.0 / (1.0 - p);
    let uniform = Uniform::new(0.0f32, 1.0).expect("0 < 1");
    let mut mask = vec![0.0f32; n];
    mask.par_chunks_mut(MASK_CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut rng = ChaCha12Rng::seed_from_u64(seed);
            rng.set_word_pos((c * MASK_CHUNK) as u128);
            // Local copies: the captured originals are f32s behind references, which the
            // mask's f32 stores might alias, so the loop would reload them every element.
            let (uniform, p, keep) = (uniform, p, keep);
            let mut words = [0u32; BLOCK];
            for block in chunk.chunks_mut(BLOCK) {
                let words = &mut words[..block.len()];
                rng.fill(words);
                for (m, &word) in block.iter_mut().zip(words.iter()) {
                    let u = uniform.sample(&mut OneWord(word));
                    *m = if u >= p { keep } else { 0.0 };
                }
            }
        });
    mask
}

/// A source of exactly one 32-bit word, already drawn: `Uniform<f32>::sample` takes one
/// word per value, so sampling through it gives the value that word gives from the stream.
struct OneWord(u32);

impl RngCore for OneWord {
    fn next_u32(&mut self) -> u32 {
        self.0
    }

    fn next_u64(&mut self) -> u64 {
        unreachable!("a uniform f32 takes one 32-bit word")
    }

    fn fill_bytes(&mut self, _: &mut [u8]) {
        unreachable!("a uniform f32 takes one 32-bit word")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    #[test]
    fn chunked_mask_is_the_sequential_stream() {
        // The mask drawn in parallel chunks is the one a single sequential pass of
        // StdRng gives, across chunk boundaries and at a ragged end.
        for (n, p, seed) in [(3 * MASK_CHUNK + 123, 0.3, 7), (1000, 0.5, 0), (1, 0.9, 3)] {
            let mut rng = StdRng::seed_from_u64(seed);
            let keep = 1.0 / (1.0 - p);
            let want: Vec<f32> = NdArray::rand_uniform(&[n], 0.0, 1.0, &mut rng)
                .to_vec()
                .into_iter()
                .map(|u| if u >= p { keep } else { 0.0 })
                .collect();
            let got = keep_mask(n, p, seed);
            assert_eq!(got, want, "n {n}, p {p}");
            let kept = got.iter().filter(|&&m| m != 0.0).count() as f32 / n as f32;
            assert!(n < 1000 || (kept - (1.0 - p)).abs() < 0.05, "kept {kept}");
        }
    }
}
