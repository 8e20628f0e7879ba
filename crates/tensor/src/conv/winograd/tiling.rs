//! The two tilings, F(2x2, 3x3) and F(2x2, 5x5), as their transform matrices, and the
//! one rule by which every path evaluates a row of a matrix against its terms.
//!
//! Both put the transform's points at `0, ±1, (±2,) ∞`. For F(2, r) on `a = r + 1` points,
//! `y = A^T [(G g) ⊙ (B^T d)]` gives the two outputs `y_i = sum_k g_k d_(i+k)` of an
//! `r`-tap correlation over `a` inputs, with `a` multiplies where direct summation needs
//! `2 r`. Nested for two dimensions, `a^2` multiplies (one GEMM each, summed over input
//! channels) per 2x2 outputs: 16 for `2 * 2 * 9 = 36` (2.25x fewer) at 3x3, 36 for 100
//! (2.78x fewer) at 5x5.

/// Largest transform of the tilings (points per dimension).
pub(super) const MAX_A: usize = 6;

/// One tiling F(2x2, r x r): its extents and matrices, padded with zeros to
/// [`MAX_A`] x [`MAX_A`].
pub(super) trait Tiling {
    /// Kernel extent `r`.
    const R: usize;
    /// Points per dimension, `r + 1`: the input tile is `A x A`.
    const A: usize;
    /// Points of the two-dimensional transform, one GEMM each.
    const POINTS: usize = Self::A * Self::A;
    /// `B^T` (`A x A`): the input transform.
    const BT: [[f32; MAX_A]; MAX_A];
    /// `A^T` (`2 x A`, then zero rows): the output transform.
    const AT: [[f32; MAX_A]; MAX_A];
    /// `G` (`A x r`, then zero columns): the weight transform.
    const G: [[f32; MAX_A]; MAX_A];
    /// Floats of `V` and `M` per chunk of tiles (`points * (Cin + Cout) * tiles`), at least
    /// one tile row, on a core with `l2` bytes of L2 cache. Only the speed depends on it:
    /// each tile's sums run over the input channels, never over tiles.
    fn chunk_floats(l2: usize) -> usize;
}

/// F(2x2, 3x3) on the points `0, 1, -1, ∞`: additions only (and exact halvings in `G`).
pub(super) struct F3;

impl Tiling for F3 {
    const R: usize = 3;
    const A: usize = 4;
    /// 512 KiB, a quarter of the Xeon's L2, so `V` and `M` stay cached between the
    /// transforms and the GEMMs. On the Zen 4 (1 MiB L2) half of it was slower, not faster
    /// (a 64-channel layer on 28x28 and a 128-channel one on 9x9, two threads, 2026-12-07).
    fn chunk_floats(_l2: usize) -> usize {
        1 << 17
    }
    const BT: [[f32; MAX_A]; MAX_A] = [
        [1.0, 0.0, -1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, -1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, -1.0, 0.0, 0.0],
        [0.0; MAX_A],
        [0.0; MAX_A],
    ];
    const AT: [[f32; MAX_A]; MAX_A] = [
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, -1.0, -1.0, 0.0, 0.0],
        [0.0; MAX_A],
        [0.0; MAX_A],
        [0.0; MAX_A],
        [0.0; MAX_A],
    ];
    const G: [[f32; MAX_A]; MAX_A] = [
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.5, 0.5, 0.5, 0.0, 0.0, 0.0],
        [0.5, -0.5, 0.5, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        [0.0; MAX_A],
        [0.0; MAX_A],
    ];
}

/// F(2x2, 5x5) on the points `0, 1, -1, 2, -2, ∞` (the points of the common F(4x4, 3x3),
/// so the same `B^T`). `G` has the inexact sixths and twenty-fourths, so this tiling rounds
/// more than [`F3`] (its tolerance is in the tests).
pub(super) struct F5;

