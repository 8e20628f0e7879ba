//! Element types found in safetensors files and their exact conversion to `f32`.
//!
//! Agon computes in `f32`. Reading widens `F16` and `BF16` exactly (every value, subnormals,
//! infinities and NaN payloads included), rounds `F64` to nearest, and reads `I64` / `I32`
//! as whole numbers (for counters such as PyTorch's `num_batches_tracked`). Everything else
//! (8-bit types, unsigned and complex types) is kept as raw bytes and refused on load.

use safetensors::Dtype;

/// The `f32` with the same value as the IEEE 754 half-precision number `bits`.
///
/// Exact for every input: normal numbers, subnormals (`0x0001` is 2^-24), signed zeros,
/// infinities, and NaNs (payload and sign kept, as hardware conversion does).
///
/// ```
/// use agon_nn::checkpoint::f16_to_f32;
/// assert_eq!(f16_to_f32(0x3C00), 1.0);
/// assert_eq!(f16_to_f32(0xC000), -2.0);
/// assert_eq!(f16_to_f32(0x7BFF), 65504.0); // largest finite half
/// assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24)); // smallest subnormal
/// assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
/// assert!(f16_to_f32(0x7E00).is_nan());
/// ```
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let out = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m * 2^-24. With p the position of m's top bit, that is
            // 1.f * 2^(p - 24): the top bit becomes the implicit one and the bits below it
            // move up to the top of f32's 23-bit fraction.
            let p = 31 - m.leading_zeros();
            let frac = (m << (23 - p)) & 0x007f_ffff;
            sign | ((p + 103) << 23) | frac
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        // Normal: rebias the exponent from 15 to 127, widen the fraction.
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(out)
}

/// The `f32` with the same value as the bfloat16 number `bits` (bfloat16 is the upper half
/// of an `f32`, so this is exact).
///
/// ```
/// use agon_nn::checkpoint::bf16_to_f32;
/// assert_eq!(bf16_to_f32(0x3F80), 1.0);
/// assert_eq!(bf16_to_f32(0xC0A0), -5.0);
/// assert_eq!(bf16_to_f32(0xFF80), f32::NEG_INFINITY);
/// ```
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// True for the integer dtypes accepted for counters.
pub(crate) fn is_integer(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::I64 | Dtype::I32)
}

/// The values of a little-endian tensor as `f32`, or `None` when `dtype` is not one Agon
/// reads. `bytes.len()` must already be checked against the shape (a trailing partial
/// element would be ignored).
pub(crate) fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    Some(match dtype {
        Dtype::F32 => each(bytes, f32::from_le_bytes),
        Dtype::F16 => each(bytes, |b| f16_to_f32(u16::from_le_bytes(b))),
        Dtype::BF16 => each(bytes, |b| bf16_to_f32(u16::from_le_bytes(b))),
        Dtype::F64 => each(bytes, |b| f64::from_le_bytes(b) as f32),
        Dtype::I64 => each(bytes, |b| i64::from_le_bytes(b) as f32),
        Dtype::I32 => each(bytes, |b| i32::from_le_bytes(b) as f32),
        _ => return None,
    })
}

/// Little-endian bytes of `values` as F32.
pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes of `values` as I64 (counters are whole numbers; a fraction is
/// truncated, out-of-range values saturate, NaN becomes 0).
pub(crate) fn i64_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent reference: the value of a half by its definition, in f64.
    fn f16_reference(bits: u16) -> f64 {
        let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
        let exp = i32::from((bits >> 10) & 0x1f);
        let mant = f64::from(bits & 0x3ff);
        match exp {
            0 => sign * mant * 2f64.powi(-24),
            31 if mant == 0.0 => sign * f64::INFINITY,
            31 => f64::NAN,
            e => sign * (1.0 + mant / 1024.0) * 2f64.powi(e - 15),
        }
    }

    #[test]
    fn f16_every_bit_pattern_matches_the_definition() {
        for bits in 0..=u16::MAX {
            let got = f16_to_f32(bits);
            let want = f16_reference(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
                // Payload and sign survive, as in hardware conversion.
                assert_eq!(got.to_bits() >> 31, u32::from(bits >> 15), "{bits:#06x}");
                assert_eq!(got.to_bits() & 0x7f_ffff, u32::from(bits & 0x3ff) << 13);
            } else {
                assert_eq!(f64::from(got), want, "{bits:#06x}");
                assert_eq!(got.is_sign_negative(), bits >> 15 == 1, "{bits:#06x}");
            }
        }
    }

    #[test]
    fn bf16_is_the_upper_half_of_f32() {
        for v in [
            0.0f32,
            -0.0,
            1.0,
            -3.5,
            1e30,
            -1e-30,
            f32::INFINITY,
            f32::MIN_POSITIVE,
        ] {
            let bits = (v.to_bits() >> 16) as u16;
            assert_eq!(bf16_to_f32(bits).to_bits(), v.to_bits() & 0xffff_0000);
        }
        assert!(bf16_to_f32(0x7fc0).is_nan());
    }

    #[test]
    fn conversions_read_little_endian() {
        let b = [1.5f64.to_le_bytes(), (-2.0f64).to_le_bytes()].concat();
        assert_eq!(to_f32(Dtype::F64, &b), Some(vec![1.5, -2.0]));
        let b = [7i64.to_le_bytes(), (-1i64).to_le_bytes()].concat();
        assert_eq!(to_f32(Dtype::I64, &b), Some(vec![7.0, -1.0]));
        assert_eq!(to_f32(Dtype::I32, &9i32.to_le_bytes()), Some(vec![9.0]));
        assert_eq!(to_f32(Dtype::F16, &[0x00, 0x3c]), Some(vec![1.0]));
        assert_eq!(to_f32(Dtype::BF16, &[0x80, 0x3f]), Some(vec![1.0]));
        assert_eq!(to_f32(Dtype::I8, &[1]), None);
        assert_eq!(to_f32(Dtype::U8, &[1]), None);
        assert_eq!(i64_bytes(&[3.0]), 3i64.to_le_bytes());
        assert_eq!(f32_bytes(&[0.5]), 0.5f32.to_le_bytes());
    }
}
