//! Per-channel passes for batch normalisation over `[N, C, ...]`: the statistics of every
//! channel, and maps that are affine per channel, each in one pass over the data.
//!
//! Written as a composition of broadcasting primitives, a training-mode batch norm makes
//! about nine passes forward and twice that backward; these kernels let it make three
//! forward (mean, variance, the affine map) and two backward (two sums, one map). Each
//! channel is one rayon task that visits its `N` planes in order, so the bits do not depend
//! on the thread count.

use rayon::prelude::*;

use crate::elementwise::{leaky_relu_value, relu_value};
use crate::NdArray;

/// The rectifier that [`NdArray::channel_affine_rectified`] applies after its affine map:
/// a batch norm's usual successor, fused into its pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rectifier {
    /// `x` for `x >= 0`, `0` below; NaN propagates (as [`NdArray::relu`]).
    ReLU,
    /// `x` for `x >= 0`, `slope * x` below (as [`NdArray::leaky_relu`]).
    LeakyReLU(f32),
}

/// Below this many elements the passes run on the calling thread.
const PARALLEL_MIN: usize = 1 << 15;

/// `[N, C, inner]` of an array with at least two axes.
#[track_caller]
fn split_channels(op: &str, x: &NdArray) -> [usize; 3] {
    let shape = x.shape();
    assert!(
        shape.len() >= 2,
        "{op}: input of shape {shape:?} needs at least [N, C]"
    );
    [shape[0], shape[1], shape[2..].iter().product()]
}

#[track_caller]
fn check_channel_vec(op: &str, what: &str, v: &[f32], c: usize) {
    assert!(
        v.len() == c,
        "{op}: {what} has {} values for {c} channels",
        v.len()
    );
}

/// A gradient and the input it goes with must have one shape.
#[track_caller]
fn check_same_shape(op: &str, g: &NdArray, x: &NdArray) {
    assert!(
        g.shape() == x.shape(),
        "{op}: gradient {:?} and input {:?} differ in shape",
        g.shape(),
        x.shape()
    );
}

/// The sum of a plane, in f32 over eight interleaved partial sums (a fixed order).
fn plane_sum(plane: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = plane.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for (l, &v) in lanes.iter_mut().zip(ch) {
            *l += f(v);
        }
    }
    let mut sum: f32 = rest.iter().map(|&v| f(v)).sum();
    for l in lanes {
        sum += l;
    }
    sum
}

/// Runs `per_channel(c)` for every channel, in parallel when the array is large.
fn for_channels<T: Send>(
    c: usize,
    numel: usize,
    per_channel: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    if numel >= PARALLEL_MIN {
        (0..c).into_par_iter().map(&per_channel).collect()
    } else {
        (0..c).map(per_channel).collect()
    }
}

impl NdArray {
    /// The mean and the biased variance of every channel of `[N, C, ...]` (over all axes
    /// but 1), as two `[C]` arrays: the statistics of a training-mode batch norm. The
    /// variance is the mean of squared deviations from the mean (two passes, so no
    /// cancellation); plane sums are f32, channel totals f64.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// // Two rows of two channels: channel 0 holds 1 and 3, channel 1 holds 10 and 30.
    /// let x = NdArray::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
    /// let (mean, var) = x.channel_moments();
    /// assert_eq!(mean.to_vec(), vec![2.0, 20.0]);
    /// assert_eq!(var.to_vec(), vec![1.0, 100.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` has fewer than 2 axes.
    #[track_caller]
    pub fn channel_moments(&self) -> (NdArray, NdArray) {
        let [n, c, inner] = split_channels("channel_moments", self);
        let x = self.contiguous();
        let x = x.as_slice().expect("contiguous");
        let count = (n * inner).max(1) as f64;
        if inner == 1 {
            // [N, C]: channels are adjacent, so sum rows into per-channel accumulators.
            let mut sum = vec![0.0f64; c];
            for row in x.chunks_exact(c.max(1)) {
                for (s, &v) in sum.iter_mut().zip(row) {
                    *s += v as f64;
                }
            }
            let mean: Vec<f32> = sum.iter().map(|&s| (s / count) as f32).collect();
            let mut sq = vec![0.0f64; c];
            for row in x.chunks_exact(c.max(1)) {
                for ((s, &v), &m) in sq.iter_mut().zip(row).zip(&mean) {
                    let d = v - m;
                    *s += (d * d) as f64;
                }
            }
            let var = sq.iter().map(|&s| (s / count) as f32).collect();
            return (
                NdArray::from_dense(mean, &[c]),
                NdArray::from_dense(var, &[c]),
            );
        }
        let moments = for_channels(c, x.len(), |ch| {
            let planes = (0..n).map(|i| &x[(i * c + ch) * inner..(i * c + ch + 1) * inner]);
            let sum: f64 = planes.clone().map(|p| plane_sum(p, |v| v) as f64).sum();
            let mean = (sum / count) as f32;
            let sq: f64 = planes
                .map(|p| {
                    plane_sum(p, |v| {
                        let d = v - mean;
                        d * d
                    }) as f64
                })
                .sum();
            (mean, (sq / count) as f32)
        });
        let (mean, var): (Vec<f32>, Vec<f32>) = moments.into_iter().unzip();
        (
            NdArray::from_dense(mean, &[c]),
            NdArray::from_dense(var, &[c]),
        )
    }

