//! `matmul` with `torch.matmul` semantics, every multiply-add done by [`crate::gemm::sgemm`].
//!
//! Both operands are first seen as stacks of matrices: a 1-D left operand becomes a `1 x k`
//! row, a 1-D right operand a `k x 1` column, and the batch axes (all but the last two) are
//! broadcast with stride 0. Each matrix of a stack is then a strided window into its
//! operand's storage, so transposed, sliced and broadcast inputs are read in place: nothing
//! is copied. The output is a fresh contiguous array. A large single product runs as one
//! parallel [`Gemm`] (which splits its tile grid over rayon's pool); a stack of smaller ones
//! runs one serial GEMM per matrix, the matrices in parallel.
//!
//! Determinism: a GEMM's bits do not depend on how its tiles are split across threads, and
//! a stack's matrices are independent, so every output element is computed by the same
//! sequence of floating-point operations on one thread or many.

use rayon::prelude::*;

use crate::array::NdArray;
use crate::gemm::{Gemm, MatMut, MatRef};
use crate::layout::broadcast_shapes;
use crate::strided::for_each_offsets;

/// A stack of matrices with fewer multiply-adds than this in all runs on the calling thread,
/// and one with more per matrix runs matrix by matrix, each GEMM splitting its own tiles.
/// ~1 Mi MACs is 10-40 us of single-core GEMM; waking rayon's workers costs a few
/// microseconds, so above this size a split pays for itself even with two tasks.
const PAR_MIN_MACS: usize = 1 << 20;

/// One operand seen as a stack of matrices: storage offset of each batch item's matrix
/// (in the output's batch order) and the matrix's `[row, col]` strides.
struct Stack<'a> {
    data: &'a [f32],
    offsets: Vec<usize>,
    strides: [usize; 2],
}

impl<'a> Stack<'a> {
    /// The matrix of batch item `item`, restricted to `rows` rows starting at row `first`.
    fn window(&self, item: usize, first: usize, [rows, cols]: [usize; 2]) -> MatRef<'a> {
        let offset = self.offsets[item] + first * self.strides[0];
        MatRef::new(self.data, offset, [rows, cols], self.strides)
    }
}

/// A batched product `C[i] = A[i] @ B[i]` with `A[i]: m x k`, `B[i]: k x n`, and `C` a dense
/// `[items, m, n]` buffer.
struct Product<'a> {
    a: Stack<'a>,
    b: Stack<'a>,
    m: usize,
    k: usize,
    n: usize,
    /// Added to every row of each item's result (a linear layer's bias), in the GEMM's
    /// epilogue while the tile is in cache.
    bias: Option<&'a [f32]>,
}

impl Product<'_> {
    fn items(&self) -> usize {
        self.a.offsets.len()
    }

    fn macs_per_item(&self) -> usize {
        self.m.saturating_mul(self.k).saturating_mul(self.n)
    }

    /// Fills item `item`'s `m x n` output with one GEMM.
    fn fill_item(&self, item: usize, out: &mut [f32], parallel: bool) {
        let a = self.a.window(item, 0, [self.m, self.k]);
        let b = self.b.window(item, 0, [self.k, self.n]);
        let c = MatMut::row_major(out, self.m, self.n);
        let gemm = Gemm::new().parallel(parallel);
        match self.bias {
            Some(bias) => gemm.col_bias(bias).run(1.0, a, b, 0.0, c),
            None => gemm.run(1.0, a, b, 0.0, c),
        }
    }

    /// Fills the dense `[items, m, n]` output, in parallel when the product is large.
    fn run(&self, out: &mut [f32]) {
        let item_len = self.m * self.n;
        if out.is_empty() || self.k == 0 {
            // Nothing to multiply: the zero-filled buffer is already the product.
            if let Some(bias) = self.bias {
                for row in out.chunks_exact_mut(self.n) {
                    row.copy_from_slice(bias);
                }
            }
            return;
        }
        let total = self.items().saturating_mul(self.macs_per_item());
        if self.items() == 1 || self.macs_per_item() >= PAR_MIN_MACS {
            // One GEMM per matrix, each free to use the pool (it decides itself whether the
            // matrix is big enough to be worth splitting).
            for (item, c) in out.chunks_mut(item_len).enumerate() {
                self.fill_item(item, c, true);
            }
        } else if total < PAR_MIN_MACS {
            for (item, c) in out.chunks_mut(item_len).enumerate() {
                self.fill_item(item, c, false);
            }
        } else {
            out.par_chunks_mut(item_len)
                .enumerate()
                .for_each(|(item, c)| self.fill_item(item, c, false));
        }
    }
}

