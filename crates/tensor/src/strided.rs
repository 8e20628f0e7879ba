//! Walking strided views in logical (row-major) order.
//!
//! One odometer serves every kernel that reads non-contiguous data: it visits the logical
//! indices `start..start + len` of a shape and hands the caller the storage offset of each
//! element in `K` layouts at once (K = 1 for a copy, 2 for a binary op, 3 for `where`).
//! The innermost axis runs as a tight loop; carries happen once per row.

/// Calls `f(offsets)` for the logical elements `start..start + len` of `shape`, where
/// `offsets[k]` is that element's storage index under `strides[k]` and `bases[k]`.
pub(crate) fn for_each_offsets<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    bases: [usize; K],
    start: usize,
    len: usize,
    mut f: impl FnMut([usize; K]),
) {
    if len == 0 {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(bases);
        return;
    }
    // Multi-index of `start`, and the offsets it maps to.
    let mut index = vec![0usize; nd];
    let mut rem = start;
    for ax in (0..nd).rev() {
        index[ax] = rem % shape[ax];
        rem /= shape[ax];
    }
    let mut offs = bases;
    for k in 0..K {
        for ax in 0..nd {
            offs[k] += index[ax] * strides[k][ax];
        }
    }
    let last = nd - 1;
    let inner_len = shape[last];
    let inner_stride: [usize; K] = std::array::from_fn(|k| strides[k][last]);
    let mut done = 0;
    loop {
        let run = (inner_len - index[last]).min(len - done);
        let mut o = offs;
        for _ in 0..run {
            f(o);
            for k in 0..K {
                o[k] += inner_stride[k];
            }
        }
        done += run;
        if done == len {
            return;
        }
        // Carry: rewind the inner axis, then bump the next axis that has room.
        for k in 0..K {
            offs[k] -= index[last] * inner_stride[k];
        }
        index[last] = 0;
        let mut ax = last;
        loop {
            ax -= 1;
            index[ax] += 1;
            for k in 0..K {
                offs[k] += strides[k][ax];
            }
            if index[ax] < shape[ax] {
                break;
            }
            for k in 0..K {
                offs[k] -= index[ax] * strides[k][ax];
            }
            index[ax] = 0;
        }
    }
}

/// Writes `f(offsets)` into `out[i]` for the logical elements `start..start + out.len()`.
pub(crate) fn fill_from_offsets<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    bases: [usize; K],
    start: usize,
    out: &mut [f32],
    mut f: impl FnMut([usize; K]) -> f32,
) {
    let len = out.len();
    let mut it = out.iter_mut();
    for_each_offsets(shape, strides, bases, start, len, |o| {
        if let Some(slot) = it.next() {
            *slot = f(o);
        }
    });
}

/// Fills `out` (row-major over `shape`) one innermost row at a time: `row(offsets, dst)`
/// receives the storage offsets of the row's first element in each of the `K` layouts and
/// the row's slot in `out`. Rows are grouped into tasks of about
/// [`ELEMENTWISE_CHUNK`](crate::parallel) elements (a fixed split, whatever the thread
/// count) and run in parallel for large outputs.
pub(crate) fn fill_rows<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    bases: [usize; K],
    out: &mut [f32],
    row: impl Fn([usize; K], &mut [f32]) + Sync + Send,
) {
    use rayon::prelude::*;
    let nd = shape.len();
    let inner = if nd == 0 { 1 } else { shape[nd - 1] };
    if inner == 0 || out.is_empty() {
        return;
    }
    let outer = &shape[..nd.saturating_sub(1)];
    let outer_strides: [&[usize]; K] = std::array::from_fn(|k| &strides[k][..nd.saturating_sub(1)]);
    let rows_per_task = (crate::parallel::ELEMENTWISE_CHUNK / inner).max(1);
    let task = |t: usize, chunk: &mut [f32]| {
        let n_rows = chunk.len() / inner;
        let mut rows = chunk.chunks_mut(inner);
        for_each_offsets(
            outer,
            outer_strides,
            bases,
            t * rows_per_task,
            n_rows,
            |o| {
                if let Some(dst) = rows.next() {
                    row(o, dst);
                }
            },
        );
    };
    if out.len() >= crate::parallel::PAR_ELEMENTWISE_MIN {
        out.par_chunks_mut(rows_per_task * inner)
            .enumerate()
            .for_each(|(t, chunk)| task(t, chunk));
    } else {
        task(0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_a_transposed_view_in_logical_order() {
        // [2, 3] transposed to [3, 2]: strides [1, 3].
        let mut seen = vec![];
        for_each_offsets(&[3, 2], [&[1, 3]], [0], 0, 6, |[o]| seen.push(o));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn starts_mid_array_and_stops_after_len() {
        let mut seen = vec![];
        for_each_offsets(&[2, 2, 3], [&[6, 3, 1]], [10], 4, 5, |[o]| seen.push(o));
        assert_eq!(seen, vec![14, 15, 16, 17, 18]);
    }
}
