//! Agon's single-precision GEMM: `C = alpha * A @ B + beta * C`, BLIS-style.
//!
//! - **Kernels:** register-blocked micro-kernels for AVX-512F (12 x 32) and AVX2 + FMA
//!   (6 x 16), chosen at run time from the CPU's features ([`Isa`]); on CPUs with neither,
//!   the matrixmultiply crate is the portable path (and the reference the in-house kernels
//!   are benchmarked against). `AGON_GEMM_ISA` forces a lower path.
//! - **Packing and blocking:** A into `MR`-row slivers, B into `NR`-column slivers, both
//!   zero-padded so edge tiles run the same kernel; K blocks sized so a B sliver stays in
//!   L1 and A blocks sized for L2, from the detected cache sizes ([`CacheSizes`]).
//! - **Reuse:** [`PackedA`] packs a left operand once (a layer's weights) for any number of
//!   products (every image and tile of a layer).
//! - **Epilogues:** a per-row or per-column bias and an activation applied to each tile of C
//!   while it is still in cache ([`Gemm::row_bias`], [`Gemm::activation`]).
//! - **Parallelism:** [`Gemm::parallel`] splits the tile grid over rayon's pool; K is never
//!   split across threads, so the result is bit-identical for any thread count and equal to
//!   the serial result.
//!
//! Operands are strided windows ([`MatRef`], [`MatMut`]): transposes and sub-blocks are
//! free. All `unsafe` of the GEMM lives in this module: the windows are bounds-checked when
//! built, and the kernels only touch elements inside them.

mod blocking;
mod driver;
mod isa;
mod kernel;
mod matrix;
mod pack;
mod packed_view;
mod peak;
mod runs;
mod taps;

pub use blocking::CacheSizes;
pub use isa::{Isa, ISA_ENV};
pub(crate) use kernel::KRun;
pub(crate) use matrix::ImageColumns;
use matrix::Layout;
pub use matrix::{MatMut, MatRef};
pub(crate) use pack::{transpose_into, transpose_into_uninit, PackB};
pub(crate) use packed_view::{pack_interleaved, pack_rows_with, packed_len, PackedView};
pub use peak::{fma_peak_flops, fma_peak_loop};
pub(crate) use runs::{product as runs_product, SliverRuns};
pub(crate) use taps::{Half, TapTiles, TILE_LANES};

use driver::{ASource, Slivers};
use kernel::MicroKernel;
use pack::AlignedVec;

/// The activation a [`Gemm`] applies after the bias ([`Gemm::activation`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Activation {
    /// `x`.
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, else `slope * x`.
    LeakyRelu(f32),
}

impl Activation {
    #[inline(always)]
    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    s * x
                }
            }
        }
    }
}

/// What is done to each finished element of C: `act(c + row_bias[i] + col_bias[j])`.
#[derive(Clone, Copy, Debug, Default)]
struct Epilogue<'a> {
    row_bias: Option<&'a [f32]>,
    col_bias: Option<&'a [f32]>,
    activation: Activation,
}

impl<'a> Epilogue<'a> {
    /// The epilogue of the rows from `r0` on (the row bias shifted).
    fn rows_from(&self, r0: usize) -> Epilogue<'a> {
        Epilogue {
            row_bias: self.row_bias.map(|b| &b[r0..]),
            ..*self
        }
    }

    fn is_active(&self) -> bool {
        self.row_bias.is_some()
            || self.col_bias.is_some()
            || self.activation != Activation::Identity
    }

    /// Applies the epilogue to the `rows x cols` block of C at `c`, whose first element is
    /// C's `(i0, j0)`.
    ///
    /// # Safety
    /// Every `c + i * rs + j * cs` for `i < rows`, `j < cols` is a valid element that no other
    /// thread touches during the call; the biases cover rows `i0 + rows` and cols `j0 + cols`
    /// (checked when the [`Gemm`] was run).
    #[allow(clippy::too_many_arguments)]
    unsafe fn apply(
        &self,
        c: *mut f32,
        rs: usize,
        cs: usize,
        i0: usize,
        j0: usize,
        rows: usize,
        cols: usize,
    ) {
        for i in 0..rows {
            let rb = self.row_bias.map_or(0.0, |b| b[i0 + i]);
            for j in 0..cols {
                let cb = self.col_bias.map_or(0.0, |b| b[j0 + j]);
                // SAFETY: (i, j) is inside the block the caller vouches for.
                unsafe {
                    let x = c.add(i * rs + j * cs);
                    *x = self.activation.apply(*x + rb + cb);
                }
            }
        }
    }
}

