//! The transforms, vectorised along tile rows. Every matrix row is evaluated by
//! [`combine`](super::tiling::combine)'s rule, in the same order on every path, so every
//! instruction set gives the same bits.

use std::ops::Range;

use super::tiling::{
    combine_rows, load_terms, DownPoints, DownRows, DownWeights, LineMatrix, Tiling, UpPoints,
    MAX_A,
};
use super::{Geometry, TileRow, LANES};
use crate::gemm::Isa;

/// The steps of the transforms, per instruction set. Lines of a tile row are `cols`
/// long (4 on a 7x7 map), too short for loops to vectorise well, so AVX-512 does them
/// with masked moves.
trait Steps {
    /// Line `k` (at `l[k * ld + at..]`, `cols` floats) gets `sum_i B^T[k][i] d_i` of every
    /// tile `j`, where `d_i` is column `2j + i` of the row `src` with `pw` zeros before it
    /// and zeros after (`d B` of every tile's row); zeros for a row in the padding
    /// (`None`). `scratch` holds `2 cols + A - 2` floats.
    #[allow(clippy::too_many_arguments)]
    fn row_transform<T: Tiling>(
        src: Option<&[f32]>,
        pw: usize,
        cols: usize,
        l: &mut [f32],
        ld: usize,
        at: usize,
        scratch: &mut [f32],
    );

    /// `to[dst[k] + j] = sum_i M[k][i] from[src[i] + j]` for `j < len`, over `M`'s rows
    /// and columns: a combination of whole lines.
    fn combine_lines<M: LineMatrix>(
        len: usize,
        from: (&[f32], [usize; MAX_A]),
        to: (&mut [f32], [usize; MAX_A]),
    );

    /// `dst[2j] = sum_k A^T[0][k] s_k[j] + b` and `dst[2j + 1] = sum_k A^T[1][k] s_k[j] + b`
    /// for every tile `j` (lines `s`, `cols` floats each), dropping a last column past
    /// `dst.len()`.
    fn output_row<T: Tiling>(s: [&[f32]; MAX_A], b: f32, dst: &mut [f32]);

    /// `even[j] = src[2j]` and `odd[j] = src[2j + 1]` for every `j < even.len()` (both
    /// lines equally long), zero past `src` or for a row in the padding (`None`).
    fn split_row(src: Option<&[f32]>, even: &mut [f32], odd: &mut [f32]);

    /// Whether the path has [`Steps::row_transform_quad`] (else rows go one by one).
    const QUAD_ROWS: bool = false;

    /// [`Steps::row_transform`] of four rows of four tiles at once, laid out by `quad`
    /// (see [`QuadRows`]): rows 0 and 2 into the even lines of `rt`, rows 1 and 3 into
    /// the odd lines `odd` floats further, each at `at`. Only called where
    /// [`Steps::QUAD_ROWS`] holds.
    fn row_transform_quad<T: Tiling>(
        _plane: &[f32],
        _quad: &QuadRows,
        _rt: &mut [f32],
        _odd: usize,
        _line: usize,
        _at: usize,
    ) {
        unreachable!("a path without QUAD_ROWS has no four-row step")
    }
}

/// Four consecutive rows of a map whose rows hold four tiles (7x7 and 8x8 maps), as 16
/// lanes: lane `4q + j` is tile `j` of row `[0, 2, 1, 3][q]`, so the two even rows' lanes
/// come first and each half is stored as one run of a parity's line. On a 7x7 map the row
/// transform of one row fills 4 of AVX-512's 16 lanes; this fills all 16.
///
/// Where the four rows are at most 32 floats (`w <= 8`: every map of four tiles a row but
/// unpadded ones), they are one window of the plane, two vectors long, and each term is a
/// permutation of those two vectors (`window`); else each term is a gather from the plane.
/// A 16-lane gather costs a load per lane (on Zen 4 it took 19% of dcgan28's G1 forward,
/// a third of the GEMM kernel's time); the window costs two loads per four rows.
pub(super) struct QuadRows {
    /// Index in the plane of lane `l`'s first term, `y * w + 2j - pw` (negative or past
    /// the plane only where `terms` masks the lane off).
    base: [i32; 16],
    /// Per term `i`: the lanes whose `d_i` lies inside the plane (row and column).
    terms: [u16; MAX_A],
    /// `h * w`: the unmasked lanes index below it.
    plane: usize,
    /// The window's first index in the plane, `y0 * w`, and the masks of its two halves'
    /// floats that lie inside the plane; `None` where four rows exceed 32 floats.
    window: Option<(isize, [u16; 2])>,
}

