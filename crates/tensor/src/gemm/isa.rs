//! Which instruction-set path runs the GEMM, chosen at run time.
//!
//! Machines change between sessions (AVX2-only AMD EPYC, AVX-512 Intel Xeon), so nothing is
//! chosen at compile time: the binary carries every kernel and asks the CPU
//! (`is_x86_feature_detected!`) once. The environment variable `AGON_GEMM_ISA`
//! (`avx512`, `avx2` or `portable`) forces a lower path, so one machine's CI can run the
//! whole test suite, or a benchmark, on each of them. A request for a path the CPU lacks
//! falls back to the best path it has: forcing never reaches an illegal instruction.

use std::sync::OnceLock;

/// The environment variable that forces a GEMM path (`avx512`, `avx2` or `portable`).
pub const ISA_ENV: &str = "AGON_GEMM_ISA";

/// An instruction-set path of the GEMM.
///
/// ```
/// use agon_tensor::gemm::Isa;
/// let active = Isa::active();
/// assert!(active.is_supported());
/// assert!(Isa::supported().contains(&Isa::Portable));
/// println!("sgemm runs on the {} path", active.name());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Agon's 12x32 AVX-512F micro-kernel (two zmm registers per row of C).
    Avx512,
    /// Agon's 6x16 AVX2 + FMA micro-kernel (two ymm registers per row of C).
    Avx2,
    /// The matrixmultiply crate, for CPUs with neither (and the reference the in-house
    /// kernels are benchmarked against).
    Portable,
}

impl Isa {
    /// Every path, best first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The lower-case name `AGON_GEMM_ISA` accepts and benchmarks print.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// Parses a name as [`Isa::name`] prints it (case-insensitive).
    ///
    /// ```
    /// use agon_tensor::gemm::Isa;
    /// assert_eq!(Isa::parse("AVX2"), Some(Isa::Avx2));
    /// assert_eq!(Isa::parse("sse"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The paths this CPU can run, best first (always ends with [`Isa::Portable`]).
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The best path this CPU supports, ignoring `AGON_GEMM_ISA`.
    pub fn detected() -> Isa {
        Isa::supported()[0]
    }

    /// The path [`sgemm`](super::sgemm) and every kernel built on it use: `AGON_GEMM_ISA`
    /// when it names a supported path, otherwise the best one this CPU has. Decided once
    /// per process.
    pub fn active() -> Isa {
        static ACTIVE: OnceLock<Isa> = OnceLock::new();
        *ACTIVE.get_or_init(|| resolve(std::env::var(ISA_ENV).ok().as_deref()))
    }

    /// `self` if the CPU supports it, else the best supported path below it.
    pub fn or_supported_below(self) -> Isa {
        Isa::ALL
            .into_iter()
            .skip_while(|&i| i != self)
            .find(|i| i.is_supported())
            .unwrap_or(Isa::Portable)
    }
}

/// The path for a value of `AGON_GEMM_ISA` (`None`: unset). An unknown name is reported once
/// on stderr and ignored, so a typo cannot silently benchmark the wrong kernel.
fn resolve(requested: Option<&str>) -> Isa {
    match requested.filter(|s| !s.trim().is_empty()) {
        None => Isa::detected(),
        Some(name) => match Isa::parse(name) {
            Some(isa) => isa.or_supported_below(),
            None => {
                eprintln!(
                    "agon: {ISA_ENV}={name:?} is not one of avx512, avx2, portable; using {}",
                    Isa::detected().name()
                );
                Isa::detected()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_picks_the_named_path_or_the_best_below_it() {
        assert_eq!(resolve(None), Isa::detected());
        assert_eq!(resolve(Some("")), Isa::detected());
        assert_eq!(resolve(Some("portable")), Isa::Portable);
        assert_eq!(resolve(Some("bogus")), Isa::detected());
        let avx2 = resolve(Some("avx2"));
        assert!(avx2 == Isa::Avx2 || avx2 == Isa::Portable);
        assert!(avx2.is_supported());
        assert!(resolve(Some("avx512")).is_supported());
    }
}