/// Products below this many multiply-adds (80^3; a 64^3 product takes ~5 us on one core)
/// run serially even when [`Gemm::parallel`] allows the pool.
const PAR_MIN_MACS: usize = 1 << 19;

/// A GEMM call's options: which ISA path, serial or parallel, and the epilogue.
///
/// ```
/// use agon_tensor::gemm::{Activation, Gemm, MatMut, MatRef};
/// let a = [1.0, -2.0, 3.0, 4.0]; // [[1, -2], [3, 4]]
/// let id = [1.0, 0.0, 0.0, 1.0];
/// let mut c = [0.0; 4];
/// // relu(A @ I + row bias [0, -10])
/// Gemm::new()
///     .row_bias(&[0.0, -10.0])
///     .activation(Activation::Relu)
///     .run(1.0, MatRef::row_major(&a, 2, 2), MatRef::row_major(&id, 2, 2), 0.0,
///          MatMut::row_major(&mut c, 2, 2));
/// assert_eq!(c, [1.0, 0.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Gemm<'e> {
    isa: Option<Isa>,
    parallel: bool,
    epilogue: Epilogue<'e>,
}

impl<'e> Gemm<'e> {
    /// Serial, on [`Isa::active`], no epilogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs on `isa`, or the best supported path below it when the CPU lacks it.
    #[must_use]
    pub fn isa(mut self, isa: Isa) -> Self {
        self.isa = Some(isa.or_supported_below());
        self
    }

    /// Lets the product split its tile grid over rayon's pool, when it has at least
    /// 2^19 multiply-adds (the same bits as serial).
    #[must_use]
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// Adds `bias[i]` to row `i` of the result (a convolution's per-channel bias).
    #[must_use]
    pub fn row_bias(mut self, bias: &'e [f32]) -> Self {
        self.epilogue.row_bias = Some(bias);
        self
    }

    /// Adds `bias[j]` to column `j` of the result (a linear layer's bias).
    #[must_use]
    pub fn col_bias(mut self, bias: &'e [f32]) -> Self {
        self.epilogue.col_bias = Some(bias);
        self
    }

    /// Applies `activation` after the biases.
    #[must_use]
    pub fn activation(mut self, activation: Activation) -> Self {
        self.epilogue.activation = activation;
        self
    }

    fn active_isa(&self) -> Isa {
        self.isa.unwrap_or_else(Isa::active)
    }

    /// `C = epilogue(alpha * A @ B + beta * C)`. When `beta == 0`, C is not read, so it may
    /// hold garbage or NaN.
    ///
    /// # Panics
    /// If the inner dimensions, the output shape or a bias length do not match.
    #[track_caller]
    pub fn run(&self, alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
        let isa = self.active_isa();
        self.dispatch(isa, alpha, Left::Matrix(a), &b, beta, c);
    }

    /// As [`Gemm::run`] with a left operand packed once by [`PackedA::new`]; runs on the
    /// path `a` was packed for.
    ///
    /// # Panics
    /// As [`Gemm::run`].
    #[track_caller]
    pub fn run_packed(&self, alpha: f32, a: &PackedA, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
        self.dispatch(a.isa, alpha, Left::Packed(a), &b, beta, c);
    }

    /// As [`Gemm::run`] with B produced by a packer (implicit-GEMM convolution).
    #[track_caller]
    pub(crate) fn run_source(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: &(impl PackB + ?Sized),
        beta: f32,
        c: MatMut<'_>,
    ) {
        let isa = self.active_isa();
        self.dispatch(isa, alpha, Left::Matrix(a), b, beta, c);
    }

