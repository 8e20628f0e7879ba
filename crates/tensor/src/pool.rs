//! 2-D max and average pooling over NCHW arrays, and their adjoints (PyTorch semantics,
//! `ceil_mode = false`, `dilation = 1`).
//!
//! Every op works plane by plane (one `H x W` plane per `(n, c)`), so planes run in
//! parallel without any shared output: results never depend on the thread count.

use rayon::prelude::*;

use crate::parallel::PAR_ELEMENTWISE_MIN;
use crate::{Indices, NdArray};

/// Window size, stride and zero/neg-inf padding of a 2-D pooling op, per axis `[h, w]`.
///
/// ```
/// use agon_tensor::Pool2dParams;
/// let p = Pool2dParams::new(3).stride(2).padding(1);
/// assert_eq!((p.kernel, p.stride, p.padding), ([3, 3], [2, 2], [1, 1]));
/// assert_eq!(Pool2dParams::new(2).stride, [2, 2]); // stride defaults to the kernel
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on both sides.
    pub padding: [usize; 2],
}

impl Pool2dParams {
    /// A square `kernel x kernel` window with stride equal to the kernel and no padding
    /// (PyTorch's defaults).
    ///
    /// ```
    /// let p = agon_tensor::Pool2dParams::new(2);
    /// assert_eq!((p.kernel, p.stride, p.padding), ([2, 2], [2, 2], [0, 0]));
    /// ```
    pub fn new(kernel: usize) -> Self {
        Self::new_hw([kernel, kernel])
    }

    /// A `kh x kw` window with stride equal to the kernel and no padding.
    ///
    /// ```
    /// let p = agon_tensor::Pool2dParams::new_hw([2, 3]);
    /// assert_eq!((p.kernel, p.stride), ([2, 3], [2, 3]));
    /// ```
    pub fn new_hw(kernel: [usize; 2]) -> Self {
        Pool2dParams {
            kernel,
            stride: kernel,
            padding: [0, 0],
        }
    }

    /// The same stride `s` on both axes.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Pool2dParams::new(3).stride(1).stride, [1, 1]);
    /// ```
    #[must_use]
    pub fn stride(self, s: usize) -> Self {
        self.stride_hw([s, s])
    }

    /// Stride `[sh, sw]`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Pool2dParams::new(3).stride_hw([1, 2]).stride, [1, 2]);
    /// ```
    #[must_use]
    pub fn stride_hw(mut self, s: [usize; 2]) -> Self {
        self.stride = s;
        self
    }

    /// The same padding `p` on both axes.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Pool2dParams::new(3).padding(1).padding, [1, 1]);
    /// ```
    #[must_use]
    pub fn padding(self, p: usize) -> Self {
        self.padding_hw([p, p])
    }

    /// Padding `[ph, pw]`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::Pool2dParams::new(3).padding_hw([0, 1]).padding, [0, 1]);
    /// ```
    #[must_use]
    pub fn padding_hw(mut self, p: [usize; 2]) -> Self {
        self.padding = p;
        self
    }

    /// Spatial output size on an `input_hw` plane: `(H + 2p - k) / s + 1` per axis.
    ///
    /// ```
    /// use agon_tensor::Pool2dParams;
    /// assert_eq!(Pool2dParams::new(2).output_hw([7, 8]), [3, 4]);
    /// assert_eq!(Pool2dParams::new(3).stride(1).padding(1).output_hw([5, 5]), [5, 5]);
    /// ```
    ///
    /// # Panics
    /// If a kernel extent or stride is zero, a padding exceeds half its kernel extent, or
    /// the window is larger than the padded input.
    #[track_caller]
    pub fn output_hw(&self, input_hw: [usize; 2]) -> [usize; 2] {
        self.checked_output_hw("pool2d", input_hw)
    }

