//! [`Batcher`]: endless, seeded, shuffled mini-batches whose position can be saved and
//! restored, so a resumed training run sees exactly the batches an uninterrupted one would.
//!
//! The order of epoch `e` is a permutation drawn from an RNG seeded with a mix of
//! `(seed, e)` alone, so the whole state is three numbers ([`BatcherState`]): nothing
//! about the RNG's internals needs saving, and restoring recomputes the epoch's order.

use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::dataset::Dataset;
use crate::error::DataError;

/// Where a [`Batcher`] is: enough to continue with identical batches (store it in a
/// checkpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatcherState {
    /// The seed every epoch's order derives from.
    pub seed: u64,
    /// The current epoch (0-based).
    pub epoch: u64,
    /// How many samples of this epoch's order have been handed out.
    pub position: usize,
}

/// Mini-batches of a [`Dataset`], reshuffled every epoch from a seeded RNG.
///
/// By default the last, shorter batch of an epoch is returned (`drop_last(false)`); with
/// `drop_last(true)` every batch has `batch_size` samples and the remainder is skipped.
///
/// ```
/// use agon_data::{Batcher, Dataset};
/// use agon_tensor::NdArray;
/// let ds = Dataset::new("d", NdArray::arange(0.0, 10.0, 1.0).reshape(&[10, 1]), None);
/// let mut batcher = Batcher::new(ds, 4, 42).drop_last(true);
/// let (x, labels) = batcher.next_batch();
/// assert_eq!(x.shape(), &[4, 1]);
/// assert!(labels.is_none());
///
/// // Save, take two batches, restore: the same two batches again.
/// let saved = batcher.state();
/// let a: Vec<_> = (0..2).map(|_| batcher.next_batch().0.to_vec()).collect();
/// batcher.restore(saved).unwrap();
/// let b: Vec<_> = (0..2).map(|_| batcher.next_batch().0.to_vec()).collect();
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug)]
pub struct Batcher {
    dataset: Dataset,
    batch_size: usize,
    drop_last: bool,
    shuffle: bool,
    state: BatcherState,
    order: Vec<usize>,
}

impl Batcher {
    /// Shuffled batches of `batch_size` from `dataset`, epoch orders derived from `seed`.
    ///
    /// # Panics
    /// If the dataset is empty or `batch_size` is 0.
    #[track_caller]
    pub fn new(dataset: Dataset, batch_size: usize, seed: u64) -> Self {
        assert!(
            !dataset.is_empty() && batch_size > 0,
            "Batcher::new: need a non-empty dataset and batch_size > 0 (dataset '{}' has {} \
             samples, batch_size {batch_size})",
            dataset.name(),
            dataset.len()
        );
        let mut b = Batcher {
            dataset,
            batch_size,
            drop_last: false,
            shuffle: true,
            state: BatcherState {
                seed,
                epoch: 0,
                position: 0,
            },
            order: Vec::new(),
        };
        b.order = b.epoch_order(0);
        b
    }

    /// Whether to skip each epoch's last, incomplete batch.
    ///
    /// # Panics
    /// If `drop_last` is true and `batch_size` exceeds the dataset (no batch would ever be
    /// complete).
    #[track_caller]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        assert!(
            !drop_last || self.batch_size <= self.dataset.len(),
            "Batcher::drop_last: batch_size {} exceeds the {} samples of '{}', so every batch \
             would be dropped",
            self.batch_size,
            self.dataset.len(),
            self.dataset.name()
        );
        self.drop_last = drop_last;
        self
    }

    /// Whether to shuffle (default true); `false` walks the dataset in order every epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self.order = self.epoch_order(self.state.epoch);
        self
    }

    /// The sample order of `epoch`: a function of `(seed, epoch)` only.
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            let mut rng = StdRng::seed_from_u64(mix(self.state.seed, epoch));
            order.shuffle(&mut rng);
        }
        order
    }

    /// The next batch: images `[B, ..]` and, for labelled data, their labels. Starts a new,
    /// reshuffled epoch when the current one is used up.
    pub fn next_batch(&mut self) -> (NdArray, Option<Vec<usize>>) {
        let n = self.dataset.len();
        let pos = self.state.position;
        if pos >= n || (self.drop_last && pos + self.batch_size > n) {
            self.state.epoch += 1;
            self.state.position = 0;
            self.order = self.epoch_order(self.state.epoch);
        }
        let start = self.state.position;
        let end = (start + self.batch_size).min(n);
        self.state.position = end;
        self.dataset.gather(&self.order[start..end])
    }

    /// The current state, to store in a checkpoint.
    pub fn state(&self) -> BatcherState {
        self.state
    }

    /// Continues from a saved state: the next batch is the one that followed when it was
    /// saved (given the same dataset, batch size, `drop_last` and `shuffle`).
    ///
    /// # Errors
    /// [`DataError::Invalid`] when `state.position` exceeds the dataset's length (a state
    /// from another dataset).
    pub fn restore(&mut self, state: BatcherState) -> Result<(), DataError> {
        if state.position > self.dataset.len() {
            return Err(DataError::invalid(
                std::path::Path::new("batcher state"),
                format!(
                    "position {} is beyond the {} samples of dataset '{}'",
                    state.position,
                    self.dataset.len(),
                    self.dataset.name()
                ),
            ));
        }
        self.state = state;
        self.order = self.epoch_order(state.epoch);
        Ok(())
    }

    /// Batches per epoch (the last one shorter unless `drop_last`).
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset batched.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }
}

impl Iterator for Batcher {
    type Item = (NdArray, Option<Vec<usize>>);

    /// Never `None`: batches go on epoch after epoch.
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_batch())
    }
}

/// SplitMix64 of `seed` and `epoch`: distinct, well-spread seeds for each epoch.
fn mix(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
