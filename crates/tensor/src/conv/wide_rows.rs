//! The zero-padded image split into its stride phases, the layout that conv2d's implicit
//! GEMM (`phase_patches`) and the few-output kernels (`few_outputs`) read patches from.
//!
//! Stride 1: with the input padded to `[C, Hp, Wp]`, tap `(c, ki, kj)` of output
//! `(oh, ow)` reads padded pixel `base + oh * Wp + ow` with
//! `base = c*Hp*Wp + ki*dh*Wp + kj*dw`: each tap's row of the patch matrix is, output row by
//! output row, a contiguous run of the padded image, with no bounds test (the padding is in
//! the copy). Computed on a grid `Wp` wide (*wide rows*: the last `Wp - Wo` columns of each
//! row are junk that is dropped), every tap's row is even one run; the few-output kernels
//! do that.
//!
//! Stride `(sh, sw)`: the padded image is stored as its `sh * sw` *phases*, phase `(a, b)`
//! holding padded pixels `(a + sh*r, b + sw*s)` at `(r, s)` of a `[Hq, Wq]` plane
//! (`Hq = ceil(Hp / sh)`, `Wq = ceil(Wp / sw)`). Output `(oh, ow)` reads padded pixel
//! `(oh*sh + ki*dh, ow*sw + kj*dw)`, which is pixel `(oh + ki*dh / sh, ow + kj*dw / sw)` of
//! phase `(ki*dh % sh, kj*dw % sw)`: a stride-1 read again, so each tap's output row is one
//! contiguous run of its phase. Stride 1 is the one-phase case.
//!
//! conv2d's GEMM once computed on the wide grid too (`WidePatches`, 2026-12-04); packing
//! compact positions from the same layout (`phase_patches`) replaced it, being faster on
//! every layer measured.

use super::im2col::Geometry;
use crate::gemm::Isa;

/// The wide-row geometry of a convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WideRows {
    pub channels: usize,
    /// Padded input size.
    pub padded_hw: [usize; 2],
    pub stride: [usize; 2],
    /// Size of one phase plane: `ceil(padded / stride)` per axis (the padded size at
    /// stride 1). Wide output rows are `wq` long.
    pub hq: usize,
    pub wq: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
    pub out_hw: [usize; 2],
}

impl WideRows {
    /// The wide-row geometry of `g`.
    pub fn new(g: &Geometry) -> WideRows {
        let padded_hw = std::array::from_fn(|a| g.in_hw[a] + 2 * g.padding[a]);
        WideRows {
            channels: g.channels,
            padded_hw,
            stride: g.stride,
            hq: padded_hw[0].div_ceil(g.stride[0]),
            wq: padded_hw[1].div_ceil(g.stride[1]),
            kernel: g.kernel,
            dilation: g.dilation,
            out_hw: g.out_hw,
        }
    }

    /// Whether the padded rows are at most a fifth wider than the output rows (a 3x3 kernel
    /// with padding 1 on a 14x14 map: 16 / 14; a 4x4 stride-2 kernel on one: 8 / 7): then
    /// the wide grid's junk columns cost little (the few-output kernels), and a large map's
    /// padded copy is not much bigger than the input (conv2d takes whole large images from
    /// the padded phases only then; a 5x5 kernel on a 7x7 map, 11 / 7, is tiled through
    /// im2col when the map is too large to batch).
    pub fn pays_off(&self) -> bool {
        5 * self.wq <= 6 * self.out_hw[1]
    }

    /// The same layout with the phase planes' rows `row` floats apart (`row >= wq`), the
    /// columns past each plane's width zero: [`super::aligned_rows`] rounds the rows up to
    /// whole vectors.
    ///
    /// # Panics
    /// If `row < wq`.
    pub fn with_row_stride(self, row: usize) -> WideRows {
        assert!(
            row >= self.wq,
            "phase rows of {row} floats hold {} columns",
            self.wq
        );
        WideRows { wq: row, ..self }
    }

    /// Stride phases per channel.
    fn phases(&self) -> usize {
        self.stride[0] * self.stride[1]
    }

    /// Floats of one padded image (all its phases).
    pub fn padded_len(&self) -> usize {
        self.channels * self.phases() * self.hq * self.wq
    }