/// The shapes of a matmul after `torch.matmul`'s promotions, checked.
struct Plan {
    /// Broadcast batch shape.
    batch: Vec<usize>,
    m: usize,
    k: usize,
    n: usize,
    /// The shape the caller gets (promoted 1-D axes removed again).
    out_shape: Vec<usize>,
}

/// `x` as a stack of matrices: a 1-D left operand becomes a row, a 1-D right one a column.
fn as_matrices(x: &NdArray, left: bool) -> NdArray {
    match (x.ndim(), left) {
        (1, true) => x.unsqueeze(0),
        (1, false) => x.unsqueeze(1),
        _ => x.clone(),
    }
}

/// The batch axes and the two matrix axes of a stack.
fn split_shape(x: &NdArray) -> (&[usize], usize, usize) {
    let s = x.shape();
    let nb = s.len() - 2;
    (&s[..nb], s[nb], s[nb + 1])
}

impl Plan {
    /// Checks the promoted stacks `a3`, `b3` of the caller's operands `a`, `b`.
    #[track_caller]
    fn new(a: &NdArray, b: &NdArray, a3: &NdArray, b3: &NdArray) -> Plan {
        let (sa, sb) = (a.shape(), b.shape());
        let (batch_a, m, k) = split_shape(a3);
        let (batch_b, kb, n) = split_shape(b3);
        assert!(
            k == kb,
            "matmul: shapes {sa:?} and {sb:?} cannot be multiplied: the first has {k} columns \
             (last axis), the second {kb} rows ({} axis) (hint: transpose an operand, or \
             check which one comes first)",
            if b.ndim() == 1 {
                "only"
            } else {
                "second-to-last"
            }
        );
        let Some(batch) = broadcast_shapes(batch_a, batch_b) else {
            panic!(
                "matmul: shapes {sa:?} and {sb:?}: batch axes {batch_a:?} and {batch_b:?} do \
                 not broadcast (hint: each batch axis must match or be 1, aligned from the \
                 right)"
            )
        };
        let mut out_shape = batch.clone();
        if a.ndim() >= 2 {
            out_shape.push(m);
        }
        if b.ndim() >= 2 {
            out_shape.push(n);
        }
        Plan {
            batch,
            m,
            k,
            n,
            out_shape,
        }
    }

    /// Storage offsets of every batch item's matrix in both operands, in row-major batch
    /// order; broadcast batch axes get stride 0 and so repeat an offset.
    fn batch_offsets(&self, a3: &NdArray, b3: &NdArray) -> (Vec<usize>, Vec<usize>) {
        let nb = self.batch.len();
        let mut a_full = self.batch.clone();
        a_full.extend([self.m, self.k]);
        let mut b_full = self.batch.clone();
        b_full.extend([self.k, self.n]);
        let (av, bv) = (a3.broadcast_to(&a_full), b3.broadcast_to(&b_full));
        let items: usize = self.batch.iter().product();
        let (mut oa, mut ob) = (Vec::with_capacity(items), Vec::with_capacity(items));
        let strides = [&av.strides()[..nb], &bv.strides()[..nb]];
        for_each_offsets(
            &self.batch,
            strides,
            [av.offset(), bv.offset()],
            0,
            items,
            |[x, y]| {
                oa.push(x);
                ob.push(y);
            },
        );
        (oa, ob)
    }
}

