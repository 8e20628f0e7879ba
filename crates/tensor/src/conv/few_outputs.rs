//! Stride-1 convolutions with few output channels (a generator's last layer: 1 or 3), done
//! directly on wide rows instead of through the GEMM.
//!
//! The GEMM computes `Cout` rows at a time in register tiles 12 (AVX-512) or 6 (AVX2) rows
//! high, so a 1-channel output wastes 11/12 of every tile, and packing the patch matrix
//! (every tap of every position: `Cin * kh * kw` times the image) costs more than the
//! arithmetic. On wide rows ([`WideRows`]) each tap is a shift of the padded image:
//!
//! - forward: `y_wide[o, j] = bias[o] + sum_tap w[o, tap] * xpad[base(tap) + j]`, an axpy of
//!   one contiguous run per tap into an accumulator row that stays in L1;
//! - weight gradient: `dW[o, tap] = sum_n sum_j g_wide[n, o, j] * xpad[n, base(tap) + j]`, a
//!   dot product per tap, with `g` laid on the wide grid (zeros in its junk columns, so they
//!   add nothing).
//!
//! `base(tap) = c*Hp*Wp + ki*dh*Wp + kj*dw`. No column matrix is built and no tile is
//! wasted. The inner loops are compiled for AVX-512 and for AVX2+FMA and chosen at run time
//! with the GEMM's ISA (so `AGON_GEMM_ISA` forces them too).

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use super::wide_rows::WideRows;
use crate::gemm::Isa;

/// Largest `Cout` that takes this path: below the AVX2 tile height (6), where at least half
/// of every GEMM tile would be padding.
pub(crate) const FEW_OUTPUTS: usize = 4;

/// Whether a convolution takes this path: stride 1, few outputs, rows not much widened.
pub(crate) fn applies(g: &Geometry, cout: usize) -> bool {
    cout <= FEW_OUTPUTS && g.stride == [1, 1] && WideRows::new(g).pays_off()
}

/// Images per task of the weight gradient (a leaf of its fixed reduction tree): it depends
/// on the shapes only, so the sum is the same on any number of threads.
const WGRAD_IMAGES: usize = 8;

