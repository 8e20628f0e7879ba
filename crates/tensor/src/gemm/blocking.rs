//! Cache blocking: how deep (KC) and how tall (MC) the blocks around the micro-kernel are,
//! chosen from the cache sizes of the machine that runs.
//!
//! BLIS's analysis: the micro-kernel streams an `MR x KC` sliver of packed A against a
//! `KC x NR` sliver of packed B. The B sliver is reused by every A sliver of the block, so
//! it should stay in L1; the `MC x KC` block of A is reused by every B sliver of the row
//! block, so it should stay in L2: `MC * KC * 4` bytes about half of L2.
//!
//! BLIS gives the B sliver about half of L1. Here it gets twice L1 (`KC * NR * 4` = 2 x
//! L1, at most 512 deep): every K block beyond the first re-reads and re-writes each tile of
//! C, and those passes cost more than the B sliver's spill from L1 to L2, which the L2 feeds
//! at the kernel's pace.
//! - On the Xeon (48 KiB L1, 2026-12-06, interleaved criterion runs, 2 threads) KC 384
//!   instead of 192 made dcgan28's G1 forward and input gradient (K = 256, one block instead
//!   of two) ~25% faster and its training step 216-221 -> 186-196 ms.
//! - On the Zen 4 (32 KiB L1, 2026-12-07, 2 threads) KC 512 instead of 256, alternated in
//!   one process: 1024^3 10.6 -> 10.2 ms, 512^3 within 1%. The runs products of the lanes,
//!   whose K blocks hold only the taps that land inside the input (a quarter of a stride-2
//!   transposed layer's), gained most: dcgan28's G2 forward 6.49-6.52 -> 6.13-6.21 ms, the
//!   default discriminator's second input gradient 1.41-1.42 -> 1.25 ms; their conv2d 0-2%;
//!   3x3 and one-channel layers unchanged. dcgan28's training step, three rounds of
//!   criterion runs alternated by process: 145-161 -> 132-150 ms. KC 768 measured the same
//!   as 512.
//!
//! KC does not show in the results: every K block after the first goes on from the sums the
//! one before stored in C, so each element is one chain of FMAs over all of K (see
//! `driver.rs`). It depends on the machine (its L1 size) and the shape, never on the thread
//! count.

use std::sync::OnceLock;

/// Data-cache sizes in bytes of one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// Level-1 data cache.
    pub l1d: usize,
    /// Level-2 (unified) cache.
    pub l2: usize,
}

/// Used when the operating system does not say: 32 KiB L1d and 1 MiB L2 are at or below
/// every x86 core of the last decade, so blocks sized for them are never too big.
const FALLBACK: CacheSizes = CacheSizes {
    l1d: 32 << 10,
    l2: 1 << 20,
};

impl CacheSizes {
    /// This machine's caches, read once from Linux's sysfs
    /// (`/sys/devices/system/cpu/cpu0/cache`); 32 KiB / 1 MiB where it is not available.
    ///
    /// ```
    /// let c = agon_tensor::gemm::CacheSizes::detected();
    /// assert!(c.l1d >= 4096 && c.l2 >= c.l1d);
    /// ```
    pub fn detected() -> CacheSizes {
        static SIZES: OnceLock<CacheSizes> = OnceLock::new();
        *SIZES.get_or_init(|| read_sysfs().unwrap_or(FALLBACK))
    }
}

/// Parses sysfs sizes such as `48K`, `2048K` or `2M`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = digits.parse().ok()?;
    match unit {
        "" => Some(n),
        "K" => n.checked_mul(1 << 10),
        "M" => n.checked_mul(1 << 20),
        _ => None,
    }
}

fn read_sysfs() -> Option<CacheSizes> {
    let (mut l1d, mut l2) = (None, None);
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let Some(level) = read("level") else { break };
        let kind = read("type").unwrap_or_default();
        let size = read("size").and_then(|s| parse_size(&s));
        match (level.trim(), kind.trim()) {
            ("1", "Data") => l1d = size,
            ("2", "Unified") => l2 = size,
            _ => {}
        }
    }
    // Sanity bounds: a misreported size must not produce absurd blocks.
    let l1d = l1d?.clamp(8 << 10, 1 << 20);
    let l2 = l2?.clamp(128 << 10, 64 << 20);
    Some(CacheSizes { l1d, l2 })
}

/// Block sizes for one micro-kernel shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// Depth of a K block (multiple of 8).
    pub kc: usize,
    /// Rows of an A block (multiple of MR).
    pub mc: usize,
}

impl Blocking {
    /// Blocking for an `mr x nr` micro-kernel on caches `c`.
    pub fn new(c: CacheSizes, mr: usize, nr: usize) -> Blocking {
        // Twice L1 for the B sliver (see the module docs); 128..512 keeps the kernel's
        // loop long enough to hide its set-up and C's read-modify-write, without making
        // KC blocks so deep that the A block shrinks below a few slivers.
        let kc = (2 * c.l1d / (nr * 4)).clamp(128, 512) / 8 * 8;
        // Half of L2 for the A block, at least 4 slivers.
        let mc = (c.l2 / 2 / (kc * 4)).clamp(4 * mr, 4096) / mr * mr;
        Blocking { kc, mc }
    }

    /// The K blocks' depth for a product with inner size `k`: the blocks are made even
    /// (e.g. 1024 = 4 x 256, not 5 x 192 + 64) so that none is a short, inefficient one.
    pub fn kc_for(&self, k: usize) -> usize {
        let blocks = k.div_ceil(self.kc).max(1);
        k.div_ceil(blocks).div_ceil(8) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn blocks_fit_their_caches() {
        let c = CacheSizes {
            l1d: 48 << 10,
            l2: 2 << 20,
        };
        let b = Blocking::new(c, 12, 32);
        assert_eq!(b.kc, 512);
        assert!(b.kc * 32 * 4 <= 2 * c.l1d);
        let zen4 = CacheSizes {
            l1d: 32 << 10,
            l2: 1 << 20,
        };
        assert_eq!(Blocking::new(zen4, 12, 32).kc, 512);
        let small_l1 = CacheSizes {
            l1d: 16 << 10,
            ..zen4
        };
        assert_eq!(Blocking::new(small_l1, 12, 32).kc, 256);
        assert!(b.mc.is_multiple_of(12) && b.mc * b.kc * 4 <= c.l2 / 2);
        // Even K blocks, each at most kc deep.
        for k in [1, 7, 192, 193, 384, 385, 512, 513, 1024, 1600] {
            let kc = b.kc_for(k);
            assert!(kc <= b.kc.max(8) && kc.is_multiple_of(8), "k {k}: kc {kc}");
            assert!(k.div_ceil(kc) <= k.div_ceil(b.kc), "k {k}: kc {kc}");
        }
    }
}
