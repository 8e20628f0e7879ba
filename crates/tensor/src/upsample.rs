//! Nearest-neighbour upsampling by integer factors, and its adjoint.

use crate::pool::for_each_out_plane;
use crate::NdArray;

/// Panics unless `a` is 4-D and the scale factors are positive; returns `a`'s shape.
#[track_caller]
fn check(op: &str, a: &NdArray, scale: [usize; 2]) -> [usize; 4] {
    assert!(
        a.ndim() == 4,
        "{op}: input must be 4-D [N, C, H, W], got shape {:?}; hint: use unsqueeze(0) to add \
         a batch axis to a single image",
        a.shape()
    );
    assert!(
        scale.iter().all(|&s| s > 0),
        "{op}: scale factors must be positive, got {scale:?}"
    );
    [a.shape()[0], a.shape()[1], a.shape()[2], a.shape()[3]]
}

impl NdArray {
    /// Nearest-neighbour upsampling by integer factors `[sh, sw]`
    /// (`torch.nn.functional.interpolate(mode="nearest", scale_factor=..)`):
    /// `[N, C, H, W] -> [N, C, H*sh, W*sw]`, each pixel repeated as an `sh x sw` block.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let x = NdArray::from_vec(vec![1.0, 2.0], &[1, 1, 1, 2]).unwrap();
    /// let y = x.upsample_nearest2d([2, 2]);
    /// assert_eq!(y.shape(), &[1, 1, 2, 4]);
    /// assert_eq!(y.to_vec(), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D or a scale factor is zero.
    #[track_caller]
    pub fn upsample_nearest2d(&self, scale: [usize; 2]) -> NdArray {
        let [n, c, h, w] = check("upsample_nearest2d", self, scale);
        let [sh, sw] = scale;
        let (oh, ow) = (h * sh, w * sw);
        let x = self.contiguous();
        let x = x.as_slice().expect("contiguous");
        let mut out = vec![0.0f32; n * c * oh * ow];
        let work = out.len();
        for_each_out_plane(&mut out, oh * ow, work, |i, o| {
            let xp = &x[i * h * w..(i + 1) * h * w];
            for (r, orow) in o.chunks_exact_mut(ow).enumerate() {
                let xrow = &xp[(r / sh) * w..(r / sh + 1) * w];
                for (block, &v) in orow.chunks_exact_mut(sw).zip(xrow) {
                    block.fill(v);
                }
            }
        });
        NdArray::from_dense(out, &[n, c, oh, ow])
    }

    /// Adjoint of [`upsample_nearest2d`](NdArray::upsample_nearest2d) (its input gradient):
    /// `[N, C, H*sh, W*sw] -> [N, C, H, W]`, summing each `sh x sw` block.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let g = NdArray::arange(0.0, 8.0, 1.0).reshape(&[1, 1, 2, 4]);
    /// let dx = g.upsample_nearest2d_adjoint([2, 2]);
    /// assert_eq!(dx.to_vec(), vec![0.0 + 1.0 + 4.0 + 5.0, 2.0 + 3.0 + 6.0 + 7.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` is not 4-D, a scale factor is zero, or the spatial size is not divisible by
    /// the scale.
    #[track_caller]
    pub fn upsample_nearest2d_adjoint(&self, scale: [usize; 2]) -> NdArray {
        let [n, c, oh, ow] = check("upsample_nearest2d_adjoint", self, scale);
        let [sh, sw] = scale;
        assert!(
            oh % sh == 0 && ow % sw == 0,
            "upsample_nearest2d_adjoint: gradient {:?} has spatial size [{oh}, {ow}], not a \
             multiple of the scale {scale:?}; hint: pass the forward scale factors",
            self.shape()
        );
        let (h, w) = (oh / sh, ow / sw);
        let g = self.contiguous();
        let g = g.as_slice().expect("contiguous");
        let mut out = vec![0.0f32; n * c * h * w];
        let work = g.len();
        for_each_out_plane(&mut out, h * w, work, |i, o| {
            let gp = &g[i * oh * ow..(i + 1) * oh * ow];
            for (r, grow) in gp.chunks_exact(ow).enumerate() {
                let orow = &mut o[(r / sh) * w..(r / sh + 1) * w];
                for (x, block) in orow.iter_mut().zip(grow.chunks_exact(sw)) {
                    *x += block.iter().sum::<f32>();
                }
            }
        });
        NdArray::from_dense(out, &[n, c, h, w])
    }
}
