//! Convolutions with the batch in the vector lanes: the input is laid out
//! `[image block][pixel][channel][NR images]`, so that for one output pixel of `NR`
//! images, every kernel tap that lands inside the input is `channels` consecutive rows of
//! `NR` floats: a run of the GEMM's B sliver, read where it lies ([`crate::gemm::KRun`]).
//!
//! Against the implicit GEMM over the padded stride phases (and gemm + col2im for the
//! transposed direction) this removes three costs: packing the patches (a gather of short
//! rows per tap), the padded copy of the input, and the products of taps on the padding,
//! which are simply not in the runs (16% of a 5x5 stride-2 layer's taps on a 14x14 map).
//! What it adds is one transpose of the input into lanes and one of the output back, both
//! passes over memory the size of the tensors. Measured per image against the old routes
//! (batch 32 against 31, two threads, Zen 4): as fast or faster on every shape tried, from
//! 14x14 to 56x56 maps; 4x4 stride-2 layers 10-25% faster, the transposed one on a 56x56
//! map 1.6x.
//!
//! The product is `C[co][pixel, image] = sum_(tap, ci) A[co][tap, ci] B[(tap, ci)][pixel,
//! image]`, with the weights reordered so that K runs over taps, then channels; each
//! element is one chain of FMAs over its taps in order, so the bits depend neither on the
//! thread count nor on the cache sizes.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use super::written_in_full;
use crate::gemm::{
    pack_interleaved, packed_len, runs_product, transpose_into, transpose_into_uninit, Isa, KRun,
    SliverRuns,
};

/// Fewest input channels: each tap is a run of this many rows, and a short run spends more
/// of its time starting than multiplying.
const MIN_CHANNELS: usize = 16;

/// The lanes of the widest in-house kernel (AVX-512's 32 columns; AVX2's 16 divide it).
const WIDEST_LANES: usize = 32;

/// Floats of padding after each pixel's `[channel][nr]` block of the lanes (one cache
/// line). Without it a pixel's block is `channels * nr` floats, 4 KiB for 32 channels on
/// AVX-512 (a multiple of it for more), so `to_lanes`, writing one channel's pixels one
/// after the other, stored every line to the same L1 set. Measured on the Zen 4 (two
/// threads, warm, 64 images): 84 to 56 us for 32 channels of 14x14, 145 to 98 for 64.
const PIXEL_PAD: usize = 16;

/// Floats from one pixel's block of the lanes to the next.
fn pixel_stride(channels: usize, nr: usize) -> usize {
    channels * nr + PIXEL_PAD
}

/// Whether a layer of `n` images with `channels` input and `outputs` output channels
/// should take the lanes: the path has an in-house kernel, the batch fills its lane blocks
/// to at least 80%, each tap has at least [`MIN_CHANNELS`] input channels (the side the
/// runs read), and there are at least as many output channels (the GEMM's rows: with one
/// output channel, as in a discriminator's first layer's input gradient, the kernel would
/// compute 4 rows for 1 and the scatter of gemm + col2im is 2.5-3x faster).
///
/// The batch test uses the widest kernel's lane count on every path, so that the AVX-512
/// and AVX2 paths take the same route and give the same bits.
pub(super) fn applies(isa: Isa, n: usize, channels: usize, outputs: usize) -> bool {
    isa.micro_cols().is_some()
        && n >= WIDEST_LANES
        && n.next_multiple_of(WIDEST_LANES) * 4 <= n * 5
        && channels >= MIN_CHANNELS
        && outputs >= MIN_CHANNELS
}

/// Runs of consecutive taps of one output pixel: taps `tap .. tap + taps` read input pixels
/// `pixel .. pixel + taps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TapRun {
    tap: usize,
    pixel: usize,
    taps: usize,
}