/// The inner loops, one copy per instruction set: the same source compiled with different
/// target features, so LLVM vectorises it to that width and `mul_add` becomes one FMA.
macro_rules! kernels {
    ($module:ident, $($feature:literal),*) => {
        mod $module {
            /// `acc[j] += sum_t w[t] * src[offsets[t] + j]` for `j < acc.len()`.
            ///
            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            pub unsafe fn axpy_taps(acc: &mut [f32], src: &[f32], offsets: &[usize], w: &[f32]) {
                let n = acc.len();
                let mut t = 0;
                // Four taps per pass over `acc`: one load and store of it per four FMAs.
                while t + 4 <= offsets.len() {
                    let s0 = &src[offsets[t]..][..n];
                    let s1 = &src[offsets[t + 1]..][..n];
                    let s2 = &src[offsets[t + 2]..][..n];
                    let s3 = &src[offsets[t + 3]..][..n];
                    let (w0, w1, w2, w3) = (w[t], w[t + 1], w[t + 2], w[t + 3]);
                    for j in 0..n {
                        let a = s0[j].mul_add(w0, acc[j]);
                        let a = s1[j].mul_add(w1, a);
                        let a = s2[j].mul_add(w2, a);
                        acc[j] = s3[j].mul_add(w3, a);
                    }
                    t += 4;
                }
                while t < offsets.len() {
                    let s = &src[offsets[t]..][..n];
                    for j in 0..n {
                        acc[j] = s[j].mul_add(w[t], acc[j]);
                    }
                    t += 1;
                }
            }

            /// `out[t] += sum_j g[j] * src[offsets[t] + j]` for every tap `t`.
            ///
            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            pub unsafe fn dot_taps(out: &mut [f32], g: &[f32], src: &[f32], offsets: &[usize]) {
                const L: usize = 16;
                let n = g.len();
                for (o, &off) in out.iter_mut().zip(offsets) {
                    let s = &src[off..][..n];
                    // Sixteen partial sums (one or two vectors), added up in a fixed order.
                    let mut lanes = [0.0f32; L];
                    let (gc, sc) = (g.chunks_exact(L), s.chunks_exact(L));
                    let (gr, sr) = (gc.remainder(), sc.remainder());
                    for (gv, sv) in gc.zip(sc) {
                        for l in 0..L {
                            lanes[l] = gv[l].mul_add(sv[l], lanes[l]);
                        }
                    }
                    let mut sum = 0.0f32;
                    for (a, b) in gr.iter().zip(sr) {
                        sum = a.mul_add(*b, sum);
                    }
                    for v in lanes {
                        sum += v;
                    }
                    *o += sum;
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
kernels!(avx512, "avx512f", "fma");
#[cfg(target_arch = "x86_64")]
kernels!(avx2, "avx2", "fma");

/// The portable loops: the same order of operations, with FMA through `mul_add` (exact,
/// in software where the CPU has none).
mod portable {
    pub fn axpy_taps(acc: &mut [f32], src: &[f32], offsets: &[usize], w: &[f32]) {
        for (&off, &wt) in offsets.iter().zip(w) {
            for (a, &s) in acc.iter_mut().zip(&src[off..]) {
                *a = s.mul_add(wt, *a);
            }
        }
    }

    pub fn dot_taps(out: &mut [f32], g: &[f32], src: &[f32], offsets: &[usize]) {
        for (o, &off) in out.iter_mut().zip(offsets) {
            let mut sum = 0.0f32;
            for (a, b) in g.iter().zip(&src[off..]) {
                sum = a.mul_add(*b, sum);
            }
            *o += sum;
        }
    }
}

fn axpy_taps(isa: Isa, acc: &mut [f32], src: &[f32], offsets: &[usize], w: &[f32]) {
    match isa {
        // SAFETY: `isa` is supported on this CPU (Isa::active only returns such paths).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::axpy_taps(acc, src, offsets, w) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::axpy_taps(acc, src, offsets, w) },
        _ => portable::axpy_taps(acc, src, offsets, w),
    }
}

fn dot_taps(isa: Isa, out: &mut [f32], g: &[f32], src: &[f32], offsets: &[usize]) {
    match isa {
        // SAFETY: `isa` is supported on this CPU.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::dot_taps(out, g, src, offsets) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::dot_taps(out, g, src, offsets) },
        _ => portable::dot_taps(out, g, src, offsets),
    }
}

/// conv2d forward: `out [N, Cout, Ho, Wo]` from dense `x [N, C, H, W]` and `w [Cout, taps]`.
pub(crate) fn conv2d(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    out: &mut [f32],
) {
    let wide = WideRows::new(g);
    let offsets = wide.tap_bases();
    let taps = offsets.len();
    let cout = w.len() / taps.max(1);
    let (cols, padded_len) = (wide.columns(), wide.padded_len());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let l = g.positions();
    out.par_chunks_mut(cout * l)
        .enumerate()
        .for_each(|(n, out_n)| {
            with_scratch(padded_len + cout * cols, |buf| {
                let (padded, acc) = buf.split_at_mut(padded_len);
                wide.pad(&x[n * image..(n + 1) * image], g.padding, padded);
                for (o, acc_o) in acc.chunks_exact_mut(cols).enumerate() {
                    acc_o.fill(bias.map_or(0.0, |b| b[o]));
                    axpy_taps(isa, acc_o, padded, &offsets, &w[o * taps..(o + 1) * taps]);
                }
                wide.compact(acc, cols, 0, out_n);
            });
        });
}

/// The weight gradient `[Cout, taps]` from dense `x [N, C, H, W]` and `go [N, Cout, Ho, Wo]`:
/// partial sums over fixed groups of images, added along a fixed binary tree.
pub(crate) fn conv2d_weight(
    isa: Isa,
    x: &[f32],
    go: &[f32],
    g: &Geometry,
    n: usize,
    cout: usize,
) -> Vec<f32> {
    let wide = WideRows::new(g);
    let offsets = wide.tap_bases();
    let leaves = n.div_ceil(WGRAD_IMAGES);
    crate::parallel::tree_sum(0..leaves, &|leaf| {
        let mut dw = vec![0.0f32; cout * offsets.len()];
        let images = leaf * WGRAD_IMAGES..n.min((leaf + 1) * WGRAD_IMAGES);
        leaf_gradient(isa, x, go, g, &wide, &offsets, images, cout, &mut dw);
        dw
    })
}

/// Adds the images' contributions to `dw` (`[Cout, taps]`), image after image.
#[allow(clippy::too_many_arguments)]
fn leaf_gradient(
    isa: Isa,
    x: &[f32],
    go: &[f32],
    g: &Geometry,
    wide: &WideRows,
    offsets: &[usize],
    images: std::ops::Range<usize>,
    cout: usize,
    dw: &mut [f32],
) {
    let (cols, padded_len) = (wide.columns(), wide.padded_len());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    let [ho, wo] = g.out_hw;
    let l = ho * wo;
    let taps = offsets.len();
    with_scratch(padded_len + cols, |buf| {
        let (padded, g_wide) = buf.split_at_mut(padded_len);
        for i in images {
            wide.pad(&x[i * image..(i + 1) * image], g.padding, padded);
            for o in 0..cout {
                // g[i, o] on the wide grid: row r at r * Wq, zeros in the junk columns.
                let src = &go[(i * cout + o) * l..(i * cout + o + 1) * l];
                g_wide.fill(0.0);
                for (r, row) in src.chunks_exact(wo).enumerate() {
                    g_wide[r * wide.wq..r * wide.wq + wo].copy_from_slice(row);
                }
                dot_taps(
                    isa,
                    &mut dw[o * taps..(o + 1) * taps],
                    g_wide,
                    padded,
                    offsets,
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::on_threads;

    fn geometry(c: usize, hw: [usize; 2], k: [usize; 2], p: [usize; 2], d: [usize; 2]) -> Geometry {
        let out = |a: usize| hw[a] + 2 * p[a] - d[a] * (k[a] - 1);
        Geometry {
            channels: c,
            in_hw: hw,
            kernel: k,
            stride: [1, 1],
            padding: p,
            dilation: d,
            out_hw: [out(0), out(1)],
        }
    }

    /// `x_pad[n, c, y + ki*dh, x + kj*dw]` in f64, 0 in the padding.
    fn pixel(
        x: &[f32],
        g: &Geometry,
        n: usize,
        c: usize,
        y: usize,
        xx: usize,
        t: [usize; 2],
    ) -> f64 {
        let [h, w] = g.in_hw;
        let iy = (y + t[0] * g.dilation[0]) as isize - g.padding[0] as isize;
        let ix = (xx + t[1] * g.dilation[1]) as isize - g.padding[1] as isize;
        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
            return 0.0;
        }
        x[((n * g.channels + c) * h + iy as usize) * w + ix as usize] as f64
    }

    /// The forward and the weight gradient on every supported path match the definition
    /// (f64 sums) on shapes with 1 to 4 outputs, odd sizes, dilation and uneven padding.
    #[test]
    fn forward_and_weight_gradient_match_the_definition_on_every_path() {
        let cases = [
            (2, geometry(3, [12, 11], [3, 3], [1, 1], [1, 1]), 1),
            (3, geometry(5, [28, 28], [3, 3], [1, 1], [1, 1]), 3),
            (1, geometry(2, [17, 20], [5, 3], [2, 1], [1, 1]), 4),
            (2, geometry(1, [15, 22], [3, 3], [2, 2], [2, 2]), 2),
            (9, geometry(4, [10, 10], [1, 1], [0, 0], [1, 1]), 1),
        ];
        for (n, g, cout) in cases {
            assert!(applies(&g, cout), "{g:?} should take this path");
            let [h, w] = g.in_hw;
            let [ho, wo] = g.out_hw;
            let taps = g.rows();
            let x: Vec<f32> = (0..n * g.channels * h * w)
                .map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0)
                .collect();
            let wt: Vec<f32> = (0..cout * taps)
                .map(|i| ((i * 31) % 13) as f32 / 6.0 - 1.0)
                .collect();
            let go: Vec<f32> = (0..n * cout * ho * wo)
                .map(|i| ((i * 17) % 19) as f32 / 9.0 - 1.0)
                .collect();
            let bias: Vec<f32> = (0..cout).map(|o| o as f32 - 0.5).collect();
            let (kh, kw) = (g.kernel[0], g.kernel[1]);
            let tap = |t: usize| (t / (kh * kw), [(t / kw) % kh, t % kw]);
            let mut want_y = vec![0.0f64; n * cout * ho * wo];
            let mut want_dw = vec![0.0f64; cout * taps];
            for i in 0..n {
                for o in 0..cout {
                    for y in 0..ho {
                        for xx in 0..wo {
                            let at = ((i * cout + o) * ho + y) * wo + xx;
                            let mut sum = bias[o] as f64;
                            for t in 0..taps {
                                let (c, k) = tap(t);
                                let v = pixel(&x, &g, i, c, y, xx, k);
                                sum += wt[o * taps + t] as f64 * v;
                                want_dw[o * taps + t] += go[at] as f64 * v;
                            }
                            want_y[at] = sum;
                        }
                    }
                }
            }
            for isa in Isa::supported() {
                let mut y = vec![f32::NAN; want_y.len()];
                conv2d(isa, &x, &wt, Some(&bias), &g, &mut y);
                let dw = conv2d_weight(isa, &x, &go, &g, n, cout);
                for (got, want, what) in [(&y, &want_y, "forward"), (&dw, &want_dw, "weight grad")]
                {
                    for (k, (&a, &b)) in got.iter().zip(want.iter()).enumerate() {
                        let tol = 1e-4 * (1.0 + b.abs());
                        assert!(
                            (a as f64 - b).abs() <= tol,
                            "{what} on {isa:?}, {g:?}, cout {cout}: element {k} is {a}, want {b}"
                        );
                    }
                }
            }
        }
    }

    /// The weight gradient's bits do not depend on the thread count.
    #[test]
    fn the_weight_gradient_is_the_same_on_one_and_several_threads() {
        let g = geometry(3, [14, 14], [3, 3], [1, 1], [1, 1]);
        let n = 37; // five leaves of unequal size
        let x: Vec<f32> = (0..n * 3 * 14 * 14)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let go: Vec<f32> = (0..n * 2 * 14 * 14)
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let isa = Isa::active();
        let run = |threads: usize| on_threads(threads, || conv2d_weight(isa, &x, &go, &g, n, 2));
        let one = run(1);
        for threads in [2, 3, 8] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }
}
