//! Paths through a generator's latent space: the walks of `agon interpolate`.
//!
//! Noise is drawn from a standard normal in `d` dimensions, where almost all of the mass
//! lies near the sphere of radius `√d`. A straight line between two such points passes
//! well inside that sphere (its midpoint has norm about `√(d/2)`), where the generator saw
//! no training inputs; spherical interpolation (White 2016, "Sampling Generative
//! Networks") follows the great circle instead and keeps the norm in between the two ends.

use std::fmt;
use std::str::FromStr;

/// How a walk moves between two latent codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Walk {
    /// Along the great circle: `sin((1-t)ω)/sin ω · a + sin(tω)/sin ω · b`, with `ω` the
    /// angle between `a` and `b`.
    #[default]
    Slerp,
    /// Along the straight line: `(1-t) a + t b`.
    Linear,
}

impl FromStr for Walk {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "slerp" => Ok(Walk::Slerp),
            "linear" | "lerp" => Ok(Walk::Linear),
            other => Err(format!(
                "unknown walk {other:?}: expected \"slerp\" or \"linear\""
            )),
        }
    }
}

impl fmt::Display for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Walk::Slerp => "slerp",
            Walk::Linear => "linear",
        })
    }
}

/// The point a fraction `t` of the way from `a` to `b` (`t = 0` gives `a`, `t = 1` gives
/// `b`).
///
/// Slerp falls back to the straight line when the two codes are (nearly) parallel or one
/// is zero, where the great circle is undefined and the two paths coincide anyway.
///
/// ```
/// use agon_gan::latent::{walk_point, Walk};
/// let (a, b) = ([3.0, 0.0], [0.0, 3.0]);
/// let mid = walk_point(&a, &b, 0.5, Walk::Slerp);
/// let norm = (mid[0] * mid[0] + mid[1] * mid[1]).sqrt();
/// assert!((norm - 3.0).abs() < 1e-5); // on the circle, not the chord
/// assert_eq!(walk_point(&a, &b, 0.5, Walk::Linear), vec![1.5, 1.5]);
/// ```
///
/// # Panics
/// If `a` and `b` differ in length.
pub fn walk_point(a: &[f32], b: &[f32], t: f32, walk: Walk) -> Vec<f32> {
    assert_eq!(
        a.len(),
        b.len(),
        "walk_point: codes of length {} and {}",
        a.len(),
        b.len()
    );
    let linear = || {
        a.iter()
            .zip(b)
            .map(|(x, y)| (1.0 - t) * x + t * y)
            .collect()
    };
    if walk == Walk::Linear {
        return linear();
    }
    // The angle in f64: for long codes the f32 dot product loses the small angles.
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return linear();
    }
    let omega = (dot / (na * nb)).clamp(-1.0, 1.0).acos();
    let sin = omega.sin();
    if sin < 1e-6 {
        return linear();
    }
    let t = f64::from(t);
    let (wa, wb) = (((1.0 - t) * omega).sin() / sin, (t * omega).sin() / sin);
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * f64::from(*x) + wb * f64::from(*y)) as f32)
        .collect()
}

/// `steps` evenly spaced points from `a` to `b`, both ends included, one after the other
/// in one vector (`steps * a.len()` values).
///
/// ```
/// use agon_gan::latent::{walk, Walk};
/// let w = walk(&[0.0, 0.0], &[1.0, 2.0], 3, Walk::Linear);
/// assert_eq!(w, vec![0.0, 0.0, 0.5, 1.0, 1.0, 2.0]);
/// ```
///
/// # Panics
/// If `steps < 2` or `a` and `b` differ in length.
pub fn walk(a: &[f32], b: &[f32], steps: usize, mode: Walk) -> Vec<f32> {
    assert!(steps >= 2, "walk: {steps} steps, need at least both ends");
    (0..steps)
        .flat_map(|s| walk_point(a, b, s as f32 / (steps - 1) as f32, mode))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_hits_both_ends_and_stays_on_the_sphere() {
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let a: Vec<f32> = (0..64).map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0).collect();
        let b: Vec<f32> = (0..64).map(|i| ((i * 5 % 11) as f32 - 5.0) / 2.0).collect();
        // b rescaled onto a's sphere: slerp between equal norms keeps that norm.
        let b: Vec<f32> = b.iter().map(|x| x * norm(&a) / norm(&b)).collect();
        for (end, t) in [(&a, 0.0), (&b, 1.0)] {
            let p = walk_point(&a, &b, t, Walk::Slerp);
            assert!(p.iter().zip(end.iter()).all(|(x, y)| (x - y).abs() < 1e-5));
        }
        let r = norm(&a);
        for s in 1..10 {
            let t = s as f32 / 10.0;
            let n = norm(&walk_point(&a, &b, t, Walk::Slerp));
            assert!((n - r).abs() < 1e-4 * r, "t {t}: norm {n}, ends {r}");
        }
        // The chord dips inside the sphere.
        assert!(norm(&walk_point(&a, &b, 0.5, Walk::Linear)) < 0.95 * r);
    }

    #[test]
    fn parallel_and_zero_codes_fall_back_to_the_line() {
        let a = [1.0, 2.0];
        let b = [2.0, 4.0];
        assert_eq!(walk_point(&a, &b, 0.5, Walk::Slerp), vec![1.5, 3.0]);
        assert_eq!(
            walk_point(&[0.0, 0.0], &b, 0.5, Walk::Slerp),
            vec![1.0, 2.0]
        );
    }

    #[test]
    fn walk_names_parse_and_print() {
        assert_eq!("slerp".parse::<Walk>(), Ok(Walk::Slerp));
        assert_eq!("linear".parse::<Walk>(), Ok(Walk::Linear));
        assert!("spline".parse::<Walk>().unwrap_err().contains("slerp"));
        assert_eq!(Walk::Linear.to_string(), "linear");
    }
}