/// For each output pixel, the taps that land inside the input, as runs ([`TapRun`]).
#[derive(Debug)]
struct TapTable {
    /// Pixel `p`'s runs are `runs[first[p]..first[p + 1]]`.
    first: Vec<usize>,
    runs: Vec<TapRun>,
}

impl TapTable {
    /// Builds the table from each output pixel's `(tap, input pixel)` pairs in increasing
    /// tap order, merging neighbours that continue a run.
    fn from_pairs(
        pixels: usize,
        mut pairs_of: impl FnMut(usize, &mut Vec<(usize, usize)>),
    ) -> Self {
        let mut first = Vec::with_capacity(pixels + 1);
        let mut runs: Vec<TapRun> = Vec::new();
        let mut pairs = Vec::new();
        for p in 0..pixels {
            first.push(runs.len());
            pairs.clear();
            pairs_of(p, &mut pairs);
            let start = runs.len();
            for &(tap, pixel) in &pairs {
                match runs[start..].last_mut() {
                    Some(r) if r.tap + r.taps == tap && r.pixel + r.taps == pixel => r.taps += 1,
                    _ => runs.push(TapRun {
                        tap,
                        pixel,
                        taps: 1,
                    }),
                }
            }
        }
        first.push(runs.len());
        TapTable { first, runs }
    }

    /// conv2d's taps: output pixel `(oy, ox)` reads input `(oy s + ky d - p, ox s + kx d - p)`.
    fn conv2d(g: &Geometry) -> Self {
        let ([_, w], [kh, kw], [ho, wo]) = (g.in_hw, g.kernel, g.out_hw);
        TapTable::from_pairs(ho * wo, |p, pairs| {
            let (oy, ox) = (p / wo, p % wo);
            for ky in 0..kh {
                let Some(iy) = g.input_at(0, oy, ky) else {
                    continue;
                };
                for kx in 0..kw {
                    if let Some(ix) = g.input_at(1, ox, kx) {
                        pairs.push((ky * kw + kx, iy * w + ix));
                    }
                }
            }
        })
    }

    /// The taps of conv2d's adjoint (conv_transpose2d from `g`'s output grid to its input
    /// grid): pixel `(y, x)` of the input grid gathers output `(oy, ox)` through tap
    /// `(ky, kx)` when `y = oy s + ky d - p` (and the same for x).
    fn transposed(g: &Geometry) -> Self {
        let ([h, w], [kh, kw], [ho, wo]) = (g.in_hw, g.kernel, g.out_hw);
        let source = |y: usize, k: usize, a: usize, size: usize| {
            let num = (y + g.padding[a]) as isize - (k * g.dilation[a]) as isize;
            let s = g.stride[a] as isize;
            (num >= 0 && num % s == 0 && num / s < size as isize).then_some((num / s) as usize)
        };
        TapTable::from_pairs(h * w, |p, pairs| {
            let (y, x) = (p / w, p % w);
            for ky in 0..kh {
                let Some(oy) = source(y, ky, 0, ho) else {
                    continue;
                };
                for kx in 0..kw {
                    if let Some(ox) = source(x, kx, 1, wo) {
                        pairs.push((ky * kw + kx, oy * wo + ox));
                    }
                }
            }
        })
    }
}

/// The B operand: `data` is `[block][pixel][channel][NR]` over `in_pixels` pixels, each
/// pixel's block [`pixel_stride`] floats from the next; sliver `s` is output pixel
/// `s % out_pixels` of image block `s / out_pixels`, and row `tap * channels + ci` of it is
/// `data[block][pixel of tap][ci]` for the taps in the table: one run per tap, since the
/// padding cuts a table run of taps where it crosses from one pixel to the next.
struct LaneInput<'a> {
    data: &'a [f32],
    channels: usize,
    in_pixels: usize,
    taps: usize,
    table: &'a TapTable,
    nr: usize,
}

