//! Joining and padding: `concat`, `stack`, constant `pad`.
//!
//! Their adjoints are views: `narrow` undoes `concat` and `pad`, `select`-style narrowing
//! plus `squeeze` undoes `stack`.

use crate::array::NdArray;
use crate::strided::for_each_offsets;

impl NdArray {
    /// Arrays joined along an existing axis (`torch.cat`).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::zeros(&[2, 1]);
    /// let b = NdArray::ones(&[2, 2]);
    /// let c = NdArray::concat(&[&a, &b], 1);
    /// assert_eq!(c.to_vec(), vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty, the axis is out of range, or the shapes differ off `axis`.
    #[track_caller]
    pub fn concat(parts: &[&NdArray], axis: usize) -> NdArray {
        assert!(!parts.is_empty(), "concat: no arrays to join");
        let first = parts[0];
        first.check_axis("concat", axis);
        for p in parts {
            let same = p.ndim() == first.ndim()
                && (0..first.ndim()).all(|a| a == axis || p.shape()[a] == first.shape()[a]);
            assert!(
                same,
                "concat: shape {:?} does not match {:?} off axis {axis}",
                p.shape(),
                first.shape()
            );
        }
        let mut shape = first.shape().to_vec();
        shape[axis] = parts.iter().map(|p| p.shape()[axis]).sum();
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let row = shape[axis] * inner;
        let mut out = vec![0.0f32; shape.iter().product()];
        let mut at = 0;
        for p in parts {
            let block = p.shape()[axis] * inner;
            let src = p.contiguous();
            let s = src.as_slice().expect("contiguous");
            for o in 0..outer {
                out[o * row + at..][..block].copy_from_slice(&s[o * block..][..block]);
            }
            at += block;
        }
        NdArray::from_dense(out, &shape)
    }

    /// Arrays of equal shape joined along a new axis (`torch.stack`).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let s = NdArray::stack(&[&NdArray::zeros(&[3]), &NdArray::ones(&[3])], 0);
    /// assert_eq!(s.shape(), &[2, 3]);
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty, the shapes differ, or `axis > ndim`.
    #[track_caller]
    pub fn stack(parts: &[&NdArray], axis: usize) -> NdArray {
        assert!(!parts.is_empty(), "stack: no arrays to stack");
        for p in parts {
            assert_eq!(
                p.shape(),
                parts[0].shape(),
                "stack: all arrays need the same shape"
            );
        }
        let lifted: Vec<NdArray> = parts.iter().map(|p| p.unsqueeze(axis)).collect();
        let refs: Vec<&NdArray> = lifted.iter().collect();
        NdArray::concat(&refs, axis)
    }

    /// `self` surrounded by `value`: `pads[a] = (before, after)` elements on axis `a`, one
    /// pair per axis in axis order (as `numpy.pad`, not `F.pad`'s last-axis-first order).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let p = NdArray::ones(&[1, 2]).pad(&[(0, 0), (1, 2)], 0.0);
    /// assert_eq!(p.to_vec(), vec![0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If `pads` does not have one pair per axis.
    #[track_caller]
    pub fn pad(&self, pads: &[(usize, usize)], value: f32) -> NdArray {
        assert_eq!(
            pads.len(),
            self.ndim(),
            "pad: {} (before, after) pairs given for shape {:?}; need one per axis",
            pads.len(),
            self.shape()
        );
        let shape: Vec<usize> = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(&d, &(b, a))| b + d + a)
            .collect();
        let mut out = NdArray::full(&shape, value).to_vec();
        let strides = crate::layout::contiguous_strides(&shape);
        let interior: usize = pads.iter().zip(&strides).map(|(&(b, _), &s)| b * s).sum();
        let src = self.storage();
        for_each_offsets(
            self.shape(),
            [&strides, self.strides()],
            [interior, self.offset()],
            0,
            self.numel(),
            |[o, i]| out[o] = src[i],
        );
        NdArray::from_dense(out, &shape)
    }
}
