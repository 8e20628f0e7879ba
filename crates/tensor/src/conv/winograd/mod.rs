//! Winograd's minimal filtering F(2x2, 3x3) for 3x3 stride-1 convolutions and
//! F(2x2, 5x5) for 5x5 ones (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016).
//!
//! A 2x2 tile of outputs of a 3x3 filter reads a 4x4 tile of input `d`. In one dimension,
//! with `B^T`, `G` and `A^T` below, `y = A^T [(G g) ⊙ (B^T d)]`: 4 multiplies for 2 outputs
//! where direct convolution needs 6. Nested for two dimensions:
//!
//! ```text
//! Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//!
//!       [1  0 -1  0]        [ 1    0    0 ]
//! B^T = [0  1  1  0]    G = [1/2  1/2  1/2]    A^T = [1  1  1  0]
//!       [0 -1  1  0]        [1/2 -1/2  1/2]          [0  1 -1 -1]
//!       [0  1  0 -1]        [ 0    0    1 ]
//! ```
//!
//! Summed over input channels, the element-wise product at each of the 16 points `ξ` of
//! the 4x4 transform is a matrix product: `M_ξ [Cout, tiles] = U_ξ [Cout, Cin] @
//! V_ξ [Cin, tiles]`, with `U = G g G^T` (the weights, transformed once per call) and
//! `V = B^T d B` (the input tiles). So a convolution becomes an input transform, 16 GEMMs
//! of `Cout * Cin * tiles` multiply-adds, and an output transform: 16 multiply-adds per
//! 4 outputs where direct convolution does 36, 2.25x fewer. The transforms are additions
//! only (and the exact halvings of `G`), so the result differs from direct convolution by
//! rounding alone. Stated tolerance, tested below on every instruction-set path: within
//! `1e-6 * (sum |w x| + 1)` of the exact (f64) convolution, where `sum |w x|` is the sum of
//! the magnitudes of the products that make up the output; `tests/conv.rs` also checks the
//! layers against the reference convolution at the tolerance of the other paths.
//!
//! A 5x5 filter's 2x2 tile reads a 6x6 input tile: 36 points, 36 GEMMs, 36 multiply-adds
//! per 4 outputs where direct convolution does 100 (2.78x fewer; on a 7x7 map, whose 4x4
//! tiles cover 8x8, 2.1x). Its matrices are in [`tiling`]; they multiply by 2, 4, 5 and
//! sixths, so F(2x2, 5x5) rounds more: its stated tolerance is `1e-5 * (sum |w x| + 1)`
//! (measured up to 1.7e-6), and `tests/conv.rs` checks its layers at that bound, since on
//! sums that cancel its error exceeds the other paths' relative tolerance.
//!
//! A chunk is a run of whole tile rows, sized for the L2 cache ([`Tiling::chunk_floats`]);
//! each rayon task takes whole images, and the chunk sizes depend on the shapes only, so
//! the bits do not depend on the thread count. Each input row's row transform is computed
//! once and kept for the tile rows that read it; the transforms are vectorised along tile
//! rows (AVX-512 with masked moves, so a 4-tile row of a 7x7 map is one vector
//! operation), and evaluate every matrix row by one rule in the same order on every path
//! ([`tiling::combine`]), so every instruction set gives the same bits.
//!
//! The weight gradient of the same layers (5x5, and 3x3 on wide maps) goes through the
//! same tilings, by the adjoints of the output and weight transforms ([`weight_grad`]).

mod tiling;
mod transforms;
mod weight_grad;

pub(crate) use weight_grad::conv2d_weight;

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use crate::gemm::{CacheSizes, Gemm, Isa, MatMut, MatRef, PackedA};
use tiling::{combine_rows, Tiling, F3, F5, MAX_A};

/// Floats per AVX-512 vector: the transforms' lines are padded to a multiple of it.
const LANES: usize = 16;

