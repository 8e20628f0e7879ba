//! col2im of whole small images by output rows: each pixel's terms summed in registers,
//! sixteen pixels of a row's stride phase at a time, instead of scattered one by one.
//!
//! col2im adds column `(oy, ox)` of row `(c, ki, kj)` onto pixel `(oy*sh + ki - ph,
//! ox*sw + kj - pw)` of channel `c`. Turned around: pixel `(y, x)` receives from the taps
//! `ki ≡ y + ph (mod sh)` and `kj ≡ x + pw (mod sw)`, column `((y + ph - ki)/sh, (x + pw -
//! kj)/sw)`. Along the pixels `x = b + sw*m` of one phase `b` of a row, a tap's columns
//! are consecutive (`ox = m + (b + pw - kj)/sw`), so each tap is one masked load, and its
//! term one masked add. Each pixel starts from its value in the image and receives its
//! terms in increasing tap order, as the scatter adds them: the same bits.
//!
//! On dcgan28's G2 (128 -> 64 channels, 7x7 -> 14x14, a 5x5 stride-2 transposed
//! convolution; the input gradient of its D2 has the same shape) the scalar scatter was
//! 27.5% of the layer's time against the GEMM kernel's 65% (one thread, Xeon, `perf
//! record`); this path is 18% against 73%, the col2im about 40% faster. An AVX-512
//! gather-and-scatter version of the scatter was no faster than the scalar one (29%), and
//! a first version of this one that divided by the strides per pixel row, 45%.

use super::im2col::Geometry;
use crate::gemm::Isa;

/// Whether [`col2im_rows`] handles `g`: no dilation, and each stride phase of a row fits
/// one vector.
pub(crate) fn applies(g: &Geometry) -> bool {
    g.dilation == [1, 1]
        && g.in_hw[1].div_ceil(g.stride[1]) <= 16
        && Isa::active() == Isa::Avx512
        && g.channels > 0
}

