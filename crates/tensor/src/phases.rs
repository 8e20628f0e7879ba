//! The four output phases of a nearest x2 upsampling followed by a 3x3 convolution.
//!
//! `conv3x3(upsample2x(x))` reads each input pixel through the same weights as many times as
//! the upsampling copied it, so its output pixel `(2i + a, 2j + b)` is a 2x2 convolution of
//! `x` itself, one per *phase* `(a, b)`, with taps that are sums of the 3x3 ones. Computed as
//! one stride-1 2x2 convolution of `x` padded by 1 with `4 * Cout` outputs (phase-major),
//! which gives `z [N, 4*Cout, H+1, W+1]`, the result is
//! `y[n, o, 2i + a, 2j + b] = z[n, (2a + b) * Cout + o, i + a, j + b]`: this file's
//! [`NdArray::interleave_phases`]. Its adjoint, [`NdArray::deinterleave_phases`], scatters a
//! gradient of `y` back onto `z` (zeros where no output reads `z`).

use crate::NdArray;

#[track_caller]
fn dims4(op: &str, what: &str, x: &NdArray) -> [usize; 4] {
    let s = x.shape();
    assert!(
        s.len() == 4,
        "{op}: {what} of shape {s:?} is not [N, C, H, W]"
    );
    [s[0], s[1], s[2], s[3]]
}

impl NdArray {
    /// `y [N, Cout, 2H, 2W]` from the phase-major `z [N, 4*Cout, H+1, W+1]`:
    /// `y[n, o, 2i + a, 2j + b] = z[n, (2a + b) * Cout + o, i + a, j + b]`.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// // One channel, H = W = 1: z holds four 2x2 phase maps; y takes one pixel of each.
    /// let z = NdArray::arange(0.0, 16.0, 1.0).reshape(&[1, 4, 2, 2]);
    /// let y = z.interleave_phases();
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// // phase (0,0) at z[0,0,0,0], (0,1) at z[0,1,0,1], (1,0) at z[0,2,1,0], (1,1) at z[0,3,1,1].
    /// assert_eq!(y.to_vec(), vec![0.0, 5.0, 10.0, 15.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, its channels are not a multiple of 4, or a spatial size is 0.
    #[track_caller]
    pub fn interleave_phases(&self) -> NdArray {
        let [n, c4, hz, wz] = dims4("interleave_phases", "input", self);
        assert!(
            c4 % 4 == 0 && hz >= 1 && wz >= 1,
            "interleave_phases: input {:?} needs 4 * Cout channels and sizes H+1, W+1 >= 1",
            self.shape()
        );
        let (cout, h, w) = (c4 / 4, hz - 1, wz - 1);
        let z = self.contiguous();
        let z = z.as_slice().expect("contiguous");
        let mut y = vec![0.0f32; n * cout * 4 * h * w];
        let plane_z = hz * wz;
        for (no, y_plane) in y.chunks_exact_mut(4 * h * w).enumerate() {
            let (img, o) = (no / cout.max(1), no % cout.max(1));
            for a in 0..2 {
                for b in 0..2 {
                    let phase = (2 * a + b) * cout + o;
                    let zp = &z[(img * c4 + phase) * plane_z..][..plane_z];
                    for i in 0..h {
                        let src = &zp[(i + a) * wz + b..][..w];
                        let dst = &mut y_plane[(2 * i + a) * 2 * w..][..2 * w];
                        for (j, &v) in src.iter().enumerate() {
                            dst[2 * j + b] = v;
                        }
                    }
                }
            }
        }
        NdArray::from_dense(y, &[n, cout, 2 * h, 2 * w])
    }

    /// The adjoint of [`NdArray::interleave_phases`]: `g [N, Cout, 2H, 2W]` scattered onto
    /// `[N, 4*Cout, H+1, W+1]`, zeros where no output pixel reads.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let g = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    /// let z = g.deinterleave_phases();
    /// assert_eq!(z.shape(), &[1, 4, 2, 2]);
    /// assert_eq!(z.to_vec()[0], 1.0);  // phase (0,0), z[0,0,0,0]
    /// assert_eq!(z.to_vec()[15], 4.0); // phase (1,1), z[0,3,1,1]
    /// assert_eq!(z.sum_all().item(), 10.0);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D or a spatial size is odd or 0.
    #[track_caller]
    pub fn deinterleave_phases(&self) -> NdArray {
        let [n, cout, h2, w2] = dims4("deinterleave_phases", "gradient", self);
        assert!(
            h2 % 2 == 0 && w2 % 2 == 0 && h2 > 0 && w2 > 0,
            "deinterleave_phases: gradient {:?} needs even, non-zero spatial sizes",
            self.shape()
        );
        let (h, w) = (h2 / 2, w2 / 2);
        let (hz, wz) = (h + 1, w + 1);
        let g = self.contiguous();
        let g = g.as_slice().expect("contiguous");
        let mut z = vec![0.0f32; n * 4 * cout * hz * wz];
        let plane_z = hz * wz;
        for (no, g_plane) in g.chunks_exact(4 * h * w).enumerate() {
            let (img, o) = (no / cout.max(1), no % cout.max(1));
            for a in 0..2 {
                for b in 0..2 {
                    let phase = (2 * a + b) * cout + o;
                    let zp = &mut z[(img * 4 * cout + phase) * plane_z..][..plane_z];
                    for i in 0..h {
                        let src = &g_plane[(2 * i + a) * 2 * w..][..2 * w];
                        let dst = &mut zp[(i + a) * wz + b..][..w];
                        for (j, d) in dst.iter_mut().enumerate() {
                            *d = src[2 * j + b];
                        }
                    }
                }
            }
        }
        NdArray::from_dense(z, &[n, 4 * cout, hz, wz])
    }
}

#[cfg(test)]
mod tests {
    use crate::NdArray;

    /// <interleave(z), g> = <z, deinterleave(g)> on random-ish data: the two are adjoint.
    #[test]
    fn deinterleave_is_the_adjoint_of_interleave() {
        let z = NdArray::from_vec(
            (0..2 * 12 * 4 * 5)
                .map(|i| ((i * 37) % 17) as f32 - 8.0)
                .collect(),
            &[2, 12, 4, 5],
        )
        .unwrap();
        let y = z.interleave_phases();
        assert_eq!(y.shape(), &[2, 3, 6, 8]);
        let g = NdArray::from_vec(
            (0..y.numel())
                .map(|i| ((i * 13) % 11) as f32 - 5.0)
                .collect(),
            y.shape(),
        )
        .unwrap();
        let lhs: f32 = y.mul(&g).sum_all().item();
        let rhs: f32 = z.mul(&g.deinterleave_phases()).sum_all().item();
        assert_eq!(lhs, rhs);
    }
}
