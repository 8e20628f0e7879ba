//! The transforms, vectorised along tile rows. They only add and subtract, in the same
//! order on every path, so every instruction set gives the same bits.

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
