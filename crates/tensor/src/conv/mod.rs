//! 2-D convolution family, NCHW, PyTorch semantics (`groups = 1`).
//!
//! Three ops, each the others' adjoint in one argument, so autodiff can express every
//! convolution gradient with them:
//!
//! | op | shapes | implementation |
//! |----|--------|----------------|
//! | [`conv2d`](NdArray::conv2d) | `x [N,Cin,H,W] * w [Cout,Cin,kh,kw] -> [N,Cout,Ho,Wo]` | batches of 32+ images with 16+ channels on small maps: the images in the vector lanes, taps on the padding skipped (`image_lanes`); few channels on output rows of 14-16 pixels (AVX-512): the GEMM on 16-float rows with B read in place from the padded phases and rows stored under masks (`aligned_rows`); else implicit gemm, panels packed from the padded image's stride phases (small maps a few side by side); large maps with wide padding: tiled im2col + gemm; 3x3 and 5x5 stride 1 with enough channels: Winograd F(2x2, 3x3), F(2x2, 5x5) |
//! | [`conv_transpose2d`](NdArray::conv_transpose2d) | `x [N,Cin,H,W] * w [Cin,Cout,kh,kw] -> [N,Cout,H',W']` | stride 1: conv2d with the flipped weight; else the images in the lanes as conv2d, or gemm + col2im |
//! | [`conv2d_weight`](NdArray::conv2d_weight) | `x [N,Cin,H,W], g [N,Cout,Ho,Wo] -> [Cout,Cin,kh,kw]` | 16+ channels on maps of at most 256 outputs: one product over (pixel, image) read in place (`weight_runs`); else implicit gemm from the padded phases (small maps; im2col for large), chunked reduction |
//!
//! with `Ho = (H + 2p - d(kh-1) - 1) / s + 1` and `H' = (H-1)s - 2p + d(kh-1) + output_padding + 1`.
//!
//! The weight operand is packed once per call ([`PackedA`](crate::gemm::PackedA)) and
//! shared by every task. Every kernel splits the batch into rayon tasks whose size depends
//! on the shapes only (never on the thread count) and runs a [`Gemm`](crate::gemm::Gemm)
//! inside each task: one image in tiles of output positions, or a few small images side by side so
//! each gemm call is wide enough. `conv2d_weight` sums per-chunk partial gradients along a
//! fixed binary tree. The lanes and the weight runs are single products whose tasks own
//! tiles of C, each summed over all of K in order. Outputs are therefore bit-identical for
//! any number of threads. Column buffers come from a per-thread scratch that is reused
//! across calls.
//!
//! Called from outside rayon's pool, each op runs on a worker ([`on_worker`](crate::on_worker))
//! as a whole: its parallel passes (packing, transposes, the product) would otherwise each
//! be handed to a worker while the caller sleeps. Alternated in one process (2 threads,
//! Zen 4): dcgan28's D2 forward 5.23 -> 5.19 ms, the default discriminator's second layer
//! 1.42 -> 1.33 ms, D1's forward 302 -> 275 us (medians); on a worker already, as in the
//! trainer, nothing changes.

use std::mem::MaybeUninit;

use crate::NdArray;

mod aligned_rows;
mod col2im_rows;
mod conv2d;
mod conv2d_weight;
mod conv_transpose2d;
mod few_outputs;
mod im2col;
mod image_lanes;
mod phase_patches;
mod weight_dots;
mod weight_runs;
mod wide_rows;
mod winograd;

/// A square conv2d geometry for the convolution modules' unit tests.
#[cfg(test)]
fn test_geometry(c: usize, hw: usize, k: usize, stride: usize, padding: usize) -> im2col::Geometry {
    let p = Conv2dParams::new().stride(stride).padding(padding);
    im2col::Geometry::conv2d(c, [hw, hw], [k, k], &p)
}

/// Asserts each `got[i]` within `bound * (scale[i] + 1)` of the f64 `want[i]`, where
/// `scale` is the same sum over absolute values (the size of its rounding).
#[cfg(test)]
#[track_caller]
fn assert_within(got: &[f32], want: &[f64], scale: &[f64], bound: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, ((&got, &want), &scale)) in got.iter().zip(want).zip(scale).enumerate() {
        assert!(
            (f64::from(got) - want).abs() <= bound * (scale + 1.0),
            "{what}: element {i} is {got}, not {want}"
        );
    }
}