impl SliverRuns for LaneInput<'_> {
    fn depth(&self) -> usize {
        self.taps * self.channels
    }

    fn slivers(&self) -> usize {
        let blocks = self.data.len() / (self.in_pixels * pixel_stride(self.channels, self.nr));
        blocks * (self.table.first.len() - 1)
    }

    fn lanes(&self) -> usize {
        self.nr
    }

    fn runs<'s>(&'s self, s: usize, k0: usize, k1: usize, runs: &mut Vec<KRun<'s>>) {
        let out_pixels = self.table.first.len() - 1;
        let (block, p) = (s / out_pixels, s % out_pixels);
        let (c, nr, ps) = (self.channels, self.nr, pixel_stride(self.channels, self.nr));
        let base = block * self.in_pixels * ps;
        for r in &self.table.runs[self.table.first[p]..self.table.first[p + 1]] {
            for t in 0..r.taps {
                // Tap r.tap + t reads pixel r.pixel + t: `c` rows, `nr` apart.
                let start = (r.tap + t) * c;
                let (lo, hi) = (start.max(k0), (start + c).min(k1));
                if lo < hi {
                    let at = base + (r.pixel + t) * ps + (lo - start) * nr;
                    runs.push(KRun::new(lo, hi - lo, nr, nr, &self.data[at..]));
                }
            }
        }
    }
}

/// `x [n][channels][pixels]` into `dst [n / nr blocks][pixels][channels][nr]`, each
/// pixel's block [`pixel_stride`] floats from the next; lanes past the last image zero.
fn to_lanes(isa: Isa, x: &[f32], [n, channels, pixels]: [usize; 3], nr: usize, dst: &mut [f32]) {
    let ps = pixel_stride(channels, nr);
    let block = pixels * ps;
    dst.par_chunks_mut(block).enumerate().for_each(|(b, dst)| {
        let lanes = nr.min(n - b * nr);
        if lanes < nr {
            dst.fill(0.0);
        }
        for c in 0..channels {
            let src = &x[(b * nr * channels + c) * pixels..];
            // dst[q][c][i] = x[b nr + i][c][q]: image rows become pixel columns.
            transpose_into(
                isa,
                (src, channels * pixels),
                [lanes, pixels],
                (&mut dst[c * nr..], ps),
            );
        }
    });
}

/// `c [blocks][channels][pixels][nr]` back into `out [n][channels][pixels]`, plus the bias;
/// every element of `out` is written.
///
/// A block's `[channels][pixels]` rows of `nr` lanes are one `[channels * pixels][nr]`
/// matrix, and its images' outputs one `[lanes][channels * pixels]` matrix: one transpose
/// per block, with no ragged edge per channel (a 7x7 map's 49 pixels cost four 16-row
/// transposes per channel before: 99 us for the default discriminator's second layer on
/// one Zen 4 thread).
fn from_lanes(
    isa: Isa,
    c: &[f32],
    [n, channels, pixels]: [usize; 3],
    nr: usize,
    bias: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let image = channels * pixels;
    out.par_chunks_mut(nr * image)
        .enumerate()
        .for_each(|(b, out)| {
            let lanes = nr.min(n - b * nr);
            // out[i][f] = c[b][f][i] for f = channel * pixels + pixel: the block's `lanes`
            // images, all of `out`.
            transpose_into_uninit(
                isa,
                (&c[b * image * nr..], nr),
                [image, lanes],
                (out, image),
            );
            if let Some(bias) = bias {
                // SAFETY: the transpose wrote all `lanes * image` floats of this chunk.
                let out = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
                for image in out.chunks_exact_mut(image) {
                    for (row, &bv) in image.chunks_exact_mut(pixels).zip(bias) {
                        row.iter_mut().for_each(|v| *v += bv);
                    }
                }
            }
        });
}