/// Fewest input and output channels that take F(2x2, 3x3) on any map, and on maps of at
/// least [`WIDE_MAP`] output positions. Measured with one thread on the Xeon (AVX-512,
/// 2026-12-06, best of 10-40 interleaved runs, batch 64, padding 1 unless noted), Winograd
/// against the implicit GEMM: 64 -> 64 channels 1.32x faster on 28x28, 1.21x on 14x14,
/// 1.08x on 7x7; 128 -> 128 1.26x on 7x7 and 1.18x on 9x9 without padding (a residual
/// block); 32 -> 32 1.43x on 64x64 (batch 16), 1.08x on 28x28, 1.04x on 14x14 and 0.95x on
/// 7x7; 16 -> 16 on 14x14 about even. With few channels the 16 GEMMs are thin (`K = Cin`)
/// and the transforms, whose cost does not shrink with the channel count, weigh more.
pub(crate) const MIN_CHANNELS: usize = 64;
/// See [`MIN_CHANNELS`].
pub(crate) const WIDE_MAP_CHANNELS: usize = 32;
/// Output positions from which [`WIDE_MAP_CHANNELS`] suffice (a 28x28 map).
pub(crate) const WIDE_MAP: usize = 28 * 28;
/// Fewest input and output channels that take F(2x2, 5x5).
pub(crate) const MIN_CHANNELS_5X5: usize = 64;

/// Whether a convolution takes this path: a 3x3 or 5x5 kernel, stride 1, no dilation,
/// padding of at most 1 (2 for 5x5), enough channels on both sides for its map size (see
/// [`MIN_CHANNELS`] and [`MIN_CHANNELS_5X5`]).
///
/// Padding 2 on a 3x3 kernel is the input gradient of an unpadded layer (a CycleGAN
/// residual block's, 7x7 back to 9x9): its tiles are mostly padding, and gemm + col2im,
/// which only computes the 49 input positions, measured 1.19x faster than Winograd over
/// the 81 output positions.
pub(crate) fn applies(g: &Geometry, cout: usize) -> bool {
    let channels = g.channels.min(cout);
    let plain = g.stride == [1, 1] && g.dilation == [1, 1];
    match g.kernel {
        [3, 3] => {
            plain
                && g.padding.iter().all(|&p| p <= 1)
                && (channels >= MIN_CHANNELS
                    || (channels >= WIDE_MAP_CHANNELS && g.positions() >= WIDE_MAP))
        }
        [5, 5] => plain && g.padding.iter().all(|&p| p <= 2) && channels >= MIN_CHANNELS_5X5,
        _ => false,
    }
}

/// Whether the weight gradient of a convolution takes this path ([`conv2d_weight`]): the
/// layers of [`applies`] with a 5x5 kernel, or a 3x3 one on a map of at least
/// [`WIDE_MAP`] output positions. Measured against the implicit GEMM (batch 64, Xeon,
/// AVX-512, 2026-12-06, best of 5 alternated, one and two threads): dcgan28's G1 (5x5,
/// 128 -> 256 on 7x7) 0.66-0.80 and 0.80-0.91 of its time, a 64-channel 3x3 layer on 28x28
/// 0.54-0.64 and 0.74-0.76, but a 128-channel 3x3 layer on 9x9 (7x7 outputs) 0.96-1.02 and
/// 1.28-1.41: with 16 points per 4 outputs the products save less there (1.7x on a 7x7
/// map against 2.1x at 5x5) than the transforms and their memory traffic cost.
pub(crate) fn applies_to_weight(g: &Geometry, cout: usize) -> bool {
    applies(g, cout) && (g.kernel == [5, 5] || g.positions() >= WIDE_MAP)
}

/// A row of 2x2 output tiles: its image within the task and its top output row.
#[derive(Clone, Copy)]
struct TileRow {
    image: usize,
    top: usize,
}

/// Tiles per row and tile rows per image.
#[derive(Clone, Copy)]
struct TileGrid {
    rows: usize,
    cols: usize,
}

impl TileGrid {
    fn new(g: &Geometry) -> TileGrid {
        TileGrid {
            rows: g.out_hw[0].div_ceil(2),
            cols: g.out_hw[1].div_ceil(2),
        }
    }

    /// Tile rows `r0..r0 + len` of a task's images, in order.
    fn tile_rows(&self, r0: usize, len: usize) -> Vec<TileRow> {
        (r0..r0 + len)
            .map(|r| TileRow {
                image: r / self.rows,
                top: 2 * (r % self.rows),
            })
            .collect()
    }
}