    /// As [`Gemm::run_packed`] with B produced by a packer (implicit-GEMM convolution),
    /// `alpha = 1` and `beta = 0`, into an output stored
    /// image after image ([`ImageColumns`]), which may be uninitialised: every element of it
    /// is written.
    #[track_caller]
    pub(crate) fn run_packed_source_images(
        &self,
        a: &PackedA,
        b: &(impl PackB + ?Sized),
        c: ImageColumns<'_>,
    ) {
        if !self.check(a.dims(), b.dims(), c.dims()) {
            return;
        }
        let layout = c.layout();
        let out = c.data.as_mut_ptr().cast::<f32>();
        // SAFETY: `ImageColumns::new` checked that `data` holds whole images of
        // `rows x width`, so `layout` maps every `(i, j)` of the `dims()` to a distinct
        // element of `data`, which `c` borrows uniquely; with `beta == 0` C is only written
        // before it is read.
        unsafe { self.dispatch_to(a.isa, 1.0, Left::Packed(a), b, 0.0, out, layout) };
    }

    #[track_caller]
    fn dispatch(
        &self,
        isa: Isa,
        alpha: f32,
        a: Left<'_>,
        b: &(impl PackB + ?Sized),
        beta: f32,
        c: MatMut<'_>,
    ) {
        if !self.check(a.dims(), b.dims(), c.dims()) {
            return;
        }
        let layout = Layout::strided(c.row_stride, c.col_stride);
        // SAFETY: the MatMut constructor checked that the window lies inside its slice and
        // that its elements are pairwise distinct (and the window is not empty).
        let out = unsafe { c.data.as_mut_ptr().add(c.offset) };
        // SAFETY: as above; `c` is a unique borrow of initialised floats for this call.
        unsafe { self.dispatch_to(isa, alpha, a, b, beta, out, layout) };
    }

    /// Checks the shapes and the biases' lengths; false when the product is empty.
    #[track_caller]
    fn check(&self, [m, k]: [usize; 2], [kb, n]: [usize; 2], c: [usize; 2]) -> bool {
        assert!(
            k == kb && c == [m, n],
            "sgemm: A is {m}x{k}, B is {kb}x{n}, C is {}x{} (need A: m x k, B: k x n, C: m x n)",
            c[0],
            c[1]
        );
        let e = &self.epilogue;
        if let Some(bias) = e.row_bias {
            assert!(
                bias.len() == m,
                "sgemm: row bias has {} values for {m} rows",
                bias.len()
            );
        }
        if let Some(bias) = e.col_bias {
            assert!(
                bias.len() == n,
                "sgemm: column bias has {} values for {n} columns",
                bias.len()
            );
        }
        m > 0 && n > 0
    }

    /// Runs the checked, non-empty product into C at `out` with `layout`.
    ///
    /// # Safety
    /// For every `(i, j) < (m, n)`, `out + layout.offset(i, j)` is a distinct float that is
    /// valid for writes, and for reads once written; nothing else accesses them during the
    /// call; with `beta != 0` they are initialised.
    #[allow(clippy::too_many_arguments)]
    unsafe fn dispatch_to(
        &self,
        isa: Isa,
        alpha: f32,
        a: Left<'_>,
        b: &(impl PackB + ?Sized),
        beta: f32,
        out: *mut f32,
        layout: Layout,
    ) {
        let [m, k] = a.dims();
        let n = b.dims()[1];
        let e = &self.epilogue;
        if k == 0 || alpha == 0.0 {
            // A @ B contributes nothing (BLAS: alpha = 0 reads neither A nor B).
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: (i, j) is inside the caller's window.
                    unsafe {
                        let x = out.add(layout.offset(i, j));
                        *x = if beta == 0.0 { 0.0 } else { beta * *x };
                    }
                }
            }
            layout.for_each_group(n, |j0, cols| {
                // SAFETY: columns j0 .. j0 + cols of the window, one group: plain strided.
                unsafe {
                    e.apply(
                        out.add(layout.offset(0, j0)),
                        layout.rs,
                        layout.cs,
                        0,
                        j0,
                        m,
                        cols,
                    )
                }
            });
            return;
        }
        // Too small to gain from a second thread, whatever the path: a hand-off costs
        // several microseconds, the whole product less than ~10 (the bits are the same
        // either way).
        let parallel = self.parallel && m.saturating_mul(k).saturating_mul(n) >= PAR_MIN_MACS;
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                on_kernel::<kernel::avx512::Avx512>(alpha, a, b, beta, out, layout, e, parallel)
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                on_kernel::<kernel::avx2::Avx2>(alpha, a, b, beta, out, layout, e, parallel)
            }
            _ => portable(alpha, a, b, beta, out, layout, e, parallel),
        }
    }
}