    #[track_caller]
    fn checked_output_hw(&self, op: &str, input_hw: [usize; 2]) -> [usize; 2] {
        let Pool2dParams {
            kernel,
            stride,
            padding,
        } = *self;
        assert!(
            kernel.iter().chain(&stride).all(|&v| v > 0),
            "{op}: kernel {kernel:?} and stride {stride:?} must be positive"
        );
        assert!(
            (0..2).all(|a| 2 * padding[a] <= kernel[a]),
            "{op}: padding {padding:?} must be at most half the kernel {kernel:?} (PyTorch's \
             rule: every window must overlap the input)"
        );
        // A plain loop, not a closure: `#[track_caller]` does not reach into closures.
        let mut out = [0; 2];
        for a in 0..2 {
            let padded = input_hw[a] + 2 * padding[a];
            assert!(
                kernel[a] <= padded,
                "{op}: kernel {kernel:?} is larger than the padded input (input {input_hw:?}, \
                 padding {padding:?}); hint: use a smaller window or more padding"
            );
            out[a] = (padded - kernel[a]) / stride[a] + 1;
        }
        out
    }

    /// The input rows (or columns, `a = 1`) window `o` covers, clipped to the input.
    fn window(&self, a: usize, o: usize, len: usize) -> std::ops::Range<usize> {
        let start = (o * self.stride[a]) as isize - self.padding[a] as isize;
        let end = (start + self.kernel[a] as isize).min(len as isize);
        start.max(0) as usize..end.max(0) as usize
    }
}

/// Panics unless `a` is 4-D; returns its shape.
#[track_caller]
fn check_4d(op: &str, a: &NdArray) -> [usize; 4] {
    assert!(
        a.ndim() == 4,
        "{op}: input must be 4-D [N, C, H, W], got shape {:?}; hint: use unsqueeze(0) to add \
         a batch axis to a single image",
        a.shape()
    );
    [a.shape()[0], a.shape()[1], a.shape()[2], a.shape()[3]]
}

/// Runs `f(plane_index, out_plane, idx_plane)` over matching `plane`-sized chunks of `out`
/// and `idx`, in parallel when `work` (elements touched) makes it worth waking rayon's
/// threads. Planes are independent, so the split never changes the result.
fn for_each_plane(
    out: &mut [f32],
    idx: &mut [usize],
    plane: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32], &mut [usize]) + Sync + Send,
) {
    if out.is_empty() || plane == 0 {
        return;
    }
    if work >= PAR_ELEMENTWISE_MIN {
        out.par_chunks_mut(plane)
            .zip(idx.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(i, (o, x))| f(i, o, x));
    } else {
        for (i, (o, x)) in out.chunks_mut(plane).zip(idx.chunks_mut(plane)).enumerate() {
            f(i, o, x);
        }
    }
}

/// [`for_each_plane`] without an auxiliary output.
pub(crate) fn for_each_out_plane(
    out: &mut [f32],
    plane: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    if out.is_empty() || plane == 0 {
        return;
    }
    if work >= PAR_ELEMENTWISE_MIN {
        out.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, o)| f(i, o));
    } else {
        for (i, o) in out.chunks_mut(plane).enumerate() {
            f(i, o);
        }
    }
}

