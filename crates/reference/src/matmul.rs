//! Reference `matmul`: `torch.matmul` written as plain loops over logical indices.
//!
//! Every element is read with [`NdArray::get`], so strides, offsets and broadcast views are
//! handled by the one function that defines them, and sums are accumulated in f64 so the
//! reference is far more accurate than the f32 kernel it checks.

use agon_tensor::NdArray;

/// `torch.matmul(a, b)`, computed naively.
///
/// - 1-D @ 1-D is the dot product (a 0-d result).
/// - A 1-D `a` acts as a `[1, k]` row and a 1-D `b` as a `[k, 1]` column; the added axis is
///   not in the result.
/// - The leading (batch) axes of N-D operands broadcast against each other.
///
/// ```
/// use agon_tensor::NdArray;
/// let a = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let v = NdArray::from_vec(vec![1.0, 1.0], &[2]).unwrap();
/// assert_eq!(agon_reference::matmul::matmul(&a, &v).to_vec(), vec![3.0, 7.0]);
/// ```
///
/// # Panics
/// If an operand is 0-d, the inner dimensions differ, or the batch axes do not broadcast.
pub fn matmul(a: &NdArray, b: &NdArray) -> NdArray {
    assert!(
        a.ndim() >= 1 && b.ndim() >= 1,
        "reference matmul: 0-d operand ({:?} @ {:?})",
        a.shape(),
        b.shape()
    );
    let (a_batch, m, k) = matrix_dims(a.shape(), true);
    let (b_batch, kb, n) = matrix_dims(b.shape(), false);
    assert_eq!(
        k,
        kb,
        "reference matmul: inner dimensions differ ({:?} @ {:?})",
        a.shape(),
        b.shape()
    );
    let batch = broadcast(&a_batch, &b_batch);
    let mut data = Vec::new();
    for index in all_indices(&batch) {
        let mut x = Operand::new(a, batch_index_for(&index, &a_batch));
        let mut y = Operand::new(b, batch_index_for(&index, &b_batch));
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0f64;
                for p in 0..k {
                    sum += x.at(i, p) as f64 * y.at(p, j) as f64;
                }
                data.push(sum as f32);
            }
        }
    }
    let mut shape = batch;
    if a.ndim() >= 2 {
        shape.push(m);
    }
    if b.ndim() >= 2 {
        shape.push(n);
    }
    NdArray::from_vec(data, &shape).expect("reference matmul: output length")
}

/// `(batch axes, rows, cols)` of an operand, with a 1-D operand promoted to a row (left) or a
/// column (right).
fn matrix_dims(shape: &[usize], left: bool) -> (Vec<usize>, usize, usize) {
    match (shape.len(), left) {
        (1, true) => (vec![], 1, shape[0]),
        (1, false) => (vec![], shape[0], 1),
        (r, _) => (shape[..r - 2].to_vec(), shape[r - 2], shape[r - 1]),
    }
}

/// One operand's matrix for one batch item, read element by element with `NdArray::get`.
struct Operand<'a> {
    array: &'a NdArray,
    /// The batch index followed by room for the matrix indices (one slot when 1-D).
    index: Vec<usize>,
}

impl<'a> Operand<'a> {
    fn new(array: &'a NdArray, mut index: Vec<usize>) -> Self {
        index.resize(array.ndim(), 0);
        Operand { array, index }
    }

    /// Element `(row, col)` of the (possibly promoted) matrix.
    fn at(&mut self, row: usize, col: usize) -> f32 {
        let r = self.index.len();
        if self.array.ndim() == 1 {
            // A promoted row has row == 0, a promoted column col == 0: the other is the index.
            self.index[0] = row + col;
        } else {
            self.index[r - 2] = row;
            self.index[r - 1] = col;
        }
        self.array.get(&self.index)
    }
}

/// NumPy broadcasting of two shapes, aligned from the right.
fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let padded = |s: &[usize]| -> Vec<usize> {
        let mut p = vec![1; n - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (pa, pb) = (padded(a), padded(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| {
            assert!(
                x == y || x == 1 || y == 1,
                "reference matmul: batch axes {a:?} and {b:?} do not broadcast"
            );
            if x == 1 {
                y
            } else {
                x
            }
        })
        .collect()
}

/// The index into an operand with batch shape `shape` that the broadcast batch index `index`
/// reads: leading axes dropped, size-1 axes pinned to 0.
fn batch_index_for(index: &[usize], shape: &[usize]) -> Vec<usize> {
    let skip = index.len() - shape.len();
    index[skip..]
        .iter()
        .zip(shape)
        .map(|(&i, &d)| if d == 1 { 0 } else { i })
        .collect()
}

/// Every index of `shape` in row-major order (one empty index for a 0-d shape).
fn all_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in shape {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..d).map(move |i| {
                    let mut next = prefix.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    out
}