/// A left operand as the caller gave it.
#[derive(Clone, Copy)]
enum Left<'a> {
    Matrix(MatRef<'a>),
    Packed(&'a PackedA),
}

impl Left<'_> {
    fn dims(&self) -> [usize; 2] {
        match self {
            Left::Matrix(a) => a.dims(),
            Left::Packed(p) => p.dims(),
        }
    }
}

/// Runs the in-house driver on kernel `K` (whose ISA the caller has checked).
#[allow(clippy::too_many_arguments)]
fn on_kernel<K: MicroKernel>(
    alpha: f32,
    a: Left<'_>,
    b: &(impl PackB + ?Sized),
    beta: f32,
    c: *mut f32,
    layout: Layout,
    e: &Epilogue<'_>,
    parallel: bool,
) {
    let m = a.dims()[0];
    let source = match a {
        Left::Matrix(a) => ASource::Strided(a),
        Left::Packed(p) => ASource::Packed(p.slivers()),
    };
    driver::run::<K>(alpha, source, m, b, beta, c, layout, e, parallel);
}

/// The portable path: matrixmultiply's sgemm, on row blocks in parallel when asked.
#[allow(clippy::too_many_arguments)]
fn portable(
    alpha: f32,
    a: Left<'_>,
    b: &(impl PackB + ?Sized),
    beta: f32,
    c: *mut f32,
    layout: Layout,
    e: &Epilogue<'_>,
    parallel: bool,
) {
    use rayon::prelude::*;
    let (rs, cs) = (layout.rs, layout.cs);
    let [k, n] = b.dims();
    let dense_b;
    let b = match b.as_matrix() {
        Some(b) => b,
        None => {
            let mut buf = vec![0.0; k * n];
            b.pack_sliver(0, n, &mut buf);
            dense_b = buf;
            MatRef::row_major(&dense_b, k, n)
        }
    };
    let a = match a {
        Left::Matrix(a) => a,
        Left::Packed(p) => p.dense(),
    };
    let m = a.rows;
    /// Rows per parallel block: matrixmultiply's own row cache block.
    const ROWS: usize = 64;
    #[derive(Clone, Copy)]
    struct Ptr(*mut f32);
    // SAFETY: blocks write disjoint row ranges of C (see below).
    unsafe impl Send for Ptr {}
    // SAFETY: as above.
    unsafe impl Sync for Ptr {}
    impl Ptr {
        // A method, so closures capture the Sync wrapper and not its raw-pointer field.
        fn get(self) -> *mut f32 {
            self.0
        }
    }
    let base = Ptr(c);
    let block = |r0: usize| {
        let rows = ROWS.min(m - r0);
        // Column groups (images side by side) are separate strided windows of C.
        layout.for_each_group(n, |j0, cols| {
            // SAFETY: rows r0..r0 + rows and columns j0..j0 + cols of the caller's window,
            // one group, so plain strided from `offset(r0, j0)`; C's row blocks are disjoint
            // and each is written by one block only; strides fit isize (bounded by slice
            // lengths).
            unsafe {
                let c = base.get().add(layout.offset(r0, j0));
                matrixmultiply::sgemm(
                    rows,
                    k,
                    cols,
                    alpha,
                    a.data.as_ptr().add(a.offset + r0 * a.row_stride),
                    a.row_stride as isize,
                    a.col_stride as isize,
                    b.data.as_ptr().add(b.offset + j0 * b.col_stride),
                    b.row_stride as isize,
                    b.col_stride as isize,
                    beta,
                    c,
                    rs as isize,
                    cs as isize,
                );
                e.apply(c, rs, cs, r0, j0, rows, cols);
            }
        });
    };
    if parallel {
        (0..m.div_ceil(ROWS))
            .into_par_iter()
            .for_each(|r| block(r * ROWS));
    } else {
        (0..m.div_ceil(ROWS)).for_each(|r| block(r * ROWS));
    }
}

