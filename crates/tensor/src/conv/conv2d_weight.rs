//! `conv2d_weight`: the weight gradient of conv2d, as a GEMM over batch chunks of a
//! shape-determined size, whose partial sums are combined along a fixed binary tree.
//!
//! Small maps (a few images side by side per GEMM) take their patches straight from the
//! padded stride phases ([`PhasePatchesT`]): on AVX-512 each position's 32-tap panel row is
//! two gathers, where im2col wrote a column matrix that a transposing pack then read and
//! wrote again. One thread on a Xeon (AVX-512, 2026-12-06), same bits: dcgan28's D2 and G1
//! weight gradients 1.4-1.9x faster, the default discriminator's 32-channel layer 2-3x.
//! Large maps keep im2col per tile. Layers with at most 4 output channels take
//! `few_outputs`; layers with fewer than 16 input channels (and maps of 16 to 1024
//! outputs) dot products of contiguous runs (`weight_dots`); layers with 16+ channels on
//! both sides and at most 256 outputs per image
//! take one product over (pixel, image) read in place (`weight_runs`); larger 5x5 stride-1
//! layers (3x3 ones on maps of 28x28 and more) with enough channels Winograd's tiling
//! (`winograd::conv2d_weight`).
//!
//! Tried before (Zen 4, 2026-12-04) and not kept: B as the transposed *wide* patch matrix,
//! packed with scalar copies. It measured no faster on the default discriminator's
//! 32-channel layer and 3-5% slower on one-channel layers: a scalar transpose costs what
//! im2col saves, and the wide grid adds 1/7 more columns. The gathers make the transpose
//! cheap, and compact positions add no columns.

use std::ops::Range;

use super::few_outputs;
use super::im2col::{im2col, with_scratch, Geometry, Plan};
use super::phase_patches::PhasePatchesT;
use super::weight_dots;
use super::weight_runs;
use super::wide_rows::WideRows;
use super::winograd;
use super::{check_4d, Conv2dParams};
use crate::gemm::{sgemm, Gemm, Isa, MatMut, MatRef};
use crate::{on_worker, NdArray};

/// Output positions (images x `Ho*Wo`) each leaf of the reduction tree covers, at least.
/// Every leaf owns a partial `dW` (`Cout*Cin*kh*kw` floats) that is allocated, written and
/// added once: a few memory passes that a leaf must outweigh with its `2 * positions`
/// flops per element. Larger leaves waste less on partials; smaller ones give more
/// parallel tasks (512 gives 6 leaves on dcgan28's 7x7 layers at batch 64, 32 on 28x28).
const LEAF_POSITIONS: usize = 512;

/// At most this many images per leaf, so batches keep several parallel tasks.
const MAX_LEAF_IMAGES: usize = 16;

/// Batch items per leaf for `positions` output positions per image. It depends on the
/// shapes only, never on the thread count, so the sum is bit-identical on any number of
/// threads.
fn batch_chunk(positions: usize) -> usize {
    LEAF_POSITIONS
        .div_ceil(positions.max(1))
        .clamp(1, MAX_LEAF_IMAGES)
}

