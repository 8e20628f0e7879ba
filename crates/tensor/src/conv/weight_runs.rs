//! conv2d's weight gradient as one product whose B rows are read where they lie:
//!
//! ```text
//! dW[o][tap, c] = sum_(pixel, image) dY[image][o][pixel] * x[image][c][input pixel of (pixel, tap)]
//! ```
//!
//! K runs over (output pixel, image). With the input laid out `[pixel][image][channel]`,
//! row `(pixel, image)` of a B sliver (`NR` channels of one tap) is `NR` consecutive floats,
//! and the rows of one output pixel's images are `channels` apart: one run per output pixel
//! whose tap lands inside the input. Taps on the padding are absent from the runs, so their
//! products are skipped. A is the output gradient reordered to `[o][pixel][image]` and
//! packed once.
//!
//! Against the implicit GEMM over the padded stride phases (`conv2d_weight.rs`) this removes
//! the patch packing (a gather per tap and position), the padded copies, the padded taps'
//! products, and the partial gradients of the batch chunks with their reduction tree: every
//! element is one chain of FMAs over all images and pixels in order, so its bits depend
//! neither on the thread count nor on the cache sizes.

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use crate::gemm::{
    pack_rows_with, packed_len, runs_product, transpose_into, Isa, KRun, SliverRuns,
};

/// Fewest input and output channels (the product's columns and rows).
const MIN_CHANNELS: usize = 16;

/// Largest output map that takes the runs. A bound, not a measured crossover: they were
/// measured faster on 7x7 output maps (dcgan28's and the default model's layers, a
/// residual block's); larger maps keep the phases and Winograd until someone measures
/// them (28x28 outputs, 784 positions, stay there today).
const MAX_PIXELS: usize = 256;

/// Whether the weight gradient of a layer with `cout` output channels on this geometry takes
/// the runs: an in-house kernel, enough channels on both sides, and a small output map.
pub(super) fn applies(isa: Isa, g: &Geometry, cout: usize) -> bool {
    isa.micro_cols().is_some()
        && g.channels >= MIN_CHANNELS
        && cout >= MIN_CHANNELS
        && g.positions() <= MAX_PIXELS
}

/// For each tap, the output pixels whose tap lands inside the input and the input pixel it
/// lands on, in output-pixel order.
fn pixels_per_tap(g: &Geometry) -> Vec<Vec<(usize, usize)>> {
    let ([_, w], [kh, kw], [ho, wo]) = (g.in_hw, g.kernel, g.out_hw);
    let mut taps = Vec::with_capacity(kh * kw);
    for ky in 0..kh {
        for kx in 0..kw {
            let mut pairs = Vec::new();
            for oy in 0..ho {
                let Some(iy) = g.input_at(0, oy, ky) else {
                    continue;
                };
                for ox in 0..wo {
                    if let Some(ix) = g.input_at(1, ox, kx) {
                        pairs.push((oy * wo + ox, iy * w + ix));
                    }
                }
            }
            taps.push(pairs);
        }
    }
    taps
}

/// The B operand: `data` is the input `[pixel][image][channel]` (plus `nr` floats of zeros,
/// read by a last sliver that is part channels); sliver `s` is channels
/// `(s % blocks) * nr ..` of tap `s / blocks`.
struct PixelRows<'a> {
    data: &'a [f32],
    out_pixels: usize,
    images: usize,
    channels: usize,
    /// Slivers per tap.
    blocks: usize,
    taps: &'a [Vec<(usize, usize)>],
    nr: usize,
}

impl SliverRuns for PixelRows<'_> {
    fn depth(&self) -> usize {
        self.out_pixels * self.images
    }

    fn slivers(&self) -> usize {
        self.taps.len() * self.blocks
    }

    fn lanes(&self) -> usize {
        self.nr
    }

    fn runs<'s>(&'s self, s: usize, k0: usize, k1: usize, runs: &mut Vec<KRun<'s>>) {
        let (tap, block) = (s / self.blocks, s % self.blocks);
        let (n, c) = (self.images, self.channels);
        // Output pixels p with rows p * n .. (p + 1) * n inside k0 .. k1, and their neighbours
        // cut by the block's edges.
        let pairs = &self.taps[tap];
        let first = pairs.partition_point(|&(p, _)| (p + 1) * n <= k0);
        for &(p, q) in &pairs[first..] {
            let (start, end) = (p * n, (p + 1) * n);
            if start >= k1 {
                break;
            }
            let (lo, hi) = (start.max(k0), end.min(k1));
            let at = (q * n + lo - start) * c + block * self.nr;
            runs.push(KRun::new(lo, hi - lo, c, self.nr, &self.data[at..]));
        }
    }
}