/// `C = alpha * A @ B + beta * C` on one thread, on [`Isa::active`]. When `beta == 0`, `C`
/// is not read, so it may hold garbage or NaN.
///
/// ```
/// use agon_tensor::gemm::{sgemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0, 0.0, 0.0, 1.0];
/// let mut c = [0.0; 4];
/// // A^T @ I, the transpose taken by swapping strides.
/// sgemm(1.0, MatRef::row_major(&a, 2, 2).t(), MatRef::row_major(&b, 2, 2), 0.0,
///       MatMut::row_major(&mut c, 2, 2));
/// assert_eq!(c, [1.0, 3.0, 2.0, 4.0]);
/// ```
///
/// # Panics
/// If the inner dimensions or the output shape do not match.
#[track_caller]
pub fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
    Gemm::new().run(alpha, a, b, beta, c);
}

/// A left operand packed once for the micro-kernel of one [`Isa`], reusable by any number of
/// products ([`Gemm::run_packed`]): a layer's weights, packed once per call of the layer
/// instead of once per image or tile.
///
/// ```
/// use agon_tensor::gemm::{Gemm, MatMut, MatRef, PackedA};
/// let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 x 3
/// let packed = PackedA::new(MatRef::row_major(&w, 2, 3));
/// for scale in [1.0f32, 2.0] {
///     let x = [scale; 3];
///     let mut y = [0.0; 2];
///     Gemm::new().run_packed(1.0, &packed, MatRef::row_major(&x, 3, 1), 0.0,
///                            MatMut::row_major(&mut y, 2, 1));
///     assert_eq!(y, [6.0 * scale, 15.0 * scale]);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct PackedA {
    isa: Isa,
    rows: usize,
    cols: usize,
    /// Slivers over the whole of K for the in-house kernels; row-major for the portable path.
    data: AlignedVec,
}

/// Packs above this many floats are split over rayon's pool.
const PAR_PACK_MIN: usize = 1 << 16;

impl PackedA {
    /// Packs `a` for [`Isa::active`].
    pub fn new(a: MatRef<'_>) -> PackedA {
        PackedA::new_on(Isa::active(), a)
    }

    /// Packs `a` for `isa` (or the best supported path below it).
    pub fn new_on(isa: Isa, a: MatRef<'_>) -> PackedA {
        let isa = isa.or_supported_below();
        let [rows, cols] = a.dims();
        let parallel = rows * cols >= PAR_PACK_MIN;
        /// Slivers for kernel `K`, whose instruction set the caller checked.
        fn slivers<K: MicroKernel>(a: &MatRef<'_>, parallel: bool) -> AlignedVec {
            let [rows, cols] = a.dims();
            let mut data = AlignedVec::zeroed(rows.div_ceil(K::MR) * cols * K::MR);
            if cols > 0 {
                // SAFETY: `new_on` calls this only for a supported `isa` (see below).
                unsafe { Slivers::pack::<K>(a, data.as_mut_slice(), parallel) };
            }
            data
        }
        // `or_supported_below` made `isa` one that this CPU runs.
        let data = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => slivers::<kernel::avx512::Avx512>(&a, parallel),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => slivers::<kernel::avx2::Avx2>(&a, parallel),
            _ => {
                let mut data = AlignedVec::zeroed(rows * cols);
                let d = data.as_mut_slice();
                for i in 0..rows {
                    for j in 0..cols {
                        d[i * cols + j] = a.data[a.offset + i * a.row_stride + j * a.col_stride];
                    }
                }
                data
            }
        };
        PackedA {
            isa,
            rows,
            cols,
            data,
        }
    }

    /// `[rows, cols]` of the packed matrix.
    pub fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The path it was packed for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    fn slivers(&self) -> Slivers<'_> {
        Slivers {
            data: self.data.as_slice(),
            k: self.cols,
            mr: self
                .isa
                .micro_rows()
                .expect("slivers exist for in-house kernels"),
        }
    }

    fn dense(&self) -> MatRef<'_> {
        MatRef::row_major(self.data.as_slice(), self.rows, self.cols)
    }
}

