//! Convolution patches packed straight from the padded stride phases into the GEMM's
//! panels, one column per output position: no column matrix, no junk columns.
//!
//! [`WideRows`] stores a zero-padded image as its stride phases, where tap `(c, ki, kj)` of
//! output `(oh, ow)` is pixel `tap_base(c, ki, kj) + oh * Wq + ow` of the padded image: for
//! one output row, each tap reads a contiguous run, with no bounds test (the padding is in
//! the copy). [`PhasePatches`] is conv2d's B (`[taps, positions]`): a 32-column panel is
//! cut into its pieces of output rows (5 or 6 on a 7x7 map), and each tap's row of the
//! panel is those few runs, copied with masked vector moves on AVX-512. [`PhasePatchesT`]
//! is the weight gradient's B (`[positions, taps]`), gathered.
//!
//! Before 2026-12-06 conv2d computed on the *wide* grid instead (`Wq` columns per output
//! row, so each tap's panel row was a single run) where `Wq` was at most a fifth wider than
//! `Wo`, and built im2col's column matrix elsewhere, written in full and then read again to
//! pack it (1.5 MiB per task on dcgan28's 5x5 stride-2 discriminator layer, a third of that
//! layer's time). Packing compact positions was faster than both on every layer measured
//! (BENCHMARKS.md).

use super::wide_rows::{copy_run, WideRows};
use crate::gemm::{Isa, PackB};

/// The side-by-side compact patch matrices of `images` padded images.
pub(crate) struct PhasePatches<'a> {
    /// `images` padded images of `geometry.padded_len()` floats each (see [`WideRows::pad`]).
    pub padded: &'a [f32],
    pub geometry: WideRows,
    pub images: usize,
    /// `tap_base` of every row of the patch matrix ([`WideRows::tap_bases`]).
    pub taps: &'a [usize],
    /// The GEMM's path: on AVX-512 the short runs are copied with masked vector moves.
    pub isa: Isa,
}

/// A piece of a sliver inside one output row of one image: sliver columns `d .. d + len`
/// read padded pixels `image_start + offset + tap_base ..` of that many floats.
#[derive(Clone, Copy)]
struct Piece {
    d: usize,
    src: usize,
    len: usize,
}

impl PackB for PhasePatches<'_> {
    fn dims(&self) -> [usize; 2] {
        let [ho, wo] = self.geometry.out_hw;
        [self.geometry.rows(), self.images * ho * wo]
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let g = &self.geometry;
        let [ho, wo] = g.out_hw;
        let (per_image, image) = (ho * wo, g.padded_len());
        let end = (j0 + width).min(self.images * per_image);
        // The sliver's pieces of output rows: one per output row it touches.
        let mut pieces = Vec::with_capacity((end.saturating_sub(j0)).div_ceil(wo.max(1)) + 2);
        let mut j = j0;
        while j < end {
            let (img, l) = (j / per_image, j % per_image);
            let (oh, ow) = (l / wo, l % wo);
            let len = (wo - ow).min(end - j);
            pieces.push(Piece {
                d: j - j0,
                src: img * image + oh * g.wq + ow,
                len,
            });
            j += len;
        }
        let valid = end.saturating_sub(j0);
        let rows = dst.chunks_exact_mut(width).zip(self.taps);
        #[cfg(target_arch = "x86_64")]
        if self.isa == Isa::Avx512 {
            // SAFETY: `isa` is only Avx512 when the CPU has AVX-512F (`Isa::active`).
            unsafe { avx512::pack_rows(rows, &pieces, self.padded, valid) };
            return;
        }
        for (row, &base) in rows {
            for piece in &pieces {
                let src = &self.padded[base + piece.src..base + piece.src + piece.len];
                copy_run(&mut row[piece.d..piece.d + piece.len], src);
            }
            row[valid..].fill(0.0);
        }
    }
}

/// The transposed patch matrix of `images` padded images side by side: rows are output
/// positions `(image, oh, ow)`, columns the taps `(c, ki, kj)`. The weight gradient's B
/// operand (`dW [Cout, taps] = g [Cout, positions] @ patches^T`): a 32-tap panel holds, for
/// each position, the 32 pixels that its taps read, a gather of 32 fixed offsets (the taps'
/// bases) shifted by the position's offset. On AVX-512 that is two `vgatherdps` per
/// position; im2col then a transposing pack read and wrote every value twice more.
pub(crate) struct PhasePatchesT<'a> {
    padded: &'a [f32],
    /// `tap_base` of every tap, as gather indices ([`PhasePatchesT::tap_indices`]).
    taps: &'a [i32],
    /// Offset of every position's pixel for tap base 0 (image start + `oh * Wq + ow`).
    positions: Vec<i32>,
    isa: Isa,
}