impl Tiling for F5 {
    const R: usize = 5;
    const A: usize = 6;
    /// Twice the L2. On the Xeon (2 MiB L2), with a quarter of it dcgan28's G1 (256 -> 128
    /// channels on 7x7) got half an image per chunk, and its 4.7 MB of transformed weights
    /// were read again for each: 1.2-1.4x slower than the implicit GEMM. With 1M floats
    /// (four images per chunk) it was 1.2-1.3x faster (forward and input gradient, best of
    /// 40 interleaved runs, one thread, 2026-12-06); 2M and 4M floats were slower than 1M.
    /// On the Zen 4 (1 MiB L2, two threads, 2026-12-07, three alternated rounds), 512K
    /// floats (two images, 32 tiles: one AVX-512 B sliver) took G1's forward from 21-22 ms
    /// to 17-19 ms, and 256K floats (16 tiles, half a sliver) to 27-32 ms.
    fn chunk_floats(l2: usize) -> usize {
        l2 / 2
    }
    const BT: [[f32; MAX_A]; MAX_A] = [
        [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ];
    const AT: [[f32; MAX_A]; MAX_A] = [
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, -1.0, 2.0, -2.0, 1.0],
        [0.0; MAX_A],
        [0.0; MAX_A],
        [0.0; MAX_A],
        [0.0; MAX_A],
    ];
    const G: [[f32; MAX_A]; MAX_A] = [
        [1.0 / 4.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [
            -1.0 / 6.0,
            -1.0 / 6.0,
            -1.0 / 6.0,
            -1.0 / 6.0,
            -1.0 / 6.0,
            0.0,
        ],
        [
            -1.0 / 6.0,
            1.0 / 6.0,
            -1.0 / 6.0,
            1.0 / 6.0,
            -1.0 / 6.0,
            0.0,
        ],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0, 1.0 / 3.0, 2.0 / 3.0, 0.0],
        [
            1.0 / 24.0,
            -1.0 / 12.0,
            1.0 / 6.0,
            -1.0 / 3.0,
            2.0 / 3.0,
            0.0,
        ],
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    ];
}

/// A matrix that combines whole lines, as a type: the AVX-512 path's line step is a
/// `target_feature` function, which is not inlined, so its matrix must be a constant of
/// its monomorphisation rather than an argument.
pub(super) trait LineMatrix {
    /// The rows, padded with zeros.
    const M: [[f32; MAX_A]; MAX_A];
    /// Lines combined (columns of the matrix).
    const N: usize;
    /// Lines produced (rows of the matrix).
    const ROWS: usize;
}

/// `B^T` of a tiling: the input transform's step down the rows.
pub(super) struct DownRows<T>(std::marker::PhantomData<T>);

impl<T: Tiling> LineMatrix for DownRows<T> {
    const M: [[f32; MAX_A]; MAX_A] = T::BT;
    const N: usize = T::A;
    const ROWS: usize = T::A;
}

/// `A^T` of a tiling: the output transform's step down the points.
pub(super) struct DownPoints<T>(std::marker::PhantomData<T>);

impl<T: Tiling> LineMatrix for DownPoints<T> {
    const M: [[f32; MAX_A]; MAX_A] = T::AT;
    const N: usize = T::A;
    const ROWS: usize = 2;
}

/// `A` of a tiling (`A x 2`, the transpose of `A^T`): the weight gradient's transform of
/// the output gradient (the adjoint of the output transform), up from two lines to `A`.
pub(super) struct UpPoints<T>(std::marker::PhantomData<T>);

impl<T: Tiling> LineMatrix for UpPoints<T> {
    const M: [[f32; MAX_A]; MAX_A] = transpose(T::AT);
    const N: usize = 2;
    const ROWS: usize = T::A;
}

/// `G^T` of a tiling (`r x A`): the weight gradient's last step, `dg = G^T dU G` (the
/// adjoint of the weight transform), from `A` lines down to `r`.
pub(super) struct DownWeights<T>(std::marker::PhantomData<T>);

