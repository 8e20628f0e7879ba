//! `conv2d`: implicit GEMM over the padded image's stride phases (on AVX-512, for few
//! channels on rows of 14-16 pixels, with B read in place: `aligned_rows`); tiled im2col + gemm for
//! large maps with wide padding; Winograd F(2x2, 3x3) and F(2x2, 5x5) for 3x3 and 5x5
//! stride-1 layers with enough channels.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::aligned_rows;
use super::few_outputs;
use super::im2col::{im2col, with_scratch, Geometry, Plan};
use super::image_lanes::{self, Direction};
use super::phase_patches::PhasePatches;
use super::wide_rows::WideRows;
use super::winograd;
use super::{check_4d, check_bias, dense_output, written_in_full, Conv2dParams};
use crate::gemm::{Gemm, ImageColumns, Isa, MatMut, MatRef, PackedA};
use crate::NdArray;

impl NdArray {
    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d` with
    /// `groups = 1`): input `self` `[N, Cin, H, W]`, weight `[Cout, Cin, kh, kw]`, optional
    /// bias `[Cout]`; returns `[N, Cout, Ho, Wo]` with
    /// `Ho = (H + 2p - d(kh-1) - 1) / s + 1` (see [`Conv2dParams::conv2d_output_hw`]).
    ///
    /// ```
    /// use agon_tensor::{Conv2dParams, NdArray};
    /// let x = NdArray::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
    /// let w = NdArray::ones(&[2, 1, 2, 2]); // two 2x2 box filters
    /// let b = NdArray::from_vec(vec![0.0, 100.0], &[2]).unwrap();
    /// let y = x.conv2d(&w, Some(&b), &Conv2dParams::new().stride(2));
    /// assert_eq!(y.shape(), &[1, 2, 2, 2]);
    /// assert_eq!(y.to_vec(), vec![10.0, 18.0, 42.0, 50.0, 110.0, 118.0, 142.0, 150.0]);
    /// ```
    ///
    /// The weights `[Cout, Cin*kh*kw]` are packed once per call and shared by every task;
    /// the bias is added as the GEMM writes its tiles. Convolutions are implicit GEMMs: the
    /// input is copied once, zero-padded and split into its stride phases, and the GEMM's
    /// panels are packed straight from that copy (every tap of an output row reads a
    /// contiguous run of one phase), so no column matrix is built. Small maps (a 7x7 map has
    /// 49 positions) go a few images side by side per rayon task; each tap's row of a
    /// 32-column panel is then a few short runs, copied with masked vector moves on AVX-512.
    /// Large maps whose padding is wide relative to the map build the column matrix of a
    /// tile (im2col) in a reused buffer instead. 3x3 and 5x5 stride-1 layers with enough
    /// channels run as Winograd F(2x2, 3x3) or F(2x2, 5x5) (2.25x and 2.78x fewer
    /// multiply-adds; the result differs from direct summation by rounding only, more so
    /// for 5x5: within `1e-5 * (sum |w x| + 1)`). Non-contiguous inputs are made contiguous
    /// once. Batches of 32 or more images with 16+ channels on both sides run with the images
    /// in the vector lanes instead of packing patches: each tap inside the input is a run of
    /// rows read in place, and taps on the padding are skipped. On AVX-512, layers of at
    /// most 128 taps whose output rows are 14-16 pixels (a discriminator's first layer)
    /// compute on rows rounded up to 16 floats, their patches read in place from the
    /// padded copy and each output row stored under a mask: no packing.
    ///
    /// Measured (one thread, Intel Xeon with AVX-512, 2026-12-06, same bits): packing from
    /// the phases is 12-23% faster than im2col plus packing on dcgan28's 5x5 layers, and
    /// 2-16% faster than the earlier implicit GEMM over *wide rows* (which computed
    /// `Wq / Wo` more columns: 8 for 7 on the default discriminator's layers).
    ///
    /// # Panics
    /// If `self` or `weight` is not 4-D, the channel counts differ, a stride, dilation or
    /// kernel extent is zero, the dilated kernel is larger than the padded input, or the bias
    /// is not `[Cout]`.
    #[track_caller]
    pub fn conv2d(&self, weight: &NdArray, bias: Option<&NdArray>, p: &Conv2dParams) -> NdArray {
        const OP: &str = "conv2d";
        let [n, cin, h, w] = check_4d(OP, "input", "[N, Cin, H, W]", self);
        let [cout, wcin, kh, kw] = check_4d(OP, "weight", "[Cout, Cin, kh, kw]", weight);
        assert!(
            cin == wcin,
            "conv2d: input {:?} has {cin} channels but weight {:?} expects {wcin}; hint: the \
             weight layout is [Cout, Cin, kh, kw] (groups are not supported)",
            self.shape(),
            weight.shape()
        );
        check_bias(OP, bias, cout);
        let g = Geometry::conv2d(cin, [h, w], [kh, kw], p);
        let [ho, wo] = g.out_hw;
        let len = n * cout * ho * wo;
        let out = dense_output(self, weight, bias, len, |x, w, bias| {
            conv2d_output(x, w, bias, &g, cout, len)
        });
        NdArray::from_dense(out, &[n, cout, ho, wo])
    }
}