impl NdArray {
    /// Gradient of [`conv2d`](NdArray::conv2d) with respect to its weight: input `self`
    /// `[N, Cin, H, W]` and `grad_output` `[N, Cout, Ho, Wo]` give
    /// `dW [Cout, Cin, kh, kw]`, `dW[o, c, i, j] = sum_{n, y, x} g[n, o, y, x] *
    /// x_pad[n, c, y*sh + i*dh, x*sw + j*dw]`. It is the adjoint of conv2d in its weight:
    /// `<conv2d(x, w), g> = <w, x.conv2d_weight(g, ..)>`.
    ///
    /// ```
    /// use agon_tensor::{Conv2dParams, NdArray};
    /// let x = NdArray::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]);
    /// let g = NdArray::ones(&[1, 1, 2, 2]); // d(sum of the output) / d(output)
    /// let dw = x.conv2d_weight(&g, [2, 2], &Conv2dParams::new());
    /// // Each weight tap sees a 2x2 block of the input; its gradient is that block's sum.
    /// assert_eq!(dw.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(dw.to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
    /// ```
    ///
    /// Chunks of batch items (sized by the shapes, never by the thread count: at
    /// least 512 output positions unless that takes over 16 images) run as rayon tasks; each accumulates its
    /// partial `dW` with `sgemm(g[n] [Cout, Ho*Wo] @ patches[n]^T, beta = 1)` over tiles of
    /// output positions (small images a few side by side, their patches packed straight
    /// from the padded image; large ones through an im2col column matrix). The partials are
    /// added pairwise along a binary tree over the chunk
    /// order whose shape depends only on the number of chunks, so the floating-point sums
    /// are the same on any number of threads, and at most a few partials (about one per
    /// thread per tree level) are alive at once.
    ///
    /// # Panics
    /// If either array is not 4-D, the batch sizes differ, a stride, dilation or kernel
    /// extent is zero, the dilated kernel is larger than the padded input, or
    /// `grad_output`'s spatial size is not the conv2d output size for this input.
    #[track_caller]
    pub fn conv2d_weight(
        &self,
        grad_output: &NdArray,
        kernel: [usize; 2],
        p: &Conv2dParams,
    ) -> NdArray {
        const OP: &str = "conv2d_weight";
        let [n, cin, h, w] = check_4d(OP, "input", "[N, Cin, H, W]", self);
        let [gn, cout, gh, gw] = check_4d(OP, "grad_output", "[N, Cout, Ho, Wo]", grad_output);
        assert!(
            n == gn,
            "conv2d_weight: input {:?} and grad_output {:?} have different batch sizes",
            self.shape(),
            grad_output.shape()
        );
        let [ho, wo] = p.conv2d_output_hw([h, w], kernel);
        assert!(
            [gh, gw] == [ho, wo],
            "conv2d_weight: grad_output {:?} has spatial size [{gh}, {gw}] but conv2d of input \
             {:?} with kernel {kernel:?} and {p:?} gives [{ho}, {wo}]; hint: pass the kernel \
             size and params of the forward conv2d",
            grad_output.shape(),
            self.shape()
        );
        let g = Geometry::conv2d(cin, [h, w], kernel, p);
        let shape = [cout, cin, kernel[0], kernel[1]];
        if n == 0 || cout * g.rows() == 0 {
            return NdArray::zeros(&shape);
        }
        let x = self.contiguous();
        let go = grad_output.contiguous();
        // One hand-off into the pool for all of the op's parallel passes (module docs).
        let dw = on_worker(|| {
            conv2d_weight_dense(
                x.as_slice().expect("contiguous"),
                go.as_slice().expect("contiguous"),
                &g,
                n,
                cout,
            )
        });
        NdArray::from_dense(dw, &shape)
    }
}

/// Inputs of one weight-gradient computation, shared by the tasks of the reduction tree.
struct Problem<'a> {
    /// Dense input `[N, C, H, W]`.
    x: &'a [f32],
    /// Dense output gradient `[N, Cout, Ho, Wo]`.
    go: &'a [f32],
    g: &'a Geometry,
    n: usize,
    cout: usize,
    plan: Plan,
    /// The padded stride phases' geometry, for the side-by-side blocks.
    wide: WideRows,
    /// Its taps as gather indices (side-by-side blocks only; built once per op).
    taps: Vec<i32>,
    /// Batch items per leaf.
    chunk: usize,
}

/// `sum_n g[n] [Cout, L] @ im2col(x[n])^T` as `[Cout, K]`, for `n >= 1` and `Cout*K >= 1`.
fn conv2d_weight_dense(x: &[f32], go: &[f32], g: &Geometry, n: usize, cout: usize) -> Vec<f32> {
    if few_outputs::applies(g, cout) {
        return few_outputs::conv2d_weight(Isa::active(), x, go, g, n, cout);
    }
    // Before Winograd: on dcgan28's G1 (5x5, 7x7 map) the runs were 2-6% faster (19.9-20.2
    // ms against 20.7-21.5, two threads, Zen 4, alternated three times), with direct sums
    // where Winograd's transforms round.
    if weight_dots::applies(Isa::active(), g, cout) {
        return weight_dots::conv2d_weight(Isa::active(), x, go, g, n, cout);
    }
    let plan = Plan::new(g.rows(), g.positions());
    if plan.images > 1 && weight_runs::applies(Isa::active(), g, cout) {
        return weight_runs::conv2d_weight(Isa::active(), x, go, g, n, cout);
    }
    if winograd::applies_to_weight(g, cout) {
        return winograd::conv2d_weight(Isa::active(), x, go, g, n, cout);
    }
    let wide = WideRows::new(g);
    let taps = if plan.images > 1 {
        PhasePatchesT::tap_indices(&wide)
    } else {
        Vec::new()
    };
    let pb = Problem {
        x,
        go,
        g,
        n,
        cout,
        plan,
        wide,
        taps,
        chunk: batch_chunk(g.positions()),
    };
    let mut dw = vec![0.0f32; cout * g.rows()];
    accumulate(&pb, 0..n.div_ceil(pb.chunk), &mut dw);
    dw
}

