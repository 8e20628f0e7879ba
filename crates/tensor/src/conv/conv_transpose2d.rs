//! `conv_transpose2d`: at stride 1 (on maps wide enough) a plain conv2d, an implicit GEMM,
//! with the flipped weight; otherwise gemm + col2im, one rayon task per batch item.
//!
//! Tried and not kept (Zen 4, 2026-12-04): the DCGAN 4x4 stride-2 padding-1 layer as one
//! stride-1 conv2d over its four output phases (2x2 kernels, `4 * Cout` outputs, then
//! `interleave_phases`), which trades the col2im scatter for an implicit GEMM. On the default
//! discriminator's input gradients it was 25-50% slower: on a 7x7 map the phase grid
//! (8x8) and the wide rows (9 of 8) make the GEMM 45% larger than the useful product, and
//! a one-channel output gives the GEMM 4 rows.
//!
//! Also tried and not kept (Xeon, AVX-512, 2026-12-06): col2im of small images through the
//! padded stride phases (the adjoint of conv2d's patch packing), where a stride-2 layer's
//! scattered pixels become runs of 7 added with masked vector operations. Same bits, but
//! slower: `add_rows` took 8-10% of the default and dcgan28 steps where the tap-table scatter
//! took 6-9%. Each tap row's masked read-modify-write overlaps the one two taps before it at
//! another alignment, which store forwarding cannot serve. Nor (same day) col2im by output
//! rows: each pixel summed its taps in a 16-lane register (a masked load and a masked add
//! per tap, the two parities interleaved into one store; same bits): 6.6% of the default
//! step against the scatter's 6.4%, and on dcgan28 5.5% plus 4.0% of scatter left elsewhere
//! against 8.7%: no gain. The scatter streams through the columns in order; the row-wise
//! sum visits 25 column rows per output row.

use rayon::prelude::*;

use super::im2col::{col2im, with_scratch, Geometry, Plan, WholeImages};
use super::image_lanes::{self, Direction};
use super::wide_rows::WideRows;
use super::winograd;
use super::{check_4d, check_bias, dense_output, Conv2dParams};
use crate::gemm::{Gemm, Isa, MatMut, MatRef, PackedA};
use crate::NdArray;

impl NdArray {
    /// Transposed convolution (`torch.nn.functional.conv_transpose2d` with `groups = 1`):
    /// input `self` `[N, Cin, H, W]`, weight `[Cin, Cout, kh, kw]` (PyTorch's layout),
    /// optional bias `[Cout]`; returns `[N, Cout, H', W']` with
    /// `H' = (H-1)s - 2p + d(kh-1) + output_padding + 1`
    /// (see [`Conv2dParams::conv_transpose2d_output_hw`]).
    ///
    /// Without bias it is the adjoint of [`conv2d`](NdArray::conv2d) in its input, for the
    /// same weight: `<conv2d(x, w), y> = <x, conv_transpose2d(y, w)>`. `output_padding`
    /// picks which of the input sizes that conv2d maps onto `H` to produce.
    ///
    /// ```
    /// use agon_tensor::{Conv2dParams, NdArray};
    /// // Stride 2 spreads each input pixel into a 2x2 block of the output.
    /// let x = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    /// let w = NdArray::ones(&[1, 1, 2, 2]);
    /// let y = x.conv_transpose2d(&w, None, &Conv2dParams::new().stride(2), [0, 0]);
    /// assert_eq!(y.shape(), &[1, 1, 4, 4]);
    /// assert_eq!(y.get(&[0, 0, 0, 1]), 1.0);
    /// assert_eq!(y.get(&[0, 0, 3, 2]), 4.0);
    /// ```
    ///
    /// At stride 1 without output padding (a stride-1 layer's input gradient), where the
    /// padded rows are at most a fifth wider than the output, it is computed as the conv2d
    /// it equals: `conv2d(x, flip(w)^T, padding d(k-1) - p)`, with the weight's
    /// channel axes swapped and its taps reversed, so it runs as an implicit GEMM with no
    /// column matrix at all. Otherwise rayon tasks run over the batch: each multiplies the transposed weight
    /// `W^T [Cout*kh*kw, Cin]` (a strided view, no copy) by a tile of an image's pixels
    /// `[Cin, tile]` into a reused column buffer, then col2im adds the columns onto the
    /// output image. Images with few pixels (a 7x7 map has 49) are put side by side, a few
    /// per task, so each gemm call is wide enough to amortise packing the weights. No output
    /// pixel is written by two tasks, and each task adds in a fixed order, so the result
    /// does not depend on the thread count.
    ///
    /// # Panics
    /// If `self` or `weight` is not 4-D, `self`'s channels differ from `weight`'s first axis,
    /// a stride, dilation or kernel extent is zero, an output padding is not smaller than its
    /// stride or its dilation, the output would be empty, or the bias is not `[Cout]`.
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &NdArray,
        bias: Option<&NdArray>,
        p: &Conv2dParams,
        output_padding: [usize; 2],
    ) -> NdArray {
        const OP: &str = "conv_transpose2d";
        let [n, cin, h, w] = check_4d(OP, "input", "[N, Cin, H, W]", self);
        let [wcin, cout, kh, kw] = check_4d(OP, "weight", "[Cin, Cout, kh, kw]", weight);
        assert!(
            cin == wcin,
            "conv_transpose2d: input {:?} has {cin} channels but weight {:?} expects {wcin}; \
             hint: the transposed-convolution weight layout is [Cin, Cout, kh, kw], the \
             transpose of conv2d's",
            self.shape(),
            weight.shape()
        );
        check_bias(OP, bias, cout);
        let [oh, ow] = p.conv_transpose2d_output_hw([h, w], [kh, kw], output_padding);
        if let Some(direct) = as_stride1_conv2d(p, [kh, kw], output_padding) {
            let conv = Geometry {
                channels: cin,
                in_hw: [h, w],
                kernel: [kh, kw],
                stride: [1, 1],
                padding: direct.padding,
                dilation: direct.dilation,
                out_hw: [oh, ow],
            };
            // Only where the padded rows are at most a fifth wider than the output, or
            // where Winograd takes the conv2d. On a 5x5 kernel on a 7x7 map (dcgan28's G1)
            // the implicit GEMM packs Cin*kh*kw patch rows, twice gemm + col2im's
            // Cout*kh*kw column rows here when Cin = 2 Cout: measured twice as slow through
            // im2col (2026-12-04) and the same speed packed from the padded phases
            // (2026-12-06, one thread, 47-49 ms). As F(2x2, 5x5) G1 is 1.15-1.25x faster than
            // gemm + col2im (two threads; the generator forward at batch 256, 1.2-1.4x), and
            // a padded 3x3 layer's input gradient 1.2-1.6x faster with 64 and 128 channels
            // on 7x7 maps (one thread, 2026-12-06).
            if WideRows::new(&conv).pays_off() || winograd::applies(&conv, cout) {
                return self.conv2d(&flip_transpose(weight), bias, &direct);
            }
        }
        // The conv2d this op is the adjoint of: it maps the [Cout, oh, ow] output image to
        // the [Cin, h, w] input grid, so the column grid is the input's pixels.
        let g = Geometry {
            channels: cout,
            in_hw: [oh, ow],
            kernel: [kh, kw],
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            out_hw: [h, w],
        };
        let len = n * cout * oh * ow;
        let out = dense_output(self, weight, bias, len, |x, w, bias| {
            conv_transpose2d_output(x, w, bias, &g, cin, len)
        });
        NdArray::from_dense(out, &[n, cout, oh, ow])
    }
}