    /// `(x - center[c]) * scale[c] + shift[c]` on every element of channel `c` of
    /// `[N, C, ...]`: batch norm's normalise-and-affine step, with `center` the mean,
    /// `scale = weight / std` and `shift = bias` (centring first keeps the deviations of a
    /// channel with a large mean exact).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let x = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let y = x.channel_affine(&[1.0, 0.0], &[2.0, 0.5], &[0.0, 1.0]);
    /// assert_eq!(y.to_vec(), vec![0.0, 2.0, 4.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` has fewer than 2 axes or a coefficient does not have `C` values.
    #[track_caller]
    pub fn channel_affine(&self, center: &[f32], scale: &[f32], shift: &[f32]) -> NdArray {
        self.channel_affine_map("channel_affine", center, scale, shift, |y| y)
    }

    /// [`channel_affine`](NdArray::channel_affine) followed by a rectifier, in one pass: an
    /// evaluation-mode batch norm and the activation after it. The bits are those of the
    /// two steps run one after the other ([`NdArray::relu`], [`NdArray::leaky_relu`]); only
    /// the intermediate array and its second pass are saved.
    ///
    /// ```
    /// use agon_tensor::{NdArray, Rectifier};
    /// let x = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let (center, scale, shift) = ([2.0, 0.0], [1.0, 1.0], [0.0, -3.0]);
    /// let y = x.channel_affine_rectified(&center, &scale, &shift, Rectifier::LeakyReLU(0.5));
    /// assert_eq!(y.to_vec(), vec![-0.5, -0.5, 1.0, 1.0]);
    /// let y = x.channel_affine_rectified(&center, &scale, &shift, Rectifier::ReLU);
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` has fewer than 2 axes or a coefficient does not have `C` values.
    #[track_caller]
    pub fn channel_affine_rectified(
        &self,
        center: &[f32],
        scale: &[f32],
        shift: &[f32],
        rectifier: Rectifier,
    ) -> NdArray {
        const OP: &str = "channel_affine_rectified";
        // One monomorphised loop per rectifier, so that the select vectorises.
        match rectifier {
            Rectifier::ReLU => self.channel_affine_map(OP, center, scale, shift, relu_value),
            Rectifier::LeakyReLU(slope) => {
                self.channel_affine_map(OP, center, scale, shift, move |y| {
                    leaky_relu_value(y, slope)
                })
            }
        }
    }

    /// `f((x - center[c]) * scale[c] + shift[c])` on every element of channel `c`.
    #[track_caller]
    fn channel_affine_map(
        &self,
        op: &str,
        center: &[f32],
        scale: &[f32],
        shift: &[f32],
        f: impl Fn(f32) -> f32 + Sync,
    ) -> NdArray {
        let [_, c, inner] = split_channels(op, self);
        for (what, v) in [("center", center), ("scale", scale), ("shift", shift)] {
            check_channel_vec(op, what, v, c);
        }
        let x = self.contiguous();
        let x = x.as_slice().expect("contiguous");
        let mut out = vec![0.0f32; x.len()];
        if inner == 1 && c > 0 {
            // `[N, C]` (a BatchNorm1d): a row holds one value of every channel, so zip the
            // row with the coefficients instead of visiting C one-element planes.
            let row = |(o, xr): (&mut [f32], &[f32])| {
                let coefficients = center.iter().zip(scale).zip(shift);
                for ((o, &v), ((&m, &s), &t)) in o.iter_mut().zip(xr).zip(coefficients) {
                    *o = f((v - m) * s + t);
                }
            };
            if out.len() >= PARALLEL_MIN {
                out.par_chunks_mut(c).zip(x.par_chunks(c)).for_each(row);
            } else {
                out.chunks_mut(c).zip(x.chunks(c)).for_each(row);
            }
        } else {
            map_planes(&mut out, c, inner, |ch, range, o| {
                let (m, s, t) = (center[ch], scale[ch], shift[ch]);
                for (o, &v) in o.iter_mut().zip(&x[range]) {
                    *o = f((v - m) * s + t);
                }
            });
        }
        NdArray::from_dense(out, self.shape())
    }

    /// Per channel of `[N, C, ...]`, `(sum g, sum g * (x - center[c]))` with `g = self`:
    /// the two sums a batch norm's backward needs (the bias and weight gradients, up to a
    /// scale). Plane sums in f32, channel totals in f64, as [`NdArray::channel_moments`].
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let g = NdArray::from_vec(vec![1.0, 1.0, 2.0, -1.0], &[2, 2]).unwrap();
    /// let x = NdArray::from_vec(vec![3.0, 0.0, 5.0, 2.0], &[2, 2]).unwrap();
    /// let (sum_g, sum_gx) = g.channel_grad_sums(&x, &[4.0, 1.0]);
    /// assert_eq!(sum_g.to_vec(), vec![3.0, 0.0]);
    /// assert_eq!(sum_gx.to_vec(), vec![1.0, -2.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes differ, have fewer than 2 axes, or `center` does not have `C` values.
    #[track_caller]
    pub fn channel_grad_sums(&self, x: &NdArray, center: &[f32]) -> (NdArray, NdArray) {
        let [n, c, inner] = split_channels("channel_grad_sums", self);
        check_same_shape("channel_grad_sums", self, x);
        check_channel_vec("channel_grad_sums", "center", center, c);
        let (g, x) = (self.contiguous(), x.contiguous());
        let (g, x) = (
            g.as_slice().expect("contiguous"),
            x.as_slice().expect("contiguous"),
        );
        if inner == 1 {
            let (mut sg, mut sgx) = (vec![0.0f64; c], vec![0.0f64; c]);
            for (gr, xr) in g.chunks_exact(c.max(1)).zip(x.chunks_exact(c.max(1))) {
                for ch in 0..c {
                    sg[ch] += gr[ch] as f64;
                    sgx[ch] += (gr[ch] * (xr[ch] - center[ch])) as f64;
                }
            }
            let to_f32 = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect::<Vec<_>>();
            return (
                NdArray::from_dense(to_f32(sg), &[c]),
                NdArray::from_dense(to_f32(sgx), &[c]),
            );
        }
        let sums = for_channels(c, g.len(), |ch| {
            let m = center[ch];
            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
            for i in 0..n {
                let r = (i * c + ch) * inner..(i * c + ch + 1) * inner;
                let (gp, xp) = (&g[r.clone()], &x[r]);
                sg += plane_sum(gp, |v| v) as f64;
                let mut lanes = [0.0f32; 8];
                let (gc, xc) = (gp.chunks_exact(8), xp.chunks_exact(8));
                let mut tail = 0.0f32;
                for (a, b) in gc.remainder().iter().zip(xc.remainder()) {
                    tail += a * (b - m);
                }
                for (ga, xa) in gc.zip(xc) {
                    for l in 0..8 {
                        lanes[l] += ga[l] * (xa[l] - m);
                    }
                }
                for l in lanes {
                    tail += l;
                }
                sgx += tail as f64;
            }
            (sg as f32, sgx as f32)
        });
        let (sg, sgx): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
        (
            NdArray::from_dense(sg, &[c]),
            NdArray::from_dense(sgx, &[c]),
        )
    }

    /// `g * a[c] + (x - center[c]) * b[c] + k[c]` per channel of `[N, C, ...]` with
    /// `g = self`: batch norm's input gradient, which is affine in the output gradient and
    /// the centred input (centring first keeps the small deviations of a channel with a
    /// large mean exact).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let g = NdArray::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap();
    /// let x = NdArray::from_vec(vec![10.0, 20.0], &[1, 2]).unwrap();
    /// let y = g.channel_affine2(&x, &[8.0, 20.0], &[1.0, 2.0], &[0.5, 1.0], &[0.0, 1.0]);
    /// assert_eq!(y.to_vec(), vec![2.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes differ, have fewer than 2 axes, or a coefficient does not have `C`
    /// values.
    #[track_caller]
    pub fn channel_affine2(
        &self,
        x: &NdArray,
        center: &[f32],
        a: &[f32],
        b: &[f32],
        k: &[f32],
    ) -> NdArray {
        let [_, c, inner] = split_channels("channel_affine2", self);
        check_same_shape("channel_affine2", self, x);
        for (what, v) in [("center", center), ("a", a), ("b", b), ("k", k)] {
            check_channel_vec("channel_affine2", what, v, c);
        }
        let (g, x) = (self.contiguous(), x.contiguous());
        let (g, x) = (
            g.as_slice().expect("contiguous"),
            x.as_slice().expect("contiguous"),
        );
        let mut out = vec![0.0f32; g.len()];
        map_planes(&mut out, c, inner, |ch, range, o| {
            let (m, ac, bc, kc) = (center[ch], a[ch], b[ch], k[ch]);
            for ((o, &gv), &xv) in o.iter_mut().zip(&g[range.clone()]).zip(&x[range]) {
                *o = gv * ac + (xv - m) * bc + kc;
            }
        });
        NdArray::from_dense(out, self.shape())
    }
}

/// Calls `f(channel, element range, output plane)` on every `[inner]` plane of an
/// `[N, C, inner]` output, in parallel over rows of planes when it is large.
fn map_planes(
    out: &mut [f32],
    c: usize,
    inner: usize,
    f: impl Fn(usize, std::ops::Range<usize>, &mut [f32]) + Sync,
) {
    if out.is_empty() {
        return;
    }
    let row = c * inner;
    let one_row = |(i, out_row): (usize, &mut [f32])| {
        for (ch, plane) in out_row.chunks_exact_mut(inner.max(1)).enumerate() {
            let start = i * row + ch * inner;
            f(ch, start..start + inner, plane);
        }
    };
    if out.len() >= PARALLEL_MIN && row > 0 {
        out.par_chunks_mut(row).enumerate().for_each(one_row);
    } else if row > 0 {
        out.chunks_mut(row).enumerate().for_each(one_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused pass gives the bits of the affine map followed by the rectifier, for
    /// `[N, C]` and `[N, C, H, W]`, below and above the parallel threshold, with NaN, signed
    /// zeros and infinities among the inputs.
    #[test]
    fn rectified_affine_matches_the_two_passes_bit_for_bit() {
        let specials = [f32::NAN, -0.0, 0.0, f32::INFINITY, f32::NEG_INFINITY, 1e-40];
        for shape in [[3, 5, 1, 1], [64, 600, 1, 1], [2, 3, 4, 5], [16, 8, 32, 32]] {
            let c = shape[1];
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|i| match i % 97 {
                    k if k < specials.len() => specials[k],
                    _ => ((i * 7919) % 1000) as f32 / 250.0 - 2.0,
                })
                .collect();
            let dims: &[usize] = if shape[2] == 1 { &shape[..2] } else { &shape };
            let x = NdArray::from_vec(values, dims).unwrap();
            let center: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.3).collect();
            let scale: Vec<f32> = (0..c).map(|i| 1.5 - i as f32 * 0.01).collect();
            let shift: Vec<f32> = (0..c).map(|i| (i % 3) as f32 - 1.0).collect();
            let affine = x.channel_affine(&center, &scale, &shift);
            let bits = |a: &NdArray| a.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for (r, two_passes) in [
                (Rectifier::ReLU, affine.relu()),
                (Rectifier::LeakyReLU(0.2), affine.leaky_relu(0.2)),
            ] {
                let fused = x.channel_affine_rectified(&center, &scale, &shift, r);
                assert_eq!(fused.shape(), x.shape());
                assert_eq!(bits(&fused), bits(&two_passes), "{r:?} on {dims:?}");
            }
        }
    }
}
