//! A's slivers packed into memory the caller lends (a thread's scratch), from rows that a
//! closure writes: the operand of the runs product ([`super::runs`]).
//!
//! The convolutions that take that product reorder their A first (the lanes' weights as
//! `[output][tap][channel]`, the weight gradient's output gradient as `[output][pixel]
//! [image]`). Reordering all of A into one buffer and then packing it into a fresh
//! [`super::PackedA`] passed over A three times through memory, and zero-filled and
//! page-faulted the packed buffer on every call: 0.8 MB each for dcgan28's second
//! discriminator layer, about 4% of its forward on two Zen 4 threads. Here each task
//! stages one sliver's `MR` rows in its thread's scratch (tens of KiB, in L2), packs them
//! at once, and writes the sliver into the lent memory.

use rayon::prelude::*;

use super::driver::Slivers;
use super::kernel::MicroKernel;
use super::pack::{with_scratch, A_SCRATCH};
use super::Isa;

/// Packed A (`rows x cols`) for an in-house kernel, in borrowed memory.
#[derive(Clone, Copy)]
pub(crate) struct PackedView<'a> {
    pub(super) isa: Isa,
    rows: usize,
    cols: usize,
    data: &'a [f32],
}

impl PackedView<'_> {
    /// `[rows, cols]` of the packed matrix.
    pub(crate) fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The slivers, `MR` rows each over all of K.
    pub(super) fn slivers(&self) -> Slivers<'_> {
        Slivers {
            data: self.data,
            k: self.cols,
            mr: self
                .isa
                .micro_rows()
                .expect("a view is packed for an in-house kernel"),
        }
    }
}

/// Floats of `dst` that [`pack_rows_with`] needs for a `rows x cols` matrix on `isa`, or
/// `None` where `isa` has no in-house kernel.
pub(crate) fn packed_len(isa: Isa, rows: usize, cols: usize) -> Option<usize> {
    isa.micro_rows().map(|mr| rows.div_ceil(mr) * mr * cols)
}

/// Packs the `rows x cols` matrix whose row `i` is what `row(i, dst)` writes into its
/// `cols`-float `dst` (every element), sliver by sliver in parallel, into the front of
/// `dst`. Rows past the last of a sliver are zero. The packing is a copy, so the slivers
/// hold the same values as `PackedA::new_on(isa, ..)` of the same matrix.
///
/// # Panics
/// If `isa` has no in-house kernel or this CPU does not support it, or if `dst` is shorter
/// than [`packed_len`].
pub(crate) fn pack_rows_with<'d>(
    isa: Isa,
    [rows, cols]: [usize; 2],
    dst: &'d mut [f32],
    row: impl Fn(usize, &mut [f32]) + Sync,
) -> PackedView<'d> {
    assert!(isa.is_supported(), "{} is not supported here", isa.name());
    let len = packed_len(isa, rows, cols).expect("packing slivers needs an in-house kernel");
    assert!(dst.len() >= len, "{} floats lent for {len}", dst.len());
    let dst = &mut dst[..len];
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the instruction set is supported (asserted above).
        Isa::Avx512 => unsafe { pack_on::<super::kernel::avx512::Avx512>(rows, cols, dst, &row) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { pack_on::<super::kernel::avx2::Avx2>(rows, cols, dst, &row) },
        _ => unreachable!("packed_len returned a length, so the path has a kernel"),
    }
    PackedView {
        isa,
        rows,
        cols,
        data: dst,
    }
}