impl QuadRows {
    /// Lane order of the rows: the even rows, then the odd ones.
    const ROWS: [usize; 4] = [0, 2, 1, 3];

    /// Rows `y0 .. y0 + 4` (row `y0 + r` is the plane's row `y0 + r`; outside `0..h` it is
    /// padding) of an `[h, w]` plane with `pw` padding columns, for `a` terms.
    ///
    /// # Panics
    /// If the plane is too large for `i32` indices.
    fn new(y0: isize, [h, w]: [usize; 2], pw: usize, a: usize) -> Self {
        assert!(i32::try_from(h * w).is_ok());
        let (h, w, pw) = (h as isize, w as isize, pw as isize);
        let mut base = [0i32; 16];
        let mut terms = [0u16; MAX_A];
        for (l, b) in base.iter_mut().enumerate() {
            let (y, j) = (y0 + Self::ROWS[l / 4] as isize, (l % 4) as isize);
            *b = (y * w + 2 * j - pw) as i32;
            for (i, mask) in terms.iter_mut().enumerate().take(a) {
                let x = 2 * j + i as isize - pw;
                if (0..h).contains(&y) && (0..w).contains(&x) {
                    *mask |= 1 << l;
                }
            }
        }
        let plane = h * w;
        let window = (4 * w <= 32).then(|| {
            let start = y0 * w;
            let half = |k: isize| -> u16 {
                (0..16)
                    .filter(|&p| (0..plane).contains(&(start + 16 * k + p)))
                    .fold(0, |mask, p| mask | 1 << p)
            };
            (start, [half(0), half(1)])
        });
        QuadRows {
            base,
            terms,
            plane: plane as usize,
            window,
        }
    }
}

/// Loops that any instruction set runs.
struct Loops;

impl Steps for Loops {
    #[inline(always)]
    fn row_transform<T: Tiling>(
        src: Option<&[f32]>,
        pw: usize,
        cols: usize,
        l: &mut [f32],
        ld: usize,
        at: usize,
        scratch: &mut [f32],
    ) {
        let Some(src) = src else {
            for k in 0..T::A {
                l[k * ld + at..][..cols].fill(0.0);
            }
            return;
        };
        // Padded columns 0..2 cols + A - 2 are read: `half` even and `half` odd ones.
        let half = cols + T::A / 2 - 1;
        let (even, odd) = scratch[..2 * half].split_at_mut(half);
        even.fill(0.0);
        odd.fill(0.0);
        // Source column i is padded column pw + i.
        let src = &src[..src.len().min((2 * half).saturating_sub(pw))];
        let skip = pw / 2;
        let (first, second) = if pw.is_multiple_of(2) {
            (&mut even[skip..], &mut odd[skip..])
        } else {
            (&mut odd[skip..], &mut even[skip + 1..])
        };
        let mut pairs = src.chunks_exact(2);
        for ((pair, a), b) in (&mut pairs).zip(first.iter_mut()).zip(second.iter_mut()) {
            *a = pair[0];
            *b = pair[1];
        }
        if let [last] = pairs.remainder() {
            first[src.len() / 2] = *last;
        }
        for j in 0..cols {
            let d = load_terms(T::A, 0.0, |i| match i % 2 {
                0 => even[j + i / 2],
                _ => odd[j + i / 2],
            });
            combine_rows(&T::BT, &d, T::A, |k, v| l[k * ld + at + j] = v);
        }
    }

    #[inline(always)]
    fn combine_lines<M: LineMatrix>(
        len: usize,
        (from, src): (&[f32], [usize; MAX_A]),
        (to, dst): (&mut [f32], [usize; MAX_A]),
    ) {
        for j in 0..len {
            let t = load_terms(M::N, 0.0, |i| from[src[i] + j]);
            combine_rows(&M::M, &t, M::ROWS, |k, v| to[dst[k] + j] = v);
        }
    }

    #[inline(always)]
    fn output_row<T: Tiling>(s: [&[f32]; MAX_A], b: f32, dst: &mut [f32]) {
        let wo = dst.len();
        for j in 0..wo.div_ceil(2) {
            let t = load_terms(T::A, 0.0, |k| s[k][j]);
            combine_rows(&T::AT, &t, 2, |i, v| {
                if 2 * j + i < wo {
                    dst[2 * j + i] = v + b;
                }
            });
        }
    }

