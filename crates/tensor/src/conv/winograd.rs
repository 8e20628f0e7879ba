//! Winograd's minimal filtering F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016).
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
//! A chunk is a run of whole tile rows, sized so that its `V` and `M` stay in the L2 cache;
//! each rayon task takes whole images, and the chunk sizes depend on the shapes only, so
//! the bits do not depend on the thread count. The transforms work a tile row at a time,
//! vectorised along it (AVX-512 with masked moves, so a 4-tile row of a 7x7 map is one
//! vector operation), and only add and subtract, in the same order on every path.

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use crate::gemm::{Gemm, Isa, MatMut, MatRef, PackedA};

/// Points of the 4x4 transform: one GEMM each.
const POINTS: usize = 16;

/// Floats per AVX-512 vector: the transforms' lines are padded to a multiple of it.
const LANES: usize = 16;

/// Fewest input and output channels that take this path on any map, and on maps of at
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

/// Floats of `V` and `M` per chunk of tiles (`16 * (Cin + Cout) * tiles`): a quarter of a
/// 2 MiB L2, so both stay cached between the transforms and the GEMMs.
const CHUNK_FLOATS: usize = 1 << 17;

/// Whether a convolution takes this path: a 3x3 kernel, stride 1, no dilation, padding of
/// at most 1, enough channels on both sides for its map size (see [`MIN_CHANNELS`]).
///
/// Padding 2 is the input gradient of an unpadded layer (a CycleGAN residual block's, 7x7
/// back to 9x9): its tiles are mostly padding, and gemm + col2im, which only computes the
/// 49 input positions, measured 1.19x faster than Winograd over the 81 output positions.
pub(crate) fn applies(g: &Geometry, cout: usize) -> bool {
    let channels = g.channels.min(cout);
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding.iter().all(|&p| p <= 1)
        && (channels >= MIN_CHANNELS
            || (channels >= WIDE_MAP_CHANNELS && g.positions() >= WIDE_MAP))
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

/// `out [N, Cout, Ho, Wo] = conv2d(x, w) (+ bias)` by F(2x2, 3x3), for a geometry where
/// [`applies`] holds; `out` must be non-empty.
pub(crate) fn conv2d(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [f32],
) {
    let cin = g.channels;
    let u = transformed_weights(w, cout, cin);
    let packed: Vec<PackedA> = u
        .chunks_exact(cout * cin)
        .map(|u_xi| PackedA::new_on(isa, MatRef::row_major(u_xi, cout, cin)))
        .collect();
    let isa = packed[0].isa();
    let grid = TileGrid::new(g);
    // Whole tile rows per chunk, as many as fit the chunk's budget (at least one).
    let chunk_rows = (CHUNK_FLOATS / (POINTS * (cin + cout) * grid.cols)).max(1);
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
                // Lines padded to whole vectors: the transforms run no scalar remainders.
                let ld = len.next_multiple_of(LANES);
                let lines = 2 * grid.cols + 2 + POINTS * ld;
                with_scratch(POINTS * (cin + cout) * ld + lines, |buf| {
                    let (v, rest) = buf.split_at_mut(POINTS * cin * ld);
                    let (m, line_buf) = rest.split_at_mut(POINTS * cout * ld);
                    transforms::input(isa, x_b, g, &rows, v, line_buf);
                    for (xi, (v_xi, m_xi)) in v
                        .chunks_exact(cin * ld)
                        .zip(m.chunks_exact_mut(cout * ld))
                        .enumerate()
                    {
                        let b = MatRef::new(v_xi, 0, [cin, len], [ld, 1]);
                        let c = MatMut::new(m_xi, 0, [cout, len], [ld, 1]);
                        gemm.run_packed(1.0, &packed[xi], b, 0.0, c);
                    }
                    transforms::output(isa, m, bias, [ho, wo], cout, &rows, out_b, line_buf);
                });
                r0 += rows.len();
            }
        });
}