/// `out [N, Cout, Ho, Wo] = conv2d(x, w) (+ bias)` by F(2x2, 3x3) or F(2x2, 5x5), for a
/// geometry where [`applies`] holds; `out` must be non-empty.
pub(crate) fn conv2d(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [f32],
) {
    if rayon::current_thread_index().is_none() {
        // Called from outside the pool: enter it once, not once per parallel phase (the
        // weight transform, its packing, the tiles).
        return rayon::scope(|_| conv2d(isa, x, w, bias, g, cout, out));
    }
    match g.kernel {
        [3, 3] => conv2d_tiled::<F3>(isa, x, w, bias, g, cout, out),
        [5, 5] => conv2d_tiled::<F5>(isa, x, w, bias, g, cout, out),
        k => unreachable!("no Winograd tiling for a {k:?} kernel"),
    }
}

fn conv2d_tiled<T: Tiling>(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [f32],
) {
    let cin = g.channels;
    let u = transformed_weights::<T>(w, cout, cin);
    let packed: Vec<PackedA> = u
        .par_chunks_exact(cout * cin)
        .map(|u_xi| PackedA::new_on(isa, MatRef::row_major(u_xi, cout, cin)))
        .collect();
    let isa = packed[0].isa();
    let grid = TileGrid::new(g);
    // Whole tile rows per chunk, as many as fit the chunk's budget (at least one).
    let budget = T::chunk_floats(CacheSizes::detected().l2);
    let chunk_rows = (budget / (T::POINTS * (cin + cout) * grid.cols)).max(1);
    let per_task = (chunk_rows / grid.rows).max(1);
    let [ho, wo] = g.out_hw;
    let (image_in, image_out) = (cin * g.in_hw[0] * g.in_hw[1], cout * ho * wo);
    let tasks = out.len().div_ceil(per_task * image_out);
    // Few tasks (a small batch of large images): the GEMMs split their own tile grids too.
    let gemm = Gemm::new().parallel(tasks < rayon::current_num_threads());
    out.par_chunks_mut(per_task * image_out)
        .enumerate()
        .for_each(|(b, out_b)| {
            let first = b * per_task;
            let count = out_b.len() / image_out;
            let x_b = &x[first * image_in..(first + count) * image_in];
            let total = count * grid.rows;
            let mut r0 = 0;
            while r0 < total {
                let rows = grid.tile_rows(r0, chunk_rows.min(total - r0));
                let len = rows.len() * grid.cols;
                // Lines padded to whole vectors: the transforms run no scalar remainders. The
                // GEMMs read and write only the first `len` columns; the output transform also
                // combines `M`'s padding columns (left over in the scratch) and drops them.
                let ld = len.next_multiple_of(LANES);
                let lines = transforms::line_floats::<T>(grid.cols, rows.len());
                with_scratch(T::POINTS * (cin + cout) * ld + lines, |buf| {
                    let (v, rest) = buf.split_at_mut(T::POINTS * cin * ld);
                    let (m, line_buf) = rest.split_at_mut(T::POINTS * cout * ld);
                    transforms::input::<T>(isa, x_b, g, 0..cin, &rows, v, line_buf);
                    for (xi, (v_xi, m_xi)) in v
                        .chunks_exact(cin * ld)
                        .zip(m.chunks_exact_mut(cout * ld))
                        .enumerate()
                    {
                        let b = MatRef::new(v_xi, 0, [cin, len], [ld, 1]);
                        let c = MatMut::new(m_xi, 0, [cout, len], [ld, 1]);
                        gemm.run_packed(1.0, &packed[xi], b, 0.0, c);
                    }
                    transforms::output::<T>(isa, m, bias, [ho, wo], cout, &rows, out_b, line_buf);
                });
                r0 += rows.len();
            }
        });
}

/// Filters per block of the weight transform: their values for every point stay in the
/// L1 cache until they are written out, a contiguous run per point.
const FILTER_BLOCK: usize = 64;

/// Filters per task of the weight transform (whole [`FILTER_BLOCK`]s).
const FILTER_TASK: usize = 16 * FILTER_BLOCK;