    /// Wide columns of one image: `Ho` rows of `Wq`, less the junk after the last row's
    /// `Wo` (so that no read leaves its phase plane).
    pub fn columns(&self) -> usize {
        let [ho, wo] = self.out_hw;
        (ho - 1) * self.wq + wo
    }

    /// Rows of the patch matrix (taps).
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// [`tap_base`](WideRows::tap_base) of every tap, in the order `(c, ki, kj)` of a
    /// conv2d weight `[Cout, Cin, kh, kw]` flattened to `[Cout, Cin*kh*kw]`.
    pub fn tap_bases(&self) -> Vec<usize> {
        let [kh, kw] = self.kernel;
        let mut bases = Vec::with_capacity(self.rows());
        for c in 0..self.channels {
            for ki in 0..kh {
                for kj in 0..kw {
                    bases.push(self.tap_base(c, ki, kj));
                }
            }
        }
        bases
    }

    /// Where tap `(c, ki, kj)`'s run starts in a padded image: wide column `j` of that row
    /// of the patch matrix is `padded[tap_base + j]`.
    pub fn tap_base(&self, c: usize, ki: usize, kj: usize) -> usize {
        let [sh, sw] = self.stride;
        let (r, s) = (ki * self.dilation[0], kj * self.dilation[1]);
        let phase = c * self.phases() + (r % sh) * sw + s % sw;
        (phase * self.hq + r / sh) * self.wq + s / sw
    }

    /// Writes image `x` (`[C, H, W]`, dense) zero-padded by `padding` into `dst`, phase by
    /// phase.
    pub fn pad(&self, x: &[f32], padding: [usize; 2], dst: &mut [f32]) {
        // Stride 2's every-other-pixel copies as two masked loads and a permute per 16
        // pixels on AVX-512 (the scalar loop was half of this function's time in the
        // default training step's profile), inlined into an AVX-512 copy of the loops.
        #[cfg(target_arch = "x86_64")]
        if self.stride[1] == 2 && Isa::active() == Isa::Avx512 {
            // SAFETY: the active path is AVX-512 only where the CPU has AVX-512F.
            return unsafe { self.pad_avx512(x, padding, dst) };
        }
        self.pad_with(x, padding, dst, copy_every::<2>);
    }