/// `U_ξ [Cout, Cin]` for the 16 points, from `w [Cout, Cin, 3, 3]`: `U = G g G^T` per
/// filter, laid out `[16][Cout][Cin]`.
fn transformed_weights(w: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; POINTS * cout * cin];
    for (f, g) in w.chunks_exact(9).enumerate() {
        // G g: rows [g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2] of the filter's columns.
        let mut gg = [[0.0f32; 3]; 4];
        for j in 0..3 {
            let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j]);
            gg[0][j] = g0;
            gg[1][j] = 0.5 * (g0 + g1 + g2);
            gg[2][j] = 0.5 * (g0 - g1 + g2);
            gg[3][j] = g2;
        }
        // (G g) G^T: the same combination along each row.
        for (i, row) in gg.iter().enumerate() {
            let [g0, g1, g2] = *row;
            let points = [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2];
            for (j, value) in points.into_iter().enumerate() {
                u[(4 * i + j) * cout * cin + f] = value;
            }
        }
    }
    u
}

/// The transforms, vectorised along tile rows. They only add and subtract, in the same
/// order on every path, so every instruction set gives the same bits.
mod transforms {
    use super::{Geometry, TileRow, LANES, POINTS};
    use crate::gemm::Isa;

    /// The two steps that work on one image row: the row transform of an input row, and
    /// the last step of the output transform, which interleaves a tile row's two output
    /// columns into an output row. Lines of a tile row are `cols` long (4 on a 7x7 map),
    /// too short for loops to vectorise well, so AVX-512 does them with masked moves.
    trait RowSteps {
        /// `l[s][j]` for `j < cols`: `[e_j - e_j+1, o_j + e_j+1, e_j+1 - o_j, o_j - o_j+1]`,
        /// where `e_j, o_j` are columns `2j, 2j + 1` of the row `src` with `pw` zeros before
        /// it and zeros after (`d B` of every tile's row); zeros for a row in the padding
        /// (`None`). `scratch` holds `2 cols + 2` floats.
        fn row_transform(
            src: Option<&[f32]>,
            pw: usize,
            cols: usize,
            l: [&mut [f32]; 4],
            scratch: &mut [f32],
        );

        /// `dst[2j] = s0 + s1 + s2 + b` and `dst[2j + 1] = s1 - s2 - s3 + b` (added left to
        /// right) for every tile `j`, dropping a last column past `dst.len()`.
        fn output_row(s: [&[f32]; 4], b: f32, dst: &mut [f32]);
    }

    /// Loops that any instruction set runs.
    struct Loops;

    impl RowSteps for Loops {
        #[inline(always)]
        fn row_transform(
            src: Option<&[f32]>,
            pw: usize,
            cols: usize,
            l: [&mut [f32]; 4],
            scratch: &mut [f32],
        ) {
            let [l0, l1, l2, l3] = l;
            let Some(src) = src else {
                for line in [l0, l1, l2, l3] {
                    line[..cols].fill(0.0);
                }
                return;
            };
            let (even, odd) = scratch[..2 * cols + 2].split_at_mut(cols + 1);
            even.fill(0.0);
            odd.fill(0.0);
            // Source column i is padded column pw + i (only the first 2 cols + 2 are read).
            let src = &src[..src.len().min(2 * cols + 2 - pw)];
            let half = pw / 2;
            let (first, second) = if pw.is_multiple_of(2) {
                (&mut even[half..], &mut odd[half..])
            } else {
                (&mut odd[half..], &mut even[half + 1..])
            };
            let mut pairs = src.chunks_exact(2);
            for ((pair, a), b) in (&mut pairs).zip(first.iter_mut()).zip(second.iter_mut()) {
                *a = pair[0];
                *b = pair[1];
            }
            if let [last] = pairs.remainder() {
                first[src.len() / 2] = *last;
            }
            let (e0, e1, o0, o1) = (&even[..cols], &even[1..], &odd[..cols], &odd[1..]);
            for (((((d0, d1), d2), d3), (e0, e1)), (o0, o1)) in l0[..cols]
                .iter_mut()
                .zip(&mut l1[..cols])
                .zip(&mut l2[..cols])
                .zip(&mut l3[..cols])
                .zip(e0.iter().zip(e1))
                .zip(o0.iter().zip(o1))
            {
                *d0 = e0 - e1;
                *d1 = o0 + e1;
                *d2 = e1 - o0;
                *d3 = o0 - o1;
            }
        }

