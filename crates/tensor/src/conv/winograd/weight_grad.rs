//! The weight gradient of a Winograd-shaped convolution (3x3 or 5x5, stride 1), by the
//! same tiling as the forward pass.
//!
//! Each 2x2 output tile `t` is `Y_t = A^T [U ⊙ V_t] A` with `U = G g G^T`, linear in `U`,
//! so the gradient of the loss with respect to `U` is `dU = sum_t (A dY_t A^T) ⊙ V_t`
//! (`⊙` elementwise), and with respect to the filter `dg = G^T dU G`. Summed over input
//! channels per point `ξ`, `dU_ξ [Cout, Cin] = dM_ξ [Cout, tiles] @ V_ξ [Cin, tiles]^T`,
//! with `dM = A dY A^T` the adjoint of the output transform: 36 GEMMs of `Cout * Cin *
//! tiles` multiply-adds for a 5x5 kernel where the direct sum does 25 of `Cout * Cin *
//! positions` (4 positions per tile): 2.8x fewer (2.1x on a 7x7 map, whose tiles cover
//! 8x8), 2.25x at 3x3.
//!
//! The batch's tile rows go through in chunks of a size set by the shapes. Within a chunk
//! the two transforms run in parallel over channel groups, then the GEMMs over points and
//! output-channel groups, adding the chunk's sums into `dU`; then `dg` is computed once,
//! in parallel over blocks of filters. The sums over tiles are cut only where chunks and
//! the GEMM's K blocks end, both set by the shapes, so the bits do not depend on the
//! number of threads (the channel groups only split rows and columns of each product).

use std::ops::Range;

use rayon::prelude::*;

use super::super::im2col::{with_scratch, Geometry};
use super::tiling::{Tiling, F3, F5};
use super::{transforms, TileGrid, LANES};
use crate::gemm::{transpose_into, Gemm, Isa, MatMut, MatRef, PackB};

/// `dW [Cout, Cin, r, r]` of a convolution where [`super::applies_to_weight`] holds, from
/// its input `x [N, Cin, H, W]` and output gradient `dy [N, Cout, Ho, Wo]` (`N >= 1`).
pub(crate) fn conv2d_weight(
    isa: Isa,
    x: &[f32],
    dy: &[f32],
    g: &Geometry,
    n: usize,
    cout: usize,
) -> Vec<f32> {
    match g.kernel {
        [3, 3] => tiled::<F3>(isa, x, dy, g, n, cout),
        [5, 5] => tiled::<F5>(isa, x, dy, g, n, cout),
        k => unreachable!("no Winograd tiling for a {k:?} kernel"),
    }
}

/// Channel groups start at multiples of the widest B sliver (the AVX-512 kernel's 32
/// columns), so a sliver of `V^T` is read from one group.
const GROUP_ALIGN: usize = 32;

/// Tiles per chunk (whole tile rows, at least one), the K of each chunk's products. Each
/// chunk writes `points * (Cin + Cout)` floats per tile and adds into all of `dU`, so
/// larger chunks spill the transformed tiles from L2 and smaller ones pass over `dU` more
/// often. Measured on dcgan28's G1 (one thread, Xeon, 2026-12-06, best of 5 alternated
/// with the implicit GEMM): 64 and 128 tiles 0.66-0.80 of the implicit GEMM's time, 256
/// 0.86-0.99, 512 0.88-1.04.
const CHUNK_TILES: usize = 128;

/// Filters per task of the last step, `dg = G^T dU G`.
const FILTER_BLOCK: usize = 256;

/// `channels` cut into at most `parts` ranges starting at multiples of [`GROUP_ALIGN`].
fn groups(channels: usize, parts: usize) -> Vec<Range<usize>> {
    let per = channels
        .div_ceil(parts.max(1))
        .next_multiple_of(GROUP_ALIGN);
    (0..channels)
        .step_by(per)
        .map(|c| c..(c + per).min(channels))
        .collect()
}