    /// [`pad`](WideRows::pad) with the AVX-512 stride-2 copy.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pad_avx512(&self, x: &[f32], padding: [usize; 2], dst: &mut [f32]) {
        // SAFETY: this function runs only with AVX-512F (its caller's contract).
        self.pad_with(x, padding, dst, |out, run| unsafe {
            avx512::copy_evens(out, run)
        });
    }

    /// The loops of [`pad`](WideRows::pad), with `copy2(out, run)` doing
    /// `out[t] = run[2 t]` for the stride-2 runs.
    #[inline(always)]
    fn pad_with(
        &self,
        x: &[f32],
        padding: [usize; 2],
        dst: &mut [f32],
        copy2: impl Fn(&mut [f32], &[f32]),
    ) {
        let [hp, wp] = self.padded_hw;
        let (h, w) = (hp - 2 * padding[0], wp - 2 * padding[1]);
        let [sh, sw] = self.stride;
        let plane = self.hq * self.wq;
        dst.fill(0.0);
        // Where each input row starts in its phase planes (channel 0, w-phase 0), and each
        // w-phase's run: the input columns iw = first, first + sw, .. with
        // (iw + pw) % sw == b, landing on consecutive phase columns from (first + pw) / sw.
        // Both depend on the shapes only; computing them here keeps divisions out of the
        // loops (they were most of this function's time).
        let rows: Vec<usize> = (0..h)
            .map(|ih| {
                let r = ih + padding[0];
                (r % sh) * sw * plane + (r / sh) * self.wq
            })
            .collect();
        let runs: Vec<(usize, usize, usize)> = (0..sw)
            .filter_map(|b| {
                let first = (b + sw - padding[1] % sw) % sw;
                (first < w).then(|| {
                    let at = b * plane + (first + padding[1]) / sw;
                    (first, (w - first).div_ceil(sw), at)
                })
            })
            .collect();
        let channels = x.chunks_exact(h * w).take(self.channels);
        for (x_c, dst_c) in channels.zip(dst.chunks_exact_mut(self.phases() * plane)) {
            for (src, &row_at) in x_c.chunks_exact(w).zip(&rows) {
                for &(first, count, at) in &runs {
                    let out = &mut dst_c[row_at + at..row_at + at + count];
                    // Sliced exactly to the run, so the loops have no bounds checks left.
                    let run = &src[first..first + (count - 1) * sw + 1];
                    match sw {
                        1 => out.copy_from_slice(run),
                        2 => copy2(out, run),
                        _ => {
                            for (t, d) in out.iter_mut().enumerate() {
                                *d = run[t * sw];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Copies image `img`'s wide output (`[Cout, columns]` at column `first` of a matrix
    /// with row stride `ld`) into its dense output `[Cout, Ho, Wo]`, dropping the junk.
    pub fn compact(&self, wide: &[f32], ld: usize, first: usize, out: &mut [f32]) {
        let [ho, wo] = self.out_hw;
        for (o, out_o) in out.chunks_exact_mut(ho * wo).enumerate() {
            for (r, row) in out_o.chunks_exact_mut(wo).enumerate() {
                let at = o * ld + first + r * self.wq;
                row.copy_from_slice(&wide[at..at + wo]);
            }
        }
    }
}

/// `out[t] = run[t * S]`, with the step a constant so the loop compiles to shuffles.
#[inline(always)]
fn copy_every<const S: usize>(out: &mut [f32], run: &[f32]) {
    for (t, d) in out.iter_mut().enumerate() {
        *d = run[t * S];
    }
}

/// Copies one tap's run of a sliver (32 or 16 floats on the in-house kernels; a whole image
/// row when the portable path materialises B) in fixed 8-float blocks, which compile to
/// inline vector moves; `copy_from_slice` would call `memcpy` once per tap.
#[inline(always)]
pub(crate) fn copy_run(out: &mut [f32], src: &[f32]) {
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

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// `out[t] = run[2 t]` for every `t < out.len()`, where `run.len() >= 2 out.len() - 1`:
    /// 16 outputs per step from two masked 16-float loads and one permute.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn copy_evens(out: &mut [f32], run: &[f32]) {
        let n = out.len();
        assert!(n == 0 || run.len() > 2 * (n - 1));
        let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let below = |k: usize| if k >= 16 { 0xffff_u32 } else { (1u32 << k) - 1 } as __mmask16;
        let mut t = 0;
        while t < n {
            let k = (n - t).min(16); // outputs this step: sources 2t .. 2t + 2k - 1
            let have = run.len() - 2 * t; // sources left from 2t on (at least 2k - 1)
                                          // SAFETY: each mask selects sources below `have` (inside `run`) and outputs below
                                          // k (inside `out`); masked-off lanes are neither read nor written.
            unsafe {
                let src = run.as_ptr().add(2 * t);
                let lo = _mm512_maskz_loadu_ps(below(have.min(2 * k)), src);
                let hi =
                    _mm512_maskz_loadu_ps(below(have.min(2 * k).saturating_sub(16)), src.add(16));
                let v = _mm512_permutex2var_ps(lo, evens, hi);
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(t), below(k), v);
            }
            t += k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 every-other copy equals the scalar one for every length up to 40 (runs
    /// that end one short of, or exactly at, a 16-output step).
    #[test]
    fn every_other_copies_agree() {
        for n in 0..40usize {
            for extra in [0, 1] {
                let run: Vec<f32> = (0..(2 * n).saturating_sub(1) + extra)
                    .map(|i| i as f32)
                    .collect();
                let mut want = vec![f32::NAN; n];
                copy_every::<2>(&mut want, &run);
                #[cfg(target_arch = "x86_64")]
                if Isa::Avx512.is_supported() {
                    let mut got = vec![f32::NAN; n];
                    // SAFETY: AVX-512F is supported (checked above).
                    unsafe { avx512::copy_evens(&mut got, &run) };
                    assert_eq!(got, want, "n {n}");
                }
                assert!(want.iter().enumerate().all(|(t, &v)| v == (2 * t) as f32));
            }
        }
    }
}