        #[inline(always)]
        fn output_row(s: [&[f32]; 4], b: f32, dst: &mut [f32]) {
            let [s0, s1, s2, s3] = s;
            let cols = dst.len().div_ceil(2);
            let mut pairs = dst.chunks_exact_mut(2);
            let lines = s0.iter().zip(s1).zip(s2).zip(s3);
            for ((((s0, s1), s2), s3), pair) in lines.zip(&mut pairs) {
                pair[0] = (s0 + s1 + s2) + b;
                pair[1] = (s1 - s2 - s3) + b;
            }
            if let [last] = pairs.into_remainder() {
                let j = cols - 1;
                *last = (s0[j] + s1[j] + s2[j]) + b;
            }
        }
    }

    /// AVX-512: sixteen tiles of a row per step, masked at the row's ends.
    #[cfg(target_arch = "x86_64")]
    struct Masked;

    #[cfg(target_arch = "x86_64")]
    impl RowSteps for Masked {
        #[inline(always)]
        fn row_transform(
            src: Option<&[f32]>,
            pw: usize,
            cols: usize,
            l: [&mut [f32]; 4],
            _: &mut [f32],
        ) {
            // SAFETY: `Masked` is only used by `input`'s AVX-512 arm, on a CPU with AVX-512F.
            unsafe { masked::row_transform(src, pw, cols, l) }
        }