/// `U_ξ [Cout, Cin]` for every point, from `w [Cout, Cin, r, r]`: `U = G g G^T` per
/// filter, laid out `[points][Cout][Cin]`.
///
/// In parallel over runs of filters: each task writes its run of every point's row. The
/// transform of one filter reads only that filter, so the bits do not depend on the split.
/// Run on one thread, this and the packing of `U` (36 products' A operands, also in
/// parallel now) left the other thread idle: dcgan28's G1 forward took 25-27 ms with two
/// threads, 17-19 ms with both steps split (Zen 4, 2026-12-07, with the chunk below).
fn transformed_weights<T: Tiling>(w: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let (r, filters) = (T::R, cout * cin);
    let mut u = vec![0.0f32; T::POINTS * filters];
    // Task t's destination: run t of each point's row, collected by splitting every row
    // at the same filter boundaries.
    let mut rows: Vec<_> = u
        .chunks_exact_mut(filters.max(1))
        .map(|row| row.chunks_mut(FILTER_TASK))
        .collect();
    let tasks: Vec<(&[f32], Vec<&mut [f32]>)> = w
        .chunks(FILTER_TASK * r * r)
        .map(|w_t| (w_t, rows.iter_mut().filter_map(|run| run.next()).collect()))
        .collect();
    tasks
        .into_par_iter()
        .for_each(|(w_t, mut runs)| transform_filters::<T>(w_t, &mut runs));
    u
}

