//! Stride-1 conv2d as an implicit GEMM over *wide rows*: the patch matrix of a zero-padded
//! image is a set of contiguous runs of that image.
//!
//! With the input padded to `[C, Hp, Wp]` and the output computed on a grid `Wp` wide
//! (the last `Wp - Wo` columns of each row are junk that is dropped), output position
//! `j = oh * Wp + ow` of tap `(c, ki, kj)` reads padded pixel `base + j` with
//! `base = c*Hp*Wp + ki*dh*Wp + kj*dw`. So every row of the patch matrix is one contiguous
//! slice of the padded image, and packing a 32-column sliver is one 32-float copy per tap,
//! where the general im2col walks `Ho` short runs per tap (one per output row, 7 to 28
//! floats, each with its own bounds arithmetic and copy call: 3 to 4 times the GEMM's own
//! time on 14x14 maps). The price is `Wp / Wo` more columns (16/14 on a 14x14 map with
//! padding 1) and one padded copy of the input.

use super::im2col::Geometry;
use crate::gemm::PackB;

/// The wide-row geometry of a stride-1 convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WideRows {
    pub channels: usize,
    /// Padded input size.
    pub hp: usize,
    pub wp: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
    pub out_hw: [usize; 2],
}

impl WideRows {
    /// For a stride-1 geometry (checked by the caller).
    pub fn new(g: &Geometry) -> WideRows {
        debug_assert_eq!(g.stride, [1, 1]);
        WideRows {
            channels: g.channels,
            hp: g.in_hw[0] + 2 * g.padding[0],
            wp: g.in_hw[1] + 2 * g.padding[1],
            kernel: g.kernel,
            dilation: g.dilation,
            out_hw: g.out_hw,
        }
    }

    /// Whether the wide grid is at most a fifth wider than the output (a 3x3 kernel with
    /// padding 1 on a 14x14 map: 16 / 14), so the extra columns cost less than the short
    /// runs they save. A 5x5 kernel on a 7x7 map (11 / 7) is left to im2col.
    pub fn pays_off(&self) -> bool {
        5 * self.wp <= 6 * self.out_hw[1]
    }

    /// Floats of one padded image.
    pub fn padded_len(&self) -> usize {
        self.channels * self.hp * self.wp
    }

    /// Wide columns of one image: `Ho` rows of `Wp`, less the junk after the last row's
    /// `Wo` (so that no read leaves the padded image).
    pub fn columns(&self) -> usize {
        let [ho, wo] = self.out_hw;
        (ho - 1) * self.wp + wo
    }

    /// Rows of the patch matrix (taps).
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Writes image `x` (`[C, H, W]`, dense) zero-padded by `padding` into `dst`.
    pub fn pad(&self, x: &[f32], padding: [usize; 2], dst: &mut [f32]) {
        let (w, h) = (self.wp - 2 * padding[1], self.hp - 2 * padding[0]);
        dst.fill(0.0);
        for c in 0..self.channels {
            for r in 0..h {
                let src = &x[(c * h + r) * w..(c * h + r + 1) * w];
                let at = (c * self.hp + r + padding[0]) * self.wp + padding[1];
                dst[at..at + w].copy_from_slice(src);
            }
        }
    }

    /// Copies image `img`'s wide output (`[Cout, columns]` at column `first` of a matrix
    /// with row stride `ld`) into its dense output `[Cout, Ho, Wo]`, dropping the junk.
    pub fn compact(&self, wide: &[f32], ld: usize, first: usize, out: &mut [f32]) {
        let [ho, wo] = self.out_hw;
        for (o, out_o) in out.chunks_exact_mut(ho * wo).enumerate() {
            for (r, row) in out_o.chunks_exact_mut(wo).enumerate() {
                let at = o * ld + first + r * self.wp;
                row.copy_from_slice(&wide[at..at + wo]);
            }
        }
    }
}

/// The side-by-side wide patch matrices of `images` padded images (`[images, C, Hp, Wp]`).
pub(crate) struct WidePatches<'a> {
    pub padded: &'a [f32],
    pub geometry: WideRows,
    pub images: usize,
}

impl PackB for WidePatches<'_> {
    fn dims(&self) -> [usize; 2] {
        [self.geometry.rows(), self.images * self.geometry.columns()]
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let g = &self.geometry;
        let (cols, image) = (g.columns(), g.padded_len());
        let [kh, kw] = g.kernel;
        let [dh, dw] = g.dilation;
        let end = (j0 + width).min(self.images * cols);
        let mut j = j0;
        while j < end {
            // The part of the sliver inside one image.
            let (img, l0) = (j / cols, j % cols);
            let t = (cols - l0).min(end - j);
            let x = &self.padded[img * image..(img + 1) * image];
            let mut p = 0;
            for c in 0..g.channels {
                for ki in 0..kh {
                    for kj in 0..kw {
                        let base = c * g.hp * g.wp + ki * dh * g.wp + kj * dw + l0;
                        let at = p * width + (j - j0);
                        copy_run(&mut dst[at..at + t], &x[base..base + t]);
                        p += 1;
                    }
                }
            }
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

/// Copies one tap's run of a sliver (32 or 16 floats on the in-house kernels; a whole image
/// row when the portable path materialises B) in fixed 8-float blocks, which compile to
/// inline vector moves; `copy_from_slice` would call `memcpy` once per tap.
#[inline(always)]
fn copy_run(out: &mut [f32], src: &[f32]) {
    let mut o = out.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (o, s) in (&mut o).zip(&mut s) {
        let block: &[f32; 8] = s.try_into().expect("8 floats");
        o.copy_from_slice(block);
    }
    for (o, &s) in o.into_remainder().iter_mut().zip(s.remainder()) {
        *o = s;
    }
}
