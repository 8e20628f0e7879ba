//! conv2d of few input channels on output rows of up to 16 pixels (a discriminator's first
//! layer, 1 channel of 28x28 to 14x14): the GEMM computed on a grid of 16-float rows, its B
//! read straight from the padded image and its C stored row by row under masks.
//!
//! The padded image is stored as its stride phases ([`WideRows`]) with each phase row
//! rounded up to a whole number of 16-float vectors (`row`), the columns past the plane's
//! width zero. Output row `oy` is then `row / 16` vectors of the wide grid, and for every
//! tap, the 32 wide columns from `32 u` on are 32 consecutive floats of its phase: the B
//! rows of tile `u` are read where they lie ([`TapTiles`]), with no packing. Each 16-lane
//! half of a tile is (a piece of) one output row, stored under a mask into the dense output
//! `[Cout, Ho, Wo]`: the junk columns `Wo .. row` are computed but never written.
//!
//! Against the packed implicit GEMM over the phases (`phase_patches`) this trades the
//! packing of every tap's row of each panel (12% of D1's forward on two Zen 4 threads) for
//! the junk lanes' FMAs (`1 - Wo / row`: 1/8 for 14 of 16), so it applies only where that
//! share is at most 1/8. The values are the same: each element is one chain of FMAs over
//! the taps in order from zero, on this kernel as on the packed one, and the bias is added
//! after it, as the GEMM's epilogue adds it. Only AVX-512 has the kernel; the AVX2 path
//! keeps the packed product.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::im2col::{with_scratch, Geometry};
use super::wide_rows::WideRows;
use crate::gemm::{Half, Isa, MatRef, PackedA, TapTiles, TILE_LANES};

/// Floats of a vector: the rows of the grid are multiples of it.
const VECTOR: usize = 16;

/// Most taps (input channels x kernel taps): with more, A's sliver and a tile's B rows
/// (12 and 32 floats a tap) outgrow L1, which the packed GEMM's K blocks keep them in.
const MAX_TAPS: usize = 128;

/// The phase rows rounded up to whole vectors.
fn aligned_row(g: &Geometry) -> usize {
    WideRows::new(g).wq.next_multiple_of(VECTOR)
}

/// Whether conv2d of `g` takes this route on `isa`: the path has the kernel, there are at
/// most [`MAX_TAPS`] taps, and the junk columns are at most 1/8 of the grid.
pub(super) fn applies(isa: Isa, g: &Geometry) -> bool {
    TapTiles::supports(isa) && g.rows() <= MAX_TAPS && 8 * g.out_hw[1] >= 7 * aligned_row(g)
}

/// `out [N, Cout, Ho*Wo] = conv2d(x, w) (+ bias)`, every element written, in parallel over
/// images. `g` must satisfy [`applies`] on the active path.
pub(super) fn conv2d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    cout: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let row = aligned_row(g);
    let wide = WideRows::new(g).with_row_stride(row);
    let offsets = wide.tap_bases();
    let packed = PackedA::new_on(Isa::Avx512, MatRef::row_major(w, cout, g.rows()));
    let tiles = TapTiles::new(&packed, &offsets, bias);
    let [ho, wo] = g.out_hw;
    let positions = ho * wo;
    let count = (ho * row).div_ceil(TILE_LANES);
    // The last tile's B rows may reach past the padded image (junk lanes only).
    let scratch = wide
        .padded_len()
        .max((count - 1) * TILE_LANES + tiles.reach());
    let image = g.channels * g.in_hw[0] * g.in_hw[1];
    // Where half h of tile u goes: the wide columns 32 u + 16 h .. + 16 are part of output
    // row oy from column ox, of which the first Wo - ox are pixels.
    let halves: Vec<[Half; 2]> = (0..count)
        .map(|u| {
            [0, 1].map(|h| {
                let at = u * TILE_LANES + h * VECTOR;
                let (oy, ox) = (at / row, at % row);
                let lanes = if oy < ho {
                    wo.saturating_sub(ox).min(VECTOR)
                } else {
                    0
                };
                let at = if lanes > 0 { oy * wo + ox } else { 0 };
                Half { at, lanes }
            })
        })
        .collect();
    out.par_chunks_mut(cout * positions)
        .zip(x.par_chunks(image))
        .for_each(|(out_b, x_b)| {
            with_scratch(scratch, |padded| {
                wide.pad(x_b, g.padding, padded);
                for (u, &halves) in halves.iter().enumerate() {
                    tiles.run(padded, u * TILE_LANES, halves, positions, out_b);
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::super::conv2d::conv2d_phases;
    use super::super::test_geometry as geometry;
    use super::super::{test_values as values, written_in_full};
    use super::*;

    /// The discriminators' first layers take the route, D2 (7 of 16 columns) and layers of
    /// many channels do not.
    #[test]
    fn routes_the_thin_layers_only() {
        let isa = Isa::Avx512;
        if !TapTiles::supports(isa) {
            return;
        }
        assert!(applies(isa, &geometry(1, 28, 5, 2, 2)));
        assert!(applies(isa, &geometry(1, 28, 4, 2, 1)));
        assert!(applies(isa, &geometry(3, 28, 4, 2, 1)));
        assert!(!applies(isa, &geometry(64, 14, 5, 2, 2)));
        assert!(!applies(isa, &geometry(8, 28, 5, 2, 2)));
        assert!(!applies(Isa::Avx2, &geometry(1, 28, 5, 2, 2)));
    }

    /// Against conv2d's packed implicit GEMM over the phases (the route it replaces, and
    /// the AVX2 path's): the same values, with and without bias, where a grid row is one
    /// vector (two output rows a tile), two (one), four (half a row a tile), on an odd
    /// number of output rows (a last tile with one half), and with 3 input channels.
    #[test]
    fn equals_the_packed_product() {
        if !TapTiles::supports(Isa::Avx512) {
            return;
        }
        let cases = [
            (1, 28, 64, 5, 2, 2),
            (1, 28, 32, 4, 2, 1),
            (2, 14, 13, 3, 1, 1),
            (1, 56, 9, 4, 2, 1),
            (1, 60, 5, 3, 1, 0),
            (1, 29, 7, 3, 2, 1),
            (3, 28, 20, 4, 2, 1),
        ];
        for (cin, hw, cout, k, s, p) in cases {
            let g = geometry(cin, hw, k, s, p);
            assert!(applies(Isa::Avx512, &g), "{cin}x{hw} k{k} s{s} p{p}");
            let n = 3;
            let x = values(n * cin * hw * hw, 7);
            let w = values(cout * cin * k * k, 8);
            let bias = values(cout, 9);
            let len = n * cout * g.positions();
            for bias in [None, Some(&bias[..])] {
                // SAFETY: `conv2d` writes every element (its docs).
                let got = unsafe { written_in_full(len, |o| conv2d(&x, &w, bias, &g, cout, o)) };
                // SAFETY: as above, for the packed route.
                let want =
                    unsafe { written_in_full(len, |o| conv2d_phases(&x, &w, bias, &g, cout, o)) };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(
                    bits(&got) == bits(&want),
                    "{cin}x{hw} k{k} s{s} p{p} -> {cout}, bias {}",
                    bias.is_some()
                );
            }
        }
    }
}