fn tiled<T: Tiling>(
    isa: Isa,
    x: &[f32],
    dy: &[f32],
    g: &Geometry,
    n: usize,
    cout: usize,
) -> Vec<f32> {
    let isa = isa.or_supported_below();
    let cin = g.channels;
    let grid = TileGrid::new(g);
    let chunk_rows = (CHUNK_TILES / grid.cols).max(1);
    let total = n * grid.rows;
    // Groups split the transforms over the pool (and only the rows and columns of each
    // product), so their number may follow the thread count without changing the bits.
    // The products are split by point first: each task packs its point's `V^T` for its
    // group of output channels, so splitting those too would pack every `V^T` again per
    // group. Output groups only where the points alone give fewer than two tasks per
    // thread. (On dcgan28's G1, two threads, Zen 4: 16.9-18.0 ms best of 38 against
    // 17.5-18.5 with a group per thread, interleaved in one process.)
    let threads = rayon::current_num_threads();
    let in_groups = groups(cin, threads);
    let out_groups = groups(cout, (2 * threads).div_ceil(T::POINTS));
    let ld_max = (chunk_rows.min(total) * grid.cols).next_multiple_of(LANES);
    let buffers = |ranges: &[Range<usize>]| -> Vec<Vec<f32>> {
        ranges
            .iter()
            .map(|c| vec![0.0; T::POINTS * c.len() * ld_max])
            .collect()
    };
    let (mut v, mut dm) = (buffers(&in_groups), buffers(&out_groups));
    let mut du = vec![0.0f32; T::POINTS * cout * cin];
    let gemm = Gemm::new().isa(isa);
    let mut r0 = 0;
    while r0 < total {
        let rows = grid.tile_rows(r0, chunk_rows.min(total - r0));
        let len = rows.len() * grid.cols;
        let ld = len.next_multiple_of(LANES);
        let in_lines = transforms::line_floats::<T>(grid.cols, rows.len());
        let out_lines = transforms::output_gradient_floats::<T>(len);
        rayon::join(
            || {
                v.par_iter_mut().zip(&in_groups).for_each(|(v_g, c)| {
                    with_scratch(in_lines, |lines| {
                        transforms::input::<T>(isa, x, g, c.clone(), &rows, v_g, lines)
                    })
                })
            },
            || {
                dm.par_iter_mut().zip(&out_groups).for_each(|(dm_g, c)| {
                    with_scratch(out_lines, |lines| {
                        transforms::output_gradient::<T>(
                            isa,
                            dy,
                            g.out_hw,
                            cout,
                            c.clone(),
                            &rows,
                            dm_g,
                            lines,
                        )
                    })
                })
            },
        );
        // dU_ξ rows `o` (+)= dM_ξ rows `o` @ V_ξ^T, one task per point and group `o`.
        let beta = if r0 == 0 { 0.0 } else { 1.0 };
        let mut blocks = Vec::with_capacity(T::POINTS * out_groups.len());
        for (xi, mut du_xi) in du.chunks_exact_mut(cout * cin).enumerate() {
            for (gi, o) in out_groups.iter().enumerate() {
                let (block, rest) = du_xi.split_at_mut(o.len() * cin);
                blocks.push((xi, gi, block));
                du_xi = rest;
            }
        }
        blocks.into_par_iter().for_each(|(xi, gi, c)| {
            let height = out_groups[gi].len();
            let a = MatRef::new(&dm[gi], xi * height * ld, [height, len], [ld, 1]);
            let b = PointRowsT {
                groups: &v,
                ranges: &in_groups,
                point: xi,
                len,
                ld,
                cin,
                isa,
            };
            gemm.run_source(1.0, a, &b, beta, MatMut::new(c, 0, [height, cin], [cin, 1]));
        });
        r0 += rows.len();
    }
    let (filters, taps) = (cout * cin, T::R * T::R);
    let mut dw = vec![0.0f32; filters * taps];
    let lines = transforms::weight_gradient_floats::<T>(FILTER_BLOCK);
    dw.par_chunks_mut(FILTER_BLOCK * taps)
        .enumerate()
        .for_each(|(b, dw_b)| {
            with_scratch(lines, |lines| {
                transforms::weight_gradient::<T>(isa, &du, filters, b * FILTER_BLOCK, dw_b, lines)
            })
        });
    dw
}

/// `V_ξ^T [tiles, Cin]` of one point, as B: the transposed rows of the channel groups'
/// `[points][channels][ld]` buffers.
struct PointRowsT<'a> {
    groups: &'a [Vec<f32>],
    ranges: &'a [Range<usize>],
    point: usize,
    len: usize,
    ld: usize,
    cin: usize,
    isa: Isa,
}