impl<'a> PhasePatchesT<'a> {
    /// The taps' bases of `g` as gather indices, built once per op and shared by its
    /// blocks.
    ///
    /// # Panics
    /// If a base does not fit an `i32` (see [`PhasePatchesT::new`]).
    pub fn tap_indices(g: &WideRows) -> Vec<i32> {
        let to_i32 = |t: usize| i32::try_from(t).expect("PhasePatchesT: tap base beyond i32");
        g.tap_bases().into_iter().map(to_i32).collect()
    }

    /// The patches of the `images` padded images in `padded` (each `g.padded_len()`
    /// floats, from [`WideRows::pad`]), with `taps` from [`PhasePatchesT::tap_indices`].
    ///
    /// # Panics
    /// If `padded` is shorter than the images, or too long for `i32` gather indices (over
    /// 8 GiB: side-by-side blocks hold a few small images).
    pub fn new(padded: &'a [f32], g: &WideRows, images: usize, taps: &'a [i32], isa: Isa) -> Self {
        let [ho, wo] = g.out_hw;
        assert!(padded.len() >= images * g.padded_len() && i32::try_from(padded.len()).is_ok());
        assert_eq!(taps.len(), g.rows());
        let mut positions = Vec::with_capacity(images * ho * wo);
        for img in 0..images {
            for oh in 0..ho {
                for ow in 0..wo {
                    positions.push((img * g.padded_len() + oh * g.wq + ow) as i32);
                }
            }
        }
        PhasePatchesT {
            padded,
            taps,
            positions,
            isa,
        }
    }
}