/// Which of conv2d's three implementations a layer takes (shapes only, so the same on any
/// machine and thread count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A stride-1 layer with at most [`few_outputs::FEW_OUTPUTS`] outputs: no GEMM.
    FewOutputs,
    /// A 3x3 or 5x5 stride-1 layer with enough channels: Winograd F(2x2, 3x3) or
    /// F(2x2, 5x5) ([`winograd`]).
    Winograd,
    /// An implicit GEMM packed from the padded stride phases ([`PhasePatches`]), or, for a
    /// batch that fills the vector lanes, the lanes' direct product ([`image_lanes`]).
    Phases,
    /// im2col tiles of a large map with wide padding, then a GEMM per tile.
    Im2colTiles,
}

impl Route {
    fn of(g: &Geometry, cout: usize) -> Route {
        if few_outputs::applies(g, cout) {
            Route::FewOutputs
        } else if winograd::applies(g, cout) {
            Route::Winograd
        } else if Plan::new(g.rows(), g.positions()).images > 1 || WideRows::new(g).pays_off() {
            Route::Phases
        } else {
            Route::Im2colTiles
        }
    }
}

/// conv2d's `len`-float output `[N, Cout, Ho*Wo]` (`len > 0`). The lanes and the implicit
/// GEMM from the phases write every element, so their output is not zeroed first; the
/// other routes run [`conv2d_into`] a zeroed buffer.
fn conv2d_output(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    len: usize,
) -> Vec<f32> {
    let route = Route::of(g, cout);
    let n = len / (cout * g.positions());
    if route == Route::Phases {
        if image_lanes::applies(Isa::active(), n, g.channels, cout) {
            let shape = [n, g.channels, cout];
            return image_lanes::output(
                Isa::active(),
                Direction::Forward,
                x,
                w,
                bias,
                g,
                shape,
                len,
            );
        }
        if aligned_rows::applies(Isa::active(), g) {
            // SAFETY: `aligned_rows::conv2d` writes every element (its docs).
            return unsafe {
                written_in_full(len, |out| aligned_rows::conv2d(x, w, bias, g, cout, out))
            };
        }
        // SAFETY: `conv2d_phases` writes every element: its tasks' chunks cover the output,
        // and each chunk is C of one product that overwrites it (`beta == 0`).
        return unsafe { written_in_full(len, |out| conv2d_phases(x, w, bias, g, cout, out)) };
    }
    let mut out = vec![0.0f32; len];
    conv2d_into(x, w, bias, g, cout, route, &mut out);
    out
}

