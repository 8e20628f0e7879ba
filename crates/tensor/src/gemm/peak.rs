//! A pure FMA-throughput loop per ISA path: the machine's practical peak, against which
//! GEMM rates are reported as a share (BENCHMARKS.md). It keeps as many independent
//! accumulator chains in registers as the path's GEMM kernel (24 zmm, 12 ymm: 3x and 1.5x
//! the 8 needed to cover two FMA ports of latency 4), so neither latency nor memory limits
//! it; only the FMA ports do.

use super::Isa;

/// Independent accumulator chains in the AVX-512 loop (of 32 zmm registers).
const CHAINS_512: usize = 24;
/// Independent accumulator chains in the AVX2 loop (of 16 ymm registers).
const CHAINS_256: usize = 12;

/// Floating-point operations one call of [`fma_peak_loop`] performs on `isa`
/// (`iterations * chains * lanes * 2`); 0 for the portable path, which has no such loop.
///
/// ```
/// use agon_tensor::gemm::{fma_peak_flops, Isa};
/// assert_eq!(fma_peak_flops(Isa::Avx512, 10), 10 * 24 * 16 * 2);
/// ```
pub fn fma_peak_flops(isa: Isa, iterations: usize) -> u64 {
    let lanes = match isa {
        Isa::Avx512 => 16 * CHAINS_512,
        Isa::Avx2 => 8 * CHAINS_256,
        Isa::Portable => 0,
    };
    (iterations * lanes * 2) as u64
}

/// Runs `iterations` rounds of independent vector FMAs on `isa` (or the best supported
/// path below it) and returns a value that depends on all of them (so the loop cannot be
/// optimised away). The portable path does nothing and returns 0.
///
/// ```
/// use agon_tensor::gemm::{fma_peak_loop, Isa};
/// let x = fma_peak_loop(Isa::active(), 1000);
/// assert!(x.is_finite());
/// ```
pub fn fma_peak_loop(isa: Isa, iterations: usize) -> f32 {
    match isa.or_supported_below() {
        // SAFETY: `or_supported_below` returned a path this CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::avx512(iterations) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::avx2(iterations) },
        _ => 0.0,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHAINS_256, CHAINS_512};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(iterations: usize) -> f32 {
        // x <- x * m + tiny with m = 1 hidden from the optimiser: stays finite and normal for
        // any iteration count. Chains start apart so they cannot be merged into one.
        let m = std::hint::black_box(1.0f32);
        let (mul, add) = (_mm512_set1_ps(m), _mm512_set1_ps(1e-9));
        let mut acc: [__m512; CHAINS_512] = std::array::from_fn(|i| _mm512_set1_ps(i as f32));
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, mul, add);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for a in acc {
            sum = _mm512_add_ps(sum, a);
        }
        _mm512_reduce_add_ps(sum)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(iterations: usize) -> f32 {
        let m = std::hint::black_box(1.0f32);
        let (mul, add) = (_mm256_set1_ps(m), _mm256_set1_ps(1e-9));
        let mut acc: [__m256; CHAINS_256] = std::array::from_fn(|i| _mm256_set1_ps(i as f32));
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, mul, add);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for a in acc {
            sum = _mm256_add_ps(sum, a);
        }
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }
}