impl PackB for PhasePatchesT<'_> {
    fn dims(&self) -> [usize; 2] {
        [self.positions.len(), self.taps.len()]
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let taps = &self.taps[j0.min(self.taps.len())..(j0 + width).min(self.taps.len())];
        #[cfg(target_arch = "x86_64")]
        if self.isa == Isa::Avx512 && width == 32 {
            // SAFETY: `isa` is only Avx512 when the CPU has AVX-512F (`Isa::active`); every
            // tap base plus position offset is a pixel of the padded images (`tap_base` and
            // `oh * Wq + ow` stay inside one image's planes), so each gathered index is in
            // bounds of `padded`, whose length fits an i32 (checked in `new`).
            unsafe { avx512::gather_rows(taps, &self.positions, self.padded, dst) };
            return;
        }
        for (row, &pos) in dst.chunks_exact_mut(width).zip(&self.positions) {
            for (d, &t) in row.iter_mut().zip(taps) {
                *d = self.padded[(t + pos) as usize];
            }
            row[taps.len()..].fill(0.0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Piece;
    use std::arch::x86_64::*;

    /// Row `p` of the 32-wide panel `dst` is `padded[taps[j] + positions[p]]` for the
    /// `taps.len() <= 32` taps, zero after them: two masked 16-lane gathers per row.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `taps[j] + positions[p]` must be an index of `padded`
    /// for every j and p; `dst` holds `positions.len()` rows of 32.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gather_rows(
        taps: &[i32],
        positions: &[i32],
        padded: &[f32],
        dst: &mut [f32],
    ) {
        debug_assert!(taps.len() <= 32 && dst.len() >= positions.len() * 32);
        let mut idx = [0i32; 32];
        idx[..taps.len()].copy_from_slice(taps);
        let lanes = |n: usize| ((1u32 << n.min(16)) - 1) as __mmask16;
        let (m0, m1) = (lanes(taps.len()), lanes(taps.len().saturating_sub(16)));
        // SAFETY: `idx` holds 32 i32; the caller vouches for the gathered indices (masked-off
        // lanes are not read) and for the 32 floats of each row of `dst`.
        unsafe {
            let (t0, t1) = (
                _mm512_loadu_si512(idx.as_ptr().cast()),
                _mm512_loadu_si512(idx.as_ptr().add(16).cast()),
            );
            let zero = _mm512_setzero_ps();
            let base = padded.as_ptr();
            for (p, &pos) in positions.iter().enumerate() {
                let shift = _mm512_set1_epi32(pos);
                let v0 = _mm512_mask_i32gather_ps::<4>(zero, m0, _mm512_add_epi32(t0, shift), base);
                let v1 = _mm512_mask_i32gather_ps::<4>(zero, m1, _mm512_add_epi32(t1, shift), base);
                _mm512_storeu_ps(dst.as_mut_ptr().add(p * 32), v0);
                _mm512_storeu_ps(dst.as_mut_ptr().add(p * 32 + 16), v1);
            }
        }
    }

    /// The sliver's rows (each with its tap's base), piece by piece, in masked 16-float
    /// moves: a run of a 7-wide output row is one load and one store, where a scalar copy
    /// is seven of each (and `memcpy` a call). Columns from `valid` on are zeroed.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pack_rows<'r>(
        rows: impl Iterator<Item = (&'r mut [f32], &'r usize)>,
        pieces: &[Piece],
        padded: &[f32],
        valid: usize,
    ) {
        for (row, &base) in rows {
            for piece in pieces {
                let src = &padded[base + piece.src..base + piece.src + piece.len];
                let dst = &mut row[piece.d..piece.d + piece.len];
                let mut t = 0;
                while t < piece.len {
                    let n = (piece.len - t).min(16);
                    let mask = ((1u32 << n) - 1) as __mmask16;
                    // SAFETY: lanes below `n` address elements t .. t + n <= len of both
                    // slices; masked-off lanes are neither read nor written (no faults).
                    unsafe {
                        let v = _mm512_maskz_loadu_ps(mask, src.as_ptr().add(t));
                        _mm512_mask_storeu_ps(dst.as_mut_ptr().add(t), mask, v);
                    }
                    t += 16;
                }
            }
            row[valid..].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::im2col::{im2col, Geometry};

    /// Every sliver (32 wide, an odd width, and the whole matrix at once as the portable
    /// path asks) equals the matching columns of im2col's column matrix (or of its
    /// transpose), zero-padded past the last column, on every copy path this CPU has.
    #[test]
    fn slivers_match_im2col() {
        let geometries = [
            // dcgan28's 5x5 stride-2 layer on a 14x14 map: short 7-wide rows.
            ([3, 14, 14], [5, 5], [2, 2], [2, 2], [1, 1]),
            // A 5x5 stride-1 layer with padding 2 on 7x7 (a ConvT's input gradient).
            ([2, 7, 7], [5, 5], [1, 1], [2, 2], [1, 1]),
            // Uneven strides and dilation, rows longer than 16.
            ([2, 11, 40], [3, 2], [2, 1], [1, 0], [2, 3]),
        ];
        for ([c, h, w], kernel, stride, padding, dilation) in geometries {
            let out_hw: [usize; 2] = std::array::from_fn(|a| {
                let hw = [h, w][a];
                (hw + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1
            });
            let g = Geometry {
                channels: c,
                in_hw: [h, w],
                kernel,
                stride,
                padding,
                dilation,
                out_hw,
            };
            let images = 3;
            let (l, k, image) = (g.positions(), g.rows(), c * h * w);
            let x: Vec<f32> = (0..images * image).map(|i| i as f32 + 1.0).collect();
            let n = images * l;
            let mut cols = vec![0.0; k * n];
            for i in 0..images {
                im2col(
                    &x[i * image..(i + 1) * image],
                    &g,
                    0,
                    l,
                    &mut cols[i * l..],
                    n,
                );
            }
            let wide = WideRows::new(&g);
            // NaN where `pad` would leave an element unwritten.
            let mut padded = vec![f32::NAN; images * wide.padded_len()];
            for (i, dst) in padded.chunks_exact_mut(wide.padded_len()).enumerate() {
                wide.pad(&x[i * image..(i + 1) * image], padding, dst);
            }
            let (taps, indices) = (wide.tap_bases(), PhasePatchesT::tap_indices(&wide));
            // Every sliver of `pack` (`rows x columns`, `at(p, j)` the expected element).
            let check = |pack: &dyn PackB, what: &str, at: &dyn Fn(usize, usize) -> f32| {
                let [rows, columns] = pack.dims();
                for width in [32, 21, columns] {
                    for j0 in (0..columns).step_by(width) {
                        let mut dst = vec![f32::NAN; rows * width];
                        pack.pack_sliver(j0, width, &mut dst);
                        for p in 0..rows {
                            for j in 0..width {
                                let want = if j0 + j < columns { at(p, j0 + j) } else { 0.0 };
                                assert_eq!(
                                    dst[p * width + j],
                                    want,
                                    "{what} {kernel:?} s{stride:?}: row {p}, column {}",
                                    j0 + j
                                );
                            }
                        }
                    }
                }
            };
            for isa in [Isa::Avx512, Isa::Portable] {
                if !isa.is_supported() {
                    continue;
                }
                let patches = PhasePatches {
                    padded: &padded,
                    geometry: wide,
                    images,
                    taps: &taps,
                    isa,
                };
                assert_eq!(patches.dims(), [k, n]);
                check(&patches, &format!("{isa:?}"), &|p, j| cols[p * n + j]);
                // The transposed matrix (the weight gradient's B): 32-tap panels gather on
                // AVX-512, other widths take the scalar loop.
                let t = PhasePatchesT::new(&padded, &wide, images, &indices, isa);
                assert_eq!(t.dims(), [n, k]);
                check(&t, &format!("transposed {isa:?}"), &|p, j| cols[j * n + p]);
            }
        }
    }
}
