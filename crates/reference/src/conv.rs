//! Reference convolutions, straight from the definitions: index loops over logical indices,
//! `NdArray::get` for every read, f64 accumulation. Inputs are assumed valid (the fast
//! kernels own the shape checks).
//!
//! ```
//! use agon_reference::conv;
//! use agon_tensor::{Conv2dParams, NdArray};
//! let x = NdArray::ones(&[1, 1, 3, 3]);
//! let w = NdArray::ones(&[1, 1, 2, 2]);
//! let y = conv::conv2d(&x, &w, None, &Conv2dParams::new());
//! assert_eq!(y.to_vec(), vec![4.0; 4]);
//! ```

use agon_tensor::{Conv2dParams, NdArray};

/// `(H + 2p - d(k-1) - 1) / s + 1`, the conv2d output extent of one axis.
fn conv_out(len: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    (len + 2 * p - d * (k - 1) - 1) / s + 1
}

/// The input coordinate a kernel tap `k` sees from output position `o`, if not padding.
fn tap(o: usize, k: usize, s: usize, p: usize, d: usize, len: usize) -> Option<usize> {
    let i = (o * s + k * d) as isize - p as isize;
    (0..len as isize).contains(&i).then_some(i as usize)
}

fn dims4(a: &NdArray) -> [usize; 4] {
    let s = a.shape();
    [s[0], s[1], s[2], s[3]]
}

