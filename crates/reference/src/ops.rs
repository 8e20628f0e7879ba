//! Naive references for elementwise, reduction, indexing and joining ops.
//!
//! Everything walks logical multi-indices and reads with [`NdArray::get`], so the result
//! cannot depend on strides, offsets or chunking: if a fast kernel disagrees, the fast
//! kernel is wrong.

use agon_tensor::{broadcast_shapes, Indices, NdArray};

/// Every multi-index of `shape` in row-major order.
pub fn all_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut lin| {
            let mut idx = vec![0; shape.len()];
            for a in (0..shape.len()).rev() {
                idx[a] = lin % shape[a];
                lin /= shape[a];
            }
            idx
        })
        .collect()
}

/// The element of `a` that broadcasting maps output index `out` to.
fn broadcast_get(a: &NdArray, out: &[usize]) -> f32 {
    let lead = out.len() - a.ndim();
    let idx: Vec<usize> = (0..a.ndim())
        .map(|k| if a.shape()[k] == 1 { 0 } else { out[lead + k] })
        .collect();
    a.get(&idx)
}

/// `f(a, b)` over the NumPy broadcast of the two shapes.
///
/// # Panics
/// If the shapes do not broadcast.
pub fn binary(a: &NdArray, b: &NdArray, f: impl Fn(f32, f32) -> f32) -> NdArray {
    let shape = broadcast_shapes(a.shape(), b.shape()).expect("shapes broadcast");
    let data = all_indices(&shape)
        .iter()
        .map(|i| f(broadcast_get(a, i), broadcast_get(b, i)))
        .collect();
    NdArray::from_vec(data, &shape).unwrap()
}

/// `f(a)` elementwise.
pub fn unary(a: &NdArray, f: impl Fn(f32) -> f32) -> NdArray {
    let data = all_indices(a.shape()).iter().map(|i| f(a.get(i))).collect();
    NdArray::from_vec(data, a.shape()).unwrap()
}

/// Output shape of a reduction over `axes`.
fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    (0..shape.len())
        .filter_map(|a| match (axes.contains(&a), keepdim) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(shape[a]),
        })
        .collect()
}

/// Groups the elements of `a` by output position of a reduction over `axes`, each group in
/// logical order.
fn groups(a: &NdArray, axes: &[usize]) -> Vec<Vec<f32>> {
    let out_shape = reduced_shape(a.shape(), axes, true);
    let n_out: usize = out_shape.iter().product();
    let mut groups = vec![vec![]; n_out];
    for idx in all_indices(a.shape()) {
        let mut lin = 0;
        for (k, &d) in out_shape.iter().enumerate() {
            lin = lin * d + if axes.contains(&k) { 0 } else { idx[k] };
        }
        groups[lin].push(a.get(&idx));
    }
    groups
}

/// Reduce each group with `f` into an array of the reduction's output shape.
pub fn reduce(a: &NdArray, axes: &[usize], keepdim: bool, f: impl Fn(&[f32]) -> f32) -> NdArray {
    let data = groups(a, axes).iter().map(|g| f(g)).collect();
    NdArray::from_vec(data, &reduced_shape(a.shape(), axes, keepdim)).unwrap()
}

/// Sum in f64.
pub fn sum(g: &[f32]) -> f32 {
    g.iter().map(|&x| x as f64).sum::<f64>() as f32
}

/// Population variance (two-pass, f64).
pub fn var_population(g: &[f32]) -> f32 {
    let n = g.len() as f64;
    let m = g.iter().map(|&x| x as f64).sum::<f64>() / n;
    (g.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n) as f32
}

/// Maximum, NaN-propagating, and the position of its first occurrence.
pub fn argmax(g: &[f32]) -> (f32, usize) {
    let mut best = (g[0], 0);
    for (i, &x) in g.iter().enumerate().skip(1) {
        if (x.is_nan() && !best.0.is_nan()) || x > best.0 {
            best = (x, i);
        }
    }
    best
}

/// `torch.gather` from its definition.
pub fn gather(x: &NdArray, axis: usize, index: &Indices) -> NdArray {
    let data = all_indices(index.shape())
        .iter()
        .enumerate()
        .map(|(lin, i)| {
            let mut src = i.clone();
            src[axis] = index.as_slice()[lin];
            x.get(&src)
        })
        .collect();
    NdArray::from_vec(data, index.shape()).unwrap()
}

/// `Tensor.scatter_add` (out of place) from its definition.
pub fn scatter_add(x: &NdArray, axis: usize, index: &Indices, src: &NdArray) -> NdArray {
    let mut out = x.to_vec();
    let strides = agon_tensor::contiguous_strides(x.shape());
    for (lin, i) in all_indices(index.shape()).iter().enumerate() {
        let mut dst = i.clone();
        dst[axis] = index.as_slice()[lin];
        let at: usize = dst.iter().zip(&strides).map(|(a, s)| a * s).sum();
        out[at] += src.get(i);
    }
    NdArray::from_vec(out, x.shape()).unwrap()
}

/// Inner product `<a, b>` of two same-shape arrays, in f64: the yardstick of the adjoint
/// identity tests.
pub fn inner(a: &NdArray, b: &NdArray) -> f64 {
    assert_eq!(a.shape(), b.shape(), "inner: shapes differ");
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(&x, y)| x as f64 * y as f64)
        .sum()
}
