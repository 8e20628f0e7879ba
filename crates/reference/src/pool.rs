//! Reference pooling and nearest upsampling, with their adjoints: plain loops over logical
//! indices, `NdArray::get` for every read, f64 accumulation for sums. Inputs are assumed
//! valid (the fast kernels own the shape checks).
//!
//! ```
//! use agon_reference::pool;
//! use agon_tensor::{NdArray, Pool2dParams};
//! let x = NdArray::arange(0.0, 4.0, 1.0).reshape(&[1, 1, 2, 2]);
//! let (y, idx) = pool::max_pool2d(&x, &Pool2dParams::new(2));
//! assert_eq!((y.to_vec(), idx.as_slice().to_vec()), (vec![3.0], vec![3]));
//! ```

use agon_tensor::{Indices, NdArray, Pool2dParams};

fn dims4(a: &NdArray) -> [usize; 4] {
    let s = a.shape();
    [s[0], s[1], s[2], s[3]]
}

fn pooled(p: &Pool2dParams, [h, w]: [usize; 2]) -> [usize; 2] {
    [
        (h + 2 * p.padding[0] - p.kernel[0]) / p.stride[0] + 1,
        (w + 2 * p.padding[1] - p.kernel[1]) / p.stride[1] + 1,
    ]
}

/// Input positions `(r, c)` inside window `(i, j)`, in row-major order, padding skipped.
fn window(p: &Pool2dParams, [h, w]: [usize; 2], i: usize, j: usize) -> Vec<(usize, usize)> {
    let mut cells = vec![];
    for u in 0..p.kernel[0] {
        for v in 0..p.kernel[1] {
            let r = (i * p.stride[0] + u) as isize - p.padding[0] as isize;
            let c = (j * p.stride[1] + v) as isize - p.padding[1] as isize;
            if (0..h as isize).contains(&r) && (0..w as isize).contains(&c) {
                cells.push((r as usize, c as usize));
            }
        }
    }
    cells
}

/// Max over each window (padding is `-inf`), and the flat index `r * W + c` of the first
/// maximum in row-major order; a NaN replaces the running maximum whenever it is met (so
/// the last NaN wins), as PyTorch's CPU kernel does.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::{NdArray, Pool2dParams};
/// let x = NdArray::from_vec(vec![1.0, f32::NAN, 3.0, 0.0], &[1, 1, 2, 2]).unwrap();
/// let (y, idx) = pool::max_pool2d(&x, &Pool2dParams::new(2));
/// assert!(y.to_vec()[0].is_nan());
/// assert_eq!(idx.as_slice(), &[1]);
/// ```
pub fn max_pool2d(x: &NdArray, p: &Pool2dParams) -> (NdArray, Indices) {
    let [n, ch, h, w] = dims4(x);
    let [ho, wo] = pooled(p, [h, w]);
    let (mut vals, mut idx) = (vec![], vec![]);
    for b in 0..n {
        for c in 0..ch {
            for i in 0..ho {
                for j in 0..wo {
                    let cells = window(p, [h, w], i, j);
                    let (mut best, mut at) = (f32::NEG_INFINITY, cells[0].0 * w + cells[0].1);
                    for (r, col) in cells {
                        let v = x.get(&[b, c, r, col]);
                        if v > best || v.is_nan() {
                            best = v;
                            at = r * w + col;
                        }
                    }
                    vals.push(best);
                    idx.push(at);
                }
            }
        }
    }
    (
        NdArray::from_vec(vals, &[n, ch, ho, wo]).unwrap(),
        Indices::from_vec(idx, &[n, ch, ho, wo]),
    )
}

/// `dx[n, c, k / W, k % W] = sum of g[n, c, i, j] over the (i, j) with idx[n, c, i, j] = k`.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::{Indices, NdArray};
/// let g = NdArray::from_vec(vec![1.0, 2.0], &[1, 1, 1, 2]).unwrap();
/// let idx = Indices::from_vec(vec![3, 3], &[1, 1, 1, 2]);
/// assert_eq!(pool::max_unpool2d(&g, &idx, [2, 2]).to_vec(), vec![0.0, 0.0, 0.0, 3.0]);
/// ```
pub fn max_unpool2d(g: &NdArray, idx: &Indices, [h, w]: [usize; 2]) -> NdArray {
    let [n, ch, ho, wo] = dims4(g);
    let mut acc = vec![0.0f64; n * ch * h * w];
    let ix = idx.as_slice();
    for b in 0..n {
        for c in 0..ch {
            for i in 0..ho {
                for j in 0..wo {
                    let k = ix[((b * ch + c) * ho + i) * wo + j];
                    acc[(b * ch + c) * h * w + k] += g.get(&[b, c, i, j]) as f64;
                }
            }
        }
    }
    NdArray::from_vec(acc.into_iter().map(|v| v as f32).collect(), &[n, ch, h, w]).unwrap()
}

