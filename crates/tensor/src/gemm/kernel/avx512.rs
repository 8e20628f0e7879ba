//! The AVX-512F micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators.
//!
//! Per step `p` of the inner product it loads one 32-wide row of the B sliver (two zmm
//! registers), broadcasts each of the 12 values of A's column, and issues 24 FMAs. Why
//! 12 x 32: 24 accumulators + 2 B registers + 1 broadcast = 27 of the 32 zmm registers,
//! and 24 independent FMA chains cover the FMA latency (4 cycles) times the two FMA ports
//! (8 in flight) three times over; the 14 loads per 24 FMAs stay under the two load ports'
//! rate. A taller tile (14 rows) leaves no register for a second broadcast in flight, a
//! shorter one (8) does more loads per FMA; measured on a Xeon (AVX-512) 12 rows was
//! fastest (BENCHMARKS.md).

use std::arch::x86_64::*;

use super::{load_scalar, store_scalar, KRun, MicroKernel};

/// The AVX-512F 12 x 32 kernel.
pub(in crate::gemm) struct Avx512;

const MR: usize = 12;
const NR: usize = 32;

impl MicroKernel for Avx512 {
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
        // Edge tiles with few rows (the last sliver of a 32- or 64-row C: 8 or 4 rows) run
        // a kernel with only that many accumulator rows instead of 12 rows of which some
        // multiply A's zero padding: 11% fewer FMAs on those products. Every element of C
        // sees the same FMAs in the same order, so the bits do not change.
        // SAFETY: the caller guarantees AVX-512F and the pointer contract of `tile`; each
        // variant reads the first R <= MR values of every MR-wide step of A.
        unsafe {
            match m {
                0..=4 => tile_avx512::<4>(kc, a, b, c, rs_c, cs_c, m, n, alpha, beta, chain),
                5..=8 => tile_avx512::<8>(kc, a, b, c, rs_c, cs_c, m, n, alpha, beta, chain),
                _ => tile_avx512::<MR>(kc, a, b, c, rs_c, cs_c, m, n, alpha, beta, chain),
            }
        }
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
        // SAFETY: forwarded from the caller; each variant has at least m rows (as `tile`).
        unsafe {
            match m {
                0..=4 => tile_runs_avx512::<4>(runs, a, c, rs_c, m, chain),
                5..=8 => tile_runs_avx512::<8>(runs, a, c, rs_c, m, chain),
                _ => tile_runs_avx512::<MR>(runs, a, c, rs_c, m, chain),
            }
        }
    }

    /// By [`transpose_rows`]: the 12 rows into columns of 12. The scalar loop it replaced
    /// kept the 12 row pointers on the stack and moved one float per load-store pair; at
    /// 1024^3 (one thread, Xeon) packing A went from 3.6% of the product's time to 2.5%,
    /// the rest being the wait for A's rows to arrive.
    #[inline]
    unsafe fn pack_rows(base: *const f32, rs: usize, depth: usize, dst: &mut [f32]) {
        assert!(dst.len() >= depth * MR, "a sliver of {depth} x {MR} floats");
        // SAFETY: forwarded from the caller (AVX-512F present, rows readable); dst holds
        // depth * MR floats (checked above).
        unsafe { transpose_rows::<MR>(base, rs, MR, depth, dst.as_mut_ptr(), MR) }
    }
}