/// The `[row, col]` strides of the last two axes of a stack.
fn matrix_strides(x: &NdArray) -> [usize; 2] {
    let s = x.strides();
    [s[s.len() - 2], s[s.len() - 1]]
}

impl NdArray {
    /// Matrix product with `torch.matmul` semantics:
    /// - 1-D @ 1-D: the dot product, a 0-d array;
    /// - 2-D @ 2-D: the matrix product `[m, k] @ [k, n] -> [m, n]`;
    /// - a 1-D left operand is treated as a `[1, k]` row and a 1-D right operand as a
    ///   `[k, 1]` column, and the added axis is removed from the result;
    /// - N-D: a batch of matrix products over the leading axes, which broadcast
    ///   (`[2, 1, 3, 4] @ [5, 4, 6] -> [2, 5, 3, 6]`).
    ///
    /// Transposed, sliced and broadcast operands are read in place through their strides,
    /// never copied. The result is a new contiguous array. Large products run in parallel
    /// on rayon's pool, split into pieces chosen from the shapes alone, so the result is
    /// bit-identical for any number of threads.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]); // [[0, 1, 2], [3, 4, 5]]
    /// let v = NdArray::ones(&[3]);
    /// assert_eq!(a.matmul(&v).to_vec(), vec![3.0, 12.0]); // row sums, shape [2]
    /// // a @ a^T, the transpose being a free view.
    /// let g = a.matmul(&a.transpose(0, 1));
    /// assert_eq!(g.shape(), &[2, 2]);
    /// assert_eq!(g.to_vec(), vec![5.0, 14.0, 14.0, 50.0]);
    /// // Batch axes broadcast.
    /// let x = NdArray::ones(&[2, 1, 3, 4]).matmul(&NdArray::ones(&[5, 4, 6]));
    /// assert_eq!(x.shape(), &[2, 5, 3, 6]);
    /// ```
    ///
    /// # Panics
    /// If either operand is 0-d, if the inner dimensions differ (the last axis of `self`
    /// against the second-to-last axis of `other`, or its only axis when 1-D), or if the
    /// batch axes do not broadcast.
    #[track_caller]
    pub fn matmul(&self, other: &NdArray) -> NdArray {
        check_ranks(self, other);
        let (a3, b3) = (as_matrices(self, true), as_matrices(other, false));
        let plan = Plan::new(self, other, &a3, &b3);
        compute(&plan, &a3, &b3, None)
    }

    /// A linear layer, `self @ weight^T + bias` (`torch.nn.functional.linear`): `self`
    /// `[.., in]`, `weight` `[out, in]`, `bias` `[out]`, result `[.., out]`. The bias is
    /// added by the GEMM's epilogue as each tile of the product is stored, not by a second
    /// pass over the result; the values are those of `matmul` then `add` (the product is
    /// rounded, then the sum).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let x = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let w = NdArray::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 2.0], &[3, 2]).unwrap();
    /// let b = NdArray::from_vec(vec![0.5, 0.0, -1.0], &[3]).unwrap();
    /// let y = x.linear(&w, Some(&b));
    /// assert_eq!(y.shape(), &[2, 3]);
    /// assert_eq!(y.to_vec(), vec![1.5, 3.0, 3.0, 3.5, 7.0, 7.0]);
    /// ```
    ///
    /// # Panics
    /// If `self` has no axis, `weight` is not 2-D, their `in` sizes differ, or `bias` is not
    /// `[out]`.
    #[track_caller]
    pub fn linear(&self, weight: &NdArray, bias: Option<&NdArray>) -> NdArray {
        assert!(
            self.ndim() >= 1 && weight.ndim() == 2,
            "linear: input {:?} and weight {:?}: need an input [.., in] and a weight [out, in]",
            self.shape(),
            weight.shape()
        );
        let out = weight.shape()[0];
        let bias = bias.map(|b| {
            assert!(
                b.shape() == [out],
                "linear: bias {:?} for a weight {:?}: need [{out}]",
                b.shape(),
                weight.shape()
            );
            b.to_vec()
        });
        let wt = weight.transpose(0, 1);
        let (a3, b3) = (as_matrices(self, true), as_matrices(&wt, false));
        let plan = Plan::new(self, &wt, &a3, &b3);
        compute(&plan, &a3, &b3, bias.as_deref())
    }
}