/// [`run`] into a new `len`-float output, with no zero-fill first (see [`written_in_full`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    isa: Isa,
    direction: Direction,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    shape: [usize; 3],
    len: usize,
) -> Vec<f32> {
    // SAFETY: `run` writes every element of its output: `from_lanes` transposes each
    // block's images over the whole of its chunk.
    unsafe { written_in_full(len, |out| run(isa, direction, x, w, bias, g, shape, out)) }
}

/// Which way a layer maps its tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    /// conv2d: `x [N, g.channels, in_hw]` to `[N, cout, out_hw]` with weight
    /// `[cout, g.channels, kh, kw]`.
    Forward,
    /// conv_transpose2d, the adjoint: `x [N, cin, out_hw]` to `[N, g.channels, in_hw]` with
    /// weight `[cin, g.channels, kh, kw]`.
    Transposed,
}

/// Runs the layer through the lanes: `x` has `n` images of `channels` (the side the runs
/// read) and `out` receives `n` images of `outputs` channels, every element written (so it
/// need not be zeroed first); see [`Direction`] for which grid of `g` is which. `isa` must
/// have an in-house kernel ([`applies`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    isa: Isa,
    direction: Direction,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    [n, channels, outputs]: [usize; 3],
    out: &mut [MaybeUninit<f32>],
) {
    let nr = isa.micro_cols().expect("the lanes need an in-house kernel");
    let taps = g.kernel[0] * g.kernel[1];
    let (table, in_pixels, out_pixels) = match direction {
        Direction::Forward => (TapTable::conv2d(g), g.in_hw[0] * g.in_hw[1], g.positions()),
        Direction::Transposed => (
            TapTable::transposed(g),
            g.positions(),
            g.in_hw[0] * g.in_hw[1],
        ),
    };
    // A [outputs][tap][channel]: per output channel, its [channels][taps] block transposed
    // (`pack_interleaved`). conv2d's weight holds that block contiguously; conv_transpose2d's
    // has it strided (`[channels][outputs][taps]`). `block` and `row` are the strides of an
    // output channel and of an input channel.
    let k = taps * channels;
    let (block, row) = match direction {
        Direction::Forward => (k, taps),
        Direction::Transposed => (taps, outputs * taps),
    };
    let blocks = n.div_ceil(nr);
    let (lanes_len, c_len) = (
        blocks * in_pixels * pixel_stride(channels, nr),
        blocks * outputs * out_pixels * nr,
    );
    let a_len = packed_len(isa, outputs, k).expect("the lanes need an in-house kernel");
    // All in the thread's scratch, the lanes aligned to a cache line so that each 32-float
    // row is two whole lines.
    with_scratch(lanes_len + c_len + a_len + 16, |buf| {
        let skip = buf.as_ptr().align_offset(64).min(16);
        let (lanes, rest) = buf[skip..skip + lanes_len + c_len + a_len].split_at_mut(lanes_len);
        let (c, a) = rest.split_at_mut(c_len);
        let packed = pack_interleaved(isa, w, [outputs, channels, taps], [block, row], a);
        to_lanes(isa, x, [n, channels, in_pixels], nr, lanes);
        let input = LaneInput {
            data: lanes,
            channels,
            in_pixels,
            taps,
            table: &table,
            nr,
        };
        runs_product(&packed, &input, out_pixels, c);
        from_lanes(isa, c, [n, outputs, out_pixels], nr, bias, out);
    });
}

#[cfg(test)]
mod tests {
    use super::super::test_geometry as geometry;
    use super::super::{
        assert_within, for_each_tap, same_bits_on_every_path, test_values as values,
    };
    use super::*;
    use crate::Conv2dParams;