/// conv_transpose2d's `len`-float output (`len > 0`): through the lanes where they apply,
/// which write every element, so the output is not zeroed first; else
/// [`conv_transpose2d_into`] a zeroed buffer.
fn conv_transpose2d_output(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cin: usize,
    len: usize,
) -> Vec<f32> {
    let n = len / (g.channels * g.in_hw[0] * g.in_hw[1]);
    if image_lanes::applies(Isa::active(), n, cin, g.channels) {
        let shape = [n, cin, g.channels];
        let direction = Direction::Transposed;
        return image_lanes::output(Isa::active(), direction, x, w, bias, g, shape, len);
    }
    let mut out = vec![0.0f32; len];
    conv_transpose2d_into(x, w, bias, g, cin, &mut out);
    out
}

/// `out[n] = col2im(W^T @ x[n]) (+ bias)` for every batch item, in parallel over blocks of
/// images; `out` must be non-empty.
fn conv_transpose2d_into(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cin: usize,
    out: &mut [f32],
) {
    let (rows, l) = (g.rows(), g.positions()); // rows = Cout*kh*kw, l = H*W input pixels
    let plane = g.in_hw[0] * g.in_hw[1];
    let out_image = g.channels * plane;
    let plan = Plan::new(rows, l);
    // w is [Cin, Cout*kh*kw] row-major; its transpose is a view.
    // Packed once for the whole batch.
    let wt = PackedA::new(MatRef::row_major(w, cin, rows).t());
    let images = WholeImages::new(g, &plan);
    out.par_chunks_mut(plan.images * out_image)
        .enumerate()
        .for_each(|(b, out_b)| {
            let staging = if plan.images > 1 {
                cin * plan.cols()
            } else {
                0
            };
            // The thread's reusable scratch: the column matrix, then the staging matrix.
            with_scratch(rows * plan.cols() + staging, |scratch| {
                let (cols, staging) = scratch.split_at_mut(rows * plan.cols());
                // `out` starts zeroed; with a bias, start from it instead.
                if let Some(bias) = bias {
                    for (ch, &bv) in out_b.chunks_exact_mut(plane).zip(bias.iter().cycle()) {
                        ch.fill(bv);
                    }
                }
                let first = b * plan.images;
                let count = out_b.len() / out_image;
                let x_b = &x[first * cin * l..(first + count) * cin * l];
                if plan.images == 1 {
                    // One image, in tiles of its pixels: W^T @ x[:, tile] -> cols -> col2im.
                    let mut l0 = 0;
                    while l0 < l {
                        let t = plan.tile.min(l - l0);
                        let xs = MatRef::new(x_b, l0, [cin, t], [l, 1]);
                        let c = MatMut::row_major(&mut cols[..rows * t], rows, t);
                        Gemm::new().run_packed(1.0, &wt, xs, 0.0, c);
                        col2im(cols, t, g, l0, t, out_b);
                        l0 += t;
                    }
                } else {
                    // Small images side by side: stage x as [Cin, count*L] (a copy of Cin*L
                    // per image, against the Cin*Cout*kh*kw weight re-packing it saves), one
                    // gemm, then col2im from each image's block of columns.
                    let width = count * l;
                    for (i, x_i) in x_b.chunks_exact(cin * l).enumerate() {
                        for (c, src) in x_i.chunks_exact(l).enumerate() {
                            staging[c * width + i * l..c * width + (i + 1) * l]
                                .copy_from_slice(src);
                        }
                    }
                    let xs = MatRef::row_major(&staging[..cin * width], cin, width);
                    let c = MatMut::row_major(&mut cols[..rows * width], rows, width);
                    Gemm::new().run_packed(1.0, &wt, xs, 0.0, c);
                    for (i, out_i) in out_b.chunks_exact_mut(out_image).enumerate() {
                        images.col2im(&cols[i * l..], width, out_i);
                    }
                }
            });
        });
}