/// Packs the `rows x (inner * outer)` matrix `A[r][i * outer + o] = w[r * row_stride + o *
/// outer_stride + i]` into the front of `dst`: the same floats in the same places as
/// [`pack_rows_with`] given those rows, zeros past the last row.
///
/// That is a convolution's weight with K reordered to run over taps, then channels (`i` a
/// tap, `o` a channel; the lanes' A). On AVX-512 each channel's `[rows][taps]` block of a
/// sliver is one register transpose ([`transpose_rows`](super::kernel::avx512)) straight to
/// its place in the sliver: one pass over the weights, where [`pack_rows_with`] transposes
/// every row into its staging buffer and then the staged sliver again. Alternated in one
/// process (dcgan28's second discriminator layer forward, 2 Zen 4 threads, medians): 5.14
/// -> 5.10 ms and 5.21 -> 5.15 ms, the same bits. Other paths take [`pack_rows_with`].
///
/// # Panics
/// As [`pack_rows_with`], and if `w` is too short for the strides.
pub(crate) fn pack_interleaved<'d>(
    isa: Isa,
    w: &[f32],
    [rows, outer, inner]: [usize; 3],
    [row_stride, outer_stride]: [usize; 2],
    dst: &'d mut [f32],
) -> PackedView<'d> {
    let cols = outer * inner;
    if rows > 0 && cols > 0 {
        assert!(
            (rows - 1) * row_stride + (outer - 1) * outer_stride + inner <= w.len(),
            "pack_interleaved: {} floats for {rows} rows of {outer} x {inner}",
            w.len()
        );
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        assert!(isa.is_supported(), "{} is not supported here", isa.name());
        return pack_interleaved_avx512(w, [rows, outer, inner], [row_stride, outer_stride], dst);
    }
    pack_rows_with(isa, [rows, cols], dst, |r, row| {
        super::pack::transpose_into(
            isa,
            (&w[r * row_stride..], outer_stride),
            [outer, inner],
            (row, outer),
        );
    })
}

/// [`pack_interleaved`] on AVX-512, which the caller checked is supported and `w` long
/// enough.
#[cfg(target_arch = "x86_64")]
fn pack_interleaved_avx512<'d>(
    w: &[f32],
    [rows, outer, inner]: [usize; 3],
    [row_stride, outer_stride]: [usize; 2],
    dst: &'d mut [f32],
) -> PackedView<'d> {
    use super::kernel::avx512::{transpose_rows, Avx512};
    const MR: usize = <Avx512 as MicroKernel>::MR;
    let cols = outer * inner;
    let len = packed_len(Isa::Avx512, rows, cols).expect("AVX-512 has a kernel");
    assert!(dst.len() >= len, "{} floats lent for {len}", dst.len());
    let dst = &mut dst[..len];
    if cols > 0 {
        dst.par_chunks_mut(MR * cols)
            .enumerate()
            .for_each(|(s, sliver)| {
                let r0 = s * MR;
                let live = MR.min(rows - r0);
                if live < MR {
                    // The transposes write only the live rows' lanes.
                    sliver.fill(0.0);
                }
                for o in 0..outer {
                    // SAFETY: AVX-512F is supported (the caller checked); rows r0 .. r0 +
                    // live of w have `inner` floats from `o * outer_stride` (the caller
                    // checked w's length); column i goes to the `live` floats at
                    // `(i * outer + o) * MR` of the sliver, inside its `cols * MR`.
                    unsafe {
                        transpose_rows::<MR>(
                            w.as_ptr().add(r0 * row_stride + o * outer_stride),
                            row_stride,
                            live,
                            inner,
                            sliver.as_mut_ptr().add(o * MR),
                            outer * MR,
                        );
                    }
                }
            });
    }
    PackedView {
        isa: Isa::Avx512,
        rows,
        cols,
        data: dst,
    }
}