/// The weights packed once for the whole batch, and the GEMM with the bias in its epilogue,
/// for a batch of `len` outputs in tasks of `per_task` images.
fn weights_and_gemm<'b>(
    w: &[f32],
    bias: Option<&'b [f32]>,
    g: &Geometry,
    cout: usize,
    per_task: usize,
    len: usize,
) -> (PackedA, Gemm<'b>) {
    let packed = PackedA::new(MatRef::row_major(w, cout, g.rows()));
    let tasks = len.div_ceil(per_task * cout * g.positions());
    // Few tasks (a small batch of large images): let each GEMM split its own tile grid too.
    // This changes which thread computes a tile, never the bits.
    let gemm = Gemm::new().parallel(tasks < rayon::current_num_threads());
    let gemm = match bias {
        Some(bias) => gemm.row_bias(bias),
        None => gemm,
    };
    (packed, gemm)
}

/// `out [N, Cout, Ho*Wo] = W [Cout, K] @ im2col(x[n]) (+ bias)` for every batch item, in
/// parallel over images, on `route` (not [`Route::Phases`]); `out` must be non-empty.
///
/// Layers with at most [`few_outputs::FEW_OUTPUTS`] output channels (stride 1) skip the
/// GEMM ([`few_outputs`]); 3x3 and 5x5 stride-1 layers with enough channels run as Winograd
/// F(2x2, 3x3) or F(2x2, 5x5) ([`winograd`]). Large maps with wide padding build each
/// tile's column matrix (im2col) and multiply it straight into the image's output, with the
/// weights packed once for the whole batch and the bias added in the GEMM's epilogue.
fn conv2d_into(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    route: Route,
    out: &mut [f32],
) {
    match route {
        Route::FewOutputs => return few_outputs::conv2d(Isa::active(), x, w, bias, g, out),
        Route::Winograd => return winograd::conv2d(Isa::active(), x, w, bias, g, cout, out),
        Route::Phases => unreachable!("conv2d_output runs the phases"),
        Route::Im2colTiles => {}
    }
    let (k, l) = (g.rows(), g.positions());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let plan = Plan::new(k, l);
    let (packed, gemm) = weights_and_gemm(w, bias, g, cout, 1, out.len());
    out.par_chunks_mut(cout * l)
        .enumerate()
        .for_each(|(b, out_b)| {
            let x_b = &x[b * image..(b + 1) * image];
            // The thread's reusable scratch holds the tile's column matrix.
            with_scratch(k * plan.tile, |cols| {
                one_image(x_b, &packed, gemm, g, plan.tile, cols, out_b)
            });
        });
}

/// One image, in tiles of output positions: im2col of the tile, then one GEMM straight
/// into its window of the output (`[Cout, tile]` with row stride `Ho*Wo`): no copy.
fn one_image(
    x: &[f32],
    w: &PackedA,
    gemm: Gemm<'_>,
    g: &Geometry,
    tile: usize,
    cols: &mut [f32],
    out: &mut [f32],
) {
    let [cout, k] = w.dims();
    let l = g.positions();
    let mut l0 = 0;
    while l0 < l {
        let t = tile.min(l - l0);
        im2col(x, g, l0, t, cols, t);
        let c = MatMut::new(out, l0, [cout, t], [l, 1]);
        gemm.run_packed(1.0, w, MatRef::row_major(&cols[..k * t], k, t), 0.0, c);
        l0 += t;
    }
}

/// The implicit GEMM from the padded stride phases ([`PhasePatches`]): small images side by
/// side ([`Plan::images`] per GEMM), large ones whose padded copy is not much larger than
/// the input ([`WideRows::pays_off`]) one per GEMM, their patches packed straight from the
/// phases: no column matrix. The GEMM writes its
/// C, `[Cout][images * L]`, straight into the images' `[Cout][L]` outputs
/// ([`ImageColumns`]), and so every element of `out`, which may be uninitialised.
pub(super) fn conv2d_phases(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let per_task = Plan::new(g.rows(), g.positions()).images;
    let (packed, gemm) = weights_and_gemm(w, bias, g, cout, per_task, out.len());
    let wide = WideRows::new(g);
    let (l, padded_len) = (g.positions(), wide.padded_len());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let taps = wide.tap_bases();
    out.par_chunks_mut(per_task * cout * l)
        .enumerate()
        .for_each(|(b, out_b)| {
            let count = out_b.len() / (cout * l);
            let first = b * per_task;
            with_scratch(count * padded_len, |padded| {
                for (i, dst) in padded.chunks_exact_mut(padded_len).enumerate() {
                    let src = &x[(first + i) * image..(first + i + 1) * image];
                    wide.pad(src, g.padding, dst);
                }
                let patches = PhasePatches {
                    padded,
                    geometry: wide,
                    images: count,
                    taps: &taps,
                    isa: packed.isa(),
                };
                let c = ImageColumns::new(out_b, cout, l);
                gemm.run_packed_source_images(&packed, &patches, c);
            });
        });
}