/// `U = G g G^T` of the filters in `w` (`[filters, r, r]`), point `ξ` of filter `f` written
/// to `runs[ξ][f]`.
fn transform_filters<T: Tiling>(w: &[f32], runs: &mut [&mut [f32]]) {
    let (r, a) = (T::R, T::A);
    let mut block = [[0.0f32; MAX_A * MAX_A]; FILTER_BLOCK];
    for (b, w_b) in w.chunks(FILTER_BLOCK * r * r).enumerate() {
        for (g, values) in w_b.chunks_exact(r * r).zip(block.iter_mut()) {
            // G g: each column of the filter combined down its rows (gg[j][i] is row i,
            // column j of G g), then (G g) G^T: the same combination along each row.
            let column =
                |j: usize| std::array::from_fn(|t| if t < r && j < r { g[t * r + j] } else { 0.0 });
            let columns: [[f32; MAX_A]; MAX_A] = std::array::from_fn(column);
            let mut gg = [[0.0f32; MAX_A]; MAX_A];
            for (col, gg_j) in columns.iter().zip(&mut gg) {
                combine_rows(&T::G, col, a, |i, v| gg_j[i] = v);
            }
            for i in 0..a {
                let row_i: [f32; MAX_A] = std::array::from_fn(|j| gg[j][i]);
                combine_rows(&T::G, &row_i, a, |j, v| values[a * i + j] = v);
            }
        }
        let (f0, count) = (b * FILTER_BLOCK, w_b.len() / (r * r));
        for (xi, run) in runs.iter_mut().enumerate() {
            for (dst, values) in run[f0..][..count].iter_mut().zip(&block) {
                *dst = values[xi];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::on_threads;
    use crate::{Conv2dParams, NdArray};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Direct convolution in f64: `out[n, o, y, x] = bias[o] + sum w[o, c, i, j] *
    /// x[n, c, y + i - p, x + j - p]`.
    fn direct(x: &[f32], w: &[f32], bias: &[f32], g: &Geometry, n: usize, cout: usize) -> Vec<f64> {
        let ([h, wd], [ho, wo], [ph, pw]) = (g.in_hw, g.out_hw, g.padding);
        let (cin, k) = (g.channels, g.kernel[0]);
        let mut out = vec![0.0f64; n * cout * ho * wo];
        for b in 0..n {
            for o in 0..cout {
                for y in 0..ho {
                    for xx in 0..wo {
                        let mut acc = bias[o] as f64;
                        for c in 0..cin {
                            for i in 0..k {
                                for j in 0..k {
                                    let (r, s) = (
                                        (y + i) as isize - ph as isize,
                                        (xx + j) as isize - pw as isize,
                                    );
                                    if r < 0 || s < 0 || r >= h as isize || s >= wd as isize {
                                        continue;
                                    }
                                    let xv = x[((b * cin + c) * h + r as usize) * wd + s as usize];
                                    acc += w[((o * cin + c) * k + i) * k + j] as f64 * xv as f64;
                                }
                            }
                        }
                        out[((b * cout + o) * ho + y) * wo + xx] = acc;
                    }
                }
            }
        }
        out
    }

    /// `len` values uniform in [-1, 1), from `seed` (the weight gradient's tests too).
    pub(super) fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        NdArray::rand_uniform(&[len], -1.0, 1.0, &mut rng).to_vec()
    }

    /// Odd and even maps, every padding up to the kernel's extent less one, non-square
    /// maps and a batch that spans several chunks, for both kernels: within rounding of the
    /// f64 direct convolution (errors scaled by the sum of the terms' magnitudes,
    /// `sum |w x|`, the scale f32 rounding works at). F(2x2, 5x5)'s transforms multiply by
    /// 4, 5 and sixths, so its bound is wider (see [`tolerance`]).
    #[test]
    fn matches_direct_convolution() {
        for &(n, cin, cout, [h, w], k, pad) in &[
            (2, 16, 16, [7, 7], 3, 1),
            (3, 16, 20, [8, 5], 3, 0),
            (1, 17, 16, [9, 12], 3, 2),
            (40, 16, 16, [4, 4], 3, 1),
            (2, 32, 48, [15, 15], 3, 1),
            (2, 16, 16, [7, 7], 5, 2),
            (3, 16, 20, [8, 5], 5, 1),
            (1, 17, 16, [9, 12], 5, 0),
            (1, 9, 16, [6, 11], 5, 4),
            (40, 16, 16, [4, 4], 5, 2),
            (2, 32, 48, [15, 15], 5, 2),
        ] {
            let p = Conv2dParams::new().padding(pad);
            let g = Geometry::conv2d(cin, [h, w], [k, k], &p);
            let x = values(n * cin * h * w, 1);
            let wt = values(cout * cin * k * k, 2);
            let bias = values(cout, 3);
            let scale_and_want = {
                let abs_x: Vec<f32> = x.iter().map(|v| v.abs()).collect();
                let abs_w: Vec<f32> = wt.iter().map(|v| v.abs()).collect();
                let scale = direct(&abs_x, &abs_w, &vec![0.0; cout], &g, n, cout);
                (scale, direct(&x, &wt, &bias, &g, n, cout))
            };
            let mut worst = 0.0f64;
            for isa in Isa::supported() {
                let mut out = vec![f32::NAN; n * cout * g.out_hw[0] * g.out_hw[1]];
                conv2d(isa, &x, &wt, Some(&bias), &g, cout, &mut out);
                let (scale, want) = &scale_and_want;
                for (i, (&got, (&want, &scale))) in
                    out.iter().zip(want.iter().zip(scale)).enumerate()
                {
                    let err = (got as f64 - want).abs();
                    worst = worst.max(err / (scale + 1.0));
                    assert!(
                        err <= tolerance(k) * (scale + 1.0),
                        "{isa:?} {n}x{cin}x{h}x{w} -> {cout}, {k}x{k}, padding {pad}: output {i} \
                         is {got}, want {want} (scale {scale})"
                    );
                }
            }
            eprintln!("{k}x{k} {n}x{cin}x{h}x{w} -> {cout}, padding {pad}: worst {worst:.2e}");
        }
    }

    /// Bound on `|error| / (sum |w x| + 1)`: F(2x2, 3x3) only adds and halves (measured up
    /// to 1.4e-7 on the cases above); F(2x2, 5x5) measured up to 1.7e-6.
    fn tolerance(kernel: usize) -> f64 {
        if kernel == 3 {
            1e-6
        } else {
            1e-5
        }
    }

    /// Every path gives the same bits, F(2x2, 5x5) included (its transforms multiply), on
    /// maps of four tiles a row too (AVX-512 transforms their rows four at a time), with
    /// padding rows among them.
    #[test]
    fn every_isa_gives_the_same_bits() {
        for (k, [h, w], pad) in [
            (3, [9, 11], 1),
            (5, [9, 11], 2),
            (3, [7, 7], 1),
            (5, [7, 7], 2),
            (5, [8, 7], 2),
            (5, [8, 8], 2),
            // Four tiles a row, but rows too wide for the two-vector window (gathers).
            (3, [9, 9], 0),
            (5, [11, 12], 0),
            (5, [4, 4], 4),
            (3, [13, 8], 1),
        ] {
            let (n, cin, cout) = (3, 16, 24);
            let g = Geometry::conv2d(cin, [h, w], [k, k], &Conv2dParams::new().padding(pad));
            let x = values(n * cin * h * w, 4);
            let wt = values(cout * cin * k * k, 5);
            let outputs: Vec<Vec<u32>> = Isa::supported()
                .into_iter()
                .map(|isa| {
                    let mut out = vec![0.0; n * cout * g.out_hw[0] * g.out_hw[1]];
                    conv2d(isa, &x, &wt, None, &g, cout, &mut out);
                    out.iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            assert!(
                outputs.windows(2).all(|p| p[0] == p[1]),
                "{k}x{k} on {h}x{w}"
            );
        }
    }

    /// The weight transform splits filters over tasks ([`FILTER_TASK`]); with filters for
    /// several tasks, one thread and five give the same bits, and each filter's values land
    /// at its own place on both sides of a task boundary (point (0, 0) of `G g G^T` is the
    /// top-left tap times `G[0][0]^2`, exact in f32 for both tilings).
    #[test]
    fn weight_transform_does_not_depend_on_the_thread_count() {
        let (cout, cin) = (40, 70);
        assert!(cout * cin > 2 * FILTER_TASK);
        for r in [3, 5] {
            let w = values(cout * cin * r * r, 6);
            let run = |threads: usize| {
                on_threads(threads, || match r {
                    3 => transformed_weights::<F3>(&w, cout, cin),
                    _ => transformed_weights::<F5>(&w, cout, cin),
                })
            };
            let (one, five) = (run(1), run(5));
            assert_eq!(one.len(), five.len());
            assert!(one
                .iter()
                .zip(&five)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            // Point (0, 0) of either tiling is the filter's top-left tap times G[0][0]^2.
            let g00 = if r == 3 { 1.0 } else { 0.25f32 };
            for f in [0, FILTER_TASK - 1, FILTER_TASK, cout * cin - 1] {
                assert_eq!(one[f], w[f * r * r] * g00 * g00, "{r}x{r} filter {f}");
            }
        }
    }

    #[test]
    fn applies_to_3x3_and_5x5_stride_1_layers_with_enough_channels() {
        let same = Conv2dParams::new().padding(1);
        assert!(applies(&Geometry::conv2d(64, [28, 28], [3, 3], &same), 64));
        assert!(applies(&Geometry::conv2d(64, [7, 7], [3, 3], &same), 128));
        assert!(applies(&Geometry::conv2d(32, [28, 28], [3, 3], &same), 32));
        assert!(!applies(&Geometry::conv2d(32, [14, 14], [3, 3], &same), 32));
        assert!(!applies(&Geometry::conv2d(8, [28, 28], [3, 3], &same), 64));
        assert!(!applies(&Geometry::conv2d(64, [28, 28], [3, 3], &same), 4));
        assert!(!applies(
            &Geometry::conv2d(64, [28, 28], [3, 3], &same.stride(2)),
            64
        ));
        assert!(!applies(
            &Geometry::conv2d(64, [28, 28], [3, 3], &same.dilation(2)),
            64
        ));
        assert!(!applies(&Geometry::conv2d(64, [28, 28], [7, 7], &same), 64));
        let wide = Conv2dParams::new().padding(2);
        assert!(!applies(&Geometry::conv2d(128, [7, 7], [3, 3], &wide), 128));
        let half = Conv2dParams::new().padding(2);
        assert!(applies(&Geometry::conv2d(256, [7, 7], [5, 5], &half), 128));
        assert!(applies(&Geometry::conv2d(128, [7, 7], [5, 5], &half), 256));
        assert!(!applies(&Geometry::conv2d(32, [7, 7], [5, 5], &half), 256));
        assert!(!applies(
            &Geometry::conv2d(128, [14, 14], [5, 5], &half.stride(2)),
            64
        ));
        let wider = Conv2dParams::new().padding(3);
        assert!(!applies(
            &Geometry::conv2d(128, [7, 7], [5, 5], &wider),
            128
        ));
    }
}