/// [`pack_rows_with`] for kernel `K`.
///
/// # Safety
/// `K`'s instruction set is supported by this CPU.
unsafe fn pack_on<K: MicroKernel>(
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    row: &(impl Fn(usize, &mut [f32]) + Sync),
) {
    if cols == 0 {
        return;
    }
    dst.par_chunks_mut(K::MR * cols)
        .enumerate()
        .for_each(|(s, sliver)| {
            with_scratch(&A_SCRATCH, K::MR * cols, |stage| {
                let r0 = s * K::MR;
                let live = K::MR.min(rows - r0);
                for (i, dst) in stage.chunks_exact_mut(cols).enumerate() {
                    if i < live {
                        row(r0 + i, dst);
                    } else {
                        dst.fill(0.0);
                    }
                }
                // SAFETY: the caller vouches for K's instruction set; `stage` holds MR rows
                // of `cols` floats and `sliver` MR * cols floats.
                unsafe { K::pack_rows(stage.as_ptr(), cols, cols, sliver) };
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::{MatRef, PackedA};

    /// The same slivers as `PackedA`, for heights around the kernel's MR and a zero width.
    #[test]
    fn packs_as_packed_a_does() {
        for isa in Isa::supported() {
            if isa.micro_rows().is_none() {
                continue;
            }
            for (rows, cols) in [(1, 1), (5, 17), (12, 40), (13, 3), (31, 100), (4, 0)] {
                let a: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 3.0).collect();
                let want = PackedA::new_on(isa, MatRef::row_major(&a, rows, cols));
                let mut dst = vec![f32::NAN; packed_len(isa, rows, cols).unwrap() + 3];
                let got = pack_rows_with(isa, [rows, cols], &mut dst, |i, d| {
                    d.copy_from_slice(&a[i * cols..(i + 1) * cols]);
                });
                assert_eq!(got.dims(), [rows, cols]);
                let (g, w) = (got.slivers(), want.slivers());
                assert_eq!(g.data.len(), w.data.len(), "{isa:?} {rows}x{cols}");
                for (i, (x, y)) in g.data.iter().zip(w.data).enumerate() {
                    assert_eq!(x.to_bits(), y.to_bits(), "{isa:?} {rows}x{cols}: {i}");
                }
            }
        }
    }

    /// A weight `[rows][outer][inner]` (and one with rows and outer swapped in memory, as
    /// conv_transpose2d's) packed with K as `[inner][outer]` gives `PackedA`'s slivers of
    /// that reordered matrix, on every path, for heights around MR and sizes that leave
    /// partial 16-float transposes; the floats past the packed length are left alone.
    #[test]
    fn interleaved_packs_the_reordered_matrix() {
        for isa in Isa::supported() {
            if isa.micro_rows().is_none() {
                continue;
            }
            for (rows, outer, inner) in [
                (1, 1, 1),
                (5, 3, 25),
                (12, 16, 9),
                (13, 17, 16),
                (40, 20, 33),
                (3, 0, 4),
            ] {
                for rows_first in [true, false] {
                    let w: Vec<f32> = (0..rows * outer * inner)
                        .map(|i| i as f32 * 0.25 - 7.0)
                        .collect();
                    let (row_stride, outer_stride) = if rows_first {
                        (outer * inner, inner)
                    } else {
                        (inner, rows * inner)
                    };
                    let cols = outer * inner;
                    let reordered: Vec<f32> = (0..rows * cols)
                        .map(|f| {
                            let (r, i, o) = (f / cols, f % cols / outer, f % outer);
                            w[r * row_stride + o * outer_stride + i]
                        })
                        .collect();
                    let want = PackedA::new_on(isa, MatRef::row_major(&reordered, rows, cols));
                    let len = packed_len(isa, rows, cols).unwrap();
                    let mut dst = vec![f32::NAN; len + 3];
                    let got = pack_interleaved(
                        isa,
                        &w,
                        [rows, outer, inner],
                        [row_stride, outer_stride],
                        &mut dst,
                    );
                    let what = format!("{isa:?} {rows}x{outer}x{inner} rows_first {rows_first}");
                    assert_eq!(got.dims(), [rows, cols], "{what}");
                    let (g, w) = (got.slivers(), want.slivers());
                    assert_eq!(g.data.len(), w.data.len(), "{what}");
                    for (i, (x, y)) in g.data.iter().zip(w.data).enumerate() {
                        assert_eq!(x.to_bits(), y.to_bits(), "{what}: {i}");
                    }
                    assert!(
                        dst[len..].iter().all(|v| v.is_nan()),
                        "{what}: wrote past the end"
                    );
                }
            }
        }
    }
}
