//! `cyclegan`'s replay buffers ([`crate::ReplayBuffer`]) held as a module whose state is
//! fixed-shape buffers, so that the checkpoint code saves and loads them like any network
//! and a resumed run draws what the uninterrupted one would have.

use agon_autodiff::Tensor;
use agon_nn::{Buffer, Module};
use agon_tensor::NdArray;

use crate::ReplayBuffer;

/// A [`ReplayBuffer`] of `capacity` images stored as buffers: `images`
/// `[max(capacity, 1), C, H, W]` (the first `len` rows in use), `len` and `queries`.
pub(super) struct SavedPool {
    images: Buffer,
    len: Buffer,
    queries: Buffer,
    capacity: usize,
    seed: u64,
}

impl SavedPool {
    /// An empty pool for images of `shape` (`[C, H, W]`), its draws seeded by `seed`.
    pub(super) fn new(capacity: usize, shape: &[usize], seed: u64) -> Self {
        let mut full = vec![capacity.max(1)];
        full.extend_from_slice(shape);
        SavedPool {
            images: Buffer::new(NdArray::zeros(&full)),
            len: Buffer::counter(0),
            queries: Buffer::counter(0),
            capacity,
            seed,
        }
    }

    /// [`ReplayBuffer::query`] on the saved state, which it then updates.
    pub(super) fn query(&self, fakes: &NdArray) -> NdArray {
        let len = self.len.data().item() as usize;
        let kept = (len > 0).then(|| self.images.data().narrow(0, 0, len).contiguous());
        let queries = self.queries.data().item() as u64;
        let mut pool = ReplayBuffer::restore(self.capacity, self.seed, kept.as_ref(), queries);
        let out = pool.query(fakes);
        if let Some(stored) = pool.images() {
            let rows = stored.shape()[0];
            let all = self.images.shape();
            let images = if rows == all[0] {
                stored
            } else {
                let mut pad = all.clone();
                pad[0] -= rows;
                NdArray::concat(&[&stored, &NdArray::zeros(&pad)], 0)
            };
            self.images.set(images);
        }
        self.len.set(NdArray::scalar(pool.len() as f32));
        self.queries.set(NdArray::scalar(pool.queries() as f32));
        out
    }
}

impl Module for SavedPool {
    /// Not a layer: as a module it passes its input through.
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }

    fn buffers(&self) -> Vec<(String, Buffer)> {
        vec![
            ("images".into(), self.images.clone()),
            ("len".into(), self.len.clone()),
            ("queries".into(), self.queries.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queried through its saved state, the pool answers as one live buffer does.
    #[test]
    fn a_saved_pool_answers_as_the_live_buffer() {
        let saved = SavedPool::new(3, &[1, 1, 1], 7);
        let mut live = ReplayBuffer::new(3, 7);
        for round in 0..20 {
            let fakes =
                NdArray::from_vec(vec![round as f32, round as f32 + 0.5], &[2, 1, 1, 1]).unwrap();
            assert_eq!(
                saved.query(&fakes).to_vec(),
                live.query(&fakes).to_vec(),
                "{round}"
            );
        }
        assert_eq!(saved.len.data().item(), 3.0);
        assert_eq!(saved.queries.data().item(), 20.0);
    }
}