    #[inline(always)]
    fn split_row(src: Option<&[f32]>, even: &mut [f32], odd: &mut [f32]) {
        let src = src.unwrap_or(&[]);
        for (j, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
            *e = src.get(2 * j).copied().unwrap_or(0.0);
            *o = src.get(2 * j + 1).copied().unwrap_or(0.0);
        }
    }
}

/// AVX-512: sixteen tiles of a row per step, masked at the row's ends.
#[cfg(target_arch = "x86_64")]
struct Masked;

#[cfg(target_arch = "x86_64")]
impl Steps for Masked {
    #[inline(always)]
    fn row_transform<T: Tiling>(
        src: Option<&[f32]>,
        pw: usize,
        cols: usize,
        l: &mut [f32],
        ld: usize,
        at: usize,
        _: &mut [f32],
    ) {
        // SAFETY: `Masked` is only used by the AVX-512 arms below, on a CPU with AVX-512F.
        unsafe { masked::row_transform::<T>(src, pw, cols, l, ld, at) }
    }

    #[inline(always)]
    fn combine_lines<M: LineMatrix>(
        len: usize,
        from: (&[f32], [usize; MAX_A]),
        to: (&mut [f32], [usize; MAX_A]),
    ) {
        // SAFETY: as above.
        unsafe { masked::combine_lines::<M>(len, from, to) }
    }

    #[inline(always)]
    fn output_row<T: Tiling>(s: [&[f32]; MAX_A], b: f32, dst: &mut [f32]) {
        // SAFETY: as above.
        unsafe { masked::output_row::<T>(s, b, dst) }
    }

    #[inline(always)]
    fn split_row(src: Option<&[f32]>, even: &mut [f32], odd: &mut [f32]) {
        // SAFETY: as above.
        unsafe { masked::split_row(src, even, odd) }
    }

    const QUAD_ROWS: bool = true;

    #[inline(always)]
    fn row_transform_quad<T: Tiling>(
        plane: &[f32],
        quad: &QuadRows,
        rt: &mut [f32],
        odd: usize,
        line: usize,
        at: usize,
    ) {
        // SAFETY: as above.
        unsafe { masked::row_transform_quad::<T>(plane, quad, rt, odd, line, at) }
    }
}

#[cfg(target_arch = "x86_64")]
mod masked {
    use std::arch::x86_64::*;

    use super::super::tiling::{combine_rows, load_terms, Lanes, LineMatrix, Tiling, MAX_A};