/// `y[n, o, i, j] = b[o] + sum_{c, u, v} x_pad[n, c, i*sh + u*dh, j*sw + v*dw] * w[o, c, u, v]`.
///
/// ```
/// use agon_reference::conv;
/// use agon_tensor::{Conv2dParams, NdArray};
/// let x = NdArray::arange(0.0, 4.0, 1.0).reshape(&[1, 1, 2, 2]);
/// let w = NdArray::ones(&[1, 1, 1, 1]);
/// let y = conv::conv2d(&x, &w, None, &Conv2dParams::new().padding(1).stride(2));
/// assert_eq!(y.to_vec(), vec![0.0, 0.0, 0.0, 3.0]);
/// ```
pub fn conv2d(x: &NdArray, w: &NdArray, bias: Option<&NdArray>, p: &Conv2dParams) -> NdArray {
    let [n, cin, h, wd] = dims4(x);
    let [cout, _, kh, kw] = dims4(w);
    let (ho, wo) = (
        conv_out(h, kh, p.stride[0], p.padding[0], p.dilation[0]),
        conv_out(wd, kw, p.stride[1], p.padding[1], p.dilation[1]),
    );
    let mut out = Vec::with_capacity(n * cout * ho * wo);
    for b in 0..n {
        for o in 0..cout {
            for i in 0..ho {
                for j in 0..wo {
                    let mut acc = bias.map_or(0.0, |bv| bv.get(&[o]) as f64);
                    for c in 0..cin {
                        for u in 0..kh {
                            let Some(ih) = tap(i, u, p.stride[0], p.padding[0], p.dilation[0], h)
                            else {
                                continue;
                            };
                            for v in 0..kw {
                                if let Some(iw) =
                                    tap(j, v, p.stride[1], p.padding[1], p.dilation[1], wd)
                                {
                                    acc +=
                                        x.get(&[b, c, ih, iw]) as f64 * w.get(&[o, c, u, v]) as f64;
                                }
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    NdArray::from_vec(out, &[n, cout, ho, wo]).unwrap()
}

/// Transposed convolution as its scatter definition: every input pixel `x[n, c, i, j]` adds
/// `x * w[c, o, u, v]` onto output position `(i*sh - ph + u*dh, j*sw - pw + v*dw)` of
/// channel `o` (dropped when outside the output), plus `b[o]` everywhere. Output extent
/// `(H-1)s - 2p + d(k-1) + output_padding + 1`.
///
/// ```
/// use agon_reference::conv;
/// use agon_tensor::{Conv2dParams, NdArray};
/// let x = NdArray::ones(&[1, 1, 2, 2]);
/// let w = NdArray::ones(&[1, 1, 2, 2]);
/// let y = conv::conv_transpose2d(&x, &w, None, &Conv2dParams::new(), [0, 0]);
/// assert_eq!(y.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// ```
pub fn conv_transpose2d(
    x: &NdArray,
    w: &NdArray,
    bias: Option<&NdArray>,
    p: &Conv2dParams,
    output_padding: [usize; 2],
) -> NdArray {
    let [n, cin, h, wd] = dims4(x);
    let [_, cout, kh, kw] = dims4(w);
    let full = |len: usize, a: usize, k: usize| {
        (len - 1) * p.stride[a] + p.dilation[a] * (k - 1) + output_padding[a] + 1 - 2 * p.padding[a]
    };
    let (oh, ow) = (full(h, 0, kh), full(wd, 1, kw));
    let mut acc = vec![0.0f64; n * cout * oh * ow];
    for b in 0..n {
        for o in 0..cout {
            let bv = bias.map_or(0.0, |bv| bv.get(&[o]) as f64);
            acc[(b * cout + o) * oh * ow..(b * cout + o + 1) * oh * ow].fill(bv);
        }
        for c in 0..cin {
            for i in 0..h {
                for j in 0..wd {
                    let xv = x.get(&[b, c, i, j]) as f64;
                    for o in 0..cout {
                        for u in 0..kh {
                            let Some(y) = tap(i, u, p.stride[0], p.padding[0], p.dilation[0], oh)
                            else {
                                continue;
                            };
                            for v in 0..kw {
                                if let Some(z) =
                                    tap(j, v, p.stride[1], p.padding[1], p.dilation[1], ow)
                                {
                                    acc[((b * cout + o) * oh + y) * ow + z] +=
                                        xv * w.get(&[c, o, u, v]) as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let out = acc.into_iter().map(|v| v as f32).collect();
    NdArray::from_vec(out, &[n, cout, oh, ow]).unwrap()
}

/// `dW[o, c, u, v] = sum_{n, i, j} g[n, o, i, j] * x_pad[n, c, i*sh + u*dh, j*sw + v*dw]`,
/// the gradient of `conv2d` with respect to its weight.
///
/// ```
/// use agon_reference::conv;
/// use agon_tensor::{Conv2dParams, NdArray};
/// let x = NdArray::ones(&[2, 1, 3, 3]);
/// let g = NdArray::ones(&[2, 1, 2, 2]);
/// let dw = conv::conv2d_weight(&x, &g, [2, 2], &Conv2dParams::new());
/// assert_eq!(dw.to_vec(), vec![8.0; 4]);
/// ```
pub fn conv2d_weight(x: &NdArray, g: &NdArray, kernel: [usize; 2], p: &Conv2dParams) -> NdArray {
    let [n, cin, h, wd] = dims4(x);
    let [_, cout, ho, wo] = dims4(g);
    let [kh, kw] = kernel;
    let mut out = Vec::with_capacity(cout * cin * kh * kw);
    for o in 0..cout {
        for c in 0..cin {
            for u in 0..kh {
                for v in 0..kw {
                    let mut acc = 0.0f64;
                    for b in 0..n {
                        for i in 0..ho {
                            let Some(ih) = tap(i, u, p.stride[0], p.padding[0], p.dilation[0], h)
                            else {
                                continue;
                            };
                            for j in 0..wo {
                                if let Some(iw) =
                                    tap(j, v, p.stride[1], p.padding[1], p.dilation[1], wd)
                                {
                                    acc +=
                                        g.get(&[b, o, i, j]) as f64 * x.get(&[b, c, ih, iw]) as f64;
                                }
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    NdArray::from_vec(out, &[cout, cin, kh, kw]).unwrap()
}