        #[inline(always)]
        fn output_row(s: [&[f32]; 4], b: f32, dst: &mut [f32]) {
            // SAFETY: as above, `output`'s AVX-512 arm.
            unsafe { masked::output_row(s, b, dst) }
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod masked {
        use std::arch::x86_64::*;

        /// Lane indices that pick the even (odd) floats of two vectors, `[a, b]`.
        const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
        const ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
        /// Lane indices that interleave two vectors: their first (last) eight pairs.
        const ZIP_LO: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
        const ZIP_HI: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];

        /// The first `n` lanes (`n <= 16`).
        fn first(n: usize) -> __mmask16 {
            ((1u32 << n) - 1) as __mmask16
        }

        /// Padded columns `i0..i0 + 16` of a row: `src[i - pw]` where that is inside
        /// `src`, zero elsewhere.
        #[target_feature(enable = "avx512f")]
        unsafe fn load_padded(src: &[f32], pw: usize, i0: usize) -> __m512 {
            let start = i0 as isize - pw as isize;
            let lo = (-start).clamp(0, 16) as usize;
            let hi = (src.len() as isize - start).clamp(0, 16) as usize;
            if hi <= lo {
                return _mm512_setzero_ps();
            }
            // SAFETY: only lanes lo..hi are read, and they lie inside `src`; masked-off lanes
            // are not accessed (AVX-512 suppresses their faults), so the pointer may point
            // before `src` (wrapping_offset does not dereference).
            unsafe {
                _mm512_maskz_loadu_ps(first(hi) & !first(lo), src.as_ptr().wrapping_offset(start))
            }
        }

        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn row_transform(
            src: Option<&[f32]>,
            pw: usize,
            cols: usize,
            mut l: [&mut [f32]; 4],
        ) {
            let (even, odd) = unsafe {
                (
                    _mm512_loadu_si512(EVEN.as_ptr().cast()),
                    _mm512_loadu_si512(ODD.as_ptr().cast()),
                )
            };
            for j0 in (0..cols).step_by(16) {
                let keep = first((cols - j0).min(16));
                let d = match src {
                    None => [_mm512_setzero_ps(); 4],
                    Some(src) => {
                        // Columns 2j, 2j + 1 (e, o) and 2j + 2, 2j + 3 (e1, o1) of 16 tiles.
                        let (p0, p1) = unsafe {
                            (
                                load_padded(src, pw, 2 * j0),
                                load_padded(src, pw, 2 * j0 + 16),
                            )
                        };
                        let (p2, p3) = unsafe {
                            (
                                load_padded(src, pw, 2 * j0 + 2),
                                load_padded(src, pw, 2 * j0 + 18),
                            )
                        };
                        let e = _mm512_permutex2var_ps(p0, even, p1);
                        let o = _mm512_permutex2var_ps(p0, odd, p1);
                        let e1 = _mm512_permutex2var_ps(p2, even, p3);
                        let o1 = _mm512_permutex2var_ps(p2, odd, p3);
                        [
                            _mm512_sub_ps(e, e1),
                            _mm512_add_ps(o, e1),
                            _mm512_sub_ps(e1, o),
                            _mm512_sub_ps(o, o1),
                        ]
                    }
                };
                for (line, d) in l.iter_mut().zip(d) {
                    assert!(line.len() >= cols);
                    // SAFETY: the kept lanes j0..j0 + keep are below cols <= line.len().
                    unsafe { _mm512_mask_storeu_ps(line.as_mut_ptr().add(j0), keep, d) };
                }
            }
        }

        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn output_row(s: [&[f32]; 4], b: f32, dst: &mut [f32]) {
            let wo = dst.len();
            let cols = wo.div_ceil(2);
            assert!(s.iter().all(|line| line.len() >= cols));
            let (lo_pairs, hi_pairs) = unsafe {
                (
                    _mm512_loadu_si512(ZIP_LO.as_ptr().cast()),
                    _mm512_loadu_si512(ZIP_HI.as_ptr().cast()),
                )
            };
            let bias = _mm512_set1_ps(b);
            for j0 in (0..cols).step_by(16) {
                let keep = first((cols - j0).min(16));
                // SAFETY: lanes j0..j0 + keep are below cols <= each line's length.
                let [s0, s1, s2, s3] =
                    s.map(|line| unsafe { _mm512_maskz_loadu_ps(keep, line.as_ptr().add(j0)) });
                let even = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), s2), bias);
                let odd = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1, s2), s3), bias);
                let width = wo - 2 * j0;
                let at = dst.as_mut_ptr();
                // SAFETY: the stored lanes are output columns 2 j0 .. 2 j0 + width = wo.
                unsafe {
                    let lo = _mm512_permutex2var_ps(even, lo_pairs, odd);
                    _mm512_mask_storeu_ps(at.add(2 * j0), first(width.min(16)), lo);
                    if width > 16 {
                        let hi = _mm512_permutex2var_ps(even, hi_pairs, odd);
                        _mm512_mask_storeu_ps(at.add(2 * j0 + 16), first((width - 16).min(16)), hi);
                    }
                }
            }
        }
    }

    macro_rules! compiled_for {
        ($module:ident, $rows:ty, $($feature:literal),*) => {
            mod $module {
                use super::{Geometry, TileRow};

                /// # Safety
                /// The CPU must support the enabled features.
                #[target_feature($(enable = $feature),*)]
                pub unsafe fn input(x: &[f32], g: &Geometry, rows: &[TileRow], v: &mut [f32], lines: &mut [f32]) {
                    super::input_body::<$rows>(x, g, rows, v, lines)
                }

                /// # Safety
                /// The CPU must support the enabled features.
                #[target_feature($(enable = $feature),*)]
                #[allow(clippy::too_many_arguments)]
                pub unsafe fn output(m: &[f32], bias: Option<&[f32]>, out_hw: [usize; 2], cout: usize, rows: &[TileRow], out: &mut [f32], lines: &mut [f32]) {
                    super::output_body::<$rows>(m, bias, out_hw, cout, rows, out, lines)
                }
            }
        };
    }

    #[cfg(target_arch = "x86_64")]
    compiled_for!(avx512, super::Masked, "avx512f");
    #[cfg(target_arch = "x86_64")]
    compiled_for!(avx2, super::Loops, "avx2");

    /// `V = B^T d B` of every channel and tile of a chunk, into `v [16][Cin][ld]`.
    pub(super) fn input(
        isa: Isa,
        x: &[f32],
        g: &Geometry,
        rows: &[TileRow],
        v: &mut [f32],
        lines: &mut [f32],
    ) {
        match isa {
            // SAFETY: `isa` is supported on this CPU (the packed weights' path, from
            // Isa::active).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::input(x, g, rows, v, lines) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::input(x, g, rows, v, lines) },
            _ => input_body::<Loops>(x, g, rows, v, lines),
        }
    }

    /// `Y = A^T M A (+ bias)` of every output channel and tile of a chunk, from
    /// `m [16][Cout][ld]` into the task's output `[images][Cout][Ho][Wo]`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn output(
        isa: Isa,
        m: &[f32],
        bias: Option<&[f32]>,
        out_hw: [usize; 2],
        cout: usize,
        rows: &[TileRow],
        out: &mut [f32],
        lines: &mut [f32],
    ) {
        match isa {
            // SAFETY: as in `input`.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::output(m, bias, out_hw, cout, rows, out, lines) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::output(m, bias, out_hw, cout, rows, out, lines) },
            _ => output_body::<Loops>(m, bias, out_hw, cout, rows, out, lines),
        }
    }

    /// For each channel: the row transform of each tile row's four input rows (line
    /// `(r, s)` of the chunk holds the chunk's tile rows end to end, `ld` floats), then the
    /// same combination down the four rows gives `B^T d B`, one contiguous line of `v`
    /// per point.
    #[inline(always)]
    fn input_body<R: RowSteps>(
        x: &[f32],
        g: &Geometry,
        rows: &[TileRow],
        v: &mut [f32],
        lines: &mut [f32],
    ) {
        let (cin, [h, w], [ph, pw]) = (g.channels, g.in_hw, g.padding);
        let cols = g.out_hw[1].div_ceil(2);
        let ld = (rows.len() * cols).next_multiple_of(LANES);
        let (scratch, db) = lines.split_at_mut(2 * cols + 2);
        let db = &mut db[..POINTS * ld];
        // Columns `len..ld` of every line stay zero: `v`'s padding columns, never read.
        db.fill(0.0);
        for c in 0..cin {
            for (q, row) in rows.iter().enumerate() {
                let plane = &x[(row.image * cin + c) * h * w..][..h * w];
                for (r, db_r) in db.chunks_exact_mut(4 * ld).enumerate() {
                    let src = (row.top + r)
                        .checked_sub(ph)
                        .filter(|&y| y < h)
                        .map(|y| &plane[y * w..][..w]);
                    let (l0, rest) = db_r.split_at_mut(ld);
                    let (l1, rest) = rest.split_at_mut(ld);
                    let (l2, l3) = rest.split_at_mut(ld);
                    let at = q * cols;
                    R::row_transform(
                        src,
                        pw,
                        cols,
                        [&mut l0[at..], &mut l1[at..], &mut l2[at..], &mut l3[at..]],
                        scratch,
                    );
                }
            }
            // Down the rows: point (i, s) from line s of rows 0..3.
            for s in 0..4 {
                let line = |r: usize| &db[(4 * r + s) * ld..][..ld];
                let (r0, r1, r2, r3) = (line(0), line(1), line(2), line(3));
                let point = |i: usize| ((4 * i + s) * cin + c) * ld;
                combine(&mut v[point(0)..][..ld], r0, r2, |a, b| a - b);
                combine(&mut v[point(1)..][..ld], r1, r2, |a, b| a + b);
                combine(&mut v[point(2)..][..ld], r2, r1, |a, b| a - b);
                combine(&mut v[point(3)..][..ld], r1, r3, |a, b| a - b);
            }
        }
    }

    /// `dst[j] = f(a[j], b[j])`, vectorised.
    #[inline(always)]
    fn combine(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
        for ((d, a), b) in dst.iter_mut().zip(a).zip(b) {
            *d = f(*a, *b);
        }
    }

    /// For each output channel: `A^T M` down the points (two lines per point column,
    /// `m0 + m1 + m2` and `m1 - m2 - m3`, the chunk's tile rows end to end), then along
    /// each tile row to the two outputs of each tile ([`RowSteps::output_row`]).
    #[inline(always)]
    fn output_body<R: RowSteps>(
        m: &[f32],
        bias: Option<&[f32]>,
        [ho, wo]: [usize; 2],
        cout: usize,
        rows: &[TileRow],
        out: &mut [f32],
        lines: &mut [f32],
    ) {
        let cols = wo.div_ceil(2);
        let ld = (rows.len() * cols).next_multiple_of(LANES);
        let am = &mut lines[..8 * ld];
        for o in 0..cout {
            let b = bias.map_or(0.0, |b| b[o]);
            let point = |xi: usize| &m[(xi * cout + o) * ld..][..ld];
            for s in 0..4 {
                let (m0, m1, m2, m3) = (point(s), point(4 + s), point(8 + s), point(12 + s));
                let (top, bottom) = am.split_at_mut(4 * ld);
                let points = m0.iter().zip(m1).zip(m2).zip(m3);
                for ((((m0, m1), m2), m3), (t, b)) in points.zip(
                    top[s * ld..][..ld]
                        .iter_mut()
                        .zip(&mut bottom[s * ld..][..ld]),
                ) {
                    *t = m0 + m1 + m2;
                    *b = m1 - m2 - m3;
                }
            }
            for (q, row) in rows.iter().enumerate() {
                for i in 0..2 {
                    let y = row.top + i;
                    if y >= ho {
                        break;
                    }
                    let line = |k: usize| &am[(4 * i + k) * ld + q * cols..][..cols];
                    let dst = &mut out[((row.image * cout + o) * ho + y) * wo..][..wo];
                    R::output_row([line(0), line(1), line(2), line(3)], b, dst);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Conv2dParams;

    /// Direct convolution in f64: `out[n, o, y, x] = bias[o] + sum w[o, c, i, j] *
    /// x[n, c, y + i - p, x + j - p]`.
    fn direct(x: &[f32], w: &[f32], bias: &[f32], g: &Geometry, n: usize, cout: usize) -> Vec<f64> {
        let ([h, wd], [ho, wo], [ph, pw]) = (g.in_hw, g.out_hw, g.padding);
        let cin = g.channels;
        let mut out = vec![0.0f64; n * cout * ho * wo];
        for b in 0..n {
            for o in 0..cout {
                for y in 0..ho {
                    for xx in 0..wo {
                        let mut acc = bias[o] as f64;
                        for c in 0..cin {
                            for i in 0..3 {
                                for j in 0..3 {
                                    let (r, s) = (
                                        (y + i) as isize - ph as isize,
                                        (xx + j) as isize - pw as isize,
                                    );
                                    if r < 0 || s < 0 || r >= h as isize || s >= wd as isize {
                                        continue;
                                    }
                                    let xv = x[((b * cin + c) * h + r as usize) * wd + s as usize];
                                    acc += w[((o * cin + c) * 3 + i) * 3 + j] as f64 * xv as f64;
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

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // A small LCG: deterministic values in [-1, 1).
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Odd and even maps, padding 0, 1 and 2, non-square maps and a batch that spans
    /// several chunks: within rounding of the f64 direct convolution (errors scaled by the
    /// sum of the terms' magnitudes, `sum |w x|`, the scale f32 rounding works at).
    #[test]
    fn matches_direct_convolution() {
        for &(n, cin, cout, [h, w], pad) in &[
            (2, 16, 16, [7, 7], 1),
            (3, 16, 20, [8, 5], 0),
            (1, 17, 16, [9, 12], 2),
            (40, 16, 16, [4, 4], 1),
            (2, 32, 48, [15, 15], 1),
        ] {
            let p = Conv2dParams::new().padding(pad);
            let g = Geometry::conv2d(cin, [h, w], [3, 3], &p);
            let x = values(n * cin * h * w, 1);
            let wt = values(cout * cin * 9, 2);
            let bias = values(cout, 3);
            let scale_and_want = {
                let abs_x: Vec<f32> = x.iter().map(|v| v.abs()).collect();
                let abs_w: Vec<f32> = wt.iter().map(|v| v.abs()).collect();
                let scale = direct(&abs_x, &abs_w, &vec![0.0; cout], &g, n, cout);
                (scale, direct(&x, &wt, &bias, &g, n, cout))
            };
            for isa in Isa::supported() {
                let mut out = vec![f32::NAN; n * cout * g.out_hw[0] * g.out_hw[1]];
                conv2d(isa, &x, &wt, Some(&bias), &g, cout, &mut out);
                let (scale, want) = &scale_and_want;
                for (i, (&got, (&want, &scale))) in
                    out.iter().zip(want.iter().zip(scale)).enumerate()
                {
                    let err = (got as f64 - want).abs();
                    assert!(
                    err <= 1e-6 * (scale + 1.0),
                    "{isa:?} {n}x{cin}x{h}x{w} -> {cout}, padding {pad}: output {i} is {got}, want {want} (scale {scale})"
                );
                }
            }
        }
    }

    #[test]
    fn applies_to_3x3_stride_1_layers_with_enough_channels() {
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
        assert!(!applies(&Geometry::conv2d(64, [28, 28], [5, 5], &same), 64));
        let wide = Conv2dParams::new().padding(2);
        assert!(!applies(&Geometry::conv2d(128, [7, 7], [3, 3], &wide), 128));
    }
}