/// `dst[p * ld + i] = base[i * rs + p]` for the first `rows <= ROWS <= 16` rows and
/// `p < depth`, by 16 x 16 register transposes: 16 columns of the rows are loaded as
/// `rows` vectors (zero vectors complete the square), transposed, and stored as 16
/// columns of `rows` with masked stores. `ROWS` bounds the work at compile time.
///
/// The transpose in four rounds of shuffles: `unpacklo/hi_ps` interleave row pairs,
/// `shuffle_ps` completes 4 x 4 transposes inside each 128-bit lane (vector `4q + c` then
/// holds column `4L + c` of rows `4q .. 4q + 4` in lane `L`), and two rounds of
/// `shuffle_f32x4` transpose the 4 x 4 grid of 128-bit lanes.
///
/// # Safety
/// AVX-512F is present; rows `i < rows` at `base + i * rs` have `depth` readable floats;
/// `dst + p * ld` has `rows` writable floats for every `p < depth`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose_rows<const ROWS: usize>(
    base: *const f32,
    rs: usize,
    rows: usize,
    depth: usize,
    dst: *mut f32,
    ld: usize,
) {
    const { assert!(ROWS <= 16) };
    let zero = _mm512_setzero_ps();
    let store_mask = lanes(rows.min(ROWS));
    let mut p = 0;
    while p < depth {
        let cols = (depth - p).min(16);
        let mask = lanes(cols);
        let mut r = [zero; 16];
        for (i, v) in r.iter_mut().enumerate().take(ROWS) {
            if i < rows {
                // SAFETY: row i < rows, columns p .. p + cols <= depth; masked-off lanes
                // are not read, so they cannot fault.
                *v = unsafe { _mm512_maskz_loadu_ps(mask, base.add(i * rs + p)) };
            }
        }
        // Quads of zero rows stay zero through the in-lane rounds, which skip them.
        let mut u = [zero; 16];
        for q in 0..ROWS.div_ceil(4) {
            let t0 = _mm512_unpacklo_ps(r[4 * q], r[4 * q + 1]);
            let t1 = _mm512_unpackhi_ps(r[4 * q], r[4 * q + 1]);
            let t2 = _mm512_unpacklo_ps(r[4 * q + 2], r[4 * q + 3]);
            let t3 = _mm512_unpackhi_ps(r[4 * q + 2], r[4 * q + 3]);
            u[4 * q] = _mm512_shuffle_ps::<0x44>(t0, t2);
            u[4 * q + 1] = _mm512_shuffle_ps::<0xEE>(t0, t2);
            u[4 * q + 2] = _mm512_shuffle_ps::<0x44>(t1, t3);
            u[4 * q + 3] = _mm512_shuffle_ps::<0xEE>(t1, t3);
        }
        for c in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
            let v1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
            let v2 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
            let v3 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
            let columns = [
                _mm512_shuffle_f32x4::<0x88>(v0, v2),
                _mm512_shuffle_f32x4::<0xDD>(v0, v2),
                _mm512_shuffle_f32x4::<0x88>(v1, v3),
                _mm512_shuffle_f32x4::<0xDD>(v1, v3),
            ];
            for (lane, v) in columns.into_iter().enumerate() {
                let j = 4 * lane + c;
                if j < cols {
                    // SAFETY: column p + j < depth: its `rows` floats lie inside dst.
                    unsafe { _mm512_mask_storeu_ps(dst.add((p + j) * ld), store_mask, v) };
                }
            }
        }
        p += 16;
    }
}

