//! The AVX2 + FMA micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators.
//!
//! The shape of BLIS's Haswell kernel: 12 accumulators + 2 B registers + 1 broadcast = 15
//! of the 16 ymm registers; 12 independent FMA chains exceed the 8 needed to cover two FMA
//! ports of latency 4-5, and 8 loads per 12 FMAs fit two load ports.

use std::arch::x86_64::*;

use super::{load_scalar, store_scalar, KRun, MicroKernel};

/// The AVX2 + FMA 6 x 16 kernel.
pub(in crate::gemm) struct Avx2;

const MR: usize = 6;
const NR: usize = 16;

impl MicroKernel for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;

    #[inline]
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        rs_c: usize,
        cs_c: usize,
        m: usize,
        n: usize,
        alpha: f32,
        beta: f32,
        chain: bool,
    ) {
        // SAFETY: the caller guarantees AVX2 + FMA and the pointer contract of `tile`.
        unsafe { tile_avx2(kc, a, b, c, rs_c, cs_c, m, n, alpha, beta, chain) }
    }

    #[inline]
    unsafe fn tile_runs(
        runs: &[KRun<'_>],
        a: *const f32,
        c: *mut f32,
        rs_c: usize,
        m: usize,
        chain: bool,
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { tile_runs_avx2(runs, a, c, rs_c, m, chain) }
    }
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx2(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    rs_c: usize,
    cs_c: usize,
    m: usize,
    n: usize,
    alpha: f32,
    beta: f32,
    chain: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    if chain {
        // The sum goes on from C (module docs of `kernel`); rows past m stay zero.
        if cs_c == 1 && n == NR {
            for (i, row) in acc.iter_mut().enumerate().take(m) {
                for (half, v) in row.iter_mut().enumerate() {
                    // SAFETY: columns 8 * half .. 8 * half + 8 < NR = n of row i < m are in
                    // the caller's window.
                    *v = unsafe { _mm256_loadu_ps(c.add(i * rs_c + half * 8)) };
                }
            }
        } else {
            let mut tile = [0.0f32; MR * NR];
            // SAFETY: forwarded from the caller; `tile` holds MR >= m rows of NR.
            unsafe { load_scalar(&mut tile, NR, c, rs_c, cs_c, m, n) };
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: `tile` has MR * NR floats; row i's 16 are at i * NR.
                unsafe {
                    row[0] = _mm256_loadu_ps(tile.as_ptr().add(i * NR));
                    row[1] = _mm256_loadu_ps(tile.as_ptr().add(i * NR + 8));
                }
            }
        }
    }
    // A chained tile is stored as it stands (C is already in it).
    let (alpha, beta) = if chain { (1.0, 0.0) } else { (alpha, beta) };
    // SAFETY: the caller provides kc steps of A and B.
    acc = unsafe { accumulate(acc, kc, a, b, NR) };
    let alpha_v = _mm256_set1_ps(alpha);
    if cs_c == 1 && n == NR {
        // Full-width rows of contiguous C: plain vector loads and stores.
        let beta_v = _mm256_set1_ps(beta);
        for (i, row) in acc.iter().enumerate().take(m) {
            for (half, &v) in row.iter().enumerate() {
                // SAFETY: columns 8 * half .. 8 * half + 8 < NR = n of row i < m are in the
                // caller's window.
                unsafe {
                    let dst = c.add(i * rs_c + half * 8);
                    let mut v = _mm256_mul_ps(alpha_v, v);
                    if beta != 0.0 {
                        v = _mm256_fmadd_ps(beta_v, _mm256_loadu_ps(dst), v);
                    }
                    _mm256_storeu_ps(dst, v);
                }
            }
        }
    } else {
        let mut tile = [0.0f32; MR * NR];
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: `tile` has MR * NR floats; row i's 16 go to i * NR.
            unsafe {
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR + 8), row[1]);
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { store_scalar(&tile, NR, c, rs_c, cs_c, m, n, alpha, beta) };
    }
}

/// One step of the inner product at A column `a` and B row `b`: `acc[i] += a[i] * b[0..NR]`.
///
/// # Safety
/// AVX2 and FMA are present (the caller is compiled for them); `a` has MR and `b` NR
/// readable floats.
#[inline(always)]
unsafe fn step(acc: &mut [[__m256; 2]; MR], a: *const f32, b: *const f32) {
    // SAFETY: the caller provides these MR + NR floats.
    unsafe {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm256_broadcast_ss(&*a.add(i));
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
    }
}

/// `kc` steps of the inner product from A column `a` and B row `b` on, B's rows `ldb`
/// floats apart (the accumulators
/// pass by value, so that they stay in registers across a caller's loop).
///
/// # Safety
/// AVX2 and FMA are present; `a` has `kc * MR` readable floats, and `b` `kc` rows of NR
/// readable floats, `ldb` apart.
#[inline(always)]
unsafe fn accumulate(
    mut acc: [[__m256; 2]; MR],
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
) -> [[__m256; 2]; MR] {
    let (mut a, mut b) = (a, b);
    // Unrolled by 4, as the AVX-512 kernel: loop bookkeeping once per 48 FMAs.
    let mut left = kc;
    while left >= 4 {
        // SAFETY: at least 4 steps of A (4 * MR floats) and B (4 rows) remain.
        unsafe {
            step(&mut acc, a, b);
            step(&mut acc, a.add(MR), b.add(ldb));
            step(&mut acc, a.add(2 * MR), b.add(2 * ldb));
            step(&mut acc, a.add(3 * MR), b.add(3 * ldb));
            a = a.add(4 * MR);
            b = b.add(4 * ldb);
        }
        left -= 4;
    }
    for _ in 0..left {
        // SAFETY: one more step of A and B remains.
        unsafe {
            step(&mut acc, a, b);
            a = a.add(MR);
            b = b.add(ldb);
        }
    }
    acc
}

/// [`MicroKernel::tile_runs`] on AVX2 + FMA.
///
/// # Safety
/// As [`MicroKernel::tile_runs`], with AVX2 and FMA present.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_runs_avx2(
    runs: &[KRun<'_>],
    a: *const f32,
    c: *mut f32,
    rs_c: usize,
    m: usize,
    chain: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    // Loops over every row with a test, not `take(m)`: a constant trip count unrolls, so the
    // accumulators stay in registers across the runs instead of living on the stack.
    if chain {
        for (i, row) in acc.iter_mut().enumerate() {
            if i >= m {
                break;
            }
            // SAFETY: row i < m of the caller's m x NR window of C.
            unsafe {
                row[0] = _mm256_loadu_ps(c.add(i * rs_c));
                row[1] = _mm256_loadu_ps(c.add(i * rs_c + 8));
            }
        }
    }
    for run in runs {
        // SAFETY: the caller vouches for A's columns run.k .. run.k + run.len; the run's
        // `len` rows of NR floats, `stride` apart, lie in `run.data` (checked by the driver).
        acc = unsafe {
            accumulate(
                acc,
                run.len,
                a.add(run.k * MR),
                run.data.as_ptr(),
                run.stride,
            )
        };
    }
    for (i, row) in acc.iter().enumerate() {
        if i >= m {
            break;
        }
        // SAFETY: row i < m of the caller's m x NR window of C.
        unsafe {
            _mm256_storeu_ps(c.add(i * rs_c), row[0]);
            _mm256_storeu_ps(c.add(i * rs_c + 8), row[1]);
        }
    }
}