/// `dW [cout][channels][kh][kw]` of conv2d on `n` images `x [n][channels][in_hw]` with
/// output gradient `go [n][cout][out_hw]`. `isa` has an in-house kernel ([`applies`]).
pub(super) fn conv2d_weight(
    isa: Isa,
    x: &[f32],
    go: &[f32],
    g: &Geometry,
    n: usize,
    cout: usize,
) -> Vec<f32> {
    let nr = isa.micro_cols().expect("the runs need an in-house kernel");
    let (c, q, p) = (g.channels, g.in_hw[0] * g.in_hw[1], g.positions());
    let taps = pixels_per_tap(g);
    let blocks = c.div_ceil(nr);
    let (data_len, c_len) = (q * n * c + nr, cout * taps.len() * blocks * nr);
    let a_len = packed_len(isa, cout, p * n).expect("the runs need an in-house kernel");
    let mut dw = vec![0.0f32; cout * c * taps.len()];
    // All in the thread's scratch: a fresh buffer of this size costs its page faults (4% of
    // dcgan28's G1 weight gradient).
    with_scratch(data_len + c_len + a_len + 16, |buf| {
        let skip = buf.as_ptr().align_offset(64).min(16);
        let (data, rest) = buf[skip..skip + data_len + c_len + a_len].split_at_mut(data_len);
        let (out, a) = rest.split_at_mut(c_len);
        // A [cout][pixel][image]: for each output channel, its [image][pixel] rows
        // transposed.
        let packed = pack_rows_with(isa, [cout, p * n], a, |o, dst| {
            transpose_into(isa, (&go[o * p..], cout * p), [n, p], (dst, n));
        });
        // data [pixel][image][channel]: each image's [channel][pixel] transposed.
        let (images, zeros) = data.split_at_mut(q * n * c);
        zeros.fill(0.0);
        const PIXELS: usize = 16;
        images
            .par_chunks_mut(PIXELS * n * c)
            .enumerate()
            .for_each(|(i, dst)| {
                let (q0, pixels) = (i * PIXELS, dst.len() / (n * c));
                for image in 0..n {
                    let src = &x[image * c * q + q0..];
                    transpose_into(isa, (src, q), [c, pixels], (&mut dst[image * c..], n * c));
                }
            });
        let b = PixelRows {
            data,
            out_pixels: p,
            images: n,
            channels: c,
            blocks,
            taps: &taps,
            nr,
        };
        runs_product(&packed, &b, b.slivers(), out);
        // out [cout][tap][blocks * nr] -> dW [cout][channel][tap].
        let (t, width) = (taps.len(), blocks * nr);
        dw.par_chunks_mut(c * t).enumerate().for_each(|(o, dst)| {
            transpose_into(isa, (&out[o * t * width..], width), [t, c], (dst, t));
        });
    });
    dw
}

#[cfg(test)]
mod tests {
    use super::super::{
        assert_within, same_bits_on_every_path, test_values as values, test_weight_gradient,
    };
    use super::*;
    use crate::Conv2dParams;

    /// Every in-house path against the definition: channels below one sliver (16 of
    /// AVX-512's 32 columns, so rows overlap), a part-filled last sliver (40 = 32 + 8),
    /// strides that differ by axis, dilation; each element within `1e-6 * (sum |g x| + 1)`.
    /// The paths agree bit for bit, on 1 and 3 threads.
    #[test]
    fn weight_runs_match_the_definition_and_agree_everywhere() {
        let cases = [
            (
                16,
                24,
                7,
                [11, 9],
                [5, 5],
                Conv2dParams::new().stride(2).padding(2),
            ),
            (
                40,
                16,
                5,
                [8, 8],
                [4, 4],
                Conv2dParams::new().stride(2).padding(1),
            ),
            (
                17,
                20,
                3,
                [7, 10],
                [3, 2],
                Conv2dParams::new().stride_hw([1, 3]).padding_hw([1, 0]),
            ),
            (
                16,
                16,
                2,
                [9, 9],
                [3, 3],
                Conv2dParams::new().padding(2).dilation(2),
            ),
        ];
        for (c, cout, n, hw, k, p) in cases {
            let g = Geometry::conv2d(c, hw, k, &p);
            let x = values(n * c * hw[0] * hw[1], 1);
            let go = values(n * cout * g.positions(), 2);
            let (want, scale) = test_weight_gradient(&x, &go, &g, n, cout);
            let runs = same_bits_on_every_path(&format!("{g:?}"), |isa| {
                assert!(applies(isa, &g, cout));
                conv2d_weight(isa, &x, &go, &g, n, cout)
            });
            for (isa, dw) in runs {
                assert_within(&dw, &want, &scale, 1e-6, &format!("{isa:?} {g:?}"));
            }
        }
    }
}