/// Lane mask selecting the first `n` (clamped to 0..=16) of 16 lanes.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx512<const R: usize>(
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
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    if chain {
        // The sum goes on from C (module docs of `kernel`); rows past m stay zero.
        if cs_c == 1 {
            let masks = [lanes(n), lanes(n.saturating_sub(16))];
            for (i, row) in acc.iter_mut().enumerate().take(m) {
                for (half, &mask) in masks.iter().enumerate() {
                    // SAFETY: lanes selected by `mask` are columns < n of row i < m, inside
                    // the caller's window; masked-off lanes are not read.
                    row[half] = unsafe { _mm512_maskz_loadu_ps(mask, c.add(i * rs_c + half * 16)) };
                }
            }
        } else {
            let mut tile = [0.0f32; MR * NR];
            // SAFETY: forwarded from the caller; `tile` holds MR >= m rows of NR.
            unsafe { load_scalar(&mut tile, NR, c, rs_c, cs_c, m, n) };
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: `tile` has MR * NR >= R * NR floats; row i's 32 are at i * NR.
                unsafe {
                    row[0] = _mm512_loadu_ps(tile.as_ptr().add(i * NR));
                    row[1] = _mm512_loadu_ps(tile.as_ptr().add(i * NR + 16));
                }
            }
        }
    }
    // A chained tile is stored as it stands (C is already in it).
    let (alpha, beta) = if chain { (1.0, 0.0) } else { (alpha, beta) };
    // SAFETY: the caller provides kc steps of A and B.
    acc = unsafe { accumulate(acc, kc, a, b, NR) };
    let alpha_v = _mm512_set1_ps(alpha);
    if cs_c == 1 {
        // Rows of C are contiguous: masked vector stores cover full and edge tiles alike
        // (masked-off lanes are neither read nor written, so they cannot fault).
        let beta_v = _mm512_set1_ps(beta);
        let masks = [lanes(n), lanes(n.saturating_sub(16))];
        for (i, row) in acc.iter().enumerate().take(m) {
            for (half, &mask) in masks.iter().enumerate() {
                // SAFETY: lanes selected by `mask` are columns < n of row i < m, inside
                // the window the caller vouches for.
                unsafe {
                    let dst = c.add(i * rs_c + half * 16);
                    let mut v = _mm512_mul_ps(alpha_v, row[half]);
                    if beta != 0.0 {
                        v = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mask, dst), v);
                    }
                    _mm512_mask_storeu_ps(dst, mask, v);
                }
            }
        }
    } else {
        let mut tile = [0.0f32; MR * NR];
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: `tile` has MR * NR >= R * NR floats; row i's 32 go to i * NR.
            unsafe {
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR + 16), row[1]);
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { store_scalar(&tile, NR, c, rs_c, cs_c, m, n, alpha, beta) };
    }
}

/// One step of the inner product at A column `a` (the first R of its MR values) and B row
/// `b`: `acc[i] += a[i] * b[0..NR]`.
///
/// # Safety
/// AVX-512F is present (the caller is compiled for it); `a` has R and `b` NR readable floats.
#[inline(always)]
unsafe fn step<const R: usize>(acc: &mut [[__m512; 2]; R], a: *const f32, b: *const f32) {
    // SAFETY: the caller provides these R + NR floats.
    unsafe {
        let b0 = _mm512_loadu_ps(b);
        let b1 = _mm512_loadu_ps(b.add(16));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm512_set1_ps(*a.add(i));
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
    }
}