    /// A 5x5 stride-2 layer on a 14x14 map: a corner pixel keeps 3x3 of its taps, each
    /// kernel row one run; an inner one all 25, in five runs of five.
    #[test]
    fn tap_table_skips_the_padding_and_merges_rows() {
        let g = geometry(64, 14, 5, 2, 2);
        let t = TapTable::conv2d(&g);
        let corner = &t.runs[t.first[0]..t.first[1]];
        assert_eq!(corner.len(), 3);
        assert_eq!(
            corner[0],
            TapRun {
                tap: 12,
                pixel: 0,
                taps: 3
            }
        );
        assert_eq!(
            corner[2],
            TapRun {
                tap: 22,
                pixel: 28,
                taps: 3
            }
        );
        let inner = &t.runs[t.first[8]..t.first[9]]; // output (1, 1) reads rows 0..5
        assert_eq!(inner.len(), 5);
        assert!(inner.iter().all(|r| r.taps == 5));
        let taps: usize = t.runs.iter().map(|r| r.taps).sum();
        // Per axis 3 + 5 * 5 + 4 = 32 of 35 taps land inside.
        assert_eq!(taps, 32 * 32);
    }

    /// The adjoint's table holds the same (tap, pixel) pairs, seen from the other grid.
    #[test]
    fn transposed_table_is_the_adjoint() {
        for g in [
            geometry(16, 14, 5, 2, 2),
            geometry(16, 9, 3, 1, 1),
            geometry(16, 7, 4, 2, 1),
        ] {
            let pairs = |t: &TapTable| {
                let mut v = Vec::new();
                for p in 0..t.first.len() - 1 {
                    for r in &t.runs[t.first[p]..t.first[p + 1]] {
                        for i in 0..r.taps {
                            v.push((p, r.tap + i, r.pixel + i));
                        }
                    }
                }
                v
            };
            let mut forward: Vec<_> = pairs(&TapTable::conv2d(&g))
                .into_iter()
                .map(|(o, tap, i)| (i, tap, o))
                .collect();
            let mut adjoint = pairs(&TapTable::transposed(&g));
            forward.sort_unstable();
            adjoint.sort_unstable();
            assert_eq!(forward, adjoint, "{g:?}");
        }
    }

    /// [`run`] into an output of NaNs, so that an element it fails to write shows.
    fn run_into_nans(
        isa: Isa,
        direction: Direction,
        (x, w, bias): (&[f32], &[f32], Option<&[f32]>),
        g: &Geometry,
        shape: [usize; 3],
        len: usize,
    ) -> Vec<f32> {
        let mut out = vec![MaybeUninit::new(f32::NAN); len];
        run(isa, direction, x, w, bias, g, shape, &mut out);
        // SAFETY: every element was initialised (to NaN) before the call, which only
        // stores floats.
        out.into_iter()
            .map(|v| unsafe { v.assume_init() })
            .collect()
    }

    /// conv2d by its definition, in f64: `[n, c, h, w] * [o, c, kh, kw] -> [n, o, ho, wo]`.
    fn naive_conv2d(
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        g: &Geometry,
        n: usize,
        o: usize,
    ) -> Vec<f64> {
        let pixels = g.positions();
        let mut y: Vec<f64> = (0..n * o * pixels)
            .map(|i| bias.map_or(0.0, |bv| f64::from(bv[i / pixels % o])))
            .collect();
        for_each_tap(g, n, o, |[xi, wi, yi]| {
            y[yi] += f64::from(x[xi]) * f64::from(w[wi]);
        });
        y
    }

    /// conv2d's adjoint by its definition: scatters `[n, o, ho, wo]` through the taps back
    /// to `[n, c, h, w]` (weight `[o, c, kh, kw]`, read as conv_transpose2d's `[Cin, Cout,
    /// kh, kw]` with `Cin = o`).
    fn naive_transposed(
        y: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        g: &Geometry,
        n: usize,
        o: usize,
    ) -> Vec<f64> {
        let (c, plane) = (g.channels, g.in_hw[0] * g.in_hw[1]);
        let mut x: Vec<f64> = (0..n * c * plane)
            .map(|i| bias.map_or(0.0, |bv| f64::from(bv[i / plane % c])))
            .collect();
        for_each_tap(g, n, o, |[xi, wi, yi]| {
            x[xi] += f64::from(y[yi]) * f64::from(w[wi]);
        });
        x
    }