impl Isa {
    /// NR of the path's micro-kernel (the columns of a B sliver); `None` for the portable
    /// path (no in-house kernel).
    pub(crate) fn micro_cols(self) -> Option<usize> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Some(<kernel::avx512::Avx512 as MicroKernel>::NR),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Some(<kernel::avx2::Avx2 as MicroKernel>::NR),
            _ => None,
        }
    }

    /// MR of the path's micro-kernel; `None` for the portable path (no in-house kernel).
    fn micro_rows(self) -> Option<usize> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Some(<kernel::avx512::Avx512 as MicroKernel>::MR),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Some(<kernel::avx2::Avx2 as MicroKernel>::MR),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_zero_scales_c_by_beta() {
        for isa in Isa::supported() {
            let mut c = [1.0, 2.0];
            Gemm::new().isa(isa).run(
                1.0,
                MatRef::row_major(&[], 1, 0),
                MatRef::row_major(&[], 0, 2),
                0.5,
                MatMut::row_major(&mut c, 1, 2),
            );
            assert_eq!(c, [0.5, 1.0]);
        }
    }

    #[test]
    fn beta_zero_never_reads_c() {
        let a = [1.0; 40 * 7];
        let b = [2.0; 7 * 33];
        for isa in Isa::supported() {
            let mut c = [f32::NAN; 40 * 33];
            Gemm::new().isa(isa).run(
                1.0,
                MatRef::row_major(&a, 40, 7),
                MatRef::row_major(&b, 7, 33),
                0.0,
                MatMut::row_major(&mut c, 40, 33),
            );
            assert!(c.iter().all(|&x| x == 14.0), "{isa:?}");
        }
    }

    /// A product into [`ImageColumns`] has the bits of the same product into a plain
    /// row-major C, rearranged image after image: images of widths that cut the kernels'
    /// tiles (so tiles straddle two images) and that do not, one image, K deep enough for
    /// several K blocks (chained through C, including a straddling tile's), serial and
    /// parallel, with a bias per row and per column and an activation, on every path. The
    /// output starts as NaN, so an element left unwritten fails.
    #[test]
    fn image_columns_have_the_bits_of_a_plain_product() {
        use std::mem::MaybeUninit;
        let value = |i: usize, salt: usize| ((i * 7919 + salt) % 1013) as f32 / 1013.0 - 0.5;
        for (m, k, width, images) in [
            (64, 25, 196, 2),
            (37, 900, 49, 6),
            (12, 7, 5, 9),
            (20, 16, 32, 3),
            (5, 3, 300, 1),
        ] {
            let n = width * images;
            let a: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
            let b: Vec<f32> = (0..k * n).map(|i| value(i, 2)).collect();
            let row_bias: Vec<f32> = (0..m).map(|i| value(i, 3)).collect();
            let col_bias: Vec<f32> = (0..n).map(|i| value(i, 4)).collect();
            for isa in Isa::supported() {
                let packed = PackedA::new_on(isa, MatRef::row_major(&a, m, k));
                let b = MatRef::row_major(&b, k, n);
                for parallel in [false, true] {
                    let gemm = Gemm::new()
                        .parallel(parallel)
                        .row_bias(&row_bias)
                        .col_bias(&col_bias)
                        .activation(Activation::LeakyRelu(0.2));
                    let mut plain = vec![0.0; m * n];
                    gemm.run_packed(1.0, &packed, b, 0.0, MatMut::row_major(&mut plain, m, n));
                    let mut out = vec![MaybeUninit::new(f32::NAN); m * n];
                    gemm.run_packed_source_images(
                        &packed,
                        &b,
                        ImageColumns::new(&mut out, m, width),
                    );
                    for (idx, got) in out.iter().enumerate() {
                        let (image, i, q) = (idx / (m * width), idx / width % m, idx % width);
                        // SAFETY: every element was initialised (to NaN) before the call.
                        let got = unsafe { got.assume_init() };
                        let want = plain[i * n + image * width + q];
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "{isa:?}, m {m} k {k} width {width} images {images}, parallel \
                             {parallel}: image {image} ({i}, {q})"
                        );
                    }
                }
            }
        }
    }
}