/// Calls `f([xi, wi, yi])` for every product in conv2d's definition on `n` images with
/// `cout` output channels: input element `xi` of `[n, channels, h, w]` times weight `wi` of
/// `[cout, channels, kh, kw]` into output `yi` of `[n, cout, ho, wo]`, taps on the padding
/// left out. The order is fixed (image, output channel, output pixel, then channel and
/// tap), so sums built from it are reproducible. The unit tests' references (forward,
/// adjoint, weight gradient) all come from this one loop.
#[cfg(test)]
fn for_each_tap(g: &im2col::Geometry, n: usize, cout: usize, mut f: impl FnMut([usize; 3])) {
    let ([h, w], [kh, kw], [ho, wo], c) = (g.in_hw, g.kernel, g.out_hw, g.channels);
    for b in 0..n {
        for o in 0..cout {
            for oy in 0..ho {
                for ox in 0..wo {
                    let yi = ((b * cout + o) * ho + oy) * wo + ox;
                    for ch in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                // Spelled out here rather than through `Geometry::input_at`,
                                // which the code under test uses.
                                let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                    - g.padding[0] as isize;
                                let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                    - g.padding[1] as isize;
                                if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                    let xi = ((b * c + ch) * h + iy as usize) * w + ix as usize;
                                    f([xi, ((o * c + ch) * kh + ky) * kw + kx, yi]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// conv2d's weight gradient `dW` by its definition in f64, and the same sum over absolute
/// values (the scale of its rounding), for the weight-gradient modules' unit tests.
#[cfg(test)]
fn test_weight_gradient(
    x: &[f32],
    go: &[f32],
    g: &im2col::Geometry,
    n: usize,
    cout: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut dw = vec![0.0f64; cout * g.channels * g.kernel[0] * g.kernel[1]];
    let mut scale = dw.clone();
    for_each_tap(g, n, cout, |[xi, wi, yi]| {
        let term = f64::from(go[yi]) * f64::from(x[xi]);
        dw[wi] += term;
        scale[wi] += term.abs();
    });
    (dw, scale)
}

/// Runs `f` on every in-house kernel path, on 1 and 3 threads each, asserts that all the
/// runs give the same bits (`what` names the case), and returns each run's path and result.
#[cfg(test)]
#[track_caller]
fn same_bits_on_every_path(
    what: &str,
    f: impl Fn(crate::gemm::Isa) -> Vec<f32> + Sync,
) -> Vec<(crate::gemm::Isa, Vec<f32>)> {
    let mut runs = Vec::new();
    for isa in crate::gemm::Isa::supported()
        .into_iter()
        .filter(|i| i.micro_cols().is_some())
    {
        for threads in [1, 3] {
            runs.push((
                isa,
                threads,
                crate::parallel::on_threads(threads, || f(isa)),
            ));
        }
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for r in &runs[1..] {
        assert!(
            bits(&r.2) == bits(&runs[0].2),
            "{what}: {:?} on {} threads differs from {:?} on {}",
            r.0,
            r.1,
            runs[0].0,
            runs[0].1
        );
    }
    runs.into_iter().map(|(isa, _, v)| (isa, v)).collect()
}

/// `len` deterministic values in [-1, 1) for the convolution modules' unit tests (`salt`
/// picks the sequence).
#[cfg(test)]
fn test_values(len: usize, salt: u64) -> Vec<f32> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(salt * 97) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// Stride, padding and dilation of a 2-D convolution, per spatial axis `[h, w]`.
///
/// Build one with the builder methods (the scalar forms set both axes):
///
/// ```
/// use agon_tensor::Conv2dParams;
/// let p = Conv2dParams::new().stride(2).padding(2);
/// assert_eq!(p.stride, [2, 2]);
/// assert_eq!(p.padding, [2, 2]);
/// assert_eq!(p.dilation, [1, 1]);
/// let q = Conv2dParams::new().stride_hw([1, 2]).dilation_hw([2, 1]);
/// assert_eq!((q.stride, q.dilation), ([1, 2], [2, 1]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Step between output positions.
    pub stride: [usize; 2],
    /// Zero padding added on both sides.
    pub padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        }
    }
}

impl Conv2dParams {
    /// Stride 1, padding 0, dilation 1 (PyTorch's defaults).
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new(), Default::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The same stride `s` on both axes.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().stride(3).stride, [3, 3]);
    /// ```
    #[must_use]
    pub fn stride(self, s: usize) -> Self {
        self.stride_hw([s, s])
    }

    /// Stride `[sh, sw]`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().stride_hw([1, 2]).stride, [1, 2]);
    /// ```
    #[must_use]
    pub fn stride_hw(mut self, s: [usize; 2]) -> Self {
        self.stride = s;
        self
    }

    /// The same zero padding `p` on both axes.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().padding(1).padding, [1, 1]);
    /// ```
    #[must_use]
    pub fn padding(self, p: usize) -> Self {
        self.padding_hw([p, p])
    }

    /// Zero padding `[ph, pw]`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().padding_hw([0, 2]).padding, [0, 2]);
    /// ```
    #[must_use]
    pub fn padding_hw(mut self, p: [usize; 2]) -> Self {
        self.padding = p;
        self
    }

    /// The same dilation `d` on both axes.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().dilation(2).dilation, [2, 2]);
    /// ```
    #[must_use]
    pub fn dilation(self, d: usize) -> Self {
        self.dilation_hw([d, d])
    }

    /// Dilation `[dh, dw]`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Conv2dParams::new().dilation_hw([2, 1]).dilation, [2, 1]);
    /// ```
    #[must_use]
    pub fn dilation_hw(mut self, d: [usize; 2]) -> Self {
        self.dilation = d;
        self
    }

    /// Spatial output size of [`conv2d`](NdArray::conv2d) on an `input_hw` image with a
    /// `kernel` window: `(H + 2p - d(k-1) - 1) / s + 1` per axis.
    ///
    /// ```
    /// use agon_tensor::Conv2dParams;
    /// let p = Conv2dParams::new().stride(2).padding(2);
    /// assert_eq!(p.conv2d_output_hw([28, 28], [5, 5]), [14, 14]);
    /// ```
    ///
    /// # Panics
    /// If a stride, dilation or kernel extent is zero, or the dilated kernel is larger than
    /// the padded input.
    #[track_caller]
    pub fn conv2d_output_hw(&self, input_hw: [usize; 2], kernel: [usize; 2]) -> [usize; 2] {
        self.check_positive("conv2d", kernel);
        // Plain loops, not closures: `#[track_caller]` does not reach into closures.
        let mut out = [0; 2];
        for a in 0..2 {
            let padded = input_hw[a] + 2 * self.padding[a];
            let span = self.dilation[a] * (kernel[a] - 1) + 1;
            assert!(
                span <= padded,
                "conv2d: dilated kernel extent {span} (kernel {kernel:?}, dilation {:?}) is \
                 larger than the padded input {padded} on axis {} (input {input_hw:?}, \
                 padding {:?}); hint: use a smaller kernel or more padding",
                self.dilation,
                ["h", "w"][a],
                self.padding
            );
            out[a] = (padded - span) / self.stride[a] + 1;
        }
        out
    }

    /// Spatial output size of [`conv_transpose2d`](NdArray::conv_transpose2d):
    /// `(H - 1)s - 2p + d(k-1) + output_padding + 1` per axis.
    ///
    /// ```
    /// use agon_tensor::Conv2dParams;
    /// let p = Conv2dParams::new().stride(2).padding(2);
    /// assert_eq!(p.conv_transpose2d_output_hw([7, 7], [5, 5], [1, 1]), [14, 14]);
    /// ```
    ///
    /// # Panics
    /// If a stride, dilation or kernel extent is zero, an output padding is not smaller than
    /// its stride or its dilation, or the output would be empty.
    #[track_caller]
    pub fn conv_transpose2d_output_hw(
        &self,
        input_hw: [usize; 2],
        kernel: [usize; 2],
        output_padding: [usize; 2],
    ) -> [usize; 2] {
        self.check_positive("conv_transpose2d", kernel);
        for a in 0..2 {
            assert!(
                output_padding[a] < self.stride[a] || output_padding[a] < self.dilation[a],
                "conv_transpose2d: output_padding {output_padding:?} must be smaller than \
                 either the stride {:?} or the dilation {:?} on each axis (it only picks one \
                 of the input sizes that conv2d maps to the same output size)",
                self.stride,
                self.dilation
            );
        }
        let mut out = [0; 2];
        for a in 0..2 {
            let full = input_hw[a].saturating_sub(1) * self.stride[a]
                + self.dilation[a] * (kernel[a] - 1)
                + output_padding[a]
                + 1;
            assert!(
                input_hw[a] > 0 && full > 2 * self.padding[a],
                "conv_transpose2d: input size {input_hw:?} with kernel {kernel:?} and params {self:?} \
                 gives an empty output on axis {} ({full} - 2 * padding {}); hint: padding \
                 must stay below half the full output",
                ["h", "w"][a],
                self.padding[a]
            );
            out[a] = full - 2 * self.padding[a];
        }
        out
    }

    /// Panics (naming `op`) on a zero stride, dilation or kernel extent.
    #[track_caller]
    fn check_positive(&self, op: &str, kernel: [usize; 2]) {
        assert!(
            self.stride.iter().all(|&s| s > 0),
            "{op}: stride must be positive on both axes, got {:?}",
            self.stride
        );
        assert!(
            self.dilation.iter().all(|&d| d > 0),
            "{op}: dilation must be positive on both axes, got {:?}",
            self.dilation
        );
        assert!(
            kernel.iter().all(|&k| k > 0),
            "{op}: kernel size must be positive on both axes, got {kernel:?}"
        );
    }
}

/// A `len`-float output that `fill` writes in full, with no zero-fill first. The lanes and
/// conv2d's implicit GEMM from the phases overwrite every element of their outputs, and
/// zeroing the output first was a serial memset on the calling thread before the parallel
/// work, during which, on more threads, the others wait: 1.6 MB for dcgan28's second
/// discriminator layer (1.1% of a one-thread profile of its forward), 3.2 MB for its first
/// (5% of a two-thread profile).
///
/// # Safety
/// `fill` initialises every element of the slice it is given.
unsafe fn written_in_full(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least `len`, and `fill` initialised the first `len`
    // elements (the caller's contract).
    unsafe { out.set_len(len) };
    out
}

/// The `len`-float output of `compute(x, w, bias)` on dense copies of an op's operands (no
/// call for an empty output), run on a rayon worker as a whole: one hand-off into the pool
/// for all of the op's parallel passes (module docs).
fn dense_output(
    x: &NdArray,
    w: &NdArray,
    bias: Option<&NdArray>,
    len: usize,
    compute: impl FnOnce(&[f32], &[f32], Option<&[f32]>) -> Vec<f32> + Send,
) -> Vec<f32> {
    if len == 0 {
        return Vec::new();
    }
    let (x, w) = (x.contiguous(), w.contiguous());
    let bias = bias.map(|b| b.to_vec());
    crate::on_worker(|| {
        compute(
            x.as_slice().expect("contiguous"),
            w.as_slice().expect("contiguous"),
            bias.as_deref(),
        )
    })
}

/// Panics unless `a` is a 4-D `[N, C, H, W]` array; `what` names it in the message.
#[track_caller]
fn check_4d(op: &str, what: &str, layout_hint: &str, a: &NdArray) -> [usize; 4] {
    assert!(
        a.ndim() == 4,
        "{op}: {what} must be 4-D {layout_hint}, got shape {:?}; hint: use unsqueeze(0) to \
         add a batch axis to a single image",
        a.shape()
    );
    [a.shape()[0], a.shape()[1], a.shape()[2], a.shape()[3]]
}

/// Panics unless `bias` is `None` or has shape `[channels]`.
#[track_caller]
fn check_bias(op: &str, bias: Option<&NdArray>, channels: usize) {
    if let Some(b) = bias {
        assert!(
            b.shape() == [channels],
            "{op}: bias must have shape [{channels}] (one value per output channel), got {:?}",
            b.shape()
        );
    }
}