impl<T: Tiling> LineMatrix for DownWeights<T> {
    const M: [[f32; MAX_A]; MAX_A] = transpose(T::G);
    const N: usize = T::A;
    const ROWS: usize = T::R;
}

/// `m^T`, for the adjoint transforms' matrices.
const fn transpose(m: [[f32; MAX_A]; MAX_A]) -> [[f32; MAX_A]; MAX_A] {
    let mut t = [[0.0; MAX_A]; MAX_A];
    let mut i = 0;
    while i < MAX_A {
        let mut j = 0;
        while j < MAX_A {
            t[j][i] = m[i][j];
            j += 1;
        }
        i += 1;
    }
    t
}

/// The arithmetic the transforms need, on a scalar or on a vector of lanes.
pub(super) trait Lanes: Copy {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn neg(self) -> Self;
    /// `self * c`.
    fn scale(self, c: f32) -> Self;
}

impl Lanes for f32 {
    #[inline(always)]
    fn add(self, other: f32) -> f32 {
        self + other
    }
    #[inline(always)]
    fn sub(self, other: f32) -> f32 {
        self - other
    }
    #[inline(always)]
    fn neg(self) -> f32 {
        -self
    }
    #[inline(always)]
    fn scale(self, c: f32) -> f32 {
        self * c
    }
}

/// One term of [`combine`]: `+1` and `-1` add and subtract, any other non-zero
/// coefficient multiplies first (never a fused multiply-add), zero skips the term.
#[inline(always)]
fn term<L: Lanes>(acc: Option<L>, c: f32, t: L) -> Option<L> {
    if c == 0.0 {
        return acc;
    }
    Some(match acc {
        None if c == 1.0 => t,
        None if c == -1.0 => t.neg(),
        None => t.scale(c),
        Some(a) if c == 1.0 => a.add(t),
        Some(a) if c == -1.0 => a.sub(t),
        Some(a) => a.add(t.scale(c)),
    })
}

/// `sum_i row[i] * terms[i]`, left to right, by [`term`]'s rule; `None` for a row of
/// zeros. Every path evaluates every matrix row by this rule, on scalars or on vectors,
/// so every instruction set gives the same bits. Written out term by term: with the
/// matrices' constant rows the comparisons fold away and only the operations remain
/// (as a loop, LLVM kept them, and the transforms ran 3x slower).
#[inline(always)]
pub(super) fn combine<L: Lanes>(row: &[f32; MAX_A], t: &[L; MAX_A]) -> Option<L> {
    let acc = term(None, row[0], t[0]);
    let acc = term(acc, row[1], t[1]);
    let acc = term(acc, row[2], t[2]);
    let acc = term(acc, row[3], t[3]);
    let acc = term(acc, row[4], t[4]);
    term(acc, row[5], t[5])
}

/// `f(k, sum_i m[k][i] t[i])` for each of the first `rows` rows (each with a non-zero
/// coefficient), by [`combine`], written out for the same reason: with `rows` and `m`
/// constants, straight-line code.
#[inline(always)]
pub(super) fn combine_rows<L: Lanes>(
    m: &[[f32; MAX_A]; MAX_A],
    t: &[L; MAX_A],
    rows: usize,
    mut f: impl FnMut(usize, L),
) {
    macro_rules! row {
        ($($k:literal)*) => {$(
            if $k < rows {
                f($k, combine(&m[$k], t).expect("a non-zero row"));
            }
        )*};
    }
    row!(0 1 2 3 4 5);
}

/// `[load(0), .., load(n - 1), zero, ..]`, written out.
#[inline(always)]
pub(super) fn load_terms<L: Copy>(
    n: usize,
    zero: L,
    mut load: impl FnMut(usize) -> L,
) -> [L; MAX_A] {
    let mut t = [zero; MAX_A];
    macro_rules! term {
        ($($i:literal)*) => {$(
            if $i < n {
                t[$i] = load($i);
            }
        )*};
    }
    term!(0 1 2 3 4 5);
    t
}