/// Panics unless both operands have at least one axis (torch.matmul rejects 0-d operands).
#[track_caller]
fn check_ranks(a: &NdArray, b: &NdArray) {
    assert!(
        a.ndim() >= 1 && b.ndim() >= 1,
        "matmul: shapes {:?} and {:?}: both operands need at least 1 dimension \
         (hint: multiply by a 0-d scalar with an elementwise product instead)",
        a.shape(),
        b.shape()
    );
}

/// Runs a checked plan and shapes the result, adding `bias` to every row.
fn compute(plan: &Plan, a3: &NdArray, b3: &NdArray, bias: Option<&[f32]>) -> NdArray {
    let (oa, ob) = plan.batch_offsets(a3, b3);
    let product = Product {
        a: Stack {
            data: a3.storage(),
            offsets: oa,
            strides: matrix_strides(a3),
        },
        b: Stack {
            data: b3.storage(),
            offsets: ob,
            strides: matrix_strides(b3),
        },
        m: plan.m,
        k: plan.k,
        n: plan.n,
        bias,
    };
    let mut full = plan.batch.clone();
    let mut out = vec![0.0f32; full.iter().product::<usize>() * plan.m * plan.n];
    product.run(&mut out);
    full.extend([plan.m, plan.n]);
    NdArray::from_dense(out, &full).reshape(&plan.out_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row-major `0, 1, 2, ..` scaled, as an array of `shape`.
    fn seq(shape: &[usize], scale: f32) -> NdArray {
        let n: usize = shape.iter().product();
        let data = (0..n).map(|i| (i % 13) as f32 * scale - 1.0).collect();
        NdArray::from_vec(data, shape).unwrap()
    }

    /// Naive `[m, k] @ [k, n]` on logical indices, in f64.
    fn naive2(a: &NdArray, b: &NdArray) -> Vec<f32> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut out = vec![];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| a.get(&[i, p]) as f64 * b.get(&[p, j]) as f64)
                    .sum();
                out.push(s as f32);
            }
        }
        out
    }

    fn assert_near(actual: &[f32], expected: &[f32]) {
        assert_eq!(actual.len(), expected.len());
        for (i, (x, y)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (x - y).abs() <= 1e-3 * (1.0 + y.abs()),
                "at {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn k_zero_gives_zeros() {
        let c = NdArray::ones(&[2, 0]).matmul(&NdArray::ones(&[0, 3]));
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec(), vec![0.0; 6]);
        let d = NdArray::ones(&[0]).matmul(&NdArray::ones(&[0]));
        assert_eq!((d.shape(), d.item()), (&[][..], 0.0));
    }

    #[test]
    fn one_d_cases_promote_and_squeeze() {
        let v = seq(&[3], 0.5);
        let m = seq(&[3, 4], 0.25);
        let dot = v.matmul(&v);
        assert_eq!(dot.shape(), &[] as &[usize]);
        assert_near(&[dot.item()], &naive2(&v.unsqueeze(0), &v.unsqueeze(1)));
        let vm = v.matmul(&m);
        assert_eq!(vm.shape(), &[4]);
        assert_near(&vm.to_vec(), &naive2(&v.unsqueeze(0), &m));
        let mt = m.transpose(0, 1);
        let mv = mt.matmul(&v);
        assert_eq!(mv.shape(), &[4]);
        assert_near(&mv.to_vec(), &naive2(&mt, &v.unsqueeze(1)));
    }

    #[test]
    fn one_d_against_a_batch() {
        let v = seq(&[3], 0.5);
        let s = seq(&[2, 3, 4], 0.25);
        assert_eq!(v.matmul(&s).shape(), &[2, 4]);
        assert_eq!(s.transpose(1, 2).matmul(&v).shape(), &[2, 4]);
        let item = s.narrow(0, 1, 1).squeeze(0);
        assert_near(
            &v.matmul(&s).narrow(0, 1, 1).to_vec(),
            &naive2(&v.unsqueeze(0), &item),
        );
    }

    #[test]
    fn empty_batch_and_empty_matrices() {
        let c = NdArray::ones(&[0, 2, 3]).matmul(&NdArray::ones(&[3, 4]));
        assert_eq!(c.shape(), &[0, 2, 4]);
        let d = NdArray::ones(&[2, 0, 3]).matmul(&NdArray::ones(&[3, 4]));
        assert_eq!(d.shape(), &[2, 0, 4]);
        let e = NdArray::ones(&[3, 2, 5]).matmul(&NdArray::ones(&[1, 5, 0]));
        assert_eq!(e.shape(), &[3, 2, 0]);
    }

    #[test]
    fn batch_axes_broadcast_with_stride_zero() {
        let a = seq(&[2, 1, 3, 4], 0.5);
        let b = seq(&[5, 4, 6], 0.25);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 5, 3, 6]);
        let a1 = a.narrow(0, 1, 1).reshape(&[3, 4]);
        let b3 = b.narrow(0, 3, 1).reshape(&[4, 6]);
        let c13 = c.narrow(0, 1, 1).narrow(1, 3, 1).reshape(&[3, 6]);
        assert_near(&c13.to_vec(), &naive2(&a1, &b3));
    }

    #[test]
    fn strided_inputs_are_read_in_place() {
        let a = seq(&[7, 10], 0.1).slice(1, 1, 10, 2).transpose(0, 1); // [5, 7]
        let b = seq(&[7, 3], 0.3).broadcast_to(&[2, 7, 3]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 5, 3]);
        let want = naive2(&a, &b.narrow(0, 0, 1).squeeze(0));
        assert_near(&c.narrow(0, 1, 1).to_vec(), &want);
    }

    #[test]
    fn large_products_take_the_parallel_paths() {
        // One large product (a parallel GEMM), a short-and-wide one, and a stack of
        // medium products (matrices in parallel).
        for (m, k, n) in [(150, 90, 100), (3, 200, 2000)] {
            let a = seq(&[m, k], 0.01);
            let b = seq(&[n, k], 0.02).transpose(0, 1);
            assert!(m * k * n >= PAR_MIN_MACS);
            assert_near(&a.matmul(&b).to_vec(), &naive2(&a, &b));
        }
        let a = seq(&[8, 70, 60], 0.01);
        let b = seq(&[60, 50], 0.02);
        let c = a.matmul(&b);
        let item = |x: &NdArray, i: usize| x.narrow(0, i, 1).squeeze(0);
        assert_near(&item(&c, 5).to_vec(), &naive2(&item(&a, 5), &b));
    }

    #[test]
    #[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] cannot be multiplied")]
    fn inner_mismatch_panics() {
        let _ = NdArray::ones(&[2, 3]).matmul(&NdArray::ones(&[4, 5]));
    }

    #[test]
    #[should_panic(expected = "do not broadcast")]
    fn batch_mismatch_panics() {
        let _ = NdArray::ones(&[2, 2, 3]).matmul(&NdArray::ones(&[3, 3, 4]));
    }

    #[test]
    #[should_panic(expected = "at least 1 dimension")]
    fn scalar_operand_panics() {
        let _ = NdArray::scalar(1.0).matmul(&NdArray::ones(&[1]));
    }
}