impl NdArray {
    /// Max pooling (`torch.nn.functional.max_pool2d(.., return_indices=True)`): returns the
    /// pooled `[N, C, Ho, Wo]` array and, for each output, the flat position `h * W + w` of
    /// its maximum within its input plane. Padding acts as `-inf`. Ties go to the first
    /// position in row-major order; a NaN in a window wins (PyTorch propagates NaN).
    ///
    /// ```
    /// use agon_tensor::{NdArray, Pool2dParams};
    /// let x = NdArray::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 9.0, 8.0], &[1, 1, 2, 4])
    ///     .unwrap();
    /// let (y, idx) = x.max_pool2d(&Pool2dParams::new(2));
    /// assert_eq!(y.to_vec(), vec![5.0, 9.0]);
    /// assert_eq!(idx.as_slice(), &[1, 6]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, a kernel extent or stride is zero, a padding exceeds half the
    /// kernel, or the window is larger than the padded input.
    #[track_caller]
    pub fn max_pool2d(&self, p: &Pool2dParams) -> (NdArray, Indices) {
        let [n, c, h, w] = check_4d("max_pool2d", self);
        let [ho, wo] = p.checked_output_hw("max_pool2d", [h, w]);
        let x = self.contiguous();
        let x = x.as_slice().expect("contiguous");
        let mut out = vec![0.0f32; n * c * ho * wo];
        let mut idx = vec![0usize; out.len()];
        let work = out.len() * p.kernel[0] * p.kernel[1];
        for_each_plane(&mut out, &mut idx, ho * wo, work, |i, o, ix| {
            let xp = &x[i * h * w..(i + 1) * h * w];
            for oh in 0..ho {
                let rows = p.window(0, oh, h);
                for ow in 0..wo {
                    let cols = p.window(1, ow, w);
                    let mut best_i = rows.start * w + cols.start;
                    let mut best = f32::NEG_INFINITY;
                    for r in rows.clone() {
                        for col in cols.clone() {
                            let v = xp[r * w + col];
                            if v > best || v.is_nan() {
                                best = v;
                                best_i = r * w + col;
                            }
                        }
                    }
                    o[oh * wo + ow] = best;
                    ix[oh * wo + ow] = best_i;
                }
            }
        });
        (
            NdArray::from_dense(out, &[n, c, ho, wo]),
            Indices::from_vec(idx, &[n, c, ho, wo]),
        )
    }

    /// Adjoint of max pooling (`torch.nn.functional.max_unpool2d` that accumulates):
    /// `self` `[N, C, Ho, Wo]` and the `indices` from [`max_pool2d`](NdArray::max_pool2d)
    /// give `[N, C, H, W]` (`input_hw = [H, W]`) holding the sum of the values sent to each
    /// position (overlapping windows may pick the same one).
    ///
    /// ```
    /// use agon_tensor::{NdArray, Pool2dParams};
    /// let x = NdArray::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 9.0, 8.0], &[1, 1, 2, 4])
    ///     .unwrap();
    /// let (_, idx) = x.max_pool2d(&Pool2dParams::new(2));
    /// let g = NdArray::from_vec(vec![10.0, 20.0], &[1, 1, 1, 2]).unwrap();
    /// let dx = g.max_unpool2d(&idx, [2, 4]);
    /// assert_eq!(dx.to_vec(), vec![0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 20.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, `indices` has a different shape, or an index is not below
    /// `H * W`.
    #[track_caller]
    pub fn max_unpool2d(&self, indices: &Indices, input_hw: [usize; 2]) -> NdArray {
        let [n, c, ho, wo] = check_4d("max_unpool2d", self);
        assert!(
            indices.shape() == self.shape(),
            "max_unpool2d: indices {:?} must have the shape of the values {:?}; hint: pass the \
             indices max_pool2d returned with this output",
            indices.shape(),
            self.shape()
        );
        let [h, w] = input_hw;
        let hw = h * w;
        let ix = indices.as_slice();
        if let Some(bad) = ix.iter().find(|&&i| i >= hw) {
            panic!(
                "max_unpool2d: index {bad} is out of range for input planes {input_hw:?} \
                 ({hw} positions); hint: pass the input size max_pool2d saw"
            );
        }
        let g = self.contiguous();
        let g = g.as_slice().expect("contiguous");
        let mut out = vec![0.0f32; n * c * hw];
        let pl = ho * wo;
        let work = out.len() + g.len();
        for_each_out_plane(&mut out, hw, work, |i, o| {
            for (&v, &j) in g[i * pl..(i + 1) * pl]
                .iter()
                .zip(&ix[i * pl..(i + 1) * pl])
            {
                o[j] += v;
            }
        });
        NdArray::from_dense(out, &[n, c, h, w])
    }