/// `img [C, H, W] += col2im(cols)` for all of `g.positions()` columns of each row of
/// `cols` (`C * kh * kw` rows, `ld` apart), where [`applies`] holds.
///
/// # Panics
/// If `cols` or `img` is too short.
pub(crate) fn col2im_rows(cols: &[f32], ld: usize, g: &Geometry, img: &mut [f32]) {
    assert!(applies(g));
    let [h, w] = g.in_hw;
    let rows = g.rows();
    assert!(img.len() >= g.channels * h * w, "img holds the channels");
    assert!(
        ld >= g.positions() && cols.len() >= (rows - 1) * ld + g.positions(),
        "cols holds its rows"
    );
    // SAFETY: AVX-512F is present (`applies` checked `Isa::active`); the slices were
    // checked above.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        avx512::col2im_rows(cols, ld, g, img)
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::Geometry;

    /// The first `n` of 16 lanes.
    fn lanes(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }

    /// A tap of a row's stride phase: column `kj` of the kernel, the lanes it reaches and
    /// the column of lane 0 relative to the output row (`ox = m + shift`).
    struct ColumnTap {
        kj: usize,
        keep: __mmask16,
        shift: isize,
    }

    /// # Safety
    /// AVX-512F is present; `cols` has `g.rows()` rows of `g.positions()` floats `ld`
    /// apart, `img` has `g.channels` planes of `H * W` floats.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn col2im_rows(cols: &[f32], ld: usize, g: &Geometry, img: &mut [f32]) {
        let ([h, w], [kh, kw], [sh, sw], [ph, pw], [ho, wo]) =
            (g.in_hw, g.kernel, g.stride, g.padding, g.out_hw);
        // The taps of each image row (kernel row ki, output row oy), in increasing ki, and
        // of each column phase b, in increasing kj: the same for every channel.
        let row_taps: Vec<Vec<(usize, usize)>> = (0..h)
            .map(|y| {
                (0..kh)
                    .filter_map(|ki| {
                        let dy = (y + ph).checked_sub(ki)?;
                        (dy % sh == 0 && dy / sh < ho).then_some((ki, dy / sh))
                    })
                    .collect()
            })
            .collect();
        let column_taps: Vec<Vec<ColumnTap>> = (0..sw.min(w))
            .map(|b| {
                let count = (w - b).div_ceil(sw);
                (0..kw)
                    .filter_map(|kj| {
                        let dx = (b + pw) as isize - kj as isize;
                        if dx.rem_euclid(sw as isize) != 0 {
                            return None;
                        }
                        let shift = dx.div_euclid(sw as isize);
                        // Lanes m with 0 <= m + shift < wo and m < count.
                        let lo = (-shift).clamp(0, 16) as usize;
                        let hi = (wo as isize - shift).clamp(0, count as isize) as usize;
                        (lo < hi).then(|| ColumnTap {
                            kj,
                            keep: lanes(hi) & !lanes(lo),
                            shift,
                        })
                    })
                    .collect()
            })
            .collect();
        // The sum of one phase's pixels: its values in `acc`, plus every tap's terms.
        let add_taps = |c: usize, row_taps: &[(usize, usize)], column_taps: &[ColumnTap], acc| {
            let mut acc = acc;
            for &(ki, oy) in row_taps {
                let first = (c * kh + ki) * kw;
                for tap in column_taps {
                    let at = ((first + tap.kj) * ld + oy * wo) as isize + tap.shift;
                    // SAFETY: the kept lanes m read column oy * wo + m + shift of row
                    // (c, ki, kj), inside the row's `ho * wo` columns (0 <= m + shift < wo,
                    // oy < ho), which lie inside `cols` (caller); the other lanes are not
                    // read (and cannot fault), so the pointer may point before the row
                    // (wrapping_offset).
                    let v = unsafe {
                        _mm512_maskz_loadu_ps(tap.keep, cols.as_ptr().wrapping_offset(at))
                    };
                    // Masked: a pixel without this tap keeps its bits (adding 0.0 would
                    // turn a -0.0 into 0.0).
                    acc = _mm512_mask_add_ps(acc, tap.keep, acc, v);
                }
            }
            acc
        };
        if sw == 2 && (2..=32).contains(&w) {
            // Both phases of a row from two loads, split by permutes and joined again:
            // the common stride-2 layers without a scalar pass over the row.
            let idx = |f: fn(i32) -> i32| -> __m512i {
                let v: [i32; 16] = std::array::from_fn(|i| f(i as i32));
                // SAFETY: 16 i32s.
                unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
            };
            let (even, odd) = (idx(|i| 2 * i), idx(|i| 2 * i + 1));
            let (zip_lo, zip_hi) = (
                idx(|i| i / 2 + 16 * (i % 2)),
                idx(|i| 8 + i / 2 + 16 * (i % 2)),
            );
            let (mask_lo, mask_hi) = (lanes(w), lanes(w.saturating_sub(16)));
            let [taps_even, taps_odd] = [&column_taps[0], &column_taps[1]];
            for c in 0..g.channels {
                for (y, row_taps) in row_taps.iter().enumerate() {
                    let at = img[(c * h + y) * w..][..w].as_mut_ptr();
                    // SAFETY: lanes below w of the row (masked), inside `img`.
                    let (lo, hi) = unsafe {
                        (
                            _mm512_maskz_loadu_ps(mask_lo, at),
                            _mm512_maskz_loadu_ps(mask_hi, at.add(16)),
                        )
                    };
                    let sum_even =
                        add_taps(c, row_taps, taps_even, _mm512_permutex2var_ps(lo, even, hi));
                    let sum_odd =
                        add_taps(c, row_taps, taps_odd, _mm512_permutex2var_ps(lo, odd, hi));
                    // SAFETY: as above.
                    unsafe {
                        let lo = _mm512_permutex2var_ps(sum_even, zip_lo, sum_odd);
                        let hi = _mm512_permutex2var_ps(sum_even, zip_hi, sum_odd);
                        _mm512_mask_storeu_ps(at, mask_lo, lo);
                        _mm512_mask_storeu_ps(at.add(16), mask_hi, hi);
                    }
                }
            }
            return;
        }
        let mut phase = [0.0f32; 16];
        for c in 0..g.channels {
            for (y, row_taps) in row_taps.iter().enumerate() {
                let pixels = &mut img[(c * h + y) * w..][..w];
                for (b, column_taps) in column_taps.iter().enumerate() {
                    let count = (w - b).div_ceil(sw);
                    for (m, v) in phase.iter_mut().enumerate().take(count) {
                        *v = pixels[b + sw * m];
                    }
                    // SAFETY: `phase` holds 16 floats.
                    let acc = unsafe { _mm512_loadu_ps(phase.as_ptr()) };
                    let acc = add_taps(c, row_taps, column_taps, acc);
                    // SAFETY: as above.
                    unsafe { _mm512_storeu_ps(phase.as_mut_ptr(), acc) };
                    for (m, &v) in phase.iter().enumerate().take(count) {
                        pixels[b + sw * m] = v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::Conv2dParams;

    /// The same bits as the scatter and the runs ([`super::super::im2col::col2im`]) on
    /// stride-2 and stride-1 maps, odd and even, with padding from none to the kernel's
    /// extent, onto an image that already holds values (some -0.0), with a row stride
    /// wider than the positions.
    #[test]
    fn matches_col2im_bit_for_bit() {
        if Isa::active() != Isa::Avx512 {
            return; // The path exists only on AVX-512.
        }
        for (c, hw, k, s, p) in [
            (5, [14, 14], 5, 2, 2),
            (4, [7, 7], 3, 1, 1),
            (6, [9, 11], 4, 2, 1),
            (3, [28, 28], 4, 2, 1),
            (2, [13, 8], 5, 3, 0),
            (3, [6, 6], 3, 1, 2),
            (2, [5, 1], 3, 2, 1),
            (2, [3, 31], 3, 2, 1),
        ] {
            let params = Conv2dParams::new().stride(s).padding(p);
            let g = Geometry::conv2d(c, hw, [k, k], &params);
            assert!(applies(&g), "{g:?}");
            let (l, ld) = (g.positions(), g.positions() + 5);
            let cols: Vec<f32> = (0..g.rows() * ld)
                .map(|i| ((i * 37) % 101) as f32 * 0.013 - 0.6)
                .collect();
            let plane = hw[0] * hw[1];
            let start: Vec<f32> = (0..c * plane)
                .map(|i| {
                    if i % 5 == 0 {
                        -0.0
                    } else {
                        (i % 7) as f32 * 0.1
                    }
                })
                .collect();
            let (mut got, mut want) = (start.clone(), start);
            col2im_rows(&cols, ld, &g, &mut got);
            super::super::im2col::col2im(&cols, ld, &g, 0, l, &mut want);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
            assert_eq!(bits(&got), bits(&want), "{g:?}");
        }
    }
}
