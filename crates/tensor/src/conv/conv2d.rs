//! `conv2d`: tiled im2col + gemm, one rayon task per batch item.

use rayon::prelude::*;

use super::im2col::{im2col, with_scratch, Geometry, Plan};
use super::{check_4d, check_bias, Conv2dParams};
use crate::gemm::{sgemm, MatMut, MatRef};
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
    /// Rayon tasks run over the batch. A task holding one image walks its output positions
    /// in tiles: it builds the tile's column matrix `[Cin*kh*kw, tile]` in a buffer reused
    /// across tiles and multiplies `W [Cout, Cin*kh*kw]` by it straight into the output
    /// window (a strided matrix view, no copy). Images with few output positions (a 7x7
    /// map has 49) are instead put side by side, a few per task, so each gemm call is wide
    /// enough to amortise packing the weights. Non-contiguous inputs are made contiguous
    /// once.
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
        let [ho, wo] = p.conv2d_output_hw([h, w], [kh, kw]);
        let g = Geometry {
            channels: cin,
            in_hw: [h, w],
            kernel: [kh, kw],
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            out_hw: [ho, wo],
        };
        let mut out = vec![0.0f32; n * cout * ho * wo];
        if !out.is_empty() {
            let x = self.contiguous();
            let wt = weight.contiguous();
            let bias = bias.map(|b| b.to_vec());
            conv2d_into(
                x.as_slice().expect("contiguous"),
                wt.as_slice().expect("contiguous"),
                bias.as_deref(),
                &g,
                cout,
                &mut out,
            );
        }
        NdArray::from_dense(out, &[n, cout, ho, wo])
    }
}

/// `out [N, Cout, Ho*Wo] = W [Cout, K] @ im2col(x[n]) (+ bias)` for every batch item, in
/// parallel over blocks of images; `out` must be non-empty.
fn conv2d_into(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [f32],
) {
    let (k, l) = (g.rows(), g.positions());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let plan = Plan::new(k, l);
    let w = MatRef::row_major(w, cout, k);
    out.par_chunks_mut(plan.images * cout * l)
        .enumerate()
        .for_each(|(b, out_b)| {
            let first = b * plan.images;
            let count = out_b.len() / (cout * l);
            let x_b = &x[first * image..(first + count) * image];
            let staging = if plan.images > 1 {
                cout * plan.cols()
            } else {
                0
            };
            // The thread's reusable scratch: the column matrix, then the staging matrix.
            with_scratch(k * plan.cols() + staging, |scratch| {
                let (cols, staging) = scratch.split_at_mut(k * plan.cols());
                if plan.images == 1 {
                    one_image(x_b, w, bias, g, plan.tile, cols, out_b);
                } else {
                    side_by_side(x_b, w, bias, g, count, cols, staging, out_b);
                }
            });
        });
}

/// One image, in tiles of output positions, each multiplied straight into its window of
/// the output (`[Cout, tile]` with row stride `Ho*Wo`): no copy.
fn one_image(
    x: &[f32],
    w: MatRef<'_>,
    bias: Option<&[f32]>,
    g: &Geometry,
    tile: usize,
    cols: &mut [f32],
    out: &mut [f32],
) {
    let [cout, k] = w.dims();
    let l = g.positions();
    let beta = match bias {
        Some(b) => {
            for (row, &bv) in out.chunks_exact_mut(l).zip(b) {
                row.fill(bv);
            }
            1.0
        }
        None => 0.0,
    };
    let mut l0 = 0;
    while l0 < l {
        let t = tile.min(l - l0);
        im2col(x, g, l0, t, cols, t);
        let c = MatMut::new(out, l0, [cout, t], [l, 1]);
        sgemm(1.0, w, MatRef::row_major(&cols[..k * t], k, t), beta, c);
        l0 += t;
    }
}

/// `count` small images side by side in one column matrix `[K, count*L]`, one gemm into a
/// staging matrix `[Cout, count*L]`, then copied (with the bias) into each image's output.
/// The copy is `Cout*L` per image, against the `Cout*K` weight re-packing it saves.
#[allow(clippy::too_many_arguments)]
fn side_by_side(
    x: &[f32],
    w: MatRef<'_>,
    bias: Option<&[f32]>,
    g: &Geometry,
    count: usize,
    cols: &mut [f32],
    staging: &mut [f32],
    out: &mut [f32],
) {
    let [cout, k] = w.dims();
    let l = g.positions();
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let width = count * l;
    for i in 0..count {
        im2col(
            &x[i * image..(i + 1) * image],
            g,
            0,
            l,
            &mut cols[i * l..],
            width,
        );
    }
    let c = MatMut::row_major(&mut staging[..cout * width], cout, width);
    sgemm(
        1.0,
        w,
        MatRef::row_major(&cols[..k * width], k, width),
        0.0,
        c,
    );
    for (i, out_i) in out.chunks_exact_mut(cout * l).enumerate() {
        for (o, row) in out_i.chunks_exact_mut(l).enumerate() {
            let src = &staging[o * width + i * l..o * width + (i + 1) * l];
            match bias {
                Some(b) => {
                    for (d, &v) in row.iter_mut().zip(src) {
                        *d = v + b[o];
                    }
                }
                None => row.copy_from_slice(src),
            }
        }
    }
}