/// `kc` steps of the inner product from A column `a` and B row `b` on, B's rows `ldb`
/// floats apart (the accumulators
/// pass by value, so that they stay in registers across a caller's loop): A's columns are MR
/// apart, B's rows NR.
///
/// # Safety
/// AVX-512F is present; `a` has `kc * MR` readable floats, and `b` `kc` rows of NR
/// readable floats, `ldb` apart.
#[inline(always)]
unsafe fn accumulate<const R: usize>(
    mut acc: [[__m512; 2]; R],
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
) -> [[__m512; 2]; R] {
    let (mut a, mut b) = (a, b);
    // Unrolled by 4: the loop's pointer and counter updates run on the same ports as the
    // FMAs, so doing them once per 96 FMAs instead of once per 24 frees FMA slots.
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

/// [`MicroKernel::tile_runs`] with R accumulator rows.
///
/// # Safety
/// As [`MicroKernel::tile_runs`], with AVX-512F present and `m <= R`.
#[target_feature(enable = "avx512f")]
unsafe fn tile_runs_avx512<const R: usize>(
    runs: &[KRun<'_>],
    a: *const f32,
    c: *mut f32,
    rs_c: usize,
    m: usize,
    chain: bool,
) {
    // Every row is loaded and stored under a lane mask (all lanes for rows below m, none
    // past them) rather than behind a branch: the loops then unroll completely and the
    // accumulators stay in registers from the first load to the last store. With a test
    // and `break`, or `take(m)`, they lived on the stack: zeroed by a memset per call and
    // stored and reloaded around every run (1.4% of dcgan28's step in the memset alone).
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    if chain {
        for (i, row) in acc.iter_mut().enumerate() {
            let live = if i < m { 0xffff } else { 0 };
            let at = c.wrapping_add(i * rs_c);
            // SAFETY: for rows i < m the lanes are the caller's m x NR window of C; for the
            // others no lane is selected, and masked-off lanes are neither read nor fault.
            unsafe {
                row[0] = _mm512_maskz_loadu_ps(live, at);
                row[1] = _mm512_maskz_loadu_ps(live, at.wrapping_add(16));
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
        let live = if i < m { 0xffff } else { 0 };
        let at = c.wrapping_add(i * rs_c);
        // SAFETY: as for the loads: rows past m select no lane, so nothing is written.
        unsafe {
            _mm512_mask_storeu_ps(at, live, row[0]);
            _mm512_mask_storeu_ps(at.wrapping_add(16), live, row[1]);
        }
    }
}

/// `C = A @ B` for one `m x NR` tile (`m <= R`) whose B row `k` is the NR floats at
/// `b + offsets[k]`, read where they lie, and whose two 16-lane halves of each row go to
/// separate places: row `i`'s lanes `0..16` to `c[0] + i * rs` under `masks[0]`, its lanes
/// `16..32` to `c[1] + i * rs` under `masks[1]` (a mask may select no lane). With `bias`
/// non-null, `bias[i]` is added to row `i` after the sum, as the GEMM's row-bias epilogue
/// does. Each element is one chain of FMAs over `k` in order from zero, as [`tile_avx512`]
/// computes it from a packed sliver of the same rows.
///
/// # Safety
/// AVX-512F is present; `a` holds `offsets.len()` steps of MR floats (a packed sliver);
/// every `b + offsets[k]` has NR readable floats; `bias`, when non-null, has `m` readable
/// floats; for `i < m`, the lanes each mask selects at `c[h] + i * rs` are valid, writable
/// floats that no other thread touches during the call.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(in crate::gemm) unsafe fn tile_taps_avx512<const R: usize>(
    offsets: &[usize],
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: [*mut f32; 2],
    masks: [__mmask16; 2],
    rs: usize,
    m: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let mut a = a;
    // Unrolled by 4, as `accumulate`: the offsets' loads and the pointer updates share
    // ports with the FMAs.
    let mut quads = offsets.chunks_exact(4);
    for q in &mut quads {
        // SAFETY: four steps of A remain (one per offset) and each offset's B row is
        // readable (the caller's contract).
        unsafe {
            step(&mut acc, a, b.add(q[0]));
            step(&mut acc, a.add(MR), b.add(q[1]));
            step(&mut acc, a.add(2 * MR), b.add(q[2]));
            step(&mut acc, a.add(3 * MR), b.add(q[3]));
            a = a.add(4 * MR);
        }
    }
    for &o in quads.remainder() {
        // SAFETY: as above, one step.
        unsafe {
            step(&mut acc, a, b.add(o));
            a = a.add(MR);
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // Rows past m select no lane (as in `tile_runs_avx512`: no branch, so the
        // accumulators stay in registers).
        let live = if i < m { [masks[0], masks[1]] } else { [0, 0] };
        let (mut lo, mut hi) = (row[0], row[1]);
        if !bias.is_null() && i < m {
            // SAFETY: i < m, and bias has m floats (caller).
            let bi = _mm512_set1_ps(unsafe { *bias.add(i) });
            lo = _mm512_add_ps(lo, bi);
            hi = _mm512_add_ps(hi, bi);
        }
        // SAFETY: the selected lanes are the caller's; masked-off lanes are not written.
        unsafe {
            _mm512_mask_storeu_ps(c[0].wrapping_add(i * rs), live[0], lo);
            _mm512_mask_storeu_ps(c[1].wrapping_add(i * rs), live[1], hi);
        }
    }
}