impl PackB for PointRowsT<'_> {
    fn dims(&self) -> [usize; 2] {
        [self.len, self.cin]
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let end = (j0 + width).min(self.cin);
        for (data, range) in self.groups.iter().zip(self.ranges) {
            let (lo, hi) = (j0.max(range.start), end.min(range.end));
            if lo < hi {
                let first = (self.point * range.len() + lo - range.start) * self.ld;
                transpose_into(
                    self.isa,
                    (&data[first..], self.ld),
                    [hi - lo, self.len],
                    (&mut dst[lo - j0..], width),
                );
            }
        }
        if end < j0 + width {
            for row in dst.chunks_exact_mut(width) {
                row[end.saturating_sub(j0)..].fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::values;
    use super::*;
    use crate::parallel::on_threads;
    use crate::Conv2dParams;

    /// `dW[o, c, i, j] = sum_{n, y, x} dy[n, o, y, x] * x[n, c, y + i - p, x + j - p]` in
    /// f64.
    fn direct(x: &[f32], dy: &[f32], g: &Geometry, n: usize, cout: usize) -> Vec<f64> {
        let ([h, w], [ho, wo], [ph, pw]) = (g.in_hw, g.out_hw, g.padding);
        let (cin, k) = (g.channels, g.kernel[0]);
        let mut dw = vec![0.0f64; cout * cin * k * k];
        for b in 0..n {
            for o in 0..cout {
                for c in 0..cin {
                    for i in 0..k {
                        for j in 0..k {
                            let mut acc = 0.0f64;
                            for y in 0..ho {
                                for xx in 0..wo {
                                    let (r, s) =
                                        ((y + i).wrapping_sub(ph), (xx + j).wrapping_sub(pw));
                                    if r < h && s < w {
                                        acc += dy[((b * cout + o) * ho + y) * wo + xx] as f64
                                            * x[((b * cin + c) * h + r) * w + s] as f64;
                                    }
                                }
                            }
                            dw[((o * cin + c) * k + i) * k + j] += acc;
                        }
                    }
                }
            }
        }
        dw
    }

    /// Odd and even maps, paddings from none to the kernel's half, channel counts that
    /// split into several groups (and a last partial one), batches spanning several
    /// chunks (30 images of 6x6 at 3x3: five): within rounding of the f64 sum, scaled by `sum |dy x|` as the forward
    /// pass's test is (bounds from [`super::super`]'s tests: 1e-6 at 3x3, 1e-5 at 5x5).
    #[test]
    fn matches_the_direct_weight_gradient() {
        for &(n, cin, cout, [h, w], k, pad) in &[
            (2, 16, 16, [7, 7], 3, 1),
            (3, 40, 70, [8, 5], 3, 0),
            (40, 16, 16, [4, 4], 3, 1),
            (30, 64, 40, [6, 6], 3, 1),
            (2, 16, 16, [7, 7], 5, 2),
            (3, 70, 40, [8, 5], 5, 1),
            (1, 17, 16, [9, 12], 5, 0),
            (40, 16, 16, [4, 4], 5, 2),
        ] {
            let g = Geometry::conv2d(cin, [h, w], [k, k], &Conv2dParams::new().padding(pad));
            let [ho, wo] = g.out_hw;
            let x = values(n * cin * h * w, 1);
            let dy = values(n * cout * ho * wo, 2);
            let abs = |v: &[f32]| v.iter().map(|e| e.abs()).collect::<Vec<f32>>();
            let scale = direct(&abs(&x), &abs(&dy), &g, n, cout);
            let want = direct(&x, &dy, &g, n, cout);
            let bound = if k == 3 { 1e-6 } else { 1e-5 };
            for isa in Isa::supported() {
                let got = conv2d_weight(isa, &x, &dy, &g, n, cout);
                for (i, (&got, (&want, &scale))) in
                    got.iter().zip(want.iter().zip(&scale)).enumerate()
                {
                    let err = (got as f64 - want).abs();
                    assert!(
                        err <= bound * (scale + 1.0),
                        "{isa:?} {n}x{cin}x{h}x{w} -> {cout}, {k}x{k}, padding {pad}: dW[{i}] \
                         is {got}, want {want} (scale {scale})"
                    );
                }
            }
        }
    }

    /// The same bits on every instruction set and on 1, 2, 5 and 20 threads (which change
    /// the channel groups; 20 splits the output channels too).
    #[test]
    fn same_bits_on_every_path_and_thread_count() {
        for k in [3, 5] {
            let (n, cin, cout, [h, w]) = (9, 70, 100, [9, 11]);
            let g = Geometry::conv2d(cin, [h, w], [k, k], &Conv2dParams::new().padding(k / 2));
            let x = values(n * cin * h * w, 4);
            let dy = values(n * cout * g.out_hw[0] * g.out_hw[1], 5);
            let mut runs = Vec::new();
            for isa in Isa::supported() {
                for threads in [1, 2, 5, 20] {
                    let dw = on_threads(threads, || conv2d_weight(isa, &x, &dy, &g, n, cout));
                    runs.push(dw.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
                }
            }
            assert!(runs.windows(2).all(|p| p[0] == p[1]), "{k}x{k}");
        }
    }
}