    /// Lane indices that pick the even (odd) floats of two vectors, `[a, b]`.
    const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    const ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
    /// Lane indices that interleave two vectors: their first (last) eight pairs.
    const ZIP_LO: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
    const ZIP_HI: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];

    /// An AVX-512 vector, for [`combine_rows`]. Only built inside this module's
    /// `avx512f` functions, into which its methods are inlined.
    #[derive(Clone, Copy)]
    struct V(__m512);

    // SAFETY (every method): a `V` exists only inside the `avx512f` functions below, so
    // the CPU has AVX-512F wherever these run.
    impl Lanes for V {
        #[inline(always)]
        fn add(self, other: V) -> V {
            V(unsafe { _mm512_add_ps(self.0, other.0) })
        }
        #[inline(always)]
        fn sub(self, other: V) -> V {
            V(unsafe { _mm512_sub_ps(self.0, other.0) })
        }
        #[inline(always)]
        fn neg(self) -> V {
            V(unsafe { _mm512_sub_ps(_mm512_setzero_ps(), self.0) })
        }
        #[inline(always)]
        fn scale(self, c: f32) -> V {
            V(unsafe { _mm512_mul_ps(self.0, _mm512_set1_ps(c)) })
        }
    }

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
    pub(super) unsafe fn row_transform<T: Tiling>(
        src: Option<&[f32]>,
        pw: usize,
        cols: usize,
        l: &mut [f32],
        ld: usize,
        at: usize,
    ) {
        let (even, odd) = unsafe {
            (
                _mm512_loadu_si512(EVEN.as_ptr().cast()),
                _mm512_loadu_si512(ODD.as_ptr().cast()),
            )
        };
        assert!(l.len() >= (T::A - 1) * ld + at + cols);
        let out = l.as_mut_ptr();
        for j0 in (0..cols).step_by(16) {
            let keep = first((cols - j0).min(16));
            // SAFETY (stores): the kept lanes j0..j0 + keep are below cols, and line k's
            // columns at..at + cols lie in `l` (asserted above).
            let Some(src) = src else {
                for k in 0..T::A {
                    unsafe {
                        _mm512_mask_storeu_ps(out.add(k * ld + at + j0), keep, _mm512_setzero_ps())
                    };
                }
                continue;
            };
            // Columns 2j + 2s (even) and 2j + 2s + 1 (odd) of 16 tiles j.
            let mut halves = [(_mm512_setzero_ps(), _mm512_setzero_ps()); MAX_A / 2];
            for (s, pair) in halves.iter_mut().enumerate().take(T::A / 2) {
                *pair = unsafe {
                    (
                        load_padded(src, pw, 2 * (j0 + s)),
                        load_padded(src, pw, 2 * (j0 + s) + 16),
                    )
                };
            }
            let d = load_terms(T::A, V(_mm512_setzero_ps()), |i| {
                let (lo, hi) = halves[i / 2];
                V(_mm512_permutex2var_ps(
                    lo,
                    if i % 2 == 0 { even } else { odd },
                    hi,
                ))
            });
            combine_rows(&T::BT, &d, T::A, |k, v| unsafe {
                _mm512_mask_storeu_ps(out.add(k * ld + at + j0), keep, v.0)
            });
        }
    }

    /// [`Steps::row_transform_quad`](super::Steps::row_transform_quad): each term `d_i`
    /// of the 16 lanes is one masked permutation of the four rows' two-vector window, or
    /// where `quad` has none, one masked gather from the plane (zero where `quad` masks
    /// it: padding); then the same `combine_rows` as [`row_transform`], so the same bits.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn row_transform_quad<T: Tiling>(
        plane: &[f32],
        quad: &super::QuadRows,
        rt: &mut [f32],
        odd: usize,
        line: usize,
        at: usize,
    ) {
        // Eight floats at `at` of each of the A lines, of both parities; the plane `quad`
        // was laid out for.
        assert!(rt.len() >= odd + (T::A - 1) * line + at + 8 && plane.len() >= quad.plane);
        let zero = _mm512_setzero_ps();
        // SAFETY: `base` holds 16 i32.
        let base = unsafe { _mm512_loadu_si512(quad.base.as_ptr().cast()) };
        let d = if let Some((start, [lo_mask, hi_mask])) = quad.window {
            // SAFETY: the masks keep the floats of the window inside `plane` (QuadRows::new
            // and the assert above); masked-off lanes are not accessed, so the pointers may
            // lie outside it (wrapping_offset does not dereference).
            let (lo, hi) = unsafe {
                let at = plane.as_ptr().wrapping_offset(start);
                (
                    _mm512_maskz_loadu_ps(lo_mask, at),
                    _mm512_maskz_loadu_ps(hi_mask, at.wrapping_add(16)),
                )
            };
            // Lane l's term i is float `base[l] + i - start` of the window: below 32 for
            // the lanes `terms[i]` keeps (their rows are the window's four, their columns
            // inside the row); the others are zeroed whatever their index.
            let rel = _mm512_sub_epi32(base, _mm512_set1_epi32(start as i32));
            load_terms(T::A, V(zero), |i| {
                let index = _mm512_add_epi32(rel, _mm512_set1_epi32(i as i32));
                V(_mm512_maskz_permutex2var_ps(quad.terms[i], lo, index, hi))
            })
        } else {
            load_terms(T::A, V(zero), |i| {
                let index = _mm512_add_epi32(base, _mm512_set1_epi32(i as i32));
                // SAFETY: the lanes of `terms[i]` index below `quad.plane` (QuadRows::new),
                // inside `plane` (asserted above); the masked-off lanes are not read.
                V(unsafe {
                    _mm512_mask_i32gather_ps::<4>(zero, quad.terms[i], index, plane.as_ptr())
                })
            })
        };
        let out = rt.as_mut_ptr();
        combine_rows(&T::BT, &d, T::A, |k, v| {
            // SAFETY: lanes 0..8 go to floats at .. at + 8 of even line k, lanes 8..16 to
            // those of odd line k (`odd` further): inside `rt` (asserted above). The odd
            // store's pointer is 8 floats early, and its first 8 lanes are masked off.
            unsafe {
                _mm512_mask_storeu_ps(out.add(k * line + at), 0x00ff, v.0);
                _mm512_mask_storeu_ps(out.add(odd + k * line + at).wrapping_sub(8), 0xff00, v.0);
            }
        });
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn split_row(src: Option<&[f32]>, even: &mut [f32], odd: &mut [f32]) {
        let (pick_even, pick_odd) = unsafe {
            (
                _mm512_loadu_si512(EVEN.as_ptr().cast()),
                _mm512_loadu_si512(ODD.as_ptr().cast()),
            )
        };
        let cols = even.len();
        assert!(odd.len() == cols);
        let src = src.unwrap_or(&[]);
        for j0 in (0..cols).step_by(16) {
            let keep = first((cols - j0).min(16));
            let (lo, hi) = unsafe {
                (
                    load_padded(src, 0, 2 * j0),
                    load_padded(src, 0, 2 * j0 + 16),
                )
            };
            // SAFETY: the kept lanes j0 .. j0 + keep are below `cols`, inside both lines.
            unsafe {
                _mm512_mask_storeu_ps(
                    even.as_mut_ptr().add(j0),
                    keep,
                    _mm512_permutex2var_ps(lo, pick_even, hi),
                );
                _mm512_mask_storeu_ps(
                    odd.as_mut_ptr().add(j0),
                    keep,
                    _mm512_permutex2var_ps(lo, pick_odd, hi),
                );
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn combine_lines<M: LineMatrix>(
        len: usize,
        (from, src): (&[f32], [usize; MAX_A]),
        (to, dst): (&mut [f32], [usize; MAX_A]),
    ) {
        let (n, rows) = (M::N, M::ROWS);
        assert!(src[..n].iter().all(|&at| at + len <= from.len()));
        assert!(dst[..rows].iter().all(|&at| at + len <= to.len()));
        let (from, to) = (from.as_ptr(), to.as_mut_ptr());
        for j0 in (0..len).step_by(16) {
            let keep = first((len - j0).min(16));
            // SAFETY: lanes j0..j0 + keep of every line lie in its slice (asserted above).
            let t = load_terms(n, V(_mm512_setzero_ps()), |i| {
                V(unsafe { _mm512_maskz_loadu_ps(keep, from.add(src[i] + j0)) })
            });
            combine_rows(&M::M, &t, rows, |k, v| unsafe {
                _mm512_mask_storeu_ps(to.add(dst[k] + j0), keep, v.0)
            });
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn output_row<T: Tiling>(s: [&[f32]; MAX_A], b: f32, dst: &mut [f32]) {
        let wo = dst.len();
        let cols = wo.div_ceil(2);
        assert!(s[..T::A].iter().all(|line| line.len() >= cols));
        let (lo_pairs, hi_pairs) = unsafe {
            (
                _mm512_loadu_si512(ZIP_LO.as_ptr().cast()),
                _mm512_loadu_si512(ZIP_HI.as_ptr().cast()),
            )
        };
        let bias = V(_mm512_set1_ps(b));
        for j0 in (0..cols).step_by(16) {
            let keep = first((cols - j0).min(16));
            // SAFETY: lanes j0..j0 + keep are below cols <= each line's length.
            let t = load_terms(T::A, V(_mm512_setzero_ps()), |k| {
                V(unsafe { _mm512_maskz_loadu_ps(keep, s[k].as_ptr().add(j0)) })
            });
            let mut pair = [_mm512_setzero_ps(); 2];
            combine_rows(&T::AT, &t, 2, |i, v| pair[i] = v.add(bias).0);
            let [even, odd] = pair;
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
    ($module:ident, $steps:ty, $($feature:literal),*) => {
        mod $module {
            use std::ops::Range;

            use super::{Geometry, TileRow, Tiling};

            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            pub unsafe fn input<T: Tiling>(x: &[f32], g: &Geometry, channels: Range<usize>, rows: &[TileRow], v: &mut [f32], lines: &mut [f32]) {
                super::input_body::<T, $steps>(x, g, channels, rows, v, lines)
            }

            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn output<T: Tiling>(m: &[f32], bias: Option<&[f32]>, out_hw: [usize; 2], cout: usize, rows: &[TileRow], out: &mut [f32], lines: &mut [f32]) {
                super::output_body::<T, $steps>(m, bias, out_hw, cout, rows, out, lines)
            }

            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn output_gradient<T: Tiling>(dy: &[f32], out_hw: [usize; 2], cout: usize, channels: Range<usize>, rows: &[TileRow], dm: &mut [f32], lines: &mut [f32]) {
                super::output_gradient_body::<T, $steps>(dy, out_hw, cout, channels, rows, dm, lines)
            }

            /// # Safety
            /// The CPU must support the enabled features.
            #[target_feature($(enable = $feature),*)]
            pub unsafe fn weight_gradient<T: Tiling>(du: &[f32], filters: usize, first: usize, dw: &mut [f32], lines: &mut [f32]) {
                super::weight_gradient_body::<T, $steps>(du, filters, first, dw, lines)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
compiled_for!(avx512, super::Masked, "avx512f");
#[cfg(target_arch = "x86_64")]
compiled_for!(avx2, super::Loops, "avx2");

/// Floats of scratch lines `input` and `output` need beside `v` and `m`, for a chunk of
/// `rows` tile rows of `cols` tiles each.
pub(super) fn line_floats<T: Tiling>(cols: usize, rows: usize) -> usize {
    let row_transforms = 2 * T::A * (rows + T::A / 2 - 1) * cols;
    let output_lines = 2 * T::A * (rows * cols).next_multiple_of(LANES);
    2 * cols + T::A - 2 + row_transforms.max(output_lines)
}

/// `V = B^T d B` of the input channels `channels` and every tile of a chunk, into
/// `v [points][channels][ld]`.
pub(super) fn input<T: Tiling>(
    isa: Isa,
    x: &[f32],
    g: &Geometry,
    channels: Range<usize>,
    rows: &[TileRow],
    v: &mut [f32],
    lines: &mut [f32],
) {
    match isa {
        // SAFETY: `isa` is supported on this CPU (the packed weights' path, from
        // Isa::active).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::input::<T>(x, g, channels, rows, v, lines) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::input::<T>(x, g, channels, rows, v, lines) },
        _ => input_body::<T, Loops>(x, g, channels, rows, v, lines),
    }
}

/// `Y = A^T M A (+ bias)` of every output channel and tile of a chunk, from
/// `m [points][Cout][ld]` into the task's output `[images][Cout][Ho][Wo]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn output<T: Tiling>(
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
        Isa::Avx512 => unsafe { avx512::output::<T>(m, bias, out_hw, cout, rows, out, lines) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::output::<T>(m, bias, out_hw, cout, rows, out, lines) },
        _ => output_body::<T, Loops>(m, bias, out_hw, cout, rows, out, lines),
    }
}

/// `[f(0), .., f(n - 1), 0, ..]`.
fn offsets(n: usize, f: impl Fn(usize) -> usize) -> [usize; MAX_A] {
    std::array::from_fn(|i| if i < n { f(i) } else { 0 })
}

/// For each run of tile rows of one image and each channel: the row transform of each
/// input row the run reads, once (a tile row reads `A` input rows, and tile rows overlap
/// by `A - 2`), then the same combination down the rows gives `B^T d B`, one line of `v`
/// per point.
///
/// The row transforms are kept by the parity of their row: line `s` of the even (odd)
/// rows holds the rows end to end, `cols` floats each, so the `r`-th input row of every
/// tile row of the run is one contiguous stretch, row `r / 2` onwards of parity `r % 2`,
/// and the step down the rows runs along whole lines.
#[inline(always)]
fn input_body<T: Tiling, S: Steps>(
    x: &[f32],
    g: &Geometry,
    channels: Range<usize>,
    rows: &[TileRow],
    v: &mut [f32],
    lines: &mut [f32],
) {
    let (cin, [h, w], [ph, pw]) = (g.channels, g.in_hw, g.padding);
    let (c0, width) = (channels.start, channels.len());
    let a = T::A;
    let cols = g.out_hw[1].div_ceil(2);
    let ld = (rows.len() * cols).next_multiple_of(LANES);
    let (scratch, rt) = lines.split_at_mut(2 * cols + a - 2);
    let mut first = 0;
    while first < rows.len() {
        let image = rows[first].image;
        let count = rows[first..]
            .iter()
            .take_while(|row| row.image == image)
            .count();
        let top = rows[first].top;
        // Rows of each parity, and floats of one parity's line.
        let half = count + a / 2 - 1;
        let line = half * cols;
        let rt = &mut rt[..2 * a * line];
        // Rows of four tiles go four at a time where the path can (see QuadRows).
        let quads: Vec<QuadRows> = if S::QUAD_ROWS && cols == 4 {
            (0..2 * half / 4)
                .map(|q| QuadRows::new((top + 4 * q) as isize - ph as isize, [h, w], pw, a))
                .collect()
        } else {
            Vec::new()
        };
        for c in channels.clone() {
            let plane = &x[(image * cin + c) * h * w..][..h * w];
            for (q, quad) in quads.iter().enumerate() {
                // Rows 4q .. 4q + 4: rows 0 and 2 at slots 2q and 2q + 1 of the even
                // lines, rows 1 and 3 at the same slots of the odd ones.
                S::row_transform_quad::<T>(plane, quad, rt, a * line, line, 2 * q * cols);
            }
            for yy in 4 * quads.len()..2 * half {
                let src = (top + yy)
                    .checked_sub(ph)
                    .filter(|&y| y < h)
                    .map(|y| &plane[y * w..][..w]);
                let parity = &mut rt[(yy % 2) * a * line..][..a * line];
                S::row_transform::<T>(src, pw, cols, parity, line, (yy / 2) * cols, scratch);
            }
            // Down the rows: point (k, s) of the run's tiles from line s of rows 0..A.
            for s in 0..a {
                S::combine_lines::<DownRows<T>>(
                    count * cols,
                    (
                        rt,
                        offsets(a, |r| (r % 2) * a * line + s * line + (r / 2) * cols),
                    ),
                    (
                        v,
                        offsets(a, |k| ((a * k + s) * width + c - c0) * ld + first * cols),
                    ),
                );
            }
        }
        first += count;
    }
}

/// For each output channel: `A^T M` down the points (two lines per point column, the
/// chunk's tile rows end to end), then along each tile row to the two outputs of each
/// tile ([`Steps::output_row`]).
#[inline(always)]
fn output_body<T: Tiling, S: Steps>(
    m: &[f32],
    bias: Option<&[f32]>,
    [ho, wo]: [usize; 2],
    cout: usize,
    rows: &[TileRow],
    out: &mut [f32],
    lines: &mut [f32],
) {
    let a = T::A;
    let cols = wo.div_ceil(2);
    let len = rows.len() * cols;
    let am = &mut lines[..2 * a * len];
    for o in 0..cout {
        let b = bias.map_or(0.0, |b| b[o]);
        let ld = len.next_multiple_of(LANES);
        // Line (i, s) of `am`: output row i of the tiles' point column s.
        for s in 0..a {
            S::combine_lines::<DownPoints<T>>(
                len,
                (m, offsets(a, |i| ((a * i + s) * cout + o) * ld)),
                (am, offsets(2, |i| (a * i + s) * len)),
            );
        }
        for (q, row) in rows.iter().enumerate() {
            for i in 0..2 {
                let y = row.top + i;
                if y >= ho {
                    break;
                }
                let s: [&[f32]; MAX_A] = std::array::from_fn(|k| match k {
                    _ if k < a => &am[(a * i + k) * len + q * cols..][..cols],
                    _ => &[],
                });
                let dst = &mut out[((row.image * cout + o) * ho + y) * wo..][..wo];
                S::output_row::<T>(s, b, dst);
            }
        }
    }
}

/// Floats of scratch lines [`output_gradient`] needs beside `dm`, for a chunk of `len`
/// tiles.
pub(super) fn output_gradient_floats<T: Tiling>(len: usize) -> usize {
    (4 + 2 * T::A) * len
}

/// `dM = A dY A^T` (the adjoint of [`output`]) of the output channels `channels` and every
/// tile of a chunk, from the output gradient of the chunk's images `[images][Cout][Ho][Wo]`
/// into `dm [points][channels][ld]`; zeros stand for the outputs past the map's edge.
#[allow(clippy::too_many_arguments)]
pub(super) fn output_gradient<T: Tiling>(
    isa: Isa,
    dy: &[f32],
    out_hw: [usize; 2],
    cout: usize,
    channels: Range<usize>,
    rows: &[TileRow],
    dm: &mut [f32],
    lines: &mut [f32],
) {
    match isa {
        // SAFETY: as in `input`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe {
            avx512::output_gradient::<T>(dy, out_hw, cout, channels, rows, dm, lines)
        },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe {
            avx2::output_gradient::<T>(dy, out_hw, cout, channels, rows, dm, lines)
        },
        _ => output_gradient_body::<T, Loops>(dy, out_hw, cout, channels, rows, dm, lines),
    }
}

/// Floats of scratch lines [`weight_gradient`] needs for a block of `len` filters.
pub(super) fn weight_gradient_floats<T: Tiling>(len: usize) -> usize {
    (T::A + T::R) * T::R * len
}

/// `dg = G^T dU G` (the adjoint of the weight transform) of filters `first ..
/// first + dw.len() / r^2`, from `du [points][filters]` into `dw [filters][r][r]`.
pub(super) fn weight_gradient<T: Tiling>(
    isa: Isa,
    du: &[f32],
    filters: usize,
    first: usize,
    dw: &mut [f32],
    lines: &mut [f32],
) {
    match isa {
        // SAFETY: as in `input`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::weight_gradient::<T>(du, filters, first, dw, lines) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::weight_gradient::<T>(du, filters, first, dw, lines) },
        _ => weight_gradient_body::<T, Loops>(du, filters, first, dw, lines),
    }
}

/// For each output channel: the gradient of each tile's 2x2 outputs as four lines over
/// the chunk's tiles (one per output position `(u, v)` in the tile, zero past the map),
/// then `A` down the rows (`R_(i, v) = sum_u A[i][u] dY_(u, v)`) and `A` along them
/// (`dM_(i, j) = sum_v A[j][v] R_(i, v)`), line by line.
#[inline(always)]
fn output_gradient_body<T: Tiling, S: Steps>(
    dy: &[f32],
    [ho, wo]: [usize; 2],
    cout: usize,
    channels: Range<usize>,
    rows: &[TileRow],
    dm: &mut [f32],
    lines: &mut [f32],
) {
    let a = T::A;
    let cols = wo.div_ceil(2);
    let len = rows.len() * cols;
    let ld = len.next_multiple_of(LANES);
    let (c0, width) = (channels.start, channels.len());
    let (corners, r) = lines[..(4 + 2 * a) * len].split_at_mut(4 * len);
    for o in channels {
        // Line 2u + v: output (top + u, 2 j + v) of every tile j.
        for (q, row) in rows.iter().enumerate() {
            for u in 0..2 {
                let y = row.top + u;
                let src = (y < ho).then(|| &dy[((row.image * cout + o) * ho + y) * wo..][..wo]);
                let (even, odd) = corners[2 * u * len..][..2 * len].split_at_mut(len);
                let at = q * cols..(q + 1) * cols;
                S::split_row(src, &mut even[at.clone()], &mut odd[at]);
            }
        }
        for v in 0..2 {
            S::combine_lines::<UpPoints<T>>(
                len,
                (corners, offsets(2, |u| (2 * u + v) * len)),
                (r, offsets(a, |i| (2 * i + v) * len)),
            );
        }
        for i in 0..a {
            S::combine_lines::<UpPoints<T>>(
                len,
                (r, offsets(2, |v| (2 * i + v) * len)),
                (dm, offsets(a, |j| ((a * i + j) * width + o - c0) * ld)),
            );
        }
    }
}

/// `dg = G^T dU G` for a block of filters, vectorised along the filters: `G^T` along
/// each point row (`T_(p, j) = sum_q G[q][j] dU_(p, q)`), then down them (`dg_(i, j) =
/// sum_p G[p][i] T_(p, j)`), then each filter's `r x r` values gathered.
#[inline(always)]
fn weight_gradient_body<T: Tiling, S: Steps>(
    du: &[f32],
    filters: usize,
    first: usize,
    dw: &mut [f32],
    lines: &mut [f32],
) {
    let (a, r) = (T::A, T::R);
    let len = dw.len() / (r * r);
    let (along, down) = lines[..(a + r) * r * len].split_at_mut(a * r * len);
    for p in 0..a {
        S::combine_lines::<DownWeights<T>>(
            len,
            (du, offsets(a, |q| (a * p + q) * filters + first)),
            (along, offsets(r, |j| (r * p + j) * len)),
        );
    }
    for j in 0..r {
        S::combine_lines::<DownWeights<T>>(
            len,
            (along, offsets(a, |p| (r * p + j) * len)),
            (down, offsets(r, |i| (r * i + j) * len)),
        );
    }
    for (tap, line) in down.chunks_exact(len).enumerate() {
        for (f, &value) in line.iter().enumerate() {
            dw[f * r * r + tap] = value;
        }
    }
}
