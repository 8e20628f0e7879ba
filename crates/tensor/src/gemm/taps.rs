//! Tiles of `C = A @ B` whose B rows are read where they lie, at a table of offsets, and
//! whose rows of C are stored in two masked halves: the kernel of a convolution computed
//! on a grid of 16-float output rows (`conv/aligned_rows.rs`).
//!
//! One tile is all of A's rows (a layer's output channels) by the kernel's 32 columns. Its
//! B row `k` is the 32 floats at `b[base + offsets[k]..]`: a tap of the kernel, read
//! straight from the padded image (no packing). Lanes `0..16` and `16..32` of each row of
//! C are stored under masks at two places of the output, so a half can be one output row
//! of at most 16 pixels, its junk lanes never written.
//!
//! Only the AVX-512 path has this kernel ([`TapTiles::supports`]); elsewhere the caller
//! takes the packed product of the same rows, which gives the same values: each element is
//! one chain of FMAs over K in order, from zero, on every in-house kernel.

use std::mem::MaybeUninit;

use super::{Isa, PackedA};

/// The lanes of a tile: the AVX-512 kernel's NR.
pub(crate) const TILE_LANES: usize = 32;

/// Where one 16-lane half of every row of a tile goes: row `i`'s lanes to
/// `out[at + i * rs..][..lanes]`; `lanes == 0` stores nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Half {
    pub at: usize,
    pub lanes: usize,
}

/// A's rows with B's row offsets and an optional bias per row of C (see the module docs).
pub(crate) struct TapTiles<'a> {
    a: &'a PackedA,
    offsets: &'a [usize],
    bias: Option<&'a [f32]>,
    /// The furthest float past `base` that a tile reads.
    reach: usize,
}

impl<'a> TapTiles<'a> {
    /// Whether `isa` has the kernel.
    pub(crate) fn supports(isa: Isa) -> bool {
        isa == Isa::Avx512 && isa.is_supported()
    }

    /// The tiles of `a` (packed for AVX-512) with B row `k` at offset `offsets[k]`.
    ///
    /// # Panics
    /// If `a` is not packed for AVX-512, if `offsets` does not have one entry per column of
    /// `a`, or if `bias` does not have one per row.
    #[track_caller]
    pub(crate) fn new(a: &'a PackedA, offsets: &'a [usize], bias: Option<&'a [f32]>) -> Self {
        let [rows, cols] = a.dims();
        assert!(
            Self::supports(a.isa()),
            "tap tiles: A packed for {}",
            a.isa().name()
        );
        assert_eq!(offsets.len(), cols, "tap tiles: one offset per column of A");
        assert!(
            bias.is_none_or(|b| b.len() == rows),
            "tap tiles: one bias per row of A"
        );
        let reach = offsets.iter().max().map_or(0, |&o| o + TILE_LANES);
        TapTiles {
            a,
            offsets,
            bias,
            reach,
        }
    }

    /// Floats of `b` past `base` that [`TapTiles::run`] reads.
    pub(crate) fn reach(&self) -> usize {
        self.reach
    }

    /// Computes the tile whose B rows are at `b[base + offsets[k]..]` and stores its halves
    /// ([`Half`]) into `out`, rows of C `rs` apart.
    ///
    /// # Panics
    /// If a B row or a stored lane lies outside `b` or `out`, or a half has over 16 lanes.
    #[track_caller]
    pub(crate) fn run(
        &self,
        b: &[f32],
        base: usize,
        halves: [Half; 2],
        rs: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let [rows, _] = self.a.dims();
        if rows == 0 {
            return;
        }
        assert!(
            base + self.reach <= b.len(),
            "tap tiles: B rows reach {} past {base}, beyond {} floats",
            self.reach,
            b.len()
        );
        for h in halves {
            assert!(
                h.lanes <= 16 && (h.lanes == 0 || h.at + (rows - 1) * rs + h.lanes <= out.len()),
                "tap tiles: {h:?} with rows {rs} apart outside {} floats",
                out.len()
            );
        }
        #[cfg(target_arch = "x86_64")]
        {
            use super::kernel::avx512::{tile_taps_avx512, Avx512};
            use super::kernel::MicroKernel;
            let mask = |lanes: usize| ((1u32 << lanes) - 1) as u16;
            let masks = [mask(halves[0].lanes), mask(halves[1].lanes)];
            let k = self.offsets.len();
            let slivers = self.a.slivers();
            let out_ptr = out.as_mut_ptr().cast::<f32>();
            let c = halves.map(|h| out_ptr.wrapping_add(h.at));
            // SAFETY: base + offsets[k] + 32 <= b.len() for every k (checked above).
            let b = unsafe { b.as_ptr().add(base) };
            for (s, r0) in (0..rows).step_by(Avx512::MR).enumerate() {
                let m = Avx512::MR.min(rows - r0);
                let a = slivers.data[s * k * Avx512::MR..].as_ptr();
                let bias = self
                    .bias
                    .map_or(std::ptr::null(), |bias| bias[r0..].as_ptr());
                let c = c.map(|p| p.wrapping_add(r0 * rs));
                // SAFETY: AVX-512F is present (`new` checked the packing's path, which
                // `PackedA` only picks where the CPU has it); sliver s holds k steps of MR
                // floats; every B row lies in `b` (checked above); the bias has m floats
                // from r0; the selected lanes of rows r0 .. r0 + m lie in `out` (checked
                // above for every row of A), which this call borrows uniquely.
                unsafe {
                    match m {
                        0..=4 => tile_taps_avx512::<4>(self.offsets, a, b, bias, c, masks, rs, m),
                        5..=8 => tile_taps_avx512::<8>(self.offsets, a, b, bias, c, masks, rs, m),
                        _ => tile_taps_avx512::<12>(self.offsets, a, b, bias, c, masks, rs, m),
                    }
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("`new` accepts only AVX-512 packings");
    }
}