/// Sum over each window (padding counts as zeros) divided by `kh * kw`.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::{NdArray, Pool2dParams};
/// let x = NdArray::ones(&[1, 1, 2, 2]);
/// let y = pool::avg_pool2d(&x, &Pool2dParams::new(2).stride(1).padding(1));
/// assert_eq!(y.to_vec(), vec![0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]);
/// ```
pub fn avg_pool2d(x: &NdArray, p: &Pool2dParams) -> NdArray {
    let [n, ch, h, w] = dims4(x);
    let [ho, wo] = pooled(p, [h, w]);
    let div = (p.kernel[0] * p.kernel[1]) as f64;
    let mut out = vec![];
    for b in 0..n {
        for c in 0..ch {
            for i in 0..ho {
                for j in 0..wo {
                    let s: f64 = window(p, [h, w], i, j)
                        .into_iter()
                        .map(|(r, col)| x.get(&[b, c, r, col]) as f64)
                        .sum();
                    out.push((s / div) as f32);
                }
            }
        }
    }
    NdArray::from_vec(out, &[n, ch, ho, wo]).unwrap()
}

/// The adjoint of [`avg_pool2d`]: every window sends `g / (kh * kw)` to each input position
/// it covers.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::{NdArray, Pool2dParams};
/// let g = NdArray::ones(&[1, 1, 1, 1]);
/// let dx = pool::avg_pool2d_adjoint(&g, &Pool2dParams::new(2), [2, 2]);
/// assert_eq!(dx.to_vec(), vec![0.25; 4]);
/// ```
pub fn avg_pool2d_adjoint(g: &NdArray, p: &Pool2dParams, [h, w]: [usize; 2]) -> NdArray {
    let [n, ch, ho, wo] = dims4(g);
    let div = (p.kernel[0] * p.kernel[1]) as f64;
    let mut acc = vec![0.0f64; n * ch * h * w];
    for b in 0..n {
        for c in 0..ch {
            for i in 0..ho {
                for j in 0..wo {
                    let v = g.get(&[b, c, i, j]) as f64 / div;
                    for (r, col) in window(p, [h, w], i, j) {
                        acc[((b * ch + c) * h + r) * w + col] += v;
                    }
                }
            }
        }
    }
    NdArray::from_vec(acc.into_iter().map(|v| v as f32).collect(), &[n, ch, h, w]).unwrap()
}

/// `y[n, c, i, j] = x[n, c, i / sh, j / sw]`.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::NdArray;
/// let x = NdArray::from_vec(vec![1.0, 2.0], &[1, 1, 2, 1]).unwrap();
/// assert_eq!(pool::upsample_nearest2d(&x, [1, 2]).to_vec(), vec![1.0, 1.0, 2.0, 2.0]);
/// ```
pub fn upsample_nearest2d(x: &NdArray, [sh, sw]: [usize; 2]) -> NdArray {
    let [n, ch, h, w] = dims4(x);
    let mut out = vec![];
    for b in 0..n {
        for c in 0..ch {
            for i in 0..h * sh {
                for j in 0..w * sw {
                    out.push(x.get(&[b, c, i / sh, j / sw]));
                }
            }
        }
    }
    NdArray::from_vec(out, &[n, ch, h * sh, w * sw]).unwrap()
}

/// `dx[n, c, i, j] = sum_{u < sh, v < sw} g[n, c, i*sh + u, j*sw + v]`.
///
/// ```
/// use agon_reference::pool;
/// use agon_tensor::NdArray;
/// let g = NdArray::ones(&[1, 1, 2, 4]);
/// assert_eq!(pool::upsample_nearest2d_adjoint(&g, [2, 2]).to_vec(), vec![4.0, 4.0]);
/// ```
pub fn upsample_nearest2d_adjoint(g: &NdArray, [sh, sw]: [usize; 2]) -> NdArray {
    let [n, ch, gh, gw] = dims4(g);
    let (h, w) = (gh / sh, gw / sw);
    let mut out = vec![];
    for b in 0..n {
        for c in 0..ch {
            for i in 0..h {
                for j in 0..w {
                    let mut acc = 0.0f64;
                    for u in 0..sh {
                        for v in 0..sw {
                            acc += g.get(&[b, c, i * sh + u, j * sw + v]) as f64;
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    NdArray::from_vec(out, &[n, ch, h, w]).unwrap()
}