    /// Both directions on every in-house path against the definitions, with a batch that
    /// leaves the last lane block part-filled (53 of 64 lanes on AVX-512, 53 of 64 on
    /// AVX2's 16-lane blocks), a bias, and geometries whose taps fall on the padding in
    /// different ways: dcgan28's 5x5 stride-2 layer on an odd, non-square map, a 3x3
    /// stride-1 layer with dilation 2, a 4x4 stride-2 one, and strides that differ by axis.
    /// Each element is within `1e-5 * (sum |w x| + 1)` of the f64 sum.
    #[test]
    fn lanes_match_the_definition_on_every_path() {
        let n = 53;
        let cases = [
            (
                16,
                24,
                [11, 9],
                [5, 5],
                Conv2dParams::new().stride(2).padding(2),
            ),
            (
                17,
                16,
                [9, 9],
                [3, 3],
                Conv2dParams::new().padding(2).dilation(2),
            ),
            (
                16,
                20,
                [8, 8],
                [4, 4],
                Conv2dParams::new().stride(2).padding(1),
            ),
            (
                18,
                16,
                [7, 10],
                [3, 2],
                Conv2dParams::new().stride_hw([1, 3]).padding_hw([1, 0]),
            ),
        ];
        for isa in Isa::supported()
            .into_iter()
            .filter(|i| i.micro_cols().is_some())
        {
            for (c, o, hw, k, p) in cases {
                let g = Geometry::conv2d(c, hw, k, &p);
                assert!(applies(isa, n, c, o));
                let (ho, wo) = (g.out_hw[0], g.out_hw[1]);
                let x = values(n * c * hw[0] * hw[1], 1);
                let w = values(o * c * k[0] * k[1], 2);
                let bo = values(o, 3);
                let bc = values(c, 4);
                let dy = values(n * o * ho * wo, 5);
                let abs = |v: &[f32]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
                let y = run_into_nans(
                    isa,
                    Direction::Forward,
                    (&x, &w, Some(&bo)),
                    &g,
                    [n, c, o],
                    n * o * ho * wo,
                );
                let want = naive_conv2d(&x, &w, Some(&bo), &g, n, o);
                let scale = naive_conv2d(&abs(&x), &abs(&w), Some(&abs(&bo)), &g, n, o);
                assert_within(&y, &want, &scale, 1e-5, &format!("{isa:?} forward {g:?}"));
                let dx = run_into_nans(
                    isa,
                    Direction::Transposed,
                    (&dy, &w, Some(&bc)),
                    &g,
                    [n, o, c],
                    n * c * hw[0] * hw[1],
                );
                let want = naive_transposed(&dy, &w, Some(&bc), &g, n, o);
                let scale = naive_transposed(&abs(&dy), &abs(&w), Some(&abs(&bc)), &g, n, o);
                assert_within(
                    &dx,
                    &want,
                    &scale,
                    1e-5,
                    &format!("{isa:?} transposed {g:?}"),
                );
            }
        }
    }

    /// The same bits on 1 and 3 threads, and on the two in-house paths (each element is
    /// one chain of FMAs over its taps in order, whatever the kernel's tile).
    #[test]
    fn lanes_bits_depend_neither_on_threads_nor_on_the_kernel() {
        let (n, c, o) = (64, 32, 40);
        let g = Geometry::conv2d(
            c,
            [14, 14],
            [5, 5],
            &Conv2dParams::new().stride(2).padding(2),
        );
        let x = values(n * c * 196, 6);
        let w = values(o * c * 25, 7);
        same_bits_on_every_path("the lanes' forward", |isa| {
            let shape = [n, c, o];
            run_into_nans(
                isa,
                Direction::Forward,
                (&x, &w, None),
                &g,
                shape,
                n * o * 49,
            )
        });
    }
}