/// The conv2d parameters that compute a stride-1 transposed convolution, when there are
/// some: each output pixel `o` gathers `x[o + p - d*k]` over taps `k`, which is a conv2d
/// over the reversed taps with padding `d(k-1) - p` (that must not be negative) and the same
/// dilation. Output padding would need asymmetric padding, so it is left to the general
/// path.
fn as_stride1_conv2d(
    p: &Conv2dParams,
    kernel: [usize; 2],
    output_padding: [usize; 2],
) -> Option<Conv2dParams> {
    if p.stride != [1, 1] || output_padding != [0, 0] {
        return None;
    }
    let mut padding = [0; 2];
    for a in 0..2 {
        padding[a] = (p.dilation[a] * (kernel[a] - 1)).checked_sub(p.padding[a])?;
    }
    Some(Conv2dParams {
        stride: [1, 1],
        padding,
        dilation: p.dilation,
    })
}

/// `[Cin, Cout, kh, kw] -> [Cout, Cin, kh, kw]` with both spatial axes reversed: the conv2d
/// weight of the same linear map read from the other side.
fn flip_transpose(weight: &NdArray) -> NdArray {
    let [cin, cout, kh, kw] = [0, 1, 2, 3].map(|a| weight.shape()[a]);
    let w = weight.contiguous();
    let src = w.as_slice().expect("contiguous");
    let taps = kh * kw;
    let mut out = vec![0.0f32; src.len()];
    // Reversing both spatial axes of a row-major kh x kw block reverses the block, so each
    // (o, i) block is the (i, o) source block read backwards. A task takes 16 output
    // channels and walks the input channels in order: for each it reads the 16 source
    // blocks side by side (one contiguous run) and appends one block to each of 16 output
    // rows, so both sides stream. dcgan28's G1 weight (819,200 floats) took 4.5% of the
    // layer through the element-by-element index arithmetic this replaces.
    const GROUP: usize = 16;
    if taps > 0 && cin > 0 {
        out.par_chunks_mut(GROUP * cin * taps)
            .enumerate()
            .for_each(|(g, rows)| {
                let o0 = g * GROUP;
                let row_len = cin * taps;
                for i in 0..cin {
                    for (r, row) in rows.chunks_exact_mut(row_len).enumerate() {
                        let from = &src[(i * cout + o0 + r) * taps..][..taps];
                        let block = &mut row[i * taps..(i + 1) * taps];
                        for (d, &v) in block.iter_mut().zip(from.iter().rev()) {
                            *d = v;
                        }
                    }
                }
            });
    }
    NdArray::from_dense(out, &[cout, cin, kh, kw])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_transpose_swaps_channels_and_reverses_taps() {
        // Channel counts around the 16-channel groups, non-square kernels.
        for [cin, cout, kh, kw] in [[3, 17, 2, 3], [1, 1, 1, 1], [5, 33, 5, 5], [2, 16, 3, 1]] {
            let n = cin * cout * kh * kw;
            let w = NdArray::from_vec((0..n).map(|v| v as f32).collect(), &[cin, cout, kh, kw])
                .unwrap();
            let f = flip_transpose(&w);
            assert_eq!(f.shape(), &[cout, cin, kh, kw]);
            for o in 0..cout {
                for i in 0..cin {
                    for a in 0..kh {
                        for b in 0..kw {
                            assert_eq!(
                                f.get(&[o, i, a, b]),
                                w.get(&[i, o, kh - 1 - a, kw - 1 - b]),
                                "{cin}x{cout}x{kh}x{kw} at {o} {i} {a} {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}
