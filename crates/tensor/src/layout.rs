//! Shape, strides and offset: how an n-d index maps into flat storage.
//!
//! Element `[i0, i1, ..]` of a view lives at `offset + i0 * strides[0] + i1 * strides[1] + ..`
//! in the shared storage. Every view operation (permute, broadcast, narrow, ...) only rewrites
//! these three fields, which is why views copy nothing.

/// Shape, strides (in elements) and offset of a strided view into flat storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// Row-major (C order) strides for `shape`: the last axis is contiguous.
///
/// ```
/// assert_eq!(agon_tensor::contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
/// ```
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc: usize = 1;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        // Saturating: an array with a zero-length axis holds nothing, whatever its other
        // axes claim, and its strides are never used to address memory.
        acc = acc.saturating_mul(d.max(1));
    }
    strides
}

impl Layout {
    /// A dense row-major layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// A layout from raw parts. The caller guarantees every reachable index is in bounds of
    /// the storage it is used with; `NdArray` checks that before building a view.
    pub fn from_parts(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        assert_eq!(
            shape.len(),
            strides.len(),
            "Layout: shape {shape:?} and strides {strides:?} differ in rank"
        );
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// The extent of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The step in storage elements for each axis (0 for broadcast axes).
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Storage index of element `[0, 0, ..]`.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (1 for a 0-d scalar).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when elements are dense and in row-major order (size-1 axes may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// One past the largest storage index this layout reaches (its offset when it is empty).
    pub fn storage_end(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    /// Storage index of the element at `index`.
    ///
    /// # Panics
    /// If `index` has the wrong rank or is out of bounds.
    #[track_caller]
    pub fn index_to_offset(&self, index: &[usize]) -> usize {
        assert_eq!(
            index.len(),
            self.ndim(),
            "index {index:?} has rank {}, array has shape {:?}",
            index.len(),
            self.shape
        );
        let mut off = self.offset;
        for ((&i, &d), &s) in index.iter().zip(&self.shape).zip(&self.strides) {
            assert!(
                i < d,
                "index {index:?} out of bounds for shape {:?}",
                self.shape
            );
            off += i * s;
        }
        off
    }

    /// Axes reordered: output axis `k` is input axis `perm[k]`.
    pub(crate) fn permute(&self, perm: &[usize]) -> Layout {
        Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// The view a reshape to `shape` gives without copying, if one exists.
    ///
    /// Works axis group by axis group: each run of old axes that multiplies to a run of new
    /// axes must itself be contiguous (stride of each axis = stride of the next * its size),
    /// in which case the new axes get row-major strides scaled by the run's innermost stride.
    pub(crate) fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: shape.to_vec(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        // Drop size-1 axes: their strides carry no information.
        let old: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|&(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut new_strides = vec![0usize; shape.len()];
        let (mut oi, mut ni) = (0usize, 0usize);
        while ni < shape.len() {
            if shape[ni] == 1 {
                new_strides[ni] = 0;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            // Collect a group of old axes and new axes with equal products.
            let (mut old_prod, mut new_prod) = (old[oi].0, shape[ni]);
            let (o_start, n_start) = (oi, ni);
            oi += 1;
            ni += 1;
            while old_prod != new_prod {
                if old_prod < new_prod {
                    if oi >= old.len() {
                        return None;
                    }
                    old_prod *= old[oi].0;
                    oi += 1;
                } else {
                    while ni < shape.len() && shape[ni] == 1 {
                        ni += 1;
                    }
                    if ni >= shape.len() {
                        return None;
                    }
                    new_prod *= shape[ni];
                    ni += 1;
                }
            }
            // The old group must be contiguous within itself.
            for k in o_start..oi - 1 {
                if old[k].1 != old[k + 1].1 * old[k + 1].0 {
                    return None;
                }
            }
            let mut stride = old[oi - 1].1;
            for k in (n_start..ni).rev() {
                new_strides[k] = stride;
                stride *= shape[k];
            }
        }
        if oi != old.len() {
            return None;
        }
        Some(Layout {
            shape: shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }

    /// Broadcast (NumPy rules) to `shape`: new leading axes and size-1 axes get stride 0.
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Option<Layout> {
        if shape.len() < self.ndim() {
            return None;
        }
        let lead = shape.len() - self.ndim();
        let mut strides = vec![0usize; shape.len()];
        for (k, &target) in shape.iter().enumerate().skip(lead) {
            let d = self.shape[k - lead];
            if d == target {
                strides[k] = if d == 1 { 0 } else { self.strides[k - lead] };
            } else if d == 1 {
                strides[k] = 0;
            } else {
                return None;
            }
        }
        Some(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// Axis `axis` restricted to `start, start + step, ..` (`len` elements).
    pub(crate) fn slice(&self, axis: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut out = self.clone();
        out.shape[axis] = len;
        out.strides[axis] *= step;
        // An empty view reaches no element, so its offset must not move: past the end of
        // the storage it would break the `storage_end <= len` invariant.
        if out.numel() > 0 {
            out.offset += start * self.strides[axis];
        }
        out
    }

    /// Insert a size-1 axis at `axis`.
    pub(crate) fn unsqueeze(&self, axis: usize) -> Layout {
        let mut out = self.clone();
        let stride = if axis < self.ndim() {
            self.strides[axis] * self.shape[axis]
        } else {
            1
        };
        out.shape.insert(axis, 1);
        out.strides.insert(axis, stride);
        out
    }

    /// Remove the size-1 axis `axis`.
    pub(crate) fn squeeze(&self, axis: usize) -> Layout {
        let mut out = self.clone();
        out.shape.remove(axis);
        out.strides.remove(axis);
        out
    }
}

/// Number of elements of `shape`, or `None` if that product overflows `usize`. A shape
/// with a zero-length axis holds 0 elements whatever its other axes are.
///
/// ```
/// assert_eq!(agon_tensor::checked_numel(&[2, 3]), Some(6));
/// assert_eq!(agon_tensor::checked_numel(&[0, 1 << 40, 1 << 40]), Some(0));
/// assert_eq!(agon_tensor::checked_numel(&[1 << 40, 1 << 40]), None);
/// ```
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The shape two shapes broadcast to under NumPy rules, or `None` if they are incompatible.
///
/// ```
/// use agon_tensor::broadcast_shapes;
/// assert_eq!(broadcast_shapes(&[4, 1, 3], &[5, 1]), Some(vec![4, 5, 3]));
/// assert_eq!(broadcast_shapes(&[2], &[3]), None);
/// ```
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (k, o) in out.iter_mut().enumerate() {
        let da = if k + a.len() >= n {
            a[k + a.len() - n]
        } else {
            1
        };
        let db = if k + b.len() >= n {
            b[k + b.len() - n]
        } else {
            1
        };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_of_transpose_needs_copy() {
        let l = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        assert!(l.reshape_view(&[6]).is_none());
        assert!(l.reshape_view(&[3, 2]).is_some());
    }

    #[test]
    fn reshape_merges_contiguous_group_of_a_narrowed_view() {
        // [4, 2, 3] narrowed on axis 0 keeps axes 1..2 contiguous: merge them.
        let l = Layout::contiguous(&[4, 2, 3]).slice(0, 1, 2, 2);
        let r = l.reshape_view(&[2, 6]).unwrap();
        assert_eq!(r.strides(), &[12, 1]);
        assert_eq!(r.offset(), 6);
        assert!(l.reshape_view(&[12]).is_none());
    }

    #[test]
    fn slicing_an_empty_array_keeps_the_offset_in_bounds() {
        let l = Layout::contiguous(&[0, 3]).slice(1, 1, 2, 1);
        assert_eq!(l.offset(), 0);
        assert_eq!(l.storage_end(), 0);
    }

    #[test]
    fn storage_end_counts_the_last_reachable_element() {
        let l = Layout::contiguous(&[2, 3]);
        assert_eq!(l.storage_end(), 6);
        assert_eq!(l.slice(1, 1, 2, 1).storage_end(), 6);
        assert_eq!(Layout::contiguous(&[0, 3]).storage_end(), 0);
    }
}
