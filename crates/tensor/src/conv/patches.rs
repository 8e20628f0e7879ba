//! Implicit GEMM: a batch of images seen as the column matrix of their convolution patches,
//! packed straight into the GEMM's B slivers.
//!
//! conv2d is `W [Cout, C*kh*kw] @ cols [C*kh*kw, L]` per image. Instead of building `cols`
//! (im2col) and then copying it again into the GEMM's packed slivers, [`Patches`] lets the
//! GEMM ask for slivers of `cols` directly: each 32- or 16-column sliver is written by
//! im2col into the packing buffer, so the patch matrix never exists in full.

use super::im2col::{im2col, Geometry};
use crate::gemm::PackB;

/// The side-by-side column matrices of `images` consecutive images of `x` (dense
/// `[images, C, H, W]`): column `j` is output position `j % L` of image `j / L`.
pub(crate) struct Patches<'a> {
    pub x: &'a [f32],
    pub g: &'a Geometry,
    pub images: usize,
}

impl PackB for Patches<'_> {
    fn dims(&self) -> [usize; 2] {
        [self.g.rows(), self.images * self.g.positions()]
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let l = self.g.positions();
        let image = self.g.channels * self.g.in_hw[0] * self.g.in_hw[1];
        let end = (j0 + width).min(self.images * l);
        let mut j = j0;
        while j < end {
            // The part of the sliver inside one image.
            let (img, l0) = (j / l, j % l);
            let t = (l - l0).min(end - j);
            im2col(
                &self.x[img * image..(img + 1) * image],
                self.g,
                l0,
                t,
                &mut dst[j - j0..],
                width,
            );
            j += t;
        }
        let valid = end.saturating_sub(j0);
        if valid < width {
            for row in dst.chunks_exact_mut(width) {
                row[valid..].fill(0.0);
            }
        }
    }
}