#[cfg(test)]
mod tests {
    use super::super::test_geometry as geometry;
    use super::*;

    /// The layers the benchmarks time take the implicit GEMM from the padded phases (so
    /// `tests/conv.rs`'s reference checks of these shapes test that path) or Winograd, the default
    /// generator's last layer skips the GEMM, and only a large map with wide padding is
    /// tiled through im2col.
    #[test]
    fn layers_take_the_expected_route() {
        // dcgan28's D1 and D2, G2's input gradient (conv2d of dy with the weight).
        assert_eq!(Route::of(&geometry(1, 28, 5, 2, 2), 64), Route::Phases);
        assert_eq!(Route::of(&geometry(64, 14, 5, 2, 2), 128), Route::Phases);
        // The default discriminator's 4x4 stride-2 layers and the generator's 2x2 phases
        // of its upsample + 3x3 layer (64 -> 4 * 32 outputs).
        assert_eq!(Route::of(&geometry(1, 28, 4, 2, 1), 32), Route::Phases);
        assert_eq!(Route::of(&geometry(32, 14, 4, 2, 1), 64), Route::Phases);
        assert_eq!(Route::of(&geometry(64, 7, 2, 1, 1), 128), Route::Phases);
        // Its last layer: 4 phase outputs of one channel, stride 1.
        assert_eq!(Route::of(&geometry(32, 14, 2, 1, 1), 4), Route::FewOutputs);
        // Maps too large to batch: whole images from the phases with 3x3 padding 1 (padded
        // rows of 98 for 96 outputs) where the channels are too few for Winograd, im2col
        // tiles with a 9x9 kernel and padding 4 on a 20x20 map (28 for 20) and on
        // tests/conv.rs's 36x36 one (44 for 36).
        assert_eq!(Route::of(&geometry(16, 96, 3, 1, 1), 16), Route::Phases);
        assert_eq!(
            Route::of(&geometry(64, 20, 9, 1, 4), 32),
            Route::Im2colTiles
        );
        assert_eq!(Route::of(&geometry(3, 36, 9, 1, 4), 6), Route::Im2colTiles);
        // 3x3 stride-1 layers with enough channels: a U-Net's 64-channel layer, a
        // CycleGAN residual block (128 channels, 9x9 reflection-padded input, no padding),
        // 32 channels on a large map; not the superres model's 32-channel 7x7 body.
        assert_eq!(Route::of(&geometry(64, 28, 3, 1, 1), 64), Route::Winograd);
        assert_eq!(Route::of(&geometry(128, 9, 3, 1, 0), 128), Route::Winograd);
        assert_eq!(Route::of(&geometry(32, 96, 3, 1, 1), 32), Route::Winograd);
        assert_eq!(Route::of(&geometry(32, 7, 3, 1, 1), 32), Route::Phases);
        // 5x5 stride-1 layers with 64+ channels: dcgan28's G1 as a conv2d (its input
        // gradient, 128 -> 256) and the one its forward becomes (256 -> 128); not its
        // stride-2 layers.
        assert_eq!(Route::of(&geometry(128, 7, 5, 1, 2), 256), Route::Winograd);
        assert_eq!(Route::of(&geometry(256, 7, 5, 1, 2), 128), Route::Winograd);
        assert_eq!(Route::of(&geometry(64, 14, 5, 2, 2), 128), Route::Phases);
    }
}