/// Writes the sum of the partial gradients of `chunks` into `dw` (`[Cout, K]`): one chunk
/// directly, several as `left half + right half`, the halves computed in parallel (the
/// right half into a buffer of its own).
fn accumulate(pb: &Problem<'_>, chunks: Range<usize>, dw: &mut [f32]) {
    if chunks.len() == 1 {
        let (k, cols) = (pb.g.rows(), pb.plan.cols());
        if pb.plan.images > 1 {
            // The thread's reusable scratch: the padded images, then the staging matrix.
            let padded = pb.plan.images * pb.wide.padded_len();
            with_scratch(padded + pb.cout * cols, |scratch| {
                let (padded, staging) = scratch.split_at_mut(padded);
                side_by_side(pb, chunks.start, dw, padded, staging);
            });
        } else {
            with_scratch(k * cols, |cols| chunk_gradient(pb, chunks.start, dw, cols));
        }
        return;
    }
    let mid = chunks.start + chunks.len() / 2;
    let dw_len = dw.len();
    let (_, right) = rayon::join(
        || accumulate(pb, chunks.start..mid, dw),
        || {
            let mut part = vec![0.0f32; dw_len];
            accumulate(pb, mid..chunks.end, &mut part);
            part
        },
    );
    for (a, &b) in dw.iter_mut().zip(&right) {
        *a += b;
    }
}

/// `dw = sum over the batch items i of chunk c of g[i] @ im2col(x[i])^T`, large images
/// tile by tile.
fn chunk_gradient(pb: &Problem<'_>, c: usize, dw: &mut [f32], cols: &mut [f32]) {
    let g = pb.g;
    let (k, l, cout) = (g.rows(), g.positions(), pb.cout);
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let mut beta = 0.0; // the first product overwrites `dw`, the rest accumulate
    for i in c * pb.chunk..pb.n.min((c + 1) * pb.chunk) {
        let x_i = &pb.x[i * image..(i + 1) * image];
        let g_i = &pb.go[i * cout * l..(i + 1) * cout * l];
        let mut l0 = 0;
        while l0 < l {
            let t = pb.plan.tile.min(l - l0);
            im2col(x_i, g, l0, t, cols, t);
            let a = MatRef::new(g_i, l0, [cout, t], [l, 1]);
            let b = MatRef::row_major(&cols[..k * t], k, t).t();
            sgemm(1.0, a, b, beta, MatMut::row_major(dw, cout, k));
            beta = 1.0;
            l0 += t;
        }
    }
}

/// The same for small images, a few side by side per GEMM (so its inner dimension is wide
/// enough to amortise reading and writing all of `dw`): their output gradients copied into
/// one staging matrix `[Cout, images * L]`, their patches packed straight from the padded
/// stride phases ([`PhasePatchesT`]), no column matrix.
fn side_by_side(
    pb: &Problem<'_>,
    c: usize,
    dw: &mut [f32],
    padded: &mut [f32],
    staging: &mut [f32],
) {
    let g = pb.g;
    let (k, l, cout) = (g.rows(), g.positions(), pb.cout);
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let padded_len = pb.wide.padded_len();
    let images = c * pb.chunk..pb.n.min((c + 1) * pb.chunk);
    let mut beta = 0.0; // the first product overwrites `dw`, the rest accumulate
    let mut first = images.start;
    while first < images.end {
        let count = pb.plan.images.min(images.end - first);
        let width = count * l;
        for j in 0..count {
            let i = first + j;
            let dst = &mut padded[j * padded_len..(j + 1) * padded_len];
            pb.wide
                .pad(&pb.x[i * image..(i + 1) * image], g.padding, dst);
            let g_i = &pb.go[i * cout * l..(i + 1) * cout * l];
            for (o, src) in g_i.chunks_exact(l).enumerate() {
                staging[o * width + j * l..o * width + (j + 1) * l].copy_from_slice(src);
            }
        }
        let a = MatRef::row_major(&staging[..cout * width], cout, width);
        let c = MatMut::row_major(dw, cout, k);
        let padded = &padded[..count * padded_len];
        let patches = PhasePatchesT::new(padded, &pb.wide, count, &pb.taps, Isa::active());
        Gemm::new().run_source(1.0, a, &patches, beta, c);
        beta = 1.0;
        first += count;
    }
}