    /// Average pooling (`torch.nn.functional.avg_pool2d` with its default
    /// `count_include_pad = True`): each output is the sum of its window divided by
    /// `kh * kw`, padding counting as zeros.
    ///
    /// ```
    /// use agon_tensor::{NdArray, Pool2dParams};
    /// let x = NdArray::arange(0.0, 8.0, 1.0).reshape(&[1, 1, 2, 4]);
    /// assert_eq!(x.avg_pool2d(&Pool2dParams::new(2)).to_vec(), vec![2.5, 4.5]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, a kernel extent or stride is zero, a padding exceeds half the
    /// kernel, or the window is larger than the padded input.
    #[track_caller]
    pub fn avg_pool2d(&self, p: &Pool2dParams) -> NdArray {
        let [n, c, h, w] = check_4d("avg_pool2d", self);
        let [ho, wo] = p.checked_output_hw("avg_pool2d", [h, w]);
        let x = self.contiguous();
        let x = x.as_slice().expect("contiguous");
        let div = (p.kernel[0] * p.kernel[1]) as f32;
        let mut out = vec![0.0f32; n * c * ho * wo];
        let work = out.len() * p.kernel[0] * p.kernel[1];
        for_each_out_plane(&mut out, ho * wo, work, |i, o| {
            let xp = &x[i * h * w..(i + 1) * h * w];
            for oh in 0..ho {
                let rows = p.window(0, oh, h);
                for ow in 0..wo {
                    let cols = p.window(1, ow, w);
                    let mut sum = 0.0f32;
                    for r in rows.clone() {
                        sum += xp[r * w + cols.start..r * w + cols.end].iter().sum::<f32>();
                    }
                    o[oh * wo + ow] = sum / div;
                }
            }
        });
        NdArray::from_dense(out, &[n, c, ho, wo])
    }

    /// Adjoint of [`avg_pool2d`](NdArray::avg_pool2d) (its input gradient): `self`
    /// `[N, C, Ho, Wo]` gives `[N, C, H, W]` (`input_hw = [H, W]`), each input position
    /// receiving `g / (kh * kw)` from every window that covers it.
    ///
    /// ```
    /// use agon_tensor::{NdArray, Pool2dParams};
    /// let g = NdArray::from_vec(vec![4.0, 8.0], &[1, 1, 1, 2]).unwrap();
    /// let dx = g.avg_pool2d_adjoint(&Pool2dParams::new(2), [2, 4]);
    /// assert_eq!(dx.to_vec(), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, the params are invalid for `input_hw` (as in `avg_pool2d`), or
    /// `self`'s spatial size is not the pooled size of `input_hw`.
    #[track_caller]
    pub fn avg_pool2d_adjoint(&self, p: &Pool2dParams, input_hw: [usize; 2]) -> NdArray {
        let [n, c, gh, gw] = check_4d("avg_pool2d_adjoint", self);
        let [ho, wo] = p.checked_output_hw("avg_pool2d_adjoint", input_hw);
        assert!(
            [gh, gw] == [ho, wo],
            "avg_pool2d_adjoint: gradient {:?} has spatial size [{gh}, {gw}] but {p:?} pools \
             an input of {input_hw:?} to [{ho}, {wo}]; hint: pass the forward input's size",
            self.shape()
        );
        let [h, w] = input_hw;
        let g = self.contiguous();
        let g = g.as_slice().expect("contiguous");
        let div = (p.kernel[0] * p.kernel[1]) as f32;
        let mut out = vec![0.0f32; n * c * h * w];
        let work = g.len() * p.kernel[0] * p.kernel[1];
        for_each_out_plane(&mut out, h * w, work, |i, o| {
            let gp = &g[i * ho * wo..(i + 1) * ho * wo];
            for oh in 0..ho {
                let rows = p.window(0, oh, h);
                for ow in 0..wo {
                    let cols = p.window(1, ow, w);
                    let v = gp[oh * wo + ow] / div;
                    for r in rows.clone() {
                        for x in &mut o[r * w + cols.start..r * w + cols.end] {
                            *x += v;
                        }
                    }
                }
            }
        });
        NdArray::from_dense(out, &[n, c, h, w])
    }
}
